"""What ingest leaves behind in a store opened for a bulk load."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from kubetrail.ingest.pipeline import ingest_files
from kubetrail.store import open_store
from kubetrail.store.sqlite import SQLiteStore
from tests.ingest.test_parallel import event, jsonl


@pytest.mark.parametrize("workers", [1, 2])
def test_a_bulk_load_is_committed_when_ingest_returns(tmp_path: Path, workers: int) -> None:
    path = tmp_path / "events.json"
    path.write_bytes(jsonl(*(event(i) for i in range(40))))
    db = tmp_path / "k.db"
    store = open_store(f"sqlite:///{db}", bulk=True)
    assert isinstance(store, SQLiteStore)
    try:
        stats = ingest_files(
            [str(path)], store, report=lambda line: None, workers=workers, batch_size=15
        )
        assert stats.stored == 40
        # far below the rows per commit, yet another connection sees every row
        # while the store is still open: nothing waits for close()
        with sqlite3.connect(db) as other:
            assert other.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 40
    finally:
        store.close()
