"""The API under test runs in uvicorn on a real loopback socket."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kubetrail.config import Settings
from kubetrail.store.base import Store
from kubetrail.store.sqlite import open_embedded
from tests.support.api_server import ServerThread
from tests.support.dataset import documents


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_embedded(tmp_path / "api.db")
    s.write(documents())
    yield s
    s.close()


@pytest.fixture
def settings() -> Settings:
    return Settings(max_query_limit=50)


@pytest.fixture
def client(store: Store, settings: Settings) -> Iterator[httpx.Client]:
    with (
        ServerThread(store, settings) as server,
        httpx.Client(base_url=server.url, timeout=10) as c,
    ):
        yield c
