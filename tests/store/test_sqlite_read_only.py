"""The embedded store opened read-only: the commands that only read serve a file they
cannot write; the commands that write refuse it in one line saying "read-only".

The first tests decide "this file cannot be written" by replacing
:func:`access.why_not_writable` (the store's only question to the file system), so
they run anywhere; the last ones put the file on a real read-only mount
(:mod:`tests.support.read_only_fs`) and run the store in that process.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kubetrail.store import open_store
from kubetrail.store.base import EventFilter, EventQuery, StoreError, StoreUnavailable
from kubetrail.store.sqlite import SQLiteStore, access, prepare_row, schema
from tests.support.dataset import documents
from tests.support.read_only_fs import read_only_runner

ALL = EventQuery(filter=EventFilter(), limit=1000)
CUTOFF = datetime(2100, 1, 1, tzinfo=UTC)


def _store_with_documents(path: Path, count: int = 12) -> None:
    store = SQLiteStore(path)
    try:
        store.write(documents()[:count])
    finally:
        store.close()


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def _assert_refuses_writes(store: SQLiteStore) -> None:
    docs = documents()
    for attempt in (
        lambda: store.write(docs[:1]),
        lambda: store.write_prepared([prepare_row(docs[0])]),
        lambda: store.delete_before(CUTOFF),
        store.flush,
    ):
        with pytest.raises(StoreError, match=r"is open read-only"):
            attempt()


@pytest.fixture
def make_unwritable(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """From the call on, every file is on a read-only file system as far as the store
    can tell."""

    def apply() -> None:
        monkeypatch.setattr(access, "why_not_writable", lambda path: "the file system is read-only")

    return apply


def test_read_only_on_a_writable_file_reads_and_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    _store_with_documents(path)
    store = SQLiteStore(path, read_only=True)
    try:
        assert len(store.search(ALL).items) == 12
        _assert_refuses_writes(store)
        health = store.health()
        assert health.ok and health.detail["readOnly"] is True
        assert health.detail["events"] == 12
    finally:
        store.close()
    writable = SQLiteStore(path)
    try:
        assert len(writable.search(ALL).items) == 12
        assert writable.health().detail["readOnly"] is False
    finally:
        writable.close()


def test_read_only_on_a_writable_old_file_still_migrates_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "k.db"
    _store_with_documents(path)
    applied: list[int] = []
    current = schema.SCHEMA_VERSION
    monkeypatch.setattr(schema, "SCHEMA_VERSION", current + 1)
    monkeypatch.setitem(schema.MIGRATIONS, current, lambda conn: applied.append(current))
    SQLiteStore(path, read_only=True).close()
    assert applied == [current]


def test_an_unwritable_file_without_a_log_is_read_immutable(
    tmp_path: Path, make_unwritable: Callable[[], None]
) -> None:
    path = tmp_path / "k.db"
    _store_with_documents(path)
    make_unwritable()
    store = SQLiteStore(path, read_only=True)
    try:
        assert store._access.mode is access.Mode.IMMUTABLE
        assert len(store.search(ALL).items) == 12
        with pytest.raises(StoreError, match="open read-only: the file system is read-only"):
            store.write(documents()[:1])
        _assert_refuses_writes(store)
        assert store.health().detail["readOnly"] is True
    finally:
        store.close()
    assert _files(tmp_path) == ["k.db"]  # no -wal, no -shm left by a reader


def test_an_unwritable_file_with_a_writer_s_log_follows_the_writer(
    tmp_path: Path, make_unwritable: Callable[[], None]
) -> None:
    path = tmp_path / "k.db"
    docs = documents()
    writer = SQLiteStore(path)  # holds -wal and -shm while open
    try:
        writer.write(docs[:4])
        make_unwritable()
        reader = SQLiteStore(path, read_only=True)
        try:
            assert reader._access.mode is access.Mode.READ_ONLY
            assert len(reader.search(ALL).items) == 4
            writer.write(docs[4:])
            assert len(reader.search(ALL).items) == 12
            assert reader.health().detail["events"] == 12
            _assert_refuses_writes(reader)
        finally:
            reader.close()
    finally:
        writer.close()


def test_a_log_that_cannot_be_read_is_one_clear_line(
    tmp_path: Path, make_unwritable: Callable[[], None]
) -> None:
    path = tmp_path / "k.db"
    _store_with_documents(path)
    (tmp_path / "k.db-wal").write_bytes(b"\0" * 4096)  # a log with no -shm beside it
    make_unwritable()
    with pytest.raises(StoreUnavailable, match=r"write-ahead log k\.db-wal holds changes") as err:
        SQLiteStore(path, read_only=True)
    assert "\n" not in str(err.value)


def test_an_old_schema_is_not_migrated_read_only(
    tmp_path: Path, make_unwritable: Callable[[], None]
) -> None:
    path = tmp_path / "k.db"
    _store_with_documents(path)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value='6' WHERE key='schema_version'")
    make_unwritable()
    with pytest.raises(StoreUnavailable) as err:
        SQLiteStore(path, read_only=True)
    message = str(err.value)
    assert f"store {path} has schema v6" in message
    assert "open it once where it can be written to upgrade it" in message
    assert "\n" not in message
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (
            "6",
        )


def test_a_read_only_open_needs_a_kubetrail_store(
    tmp_path: Path, make_unwritable: Callable[[], None]
) -> None:
    make_unwritable()
    with pytest.raises(StoreUnavailable, match=r"none\.db does not exist: check the path"):
        SQLiteStore(tmp_path / "none.db", read_only=True)
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    with pytest.raises(StoreUnavailable, match="is an empty file, not a kubetrail store"):
        SQLiteStore(empty, read_only=True)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(StoreUnavailable, match="is not a kubetrail store"):
        SQLiteStore(other, read_only=True)


def test_a_read_only_open_never_creates_or_changes_a_file_it_could_write(
    tmp_path: Path,
) -> None:
    # the directory is writable: a reader could create the store, and must not
    typo = tmp_path / "typo.db"
    with pytest.raises(StoreUnavailable) as err:
        open_store(f"sqlite:///{typo}", read_only=True)
    assert str(err.value) == (
        f"SQLite store {typo} does not exist: check the path (--store or $KUBETRAIL_STORE); "
        "kubetrail ingest, demo or ship create a store"
    )
    assert _files(tmp_path) == []
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(StoreUnavailable, match=r"other\.db is not a kubetrail store"):
        SQLiteStore(other, read_only=True)
    with sqlite3.connect(other) as conn:
        tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    assert tables == [("t",)]  # no kubetrail schema written into it


def test_a_writing_open_of_an_unwritable_file_says_read_only(
    tmp_path: Path, make_unwritable: Callable[[], None]
) -> None:
    path = tmp_path / "k.db"
    _store_with_documents(path)
    make_unwritable()
    expected = re.escape(f"cannot write SQLite store {path}: the file system is read-only")
    with pytest.raises(StoreUnavailable, match=expected):
        SQLiteStore(path)
    with pytest.raises(StoreUnavailable, match=expected):
        open_store(f"sqlite:///{path}", bulk=True)
    store = open_store(f"sqlite:///{path}", read_only=True)
    try:
        assert store.health().detail["readOnly"] is True
    finally:
        store.close()


def test_a_bulk_load_cannot_be_read_only(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="bulk load cannot be read-only"):
        open_store(f"sqlite:///{tmp_path / 'k.db'}", bulk=True, read_only=True)


# -- a real read-only file system -------------------------------------------------------

_ON_READ_ONLY_MOUNT = textwrap.dedent(
    """
    import json, sys
    from kubetrail.store.base import EventQuery, StoreError, StoreUnavailable
    from kubetrail.store.sqlite import SQLiteStore

    path = sys.argv[1]
    out = {}
    store = SQLiteStore(path, read_only=True)
    out["mode"] = store._access.mode.value
    out["events"] = len(store.search(EventQuery(limit=1000)).items)
    out["health"] = store.health().detail
    try:
        store.write([])
    except StoreError as exc:
        out["write"] = str(exc)
    store.close()
    try:
        SQLiteStore(path)
    except StoreUnavailable as exc:
        out["writing_open"] = str(exc)
    print(json.dumps(out))
    """
)


def test_on_a_read_only_file_system_it_reads_and_refuses_writes(tmp_path: Path) -> None:
    runner = read_only_runner()
    path = tmp_path / "k.db"
    _store_with_documents(path)
    r = runner.run(tmp_path, [sys.executable, "-c", _ON_READ_ONLY_MOUNT, str(path)])
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["mode"] == "immutable"
    assert out["events"] == 12
    assert out["health"]["readOnly"] is True and out["health"]["events"] == 12
    assert out["write"] == f"SQLite store {path} is open read-only: the file system is read-only"
    assert out["writing_open"] == (
        f"cannot write SQLite store {path}: the file system is read-only"
    )
    assert _files(tmp_path) == ["k.db"]


_FOLLOWER = textwrap.dedent(
    """
    import sys
    from kubetrail.store.base import EventQuery
    from kubetrail.store.sqlite import SQLiteStore

    store = SQLiteStore(sys.argv[1], read_only=True)
    print(store._access.mode.value, len(store.search(EventQuery(limit=1000)).items), flush=True)
    sys.stdin.readline()  # the writer writes more
    print(len(store.search(EventQuery(limit=1000)).items), flush=True)
    store.close()
    """
)


def test_a_reader_on_a_read_only_mount_follows_a_writer_elsewhere(tmp_path: Path) -> None:
    runner = read_only_runner()
    path = tmp_path / "k.db"
    docs = documents()
    writer = SQLiteStore(path)
    try:
        writer.write(docs[:4])
        reader = subprocess.Popen(
            runner.argv(tmp_path, [sys.executable, "-c", _FOLLOWER, str(path)]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert reader.stdout is not None and reader.stdin is not None
            first = reader.stdout.readline().split()
            writer.write(docs[4:])
            out, err = reader.communicate("\n", timeout=60)
        finally:
            if reader.poll() is None:
                reader.kill()
                reader.wait()
    finally:
        writer.close()
    assert first == ["read-only", "4"], err
    assert out.strip() == "12", err
