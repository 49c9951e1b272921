"""Documents in the embedded store: zstd with a dictionary trained on the store's
own documents; every document reads back exactly, from any process."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from kubetrail.events.normalize import normalize
from kubetrail.events.timing import parse_rfc3339
from kubetrail.store.base import EventFilter, EventQuery, StoreError
from kubetrail.store.sqlite import SQLiteStore, codec
from tests.support.k8s_objects import crashlooping_status, pod


def pods(n: int, start: int = 0) -> list[dict[str, Any]]:
    docs = []
    for i in range(start, start + n):
        obj = pod(
            name=f"web-{i % 40}-{i}",
            namespace=f"team-{i % 7}",
            uid=f"5f1c2d3e-0000-4000-8000-{i:012d}",
            rv=str(1000 + i),
            status=crashlooping_status(restarts=i % 9) if i % 3 else None,
        )
        seconds = i % 3600
        when = parse_rfc3339(
            f"2026-11-25T{seconds // 60 // 60 + 3:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}Z"
        )
        docs.append(normalize("MODIFIED", obj, observed_at=when))
    return docs


def _raw_docs(path: Path) -> list[bytes]:
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute("SELECT doc FROM events ORDER BY seq")]


def _all(store: SQLiteStore) -> dict[str, Any]:
    page = store.search(EventQuery(filter=EventFilter(), limit=100_000))
    return {d["id"]: d for d in page.items}


@pytest.fixture
def small_training(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(codec, "TRAIN_AT", 300)
    monkeypatch.setattr(codec, "RETRAIN_EVERY", 600)


@pytest.mark.usefixtures("small_training")
def test_documents_after_training_are_compressed_and_read_back_exactly(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    docs = pods(1000)
    store = SQLiteStore(path)
    try:
        for i in range(0, len(docs), 100):  # the shipper's small batches
            store.write(docs[i : i + 100])
        assert _all(store) == {d["id"]: d for d in docs}
    finally:
        store.close()
    raw = _raw_docs(path)
    plain = [b for b in raw if b.startswith(b"{")]
    packed = [b for b in raw if not b.startswith(b"{")]
    # stored as they were until the batch that reached TRAIN_AT: a dictionary was
    # trained on everything so far, that batch included
    assert len(plain) == 200
    assert len(packed) == 800
    assert sum(map(len, packed)) / len(packed) < sum(map(len, plain)) / len(plain) / 4
    with sqlite3.connect(path) as conn:
        assert [r[0] for r in conn.execute("SELECT id FROM zdicts ORDER BY id")] == [1, 2]


@pytest.mark.usefixtures("small_training")
def test_a_reader_opened_before_the_dictionary_existed_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    reader = SQLiteStore(path)  # e.g. `kubetrail api`, while another process ingests
    writer = SQLiteStore(path)
    try:
        docs = pods(500)
        writer.write(docs)
        assert _all(reader) == {d["id"]: d for d in docs}
    finally:
        reader.close()
        writer.close()


@pytest.mark.usefixtures("small_training")
def test_a_reopened_store_reads_plain_and_compressed_rows(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    docs = pods(800)
    store = SQLiteStore(path)
    store.write(docs[:400])
    store.close()
    store = SQLiteStore(path)
    try:
        store.write(docs[400:])
        assert _all(store) == {d["id"]: d for d in docs}
    finally:
        store.close()


@pytest.mark.usefixtures("small_training")
def test_a_failed_write_keeps_no_dictionary(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    store = SQLiteStore(path)
    try:
        with sqlite3.connect(path) as conn:  # make the write fail after training
            conn.execute(
                "CREATE TRIGGER boom BEFORE INSERT ON signals BEGIN SELECT RAISE(ABORT, 'boom'); END"
            )
        with pytest.raises(StoreError, match="boom"):
            store.write(pods(400))
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT COUNT(*) FROM zdicts").fetchone()[0] == 0
            conn.execute("DROP TRIGGER boom")
        docs = pods(400, start=1000)
        store.write(docs)
        assert _all(store) == {d["id"]: d for d in docs}
    finally:
        store.close()
