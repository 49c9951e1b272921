"""The embedded store: one SQLite file, for a laptop, a demo or a small cluster.

Layout (schema v7): ``events`` holds one row per document — the filter and
group keys as indexed columns, the document (orjson bytes, or a zstd frame once
a dictionary is trained: :mod:`.doc_codec`, ``zdicts``) and its search text;
``signals`` holds one row per (signal, event) with the object's keys and the
event id, so "which pods crash-looped" is answered from its primary key
(signal, ts) or from ``signals_group`` (type, signal, namespace, name) alone;
``signal_names`` lists the signals ever stored (prefixes expand to them);
``events_fts`` is an FTS5 index over the search text (external content, so the
text is stored once); ``meta`` keeps the schema version and the number of
stored events (kept by each write and deletion, so health reads it at once).

Concurrency: WAL journal, one writer connection behind a lock, one reader
connection per thread, so API readers never wait for ingest and ingest never
waits for readers. Writes are batched: one ``BEGIN IMMEDIATE`` transaction per
batch, ids already present are found with one ``IN`` query and skipped
(idempotent writes), row numbers are allocated inside the transaction so the
three tables are filled with ``executemany``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from kubetrail.events.model import EventDocument
from kubetrail.events.text import search_text
from kubetrail.events.timing import format_rfc3339, from_micros, parse_rfc3339, to_micros
from kubetrail.store import doc_codec
from kubetrail.store.base import (
    AggregateQuery,
    AggregateResult,
    Bucket,
    Cursor,
    EventFilter,
    EventPage,
    EventQuery,
    Health,
    InvalidQuery,
    RawPage,
    StoreError,
    StoreUnavailable,
    WriteError,
    WriteResult,
    check_group_keys,
)

log = logging.getLogger("kubetrail.store")

SCHEMA_VERSION = 7

_SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    ts INTEGER NOT NULL,
    verb TEXT NOT NULL,
    user TEXT NOT NULL,
    namespace TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    api_group TEXT NOT NULL,
    uid TEXT NOT NULL,
    field_manager TEXT NOT NULL,
    snapshot INTEGER NOT NULL,
    reason TEXT,
    event_type TEXT,
    inv_kind TEXT,
    inv_namespace TEXT,
    inv_name TEXT,
    inv_uid TEXT,
    doc BLOB NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX events_ts ON events (ts);
CREATE INDEX events_namespace ON events (namespace, ts);
CREATE INDEX events_type ON events (resource_type, ts);
CREATE INDEX events_object ON events (namespace, resource_type, resource_name, ts);
CREATE INDEX events_uid ON events (uid, ts);
CREATE INDEX events_involved ON events (inv_namespace, inv_name, ts) WHERE inv_name IS NOT NULL;
CREATE TABLE signals (
    signal TEXT NOT NULL,
    ts INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (signal, ts, seq)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE events_fts USING fts5(body, content='events', content_rowid='seq');
"""

#: version → function upgrading a database from that version to the next.
Migration = Callable[[sqlite3.Connection], None]


def _v1_to_v2(conn: sqlite3.Connection) -> None:
    """Diagnostics ask for Events by reason and by involved object over long ranges
    (FailedScheduling, ProvisioningFailed, NodeNotReady…): without these indexes
    that is a scan of every event in the range."""
    conn.execute("CREATE INDEX IF NOT EXISTS events_reason ON events (resource_type, reason, ts)")
    # v1's involved-object index was partial (inv_name IS NOT NULL), which SQLite
    # cannot match against `inv_name IN (...)`: make it a plain one.
    conn.execute("DROP INDEX IF EXISTS events_involved")
    conn.execute("CREATE INDEX events_involved ON events (inv_namespace, inv_name, ts)")


_SIGNALS_V3 = """
CREATE TABLE signals_v3 (
    signal TEXT NOT NULL,
    ts INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    namespace TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    PRIMARY KEY (signal, ts, seq)
) WITHOUT ROWID
"""


def _v2_to_v3(conn: sqlite3.Connection) -> None:
    """Signal rows carry the object's keys (namespace, type, name, kind) and the
    event id, so "which pods crash-looped, when first, when last, newest
    version" is answered from the signals index alone. Through v2 every
    matching signal row cost a random read of its (5 KB) event row: 1-3 s for a
    day of a busy cluster."""
    conn.execute(_SIGNALS_V3)
    conn.execute(
        "INSERT INTO signals_v3 SELECT s.signal, s.ts, s.seq, e.namespace, e.resource_type,"
        " e.resource_name, e.kind, e.id FROM signals s JOIN events e ON e.seq = s.seq"
    )
    conn.execute("DROP TABLE signals")
    conn.execute("ALTER TABLE signals_v3 RENAME TO signals")


