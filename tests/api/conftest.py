"""The API under test runs in uvicorn on a real loopback socket."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from kubetrail.api.app import create_app
from kubetrail.config import Settings
from kubetrail.store.base import Store
from kubetrail.store.sqlite import SQLiteStore
from tests.store.dataset import documents


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerThread:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            create_app(store, settings), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = SQLiteStore(tmp_path / "api.db")
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
