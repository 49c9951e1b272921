"""The kubetrail REST API on a store, served by uvicorn on a loopback socket in a thread."""

from __future__ import annotations

from kubetrail.api.app import create_app
from kubetrail.config import Settings
from kubetrail.store.base import Store
from tests.support.servers import AppServer


class ServerThread(AppServer):
    """The kubetrail API on ``store`` with ``settings``."""

    def __init__(self, store: Store, settings: Settings) -> None:
        super().__init__(create_app(store, settings))