def _v3_to_v4(conn: sqlite3.Connection) -> None:
    """Documents may be zstd frames with a dictionary kept in ``zdicts``
    (:mod:`.doc_codec`); rows written before stay readable as they are. An index
    on object names."""
    conn.execute(doc_codec.SCHEMA)
    # "this object" without its resource type (?namespace=…&name=…): without an
    # index on the name that reads every event of the namespace
    conn.execute("CREATE INDEX IF NOT EXISTS events_name ON events (resource_name, ts)")


def _v4_to_v5(conn: sqlite3.Connection) -> None:
    """Signal rows in group order (type, signal, namespace, name): "which pods
    failed how, over two days" streams through this index instead of sorting
    every signal row of the range (1.2 M rows, ~1 s, at 1 M events).

    And the names of the signals ever stored, so a prefix (``pod.waiting:*``)
    becomes the exact signals it covers: each is then a (signal, time) range in
    the primary key, where a prefix range cannot use the time at all."""
    conn.execute(
        "CREATE INDEX IF NOT EXISTS signals_group"
        " ON signals (resource_type, signal, namespace, resource_name, ts, id)"
    )
    conn.execute("CREATE TABLE IF NOT EXISTS signal_names (signal TEXT PRIMARY KEY) WITHOUT ROWID")
    conn.execute("INSERT OR IGNORE INTO signal_names SELECT DISTINCT signal FROM signals")


def _v5_to_v6(conn: sqlite3.Connection) -> None:
    """The number of stored events, kept by every write and deletion in the same
    transaction. ``/health`` (the embedded pod's readiness probe) counted them with
    ``COUNT(*)``, a walk of a whole index: at 1,000,000 events 6 ms warm but 157 ms
    with a cold page cache, and proportionally more at the tens of millions a big
    cluster's two weeks hold (past a probe's 1 s timeout), every probe competing
    with queries for the page cache."""
    count = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    conn.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (_EVENT_COUNT, str(count))
    )


#: FTS5 keeps the terms of uncommitted rows in a hash table and writes them out as a
#: new index segment whenever it holds this many bytes (and at every commit or
#: savepoint). At SQLite's default, 1 MB, a 10,000-row write of ~650-character
#: search texts became several small segments, each soon merged into bigger ones:
#: 148,000 instructions per inserted row (valgrind), against 86,000 with 16 MB,
#: where one write is one segment. It costs the writer that much memory while a
#: write is in progress, nothing at rest; the shipper's small batches never reach it.
FTS_HASH_BYTES = 16 * 1024 * 1024


def _v6_to_v7(conn: sqlite3.Connection) -> None:
    """The full-text index buffers up to :data:`FTS_HASH_BYTES` of terms before it
    writes a segment (a persistent FTS5 setting, so every connection uses it)."""
    try:
        conn.execute(
            "INSERT INTO events_fts (events_fts, rank) VALUES ('hashsize', ?)", (FTS_HASH_BYTES,)
        )
    except sqlite3.OperationalError as exc:
        # An SQLite without the option refuses it with a plain SQLITE_ERROR and the
        # transaction stays open: slower, not wrong. Anything else (a full disk, I/O)
        # may have ended the transaction: the migration must fail, not go on.
        if exc.sqlite_errorname != "SQLITE_ERROR" or not conn.in_transaction:
            raise
        log.info("SQLite %s: FTS5 'hashsize' not supported (%s)", sqlite3.sqlite_version, exc)


MIGRATIONS: dict[int, Migration] = {
    1: _v1_to_v2,
    2: _v2_to_v3,
    3: _v3_to_v4,
    4: _v4_to_v5,
    5: _v5_to_v6,
    6: _v6_to_v7,
}

