"""Every store runs the same conformance suite.

Stores under test (the ``store`` fixture's parameters):

- ``sqlite``: the embedded store as a single file (as written before day files);
- ``sqlite-daily``: the embedded store as day files (the default for a new store);
- ``osmem``: the OpenSearch store against a real ``osmem-server`` process (an
  OpenSearch-compatible server from PyPI), set up by ``kubetrail setup``'s code;
- ``opensearch``: a real OpenSearch node, from ``OPENSEARCH_URL`` (``.ci/run`` starts
  one with ``scripts/opensearch-node`` and sets it) or started here by that script
  (the ``real_opensearch`` fixture in ``tests/conftest.py``).

Each OpenSearch case gets its own index prefix, so cases never see each other's
documents and one server serves the whole session.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kubetrail.store.base import Store
from kubetrail.store.sqlite import DailyStore, SQLiteStore
from tests.support.opensearch_servers import opensearch_store
from tests.support.osmem import running_osmem

_prefixes = itertools.count(1)


@pytest.fixture(scope="session")
def osmem_url() -> Iterator[str]:
    with running_osmem() as url:
        yield url


def _sqlite(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return SQLiteStore(tmp_path / "conformance.db")


def _sqlite_daily(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return DailyStore(tmp_path / "conformance.db")


def _osmem(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    url = request.getfixturevalue("osmem_url")
    return opensearch_store(url, prefix=f"conf{next(_prefixes)}-{os.getpid()}-events")


def _real(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    url = request.getfixturevalue("real_opensearch")
    return opensearch_store(url, prefix=f"conf{next(_prefixes)}-{os.getpid()}-events")


STORE_FACTORIES: dict[str, Callable[[pytest.FixtureRequest, Path], Store]] = {
    "sqlite": _sqlite,
    "sqlite-daily": _sqlite_daily,
    "osmem": _osmem,
    "opensearch": _real,
}


@pytest.fixture(params=sorted(STORE_FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s = STORE_FACTORIES[request.param](request, tmp_path)
    try:
        yield s
    finally:
        s.close()
