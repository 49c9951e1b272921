"""Each thread reads through a connection of its own; a thread that ends takes its
connection with it. A server's thread pool stops idle threads and starts new ones
(anyio after 10 s idle), so otherwise every quiet spell left connections open, each
with its files and page cache, for as long as the store."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from kubetrail.store.base import EventQuery
from kubetrail.store.sqlite import SQLiteStore
from tests.support.dataset import documents

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")


def _open_files(db: Path) -> int:
    """How many of this process's file descriptors are the store's files."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        count += target.startswith(str(db))
    return count


def test_a_thread_that_ends_closes_its_connection(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    store = SQLiteStore(db)
    try:
        store.write(documents())
        store.search(EventQuery(limit=5))  # this thread's connection, which stays
        before = _open_files(db)
        pages: list[int] = []

        def read() -> None:
            pages.append(len(store.search_raw(EventQuery(limit=5)).items))

        open_after = []
        for _ in range(3):
            for _ in range(10):
                t = threading.Thread(target=read)
                t.start()
                t.join()
            open_after.append(_open_files(db))
        assert pages == [5] * 30
        # SQLite may keep one closed connection's file open for the next one to reuse
        # (closing it would drop the locks the other connections hold), no more
        assert open_after[0] <= before + 1
        assert open_after == [open_after[0]] * 3
        store.search(EventQuery(limit=5))  # the store still reads
    finally:
        store.close()
    assert _open_files(db) == 0


def test_closing_the_store_closes_the_connections_of_live_threads(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    store = SQLiteStore(db)
    store.write(documents())
    read, finish = threading.Event(), threading.Event()

    def reader() -> None:
        store.search(EventQuery(limit=5))
        read.set()
        finish.wait()

    t = threading.Thread(target=reader)
    t.start()
    read.wait()
    store.close()
    assert _open_files(db) == 0
    finish.set()
    t.join()