#: The statements of a write (also timed one by one in bench/ingest_split.py).
INSERT_EVENTS = (
    "INSERT INTO events (seq, id, ts, verb, user, namespace, resource_type, resource_name,"
    " kind, api_group, uid, field_manager, snapshot, reason, event_type, inv_kind,"
    " inv_namespace, inv_name, inv_uid, doc, body)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
INSERT_SIGNALS = (
    "INSERT OR IGNORE INTO signals (signal, ts, seq, namespace, resource_type, resource_name,"
    " kind, id) VALUES (?,?,?,?,?,?,?,?)"
)
INSERT_FTS = "INSERT INTO events_fts (rowid, body) VALUES (?,?)"

_EVENT_COUNT = "event_count"
_ADD_TO_COUNT = "UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = 'event_count'"

#: EventFilter field → column (plain equality filters).
_COLUMNS: dict[str, str] = {
    "namespace": "namespace",
    "resource_type": "resource_type",
    "name": "resource_name",
    "kind": "kind",
    "verb": "verb",
    "uid": "uid",
    "reason": "reason",
    "event_type": "event_type",
    "field_manager": "field_manager",
    "involved_kind": "inv_kind",
    "involved_namespace": "inv_namespace",
    "involved_name": "inv_name",
    "involved_uid": "inv_uid",
}
#: group key → column.
_GROUP_COLUMNS: dict[str, str] = {
    "namespace": "e.namespace",
    "resourceType": "e.resource_type",
    "resourceName": "e.resource_name",
    "kind": "e.kind",
    "apiGroup": "e.api_group",
    "verb": "e.verb",
    "user": "e.user",
    "uid": "e.uid",
    "signal": "s.signal",
    "reason": "e.reason",
    "eventType": "e.event_type",
    "fieldManager": "e.field_manager",
    "involvedObject.kind": "e.inv_kind",
    "involvedObject.namespace": "e.inv_namespace",
    "involvedObject.name": "e.inv_name",
    "involvedObject.uid": "e.inv_uid",
}
_ID_CHUNK = 500
#: A bulk load commits about this many rows at once. Each commit writes every page
#: its rows touched to the WAL, and at 1,000,000 events the id, uid and group
#: indexes put nearly every row on a different page: 25,000 rows per commit wrote
#: 20 % faster than 10,000 (50,000: no faster). A transaction open longer than
#: :data:`BULK_COMMIT_SECONDS` is committed at the next write (a slow pipe).
BULK_ROWS_PER_COMMIT = 25_000
BULK_COMMIT_SECONDS = 5.0
_DELETE_CHUNK = 5000


class SQLiteStore:
    """The embedded store (see module docstring). ``path`` is a file path."""

    kind = "sqlite"
    # prepare = prepare_row (set below the function): rows for write_prepared

    def __init__(
        self, path: str | Path, *, writer_cache_mb: int = 64, rows_per_commit: int = 0
    ) -> None:
        """``writer_cache_mb``: the write connection's page cache. Bulk loads into a
        large store gain from more (the random-position index inserts hit the
        cache); a long-running process keeps the default (it is resident memory).

        ``rows_per_commit``: 0 commits every write. A bulk load sets it (see
        :data:`BULK_ROWS_PER_COMMIT`): writes then share one transaction until it
        holds that many rows, each write in a savepoint of its own (a failed write
        takes back only its rows). The transaction is committed by :meth:`flush`,
        :meth:`close` and before any deletion."""
        self.path = Path(path)
        self._rows_per_commit = rows_per_commit
        self._uncommitted = 0
        self._began = 0.0  # when the open transaction began (monotonic)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._closed = False
        self._all_connections: list[sqlite3.Connection] = []
        self._conn_lock = threading.Lock()
        if self.path.parent and not self.path.parent.exists():
            raise StoreUnavailable(
                f"cannot open {self.path}: directory {self.path.parent} does not exist"
            )
        try:
            self._writer = self._connect()
            # a checkpoint every 1000 pages (the default) is constant work during ingest
            self._writer.execute("PRAGMA wal_autocheckpoint=4000")
            self._writer.execute(f"PRAGMA cache_size=-{int(writer_cache_mb) * 1024}")
            self._migrate(self._writer)
            self._codec = doc_codec.DocCodec(self._writer)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise StoreUnavailable(f"cannot open SQLite store {self.path}: {exc}") from None

    # -- connections -------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        # 16 KB pages (a new file only): a 3-6 KB document row fits in a page
        # instead of spilling into overflow pages
        conn.execute("PRAGMA page_size=16384")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute("PRAGMA cache_size=-65536")
        conn.execute("PRAGMA temp_store=MEMORY")
        with self._conn_lock:
            self._all_connections.append(conn)
        return conn

    def _reader(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreUnavailable(f"SQLite store {self.path} is closed")
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def flush(self) -> None:
        """Commit the rows a bulk load has written so far."""
        with self._write_lock:
            if not self._closed:
                self._commit_pending()

    def _commit_pending(self) -> None:
        # with the write lock held
        conn, pending = self._writer, self._uncommitted
        self._uncommitted = 0
        if not conn.in_transaction:
            return
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            # a COMMIT that fails leaves the transaction open: end it, or every
            # later write would quietly join it
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
                self._codec.rollback(conn)
            raise StoreError(
                f"SQLite commit to {self.path} failed, {pending} rows not stored: {exc}"
            ) from None

    def close(self) -> None:
        if not self._closed and hasattr(self, "_writer"):
            try:
                with self._write_lock:
                    self._commit_pending()
            except StoreError as exc:  # closing goes on; a bulk load's caller flushed first
                log.error("%s", exc)
        self._closed = True
        with self._conn_lock:
            for conn in self._all_connections:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._all_connections.clear()

    # -- schema --------------------------------------------------------------

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise StoreUnavailable(
                f"{self.path} has schema version {version}, newer than this kubetrail "
                f"understands ({SCHEMA_VERSION}): upgrade kubetrail"
            )
        if version == SCHEMA_VERSION:
            return
        with self._transaction(conn):
            if version == 0:
                for statement in _SCHEMA_V1.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                version = 1
            while version < SCHEMA_VERSION:
                MIGRATIONS[version](conn)
                version += 1
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(version),),
            )

    @staticmethod
    @contextmanager
    def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # -- writes --------------------------------------------------------------

    def write(self, docs: Sequence[EventDocument]) -> WriteResult:
        return self.write_prepared([prepare_row(doc) for doc in docs])

    def write_prepared(self, rows: Sequence[PreparedRow | WriteError]) -> WriteResult:
        """Store rows made by :func:`prepare_row` (possibly in another process:
        parallel ingest renders rows in workers and only writes here). A
        :class:`WriteError` in place of a row is reported as not stored."""
        result = WriteResult()
        if not rows:
            return result
        prepared: dict[str, PreparedRow] = {}
        for item in rows:
            if isinstance(item, WriteError):
                result.errors.append(item)
            elif item[0] in prepared:
                result.duplicates += 1
            else:
                prepared[item[0]] = item
        event_rows: list[tuple[Any, ...]] = []
        signal_rows: list[tuple[Any, ...]] = []
        fts_rows: list[tuple[int, str]] = []
        with self._write_lock:
            conn = self._writer
            try:
                if not conn.in_transaction:
                    conn.execute("BEGIN IMMEDIATE")
                    self._began = time.monotonic()
                conn.execute("SAVEPOINT write")
            except sqlite3.Error as exc:
                if not self._uncommitted:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise StoreError(f"SQLite write to {self.path} failed: {exc}") from None
            try:
                existing = self._existing_ids(conn, list(prepared))
                fresh = [item for ident, item in prepared.items() if ident not in existing]
                result.duplicates += len(prepared) - len(fresh)
                stored_docs = self._codec.encode_batch(conn, [item[1][-2] for item in fresh])
                seq = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
                for (ident, row, signals, body), stored in zip(fresh, stored_docs, strict=True):
                    seq += 1
                    event_rows.append((seq, *row[:-2], stored, body))
                    if signals:
                        ts, ns, rtype, rname, kind = row[1], row[4], row[5], row[6], row[7]
                        signal_rows.extend(
                            (sig, ts, seq, ns, rtype, rname, kind, ident) for sig in signals
                        )
                    fts_rows.append((seq, body))
                conn.executemany(INSERT_EVENTS, event_rows)
                conn.executemany(INSERT_SIGNALS, signal_rows)
                conn.executemany(
                    "INSERT OR IGNORE INTO signal_names (signal) VALUES (?)",
                    [(name,) for name in {row[0] for row in signal_rows}],
                )
                conn.executemany(INSERT_FTS, fts_rows)
                conn.execute(_ADD_TO_COUNT, (len(event_rows),))
                conn.execute("RELEASE write")
            except BaseException as exc:
                # only this write's rows go; a bulk load's earlier ones stay
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK TO write")
                    conn.execute("RELEASE write")
                    self._codec.rollback(conn)
                if not self._uncommitted:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"SQLite write to {self.path} failed: {exc}") from None
                raise
            self._uncommitted += len(event_rows)
            if (
                self._uncommitted >= self._rows_per_commit
                or time.monotonic() - self._began >= BULK_COMMIT_SECONDS
            ):
                self._commit_pending()
        result.stored += len(event_rows)
        return result

    @staticmethod
    def _existing_ids(conn: sqlite3.Connection, ids: list[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(ids), _ID_CHUNK):
            chunk = ids[i : i + _ID_CHUNK]
            marks = ",".join("?" * len(chunk))
            found.update(
                r[0] for r in conn.execute(f"SELECT id FROM events WHERE id IN ({marks})", chunk)
            )
        return found

    def delete_before(self, cutoff: datetime) -> int:
        """Delete in chunks of :data:`_DELETE_CHUNK` rows, oldest first, one short
        transaction each, so readers (WAL) never stall and a writer waits at most
        one chunk."""
        limit = to_micros(cutoff)
        deleted = 0
        while True:
            with self._write_lock:
                self._commit_pending()  # a bulk load's rows first: one transaction at a time
                with self._transaction(self._writer):
                    count = self._delete_chunk(self._writer, limit)
            deleted += count
            if count < _DELETE_CHUNK:
                return deleted

    @staticmethod
    def _delete_chunk(conn: sqlite3.Connection, limit: int) -> int:
        rows = conn.execute(
            "SELECT seq, body, ts FROM events WHERE ts < ? ORDER BY ts LIMIT ?",
            (limit, _DELETE_CHUNK),
        ).fetchall()
        if rows:
            conn.executemany(
                "INSERT INTO events_fts (events_fts, rowid, body) VALUES ('delete', ?, ?)",
                [(seq, body) for seq, body, _ in rows],
            )
            conn.executemany("DELETE FROM events WHERE seq = ?", [(r[0],) for r in rows])
            conn.execute(_ADD_TO_COUNT, (-len(rows),))
        # Every event older than the chunk's newest time is gone now (and, on the
        # last round, every event older than the cutoff).
        bound = rows[-1][2] if len(rows) == _DELETE_CHUNK else limit
        # one (signal, time) range of the primary key per signal: a condition on
        # the time alone would scan the whole table for every chunk
        conn.executemany(
            "DELETE FROM signals WHERE signal = ? AND ts < ?",
            [(name, bound) for (name,) in conn.execute("SELECT signal FROM signal_names")],
        )
        return len(rows)

    # -- reads ---------------------------------------------------------------

    def search(self, query: EventQuery) -> EventPage:
        rows, nxt = self._page(query)
        decode, conn = self._codec.decode, self._reader()
        return EventPage(items=[decode(r[2], conn) for r in rows], next=nxt)

    def search_raw(self, query: EventQuery) -> RawPage:
        rows, nxt = self._page(query)
        decode, conn = self._codec.decode_json, self._reader()
        return RawPage(items=[decode(r[2], conn) for r in rows], next=nxt)

    def _page(self, query: EventQuery) -> tuple[list[Any], Cursor | None]:
        if query.limit < 1:
            raise InvalidQuery("limit must be at least 1")
        query = dataclasses.replace(query, filter=self._exact_signals(query.filter))
        flt = query.filter
        if len(flt.signal) == 1 and not flt.signal[0].endswith("*") and flt.text is None:
            rows = self._search_by_signal(query)
        elif flt.text is not None and (matches := self._text_matches(flt.text)) >= _TEXT_SLICE_AT:
            rows = self._search_text_in_slices(query, matches)
        else:
            rows = self._search_rows(query, flt)
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        return rows, Cursor(ts=rows[-1][0], id=rows[-1][1]) if more and rows else None

    def _search_rows(
        self, query: EventQuery, flt: EventFilter, extra: tuple[str, list[Any]] | None = None
    ) -> list[Any]:
        """The first ``limit + 1`` matching rows (ts, id, doc), in order."""
        where, params = _where(flt)
        if extra is not None:
            where.append(extra[0])
            params.extend(extra[1])
        _after(query, "e", where, params)
        direction = "DESC" if query.order == "desc" else "ASC"
        sql = (
            f"SELECT e.ts, e.id, e.doc FROM events e {_index_hint(flt)}"
            f" {_where_sql(where)}"
            f" ORDER BY e.ts {direction}, e.id {direction} LIMIT ?"
        )
        params.append(query.limit + 1)
        return self._read(sql, params)

    def _search_by_signal(self, query: EventQuery) -> list[Any]:
        """One exact signal: walk its index entries in time order and stop at the
        limit (the ``IN (subquery)`` form collects every match in the range first:
        0.2-0.3 s for a common signal over two days of a busy cluster)."""
        flt = query.filter
        on_signal = {k: getattr(flt, k) for k in _SIGNAL_ROW_FILTERS if k != "signal"}
        rest = dataclasses.replace(
            flt, signal=(), start=None, end=None, **{k: () for k in on_signal}
        )
        where, params = _where(EventFilter(start=flt.start, end=flt.end, **on_signal), table="s")
        where.append("s.signal = ?")
        params.append(flt.signal[0])
        more_where, more_params = _where(rest)
        where.extend(more_where)
        params.extend(more_params)
        _after(query, "s", where, params)
        direction = "DESC" if query.order == "desc" else "ASC"
        sql = (
            "SELECT e.ts, e.id, e.doc FROM signals s CROSS JOIN events e ON e.seq = s.seq"
            f" {_where_sql(where)} ORDER BY s.ts {direction}, s.id {direction} LIMIT ?"
        )
        params.append(query.limit + 1)
        return self._read(sql, params)

    def _exact_signals(self, flt: EventFilter) -> EventFilter:
        """``flt`` with every signal prefix replaced by the stored signals it covers
        (a prefix covering none stays: its range is empty)."""
        if not any(sig.endswith("*") for sig in flt.signal):
            return flt
        names = [row[0] for row in self._read("SELECT signal FROM signal_names", [])]
        exact: set[str] = set()
        for sig in flt.signal:
            if sig.endswith("*"):
                covered = {n for n in names if n.startswith(sig[:-1])}
                exact |= covered or {sig}
            else:
                exact.add(sig)
        return dataclasses.replace(flt, signal=tuple(sorted(exact)))

    def _time_bounds(self) -> tuple[int | None, int | None]:
        """Oldest and newest stored time: two statements, because MIN and MAX
        together are a scan of the index and each alone is one seek."""
        return (
            self._read("SELECT MIN(ts) FROM events", [])[0][0],
            self._read("SELECT MAX(ts) FROM events", [])[0][0],
        )

    def _long_window(self, flt: EventFilter) -> bool:
        """Whether ``flt``'s time range covers at least :data:`_LONG_WINDOW` of the
        time stored (two index seeks)."""
        oldest, newest = self._time_bounds()
        if oldest is None or newest is None or newest <= oldest:
            return True
        lo = max(to_micros(flt.start), oldest) if flt.start else oldest
        hi = min(to_micros(flt.end), newest) if flt.end else newest
        return (hi - lo) >= _LONG_WINDOW * (newest - oldest)

    def _text_matches(self, text: str) -> int:
        """How many documents match, counted up to :data:`_TEXT_COUNT_CAP`
        (a few ms: the full-text index only, no rows)."""
        match = fts_query(text)
        if match is None:
            raise InvalidQuery("search text is empty: give at least one word")
        probe = self._read(
            "SELECT COUNT(*) FROM (SELECT rowid FROM events_fts WHERE events_fts MATCH ? LIMIT ?)",
            [match, _TEXT_COUNT_CAP],
        )
        return int(probe[0][0])

    def _search_text_in_slices(self, query: EventQuery, matches: int) -> list[Any]:
        """A common word: sorting all its matches by time costs a row read each
        (0.3 s for 200,000 matches). Read the window in time slices instead, from the
        end the order starts at: the first sized to hold about twice a page if
        the matches were spread evenly over all stored time, each next one twice
        as long. Each slice asks the full-text index only for the row numbers
        written in that slice, and the search stops once a slice completes the
        page. Slices partition time, so the page is exactly the one a single
        query would give."""
        flt = query.filter
        bounds = self._time_bounds()
        if bounds[0] is None or bounds[1] is None:
            return []
        lo = max(to_micros(flt.start), bounds[0]) if flt.start else bounds[0]
        hi = min(to_micros(flt.end), bounds[1]) if flt.end else bounds[1]
        desc = query.order == "desc"
        if query.after is not None:
            lo, hi = (lo, min(hi, query.after.ts)) if desc else (max(lo, query.after.ts), hi)
        match = fts_query(flt.text or "")
        rows: list[Any] = []
        stored_span = bounds[1] - bounds[0] + 1
        share = min(1.0, 2 * (query.limit + 1) / max(matches, 1))
        span = max(_FIRST_SLICE_MICROS, int(stored_span * share))
        while lo <= hi and len(rows) <= query.limit:
            s_lo, s_hi = (max(lo, hi - span + 1), hi) if desc else (lo, min(hi, lo + span - 1))
            seqs = self._read(
                "SELECT MIN(seq), MAX(seq) FROM events INDEXED BY events_ts"
                " WHERE ts >= ? AND ts <= ?",
                [s_lo, s_hi],
            )[0]
            if seqs[0] is not None:
                sliced = dataclasses.replace(
                    flt, text=None, start=from_micros(s_lo), end=from_micros(s_hi)
                )
                cond = (
                    "e.seq IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?"
                    " AND rowid >= ? AND rowid <= ?)",
                    [match, seqs[0], seqs[1]],
                )
                page = dataclasses.replace(query, limit=query.limit - len(rows))
                rows.extend(self._search_rows(page, sliced, cond))
            if desc:
                hi = s_lo - 1
            else:
                lo = s_hi + 1
            span *= 2
        return rows

    def aggregate(self, query: AggregateQuery) -> AggregateResult:
        check_group_keys(query.group_by)
        if query.limit < 1:
            raise InvalidQuery("limit must be at least 1")
        query = dataclasses.replace(query, filter=self._exact_signals(query.filter))
        by_signal = "signal" in query.group_by
        cols = [_GROUP_COLUMNS[k] for k in query.group_by]
        if by_signal and _signals_only(query):
            # Everything asked is in the signal rows: the signals index alone answers.
            where, params = _where(query.filter, table="s", signal_alias="s")
            cols = [c.replace("e.", "s.", 1) for c in cols]
            source, t = "signals s", "s"
            if query.filter.resource_type and not self._long_window(query.filter):
                # A short window: read its time range in the primary key (signal, ts)
                # and sort, rather than every stored row of the type in group order
                # (the unary + keeps SQLite off signals_group).
                where = [w.replace("s.resource_type", "+s.resource_type", 1) for w in where]
        else:
            where, params = _where(query.filter, signal_alias="s" if by_signal else None)
            source, t = _from_clause(query.filter, by_signal=by_signal), "e"
            if by_signal:
                # Drive from the signals index (signal, ts, seq) and look events up by
                # seq: the other way round scans a signal's history once per event.
                where.extend(_signal_time(query.filter, "s"))
                params.extend(_signal_time_params(query.filter))
        # signal rows have no NULLs; plain columns let SQLite group in index order
        keys_sql = ", ".join(c if t == "s" else f"COALESCE({c}, '')" for c in cols)
        order = "n DESC" if query.order == "count" else "last_ts DESC"
        sql = (
            f"SELECT {keys_sql}, COUNT(*) AS n, MIN({t}.ts), MAX({t}.ts) AS last_ts,"
            f" MAX(({t}.ts + {_TS_OFFSET}) || {t}.id)"
            f" FROM {source}"
            f" {_where_sql(where)}"
            f" GROUP BY {keys_sql} ORDER BY {order}, {keys_sql} LIMIT ?"
        )
        params.append(query.limit + 1)
        rows = self._read(sql, params)
        truncated = len(rows) > query.limit
        rows = rows[: query.limit]
        nkeys = len(cols)
        latest_docs: dict[str, EventDocument] = {}
        if query.latest and rows:
            latest_ids = [r[nkeys + 3][_TS_DIGITS:] for r in rows]
            latest_docs = self.documents(latest_ids)
        buckets = []
        for r in rows:
            latest_id = r[nkeys + 3][_TS_DIGITS:]
            buckets.append(
                Bucket(
                    key=dict(zip(query.group_by, r[:nkeys], strict=True)),
                    count=r[nkeys],
                    first_seen=format_rfc3339(from_micros(r[nkeys + 1])),
                    last_seen=format_rfc3339(from_micros(r[nkeys + 2])),
                    latest=latest_docs.get(latest_id) if query.latest else None,
                    latest_id=latest_id,
                )
            )
        return AggregateResult(buckets=buckets, truncated=truncated)

    def documents(self, ids: Sequence[str]) -> dict[str, EventDocument]:
        out: dict[str, EventDocument] = {}
        unique = list(dict.fromkeys(ids))
        for i in range(0, len(unique), _ID_CHUNK):
            chunk = unique[i : i + _ID_CHUNK]
            marks = ",".join("?" * len(chunk))
            for ident, doc in self._read(
                f"SELECT id, doc FROM events WHERE id IN ({marks})", chunk
            ):
                out[ident] = self._codec.decode(doc, self._reader())
        return out

    def health(self) -> Health:
        try:
            count = int(self._read("SELECT value FROM meta WHERE key = ?", [_EVENT_COUNT])[0][0])
            oldest, newest = self._time_bounds()
        except StoreError as exc:
            return Health(
                ok=False, store=self.kind, detail={"path": str(self.path), "error": str(exc)}
            )
        return Health(
            ok=True,
            store=self.kind,
            detail={
                "path": str(self.path),
                "schemaVersion": SCHEMA_VERSION,
                "events": count,
                "oldest": format_rfc3339(from_micros(oldest)) if oldest is not None else None,
                "newest": format_rfc3339(from_micros(newest)) if newest is not None else None,
            },
        )

    def _read(self, sql: str, params: Sequence[Any]) -> list[Any]:
        try:
            return self._reader().execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if "fts5" in str(exc).lower() or "syntax" in str(exc).lower():
                raise InvalidQuery(f"search text could not be used: {exc}") from None
            raise StoreError(f"SQLite read from {self.path} failed: {exc}") from None
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite read from {self.path} failed: {exc}") from None


#: What :func:`prepare_row` makes of a document: id, column values, signals,
#: search text. Plain tuples of str/int/bytes, cheap to send between processes.
PreparedRow = tuple[str, tuple[Any, ...], list[str], str]


def prepare_row(doc: EventDocument) -> PreparedRow | WriteError:
    """The row of one document, or why it cannot be stored. Pure: safe to run in
    a worker process."""
    try:
        ts = to_micros(parse_rfc3339(doc["timestamp"]))
        involved = doc.get("involvedObject") or {}
        message = doc.get("message") or ""
        body = f"{message} {search_text(doc['objectChanges'])}"
        row = (
            doc["id"],
            ts,
            doc["verb"],
            doc.get("user") or "",
            doc.get("namespace") or "",
            doc["resourceType"],
            doc["resourceName"],
            doc.get("kind") or "",
            doc.get("apiGroup") or "",
            doc.get("uid") or "",
            doc.get("fieldManager") or "",
            1 if doc.get("snapshot") else 0,
            doc.get("reason"),
            doc.get("eventType"),
            involved.get("kind"),
            involved.get("namespace") if involved else None,
            involved.get("name"),
            involved.get("uid"),
            orjson.dumps(doc),
            body,
        )
        signals = doc.get("signals") or []
        if not isinstance(signals, list):
            raise ValueError("signals must be a list")
        return row[0], row, [str(s) for s in signals], body
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        ident = doc.get("id", "?") if isinstance(doc, dict) else "?"
        return WriteError(id=str(ident), reason=f"bad document: {exc}")


#: The newest (ts, id) of a group is MAX over "ts || id" strings, which order like
#: (ts, id) only when every ts has as many digits: offset by 10^16, every time from
#: 1653 to 4819 has 17 (an integer add; printf('%020d') made grouping ~20 % slower).
_TS_OFFSET = 10**16
_TS_DIGITS = 17

#: A signal aggregation over at least this share of the stored time reads
#: ``signals_group`` (rows already in group order, no sort); a shorter one the
#: primary key's time range.
_LONG_WINDOW = 0.25

#: A text query with at least this many matches is read in time slices.
_TEXT_SLICE_AT = 4000
_TEXT_COUNT_CAP = 50_000
#: The shortest first slice.
_FIRST_SLICE_MICROS = 60 * 1_000_000


def _after(query: EventQuery, table: str, where: list[str], params: list[Any]) -> None:
    """The keyset condition of a cursor: strictly after (ts, id) in the query's order."""
    if query.after is None:
        return
    op = "<" if query.order == "desc" else ">"
    where.append(f"({table}.ts {op} ? OR ({table}.ts = ? AND {table}.id {op} ?))")
    params.extend([query.after.ts, query.after.ts, query.after.id])


def _where_sql(where: list[str]) -> str:
    return f"WHERE {' AND '.join(where)}" if where else ""


def fts_query(text: str) -> str | None:
    """Turn user text into an FTS5 query that cannot be a syntax error: every word
    becomes a quoted phrase (a trailing ``*`` keeps prefix search), all and-ed."""
    terms = []
    # FTS5 reads its query as a C string: a NUL would end it mid-phrase
    for word in text.replace("\x00", " ").split():
        prefix = word.endswith("*")
        word = word.rstrip("*")
        if not word:
            continue
        terms.append('"' + word.replace('"', '""') + '"' + ("*" if prefix else ""))
    return " AND ".join(terms) if terms else None


#: Filters and group keys the signal rows carry themselves (schema v3).
_SIGNAL_ROW_FILTERS = frozenset({"namespace", "resource_type", "name", "kind", "signal"})
_SIGNAL_ROW_KEYS = frozenset({"signal", "namespace", "resourceType", "resourceName", "kind"})
_ALL_FILTERS = (*_COLUMNS, "snapshot", "text")


def _signals_only(query: AggregateQuery) -> bool:
    flt = query.filter
    used = {name for name in _ALL_FILTERS if getattr(flt, name) not in ((), None)}
    return used <= _SIGNAL_ROW_FILTERS and set(query.group_by) <= _SIGNAL_ROW_KEYS


def _where(
    flt: EventFilter, *, table: str = "e", signal_alias: str | None = None
) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if flt.start is not None:
        where.append(f"{table}.ts >= ?")
        params.append(to_micros(flt.start))
    if flt.end is not None:
        where.append(f"{table}.ts <= ?")
        params.append(to_micros(flt.end))
    for name, column in _COLUMNS.items():
        values: tuple[str, ...] = getattr(flt, name)
        if not values:
            continue
        if len(values) == 1:
            where.append(f"{table}.{column} = ?")
        else:
            where.append(f"{table}.{column} IN ({','.join('?' * len(values))})")
        params.extend(values)
    if flt.snapshot is not None:
        where.append("e.snapshot = ?")
        params.append(1 if flt.snapshot else 0)
    if flt.signal:
        cond, cond_params = _signal_condition(flt.signal, "s" if signal_alias else "x")
        if signal_alias:
            where.append(cond)
        else:
            time_cond = ""
            if flt.start is not None:
                time_cond += " AND x.ts >= ?"
                cond_params.append(to_micros(flt.start))
            if flt.end is not None:
                time_cond += " AND x.ts <= ?"
                cond_params.append(to_micros(flt.end))
            where.append(f"e.seq IN (SELECT x.seq FROM signals x WHERE {cond}{time_cond})")
        params.extend(cond_params)
    if flt.text is not None:
        match = fts_query(flt.text)
        if match is None:
            raise InvalidQuery("search text is empty: give at least one word")
        where.append("e.seq IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?)")
        params.append(match)
    return where, params


def _index_hint(flt: EventFilter) -> str:
    """The index for the most selective filter present.

    Without statistics SQLite often prefers ``(resource_type, ts)`` over far
    narrower indexes (it cannot know that Events about one node are a handful
    among a million); a filter on an object or on Event reasons says which
    index narrows most, so the store names it."""
    if flt.text is not None or flt.signal:
        return ""  # driven by the FTS or signals subquery
    if flt.involved_namespace and flt.involved_name:
        return "INDEXED BY events_involved"
    if flt.namespace and flt.resource_type and flt.name:
        return "INDEXED BY events_object"
    if flt.name:
        return "INDEXED BY events_name"
    if flt.resource_type and flt.reason:
        return "INDEXED BY events_reason"
    return ""


def _from_clause(flt: EventFilter, *, by_signal: bool) -> str:
    if by_signal:
        # Drive from the signals index (signal, ts, seq) and look events up by seq.
        return "signals s CROSS JOIN events e ON e.seq = s.seq"
    return f"events e {_index_hint(flt)}"


def _signal_time(flt: EventFilter, alias: str) -> list[str]:
    conds = []
    if flt.start is not None:
        conds.append(f"{alias}.ts >= ?")
    if flt.end is not None:
        conds.append(f"{alias}.ts <= ?")
    return conds


def _signal_time_params(flt: EventFilter) -> list[Any]:
    return [to_micros(t) for t in (flt.start, flt.end) if t is not None]


def _signal_condition(signals: tuple[str, ...], alias: str) -> tuple[str, list[Any]]:
    parts = []
    params: list[Any] = []
    for sig in signals:
        if sig.endswith("*"):
            prefix = sig[:-1]
            parts.append(f"({alias}.signal >= ? AND {alias}.signal < ?)")
            params.extend([prefix, prefix + "\U0010ffff"])
        else:
            parts.append(f"{alias}.signal = ?")
            params.append(sig)
    return "(" + " OR ".join(parts) + ")", params


SQLiteStore.prepare = staticmethod(prepare_row)  # type: ignore[attr-defined]
