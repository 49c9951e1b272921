"""The web UI over a SQLite store holding the built-in incident (``sqlite_incident``,
anchored at ``tests.support.incident.ANCHOR``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from kubetrail.api.app import create_app
from kubetrail.config import Settings
from kubetrail.store.base import Store
from kubetrail.ui import install
from tests.support.incident import ANCHOR

#: the incident's six hours, as a page's URL says them
RANGE = {"from": "2026-11-25T06:00:00Z", "to": ANCHOR.strftime("%Y-%m-%dT%H:%M:%SZ")}
TOKEN = "ui-t0ken-canary"


def ui_client(store: Store, settings: Settings) -> TestClient:
    app = create_app(store, settings)
    install(app)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(sqlite_incident: Store) -> Iterator[TestClient]:
    with ui_client(sqlite_incident, Settings()) as c:
        yield c


@pytest.fixture
def guarded(sqlite_incident: Store) -> Iterator[TestClient]:
    with ui_client(sqlite_incident, Settings(api_token=TOKEN)) as c:
        yield c
