"""A fake API server per test, shippers running against it, and exact store checks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fake_apiserver import FakeApiServer
from tests.support.shipping import Cluster


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with FakeApiServer(bookmark_interval=0.2) as server:
        yield Cluster(server, server.write_kubeconfig(tmp_path / "kubeconfig"))
