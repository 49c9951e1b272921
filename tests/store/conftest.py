"""Every store runs the same conformance suite: add a factory to STORE_FACTORIES."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kubetrail.store.base import Store
from kubetrail.store.sqlite import SQLiteStore


def _sqlite(tmp_path: Path) -> Store:
    return SQLiteStore(tmp_path / "conformance.db")


STORE_FACTORIES: dict[str, Callable[[Path], Store]] = {"sqlite": _sqlite}


@pytest.fixture(params=sorted(STORE_FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s = STORE_FACTORIES[request.param](tmp_path)
    try:
        yield s
    finally:
        s.close()
