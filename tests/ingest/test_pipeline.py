"""What ingest leaves behind in a store opened for a bulk load."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from kubetrail.ingest.pipeline import ingest_files
from kubetrail.store import open_store
from kubetrail.store.base import StoreUnavailable, WriteResult
from kubetrail.store.sqlite import DailyStore, layout
from tests.support.watch_lines import event, jsonl


@pytest.mark.parametrize("workers", [1, 2])
def test_a_bulk_load_is_committed_when_ingest_returns(tmp_path: Path, workers: int) -> None:
    path = tmp_path / "events.json"
    path.write_bytes(jsonl(*(event(i) for i in range(40))))
    db = tmp_path / "k.db"
    store = open_store(f"sqlite:///{db}", bulk=True)
    assert isinstance(store, DailyStore)
    try:
        stats = ingest_files(
            [str(path)], store, report=lambda line: None, workers=workers, batch_size=15
        )
        assert stats.stored == 40
        # far below the rows per commit, yet another connection sees every row
        # while the store is still open: nothing waits for close()
        assert committed_rows(db) == 40
    finally:
        store.close()


def committed_rows(catalog: Path) -> int:
    """The events committed in a store's day files, counted by another connection."""
    total = 0
    for day in sorted(layout.days_dir(catalog).glob("*.db")):
        with sqlite3.connect(day) as other:
            total += other.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    return total


def _poisoned(value_at: int, total: int, poison: dict | bytes) -> bytes:
    bad = poison if isinstance(poison, bytes) else jsonl(poison)
    return b"".join(bad if i == value_at else jsonl(event(i)) for i in range(total))


def _overflowing_time() -> dict:
    bad = event(10**6)
    bad["object"]["metadata"]["creationTimestamp"] = "0001-01-01T00:00:00+01:00"
    bad["timestamp"] = "0001-01-01T00:00:00+01:00"
    return bad


def _deeply_nested() -> bytes:
    """A watch event whose spec nests 1,000 maps: under orjson's parsing limit (1024), over
    kubetrail's (253); written by hand, since json.dumps recurses too."""
    line = jsonl(event(10**6)).decode().rstrip("\n")
    spec_at = line.index('"spec": ') + len('"spec": ')
    spec_end = line.index(', "status"')
    deep = '{"x": ' * 1000 + '"leaf"' + "}" * 1000
    return (line[:spec_at] + deep + line[spec_end:] + "\n").encode()


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize(
    "poison, reason",
    [(_overflowing_time(), "outside the supported range"), (_deeply_nested(), "nests deeper")],
    ids=["overflowing-time", "nesting-1000"],
)
def test_one_bad_line_is_a_rejection_and_the_rest_of_the_file_is_stored(
    tmp_path: Path, workers: int, poison: dict | bytes, reason: str
) -> None:
    total, bad_at = 3000, 1500
    path = tmp_path / "events.json"
    path.write_bytes(_poisoned(bad_at, total, poison))
    lines: list[str] = []
    store = open_store(f"sqlite:///{tmp_path / 'k.db'}", bulk=True)
    try:
        stats = ingest_files([str(path)], store, report=lines.append, workers=workers)
    finally:
        store.close()
    assert (stats.read, stats.stored, stats.rejected) == (total, total - 1, 1)
    rejection = [line for line in lines if f"events.json:{bad_at + 1}:" in line]
    assert len(rejection) == 1 and reason in rejection[0], lines
    assert committed_rows(tmp_path / "k.db") == total - 1


class _RemoteStore:
    """A store that takes only documents (no prepared rows), as OpenSearch does: its
    writes take a while, and record the thread they ran in."""

    kind = "remote"

    def __init__(self, fail_at: int | None = None) -> None:
        self.ids: list[str] = []
        self.threads: set[int] = set()
        self.fail_at = fail_at

    def write(self, docs: list[dict]) -> WriteResult:
        self.threads.add(threading.get_ident())
        if self.fail_at is not None and len(self.ids) >= self.fail_at:
            raise StoreUnavailable("the store went away")
        time.sleep(0.02)
        self.ids += [d["id"] for d in docs]
        return WriteResult(stored=len(docs))


@pytest.mark.parametrize("workers", [1, 2])
def test_a_store_without_prepared_rows_is_written_while_the_next_batch_is_read(
    tmp_path: Path, workers: int
) -> None:
    path = tmp_path / "events.json"
    path.write_bytes(jsonl(*(event(i) for i in range(100))))
    store = _RemoteStore()
    stats = ingest_files(
        [str(path)], store, report=lambda line: None, workers=workers, batch_size=15
    )
    assert (stats.read, stats.stored, stats.rejected) == (100, 100, 0)
    assert len(store.ids) == len(set(store.ids)) == 100  # every batch once, in order
    assert store.threads and threading.get_ident() not in store.threads


def test_a_failed_background_write_stops_the_ingest(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    path.write_bytes(jsonl(*(event(i) for i in range(100))))
    store = _RemoteStore(fail_at=30)
    with pytest.raises(StoreUnavailable, match="went away"):
        ingest_files([str(path)], store, report=lambda line: None, batch_size=15)
    assert len(store.ids) == 30
