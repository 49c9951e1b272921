"""What only the embedded store has: its file, schema versions and migrations."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import orjson
import pytest

from kubetrail.events.timing import parse_rfc3339
from kubetrail.store import open_store
from kubetrail.store.base import (
    AggregateQuery,
    EventFilter,
    EventQuery,
    StoreError,
    StoreUnavailable,
)
from kubetrail.store.sqlite import (
    BULK_ROWS_PER_COMMIT,
    DailyStore,
    SQLiteStore,
    prepare_row,
    schema,
)
from tests.support.dataset import documents


def _schema_version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0])


def test_new_database_gets_current_schema_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    SQLiteStore(path).close()
    assert _schema_version(path) == schema.SCHEMA_VERSION
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_migration_runs_in_order_and_keeps_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "k.db"
    store = SQLiteStore(path)
    store.write(documents())
    store.close()

    applied: list[int] = []

    def v1_to_v2(conn: sqlite3.Connection) -> None:
        applied.append(1)
        conn.execute("ALTER TABLE events ADD COLUMN cluster TEXT NOT NULL DEFAULT ''")

    current = schema.SCHEMA_VERSION
    monkeypatch.setattr(schema, "SCHEMA_VERSION", current + 1)
    monkeypatch.setitem(schema.MIGRATIONS, current, v1_to_v2)
    store = SQLiteStore(path)
    try:
        assert applied == [1]
        assert _schema_version(path) == current + 1
        assert len(store.search(EventQuery(filter=EventFilter(), limit=100)).items) == 12
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(events)")}
    assert "cluster" in columns

    SQLiteStore(path).close()  # already current: the migration does not run again
    assert applied == [1]


def test_failed_migration_leaves_the_old_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "k.db"
    SQLiteStore(path).close()

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE events ADD COLUMN half_done TEXT")
        raise sqlite3.OperationalError("disk I/O error")

    current = schema.SCHEMA_VERSION
    monkeypatch.setattr(schema, "SCHEMA_VERSION", current + 1)
    monkeypatch.setitem(schema.MIGRATIONS, current, broken)
    with pytest.raises(StoreUnavailable, match="disk I/O error"):
        SQLiteStore(path)
    assert _schema_version(path) == current
    with sqlite3.connect(path) as conn:
        assert "half_done" not in {row[1] for row in conn.execute("PRAGMA table_info(events)")}


def test_newer_schema_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    SQLiteStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    with pytest.raises(StoreUnavailable, match="schema version 99, newer than this kubetrail"):
        SQLiteStore(path)


def test_not_a_database_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreUnavailable, match="cannot open SQLite store"):
        SQLiteStore(path)


def test_missing_directory_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="does not exist"):
        SQLiteStore(tmp_path / "nope" / "k.db")


def test_readers_in_threads_see_committed_writes(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "k.db")
    try:
        docs = documents()
        store.write(docs[:6])
        seen: list[int] = []
        errors: list[BaseException] = []

        def reader() -> None:
            try:
                for _ in range(20):
                    seen.append(
                        len(store.search(EventQuery(filter=EventFilter(), limit=100)).items)
                    )
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=reader) for _ in range(4)]
        for t in threads:
            t.start()
        store.write(docs[6:])
        for t in threads:
            t.join()
        assert errors == []
        assert set(seen) <= {6, 12} and seen
        assert len(store.search(EventQuery(filter=EventFilter(), limit=100)).items) == 12
    finally:
        store.close()


def test_closed_store_says_so(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "k.db")
    store.close()
    with pytest.raises(StoreUnavailable, match="closed"):
        store.search(EventQuery(filter=EventFilter(), limit=10))


def test_a_version_1_database_gets_the_reason_index(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    with sqlite3.connect(path) as conn:  # what kubetrail 0.1 created
        conn.executescript(schema._SCHEMA_V1)
        conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '1')")
    store = SQLiteStore(path)
    try:
        store.write(documents())
        assert _schema_version(path) == schema.SCHEMA_VERSION >= 2
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        indexes = {row[1] for row in conn.execute("PRAGMA index_list(events)")}
    assert "events_reason" in indexes


def _signal_answers(store: SQLiteStore) -> list[tuple[object, ...]]:
    result = store.aggregate(
        AggregateQuery(
            filter=EventFilter(signal=("pod.*",)),
            group_by=("namespace", "resourceName", "signal"),
            latest=True,
        )
    )
    return [
        (b.key, b.count, b.first_seen, b.last_seen, (b.latest or {}).get("id"))
        for b in result.buckets
    ]


def test_a_version_2_database_gets_signal_rows_with_object_keys(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    store = SQLiteStore(path)
    store.write(documents())
    expected = _signal_answers(store)
    store.close()
    assert expected, "the dataset has pod signals"
    with sqlite3.connect(path) as conn:  # back to the v2 layout: (signal, ts, seq) only
        conn.executescript(
            """
            CREATE TABLE signals_v2 (signal TEXT NOT NULL, ts INTEGER NOT NULL,
                seq INTEGER NOT NULL, PRIMARY KEY (signal, ts, seq)) WITHOUT ROWID;
            INSERT INTO signals_v2 SELECT signal, ts, seq FROM signals;
            DROP TABLE signals;
            ALTER TABLE signals_v2 RENAME TO signals;
            UPDATE meta SET value = '2' WHERE key = 'schema_version';
            """
        )
    store = SQLiteStore(path)
    try:
        assert _schema_version(path) == schema.SCHEMA_VERSION
        assert _signal_answers(store) == expected
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(signals)")]
    assert columns == [
        "signal",
        "ts",
        "seq",
        "namespace",
        "resource_type",
        "resource_name",
        "kind",
        "id",
    ]


def test_raw_pages_are_the_bytes_of_the_parsed_pages(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "k.db")
    try:
        store.write(documents())
        for flt in (EventFilter(), EventFilter(namespace=("shop",)), EventFilter(text="checkout")):
            query = EventQuery(filter=flt, limit=3)
            parsed, raw = store.search(query), store.search_raw(query)
            assert parsed.items, flt
            assert raw.items == [orjson.dumps(d) for d in parsed.items]
            assert raw.next == parsed.next
    finally:
        store.close()


def test_newest_of_a_group_across_times_of_different_digit_counts(tmp_path: Path) -> None:
    from kubetrail.events.normalize import normalize
    from kubetrail.events.timing import parse_rfc3339
    from tests.support.k8s_objects import pod

    old = normalize("MODIFIED", pod(rv="1"), observed_at=parse_rfc3339("1999-01-01T00:00:00Z"))
    new = normalize("MODIFIED", pod(rv="2"), observed_at=parse_rfc3339("2026-01-01T00:00:00Z"))
    store = SQLiteStore(tmp_path / "k.db")
    try:
        store.write([new, old])
        [bucket] = store.aggregate(
            AggregateQuery(filter=EventFilter(), group_by=("resourceName",), latest=True)
        ).buckets
        assert bucket.count == 2
        assert bucket.latest is not None and bucket.latest["id"] == new["id"]
        assert bucket.first_seen.startswith("1999")
    finally:
        store.close()


def _counted(path: Path) -> tuple[int, int]:
    """(the count health reports, the rows really there)."""
    store = SQLiteStore(path)
    try:
        reported = store.health().detail["events"]
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        return reported, conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]


def test_the_stored_event_count_follows_writes_duplicates_and_retention(tmp_path: Path) -> None:
    path = tmp_path / "count.db"
    docs = documents()
    assert _counted(path) == (0, 0)
    first, second = SQLiteStore(path), SQLiteStore(path)  # two writers of one file
    try:
        first.write(docs[:5])
        second.write(docs[3:])  # two already there
        first.write(docs)  # all duplicates
        assert first.health().detail["events"] == len(docs)
        oldest = sorted(d["timestamp"] for d in docs)
        deleted = second.delete_before(parse_rfc3339(oldest[4]))
        assert deleted == 4
        assert first.health().detail["events"] == len(docs) - 4
    finally:
        first.close()
        second.close()
    assert _counted(path) == (len(docs) - 4, len(docs) - 4)


def test_a_version_5_database_gets_its_count(tmp_path: Path) -> None:
    path = tmp_path / "v5.db"
    store = SQLiteStore(path)
    store.write(documents())
    store.close()
    with sqlite3.connect(path) as conn:  # as v5 left it: no count
        conn.execute("DELETE FROM meta WHERE key = 'event_count'")
        conn.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
    assert _counted(path) == (len(documents()), len(documents()))
    assert _schema_version(path) == schema.SCHEMA_VERSION


def _fts_hash_bytes(path: Path) -> int | None:
    with sqlite3.connect(path) as conn:
        row = conn.execute("SELECT v FROM events_fts_config WHERE k = 'hashsize'").fetchone()
    return None if row is None else int(row[0])


def _texts(store: SQLiteStore, text: str) -> list[str]:
    page = store.search(EventQuery(filter=EventFilter(text=text), limit=50))
    return sorted(doc["kind"] for doc in page.items)


def test_a_version_6_database_gets_the_larger_full_text_buffer(tmp_path: Path) -> None:
    path = tmp_path / "v6.db"
    docs = documents()
    store = SQLiteStore(path)
    store.write(docs[: len(docs) // 2])
    store.close()
    assert _fts_hash_bytes(path) == schema.FTS_HASH_BYTES  # a new file has it
    with sqlite3.connect(path) as conn:  # as v6 left it: SQLite's default
        conn.execute("DELETE FROM events_fts_config WHERE k = 'hashsize'")
        conn.execute("UPDATE meta SET value = '6' WHERE key = 'schema_version'")
    assert _fts_hash_bytes(path) is None
    store = SQLiteStore(path)
    try:
        store.write(docs)  # rows indexed before and after the upgrade
        assert _schema_version(path) == schema.SCHEMA_VERSION
        assert _fts_hash_bytes(path) == schema.FTS_HASH_BYTES
        assert _texts(store, "checkout-config") == ["ConfigMap"]
        assert _texts(store, "NodeNotReady worker-3") == ["Event"]
    finally:
        store.close()


class _RefusingConnection:
    """A connection whose every statement fails as SQLite would fail it: only the
    error matters to the migration (a full disk cannot be had on demand)."""

    def __init__(self, errorname: str, in_transaction: bool) -> None:
        self.errorname, self.in_transaction = errorname, in_transaction

    def execute(self, *args: object) -> None:
        exc = sqlite3.OperationalError("refused")
        exc.sqlite_errorname = self.errorname
        raise exc


def test_the_full_text_buffer_is_optional_but_a_failing_database_is_not() -> None:
    # an SQLite without the option: the migration goes on
    schema._v6_to_v7(_RefusingConnection("SQLITE_ERROR", in_transaction=True))  # type: ignore[arg-type]
    for errorname, in_transaction in (("SQLITE_FULL", True), ("SQLITE_ERROR", False)):
        with pytest.raises(sqlite3.OperationalError):
            schema._v6_to_v7(_RefusingConnection(errorname, in_transaction))  # type: ignore[arg-type]


def _visible(path: Path) -> int:
    """Events another connection sees (committed ones)."""
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])


def test_a_bulk_load_commits_every_so_many_rows_and_on_close(tmp_path: Path) -> None:
    path = tmp_path / "bulk.db"
    docs = documents()
    store = SQLiteStore(path, rows_per_commit=5)
    try:
        store.write(docs[:3])
        assert _visible(path) == 0  # in the open transaction
        store.write(docs[:3])  # duplicates of uncommitted rows are still duplicates
        assert _visible(path) == 0
        store.write(docs[3:6])  # 6 >= 5: committed
        assert _visible(path) == 6
        store.write(docs[6:8])
        store.flush()
        assert _visible(path) == 8
        store.write(docs[8:])
    finally:
        store.close()
    assert _visible(path) == len(docs)
    assert _counted(path) == (len(docs), len(docs))


def test_a_failed_write_in_a_bulk_load_takes_back_only_its_own_rows(tmp_path: Path) -> None:
    path = tmp_path / "bulk.db"
    docs = documents()
    store = SQLiteStore(path, rows_per_commit=100)
    try:
        store.write(docs[:4])
        good = [prepare_row(d) for d in docs[4:8]]
        broken = [*good[:2], ("broken-1", good[2][1][:5], [], "")]  # too few columns
        with pytest.raises(StoreError, match=r"SQLite write to .* failed"):
            store.write_prepared(broken)
        result = store.write(docs[4:])  # the failed write stored nothing of its own
        assert (result.stored, result.duplicates) == (len(docs) - 4, 0)
    finally:
        store.close()
    assert _counted(path) == (len(docs), len(docs))


def test_retention_during_a_bulk_load_commits_the_load_first(tmp_path: Path) -> None:
    path = tmp_path / "bulk.db"
    docs = documents()
    store = SQLiteStore(path, rows_per_commit=100)
    try:
        store.write(docs)
        oldest = sorted(d["timestamp"] for d in docs)
        assert store.delete_before(parse_rfc3339(oldest[4])) == 4
        assert _visible(path) == len(docs) - 4  # the load committed, then the deletion
        store.write(docs)  # the load goes on: a new transaction
        store.flush()
        assert _visible(path) == len(docs)
    finally:
        store.close()


def test_the_cli_opens_the_embedded_store_for_bulk_loads(tmp_path: Path) -> None:
    bulk = open_store(f"sqlite:///{tmp_path / 'k.db'}", bulk=True)
    plain = open_store(f"sqlite:///{tmp_path / 'k.db'}")
    try:
        assert isinstance(bulk, DailyStore) and isinstance(plain, DailyStore)
        assert bulk._rows_per_commit == BULK_ROWS_PER_COMMIT
        assert plain._rows_per_commit == 0  # every write commits
    finally:
        bulk.close()
        plain.close()
