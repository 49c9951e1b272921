"""The embedded store: one SQLite file, for a laptop, a demo or a small cluster.

The tables are in :mod:`.schema`, what a document becomes in :mod:`.rows`, the
SQL in :mod:`.sql` and the stored form of documents in :mod:`.codec`; this
module is the :class:`~kubetrail.store.base.Store` over them.

Concurrency: WAL journal, one writer connection behind a lock, one reader
connection per thread, so API readers never wait for ingest and ingest never
waits for readers. Writes are batched: one ``BEGIN IMMEDIATE`` transaction per
batch, ids already present are found with one ``IN`` query and skipped
(idempotent writes), row numbers are allocated inside the transaction so the
three tables are filled with ``executemany``.

A store opened ``read_only`` (the commands that only read) refuses writes, and
on a file it cannot write is opened the way :mod:`.access` describes.

Reads pick a path per query: one exact signal walks that signal's index
entries in time order; a common word is read in time slices; everything else is
one statement, with the index named when SQLite would guess wrong.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from kubetrail.events.audit import AuditRecord
from kubetrail.events.model import EventDocument
from kubetrail.events.projection import project
from kubetrail.events.timing import format_rfc3339, from_micros, to_micros
from kubetrail.store.base import (
    AggregateQuery,
    AggregateResult,
    AuditResult,
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
    time_slices,
)
from kubetrail.store.sqlite import access, codec, schema, summary
from kubetrail.store.sqlite import audit as audit_rows
from kubetrail.store.sqlite.merge import GroupRow, make_buckets, newest_id, rank_groups
from kubetrail.store.sqlite.rows import PreparedRow, prepare_row, table_rows
from kubetrail.store.sqlite.sql import (
    ADD_TO_COUNT,
    INSERT_EVENTS,
    INSERT_FTS,
    INSERT_SIGNAL_NAME,
    INSERT_SIGNALS,
    TS_DIGITS,
    Statement,
    aggregate_statement,
    fts_query,
    search_statement,
    signal_search_statement,
    summary_statement,
    summary_usable,
)

log = logging.getLogger("kubetrail.store")

_ID_CHUNK = 500
#: A bulk load commits about this many rows at once. Each commit writes every page
#: its rows touched to the WAL, and at 1,000,000 events the id, uid and group
#: indexes put nearly every row on a different page: 25,000 rows per commit wrote
#: 20 % faster than 10,000 (50,000: no faster). A transaction open longer than
#: :data:`BULK_COMMIT_SECONDS` is committed at the next write (a slow pipe).
BULK_ROWS_PER_COMMIT = 25_000
BULK_COMMIT_SECONDS = 5.0
_DELETE_CHUNK = 5000

#: Each thread's read connection keeps a page cache of its own, and a server runs up to 40
#: threads (anyio's pool): at 64 MB each, `kubetrail ship --api-port` with 100,000 objects
#: grew to 3.6 GB under 40 concurrent clients (bench/embedded_pod.py); at 16 MB to 1.3 GB,
#: the load done in 53 s instead of 87, the diagnostics at 300,000 events as fast (the OS
#: page cache holds the file for all of them). The write connection keeps its own size.
READER_CACHE_MB = 16

#: A signal aggregation over at least this share of the stored time reads
#: ``signals_group`` (rows already in group order, no sort); a shorter one the
#: primary key's time range.
_LONG_WINDOW = 0.25

#: A text query with at least this many matches is read in time slices.
_TEXT_SLICE_AT = 4000
_TEXT_COUNT_CAP = 50_000
#: The shortest first slice.
_FIRST_SLICE_MICROS = 60 * 1_000_000


class _ThreadReader:
    """A thread's read connection, held in a thread-local: dropped, and so closed
    (see :meth:`SQLiteStore._reader`), when the thread ends."""

    __slots__ = ("__weakref__", "conn")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn


def _close_reader(
    conn: sqlite3.Connection, connections: list[sqlite3.Connection], lock: threading.Lock
) -> None:
    with lock, contextlib.suppress(ValueError):
        connections.remove(conn)
    with contextlib.suppress(sqlite3.Error):
        conn.close()


class SQLiteStore:
    """The embedded store (see module docstring). ``path`` is a file path."""

    kind = "sqlite"
    #: :class:`~kubetrail.store.base.PreparedWrites`: rows for :meth:`write_prepared`
    prepare = staticmethod(prepare_row)

    def __init__(
        self,
        path: str | Path,
        *,
        writer_cache_mb: int = 64,
        rows_per_commit: int = 0,
        read_only: bool = False,
        reader_cache_mb: int = READER_CACHE_MB,
        signal_summary: bool = False,
    ) -> None:
        """``writer_cache_mb``: the write connection's page cache. Bulk loads into a
        large store gain from more (the random-position index inserts hit the
        cache); a long-running process keeps the default (it is resident memory).

        ``rows_per_commit``: 0 commits every write. A bulk load sets it (see
        :data:`BULK_ROWS_PER_COMMIT`): writes then share one transaction until it
        holds that many rows, each write in a savepoint of its own (a failed write
        takes back only its rows). The transaction is committed by :meth:`flush`,
        :meth:`close` and before any deletion.

        ``reader_cache_mb``: each thread's read connection's page cache (a store of many
        files gives each less).

        ``read_only``: writes, deletions and :meth:`flush` raise :class:`StoreError`;
        the file is migrated only if it can be written (:mod:`.access`). Without it,
        a file that cannot be written is refused with a line saying "read-only".

        ``signal_summary``: keep the file's signal groups as it is written
        (:mod:`.summary`; a day file of :class:`~.daily.DailyStore`), created when the
        store is opened to write (a reader uses it when the file has one)."""
        self.path = Path(path)
        self.read_only = read_only
        self._reader_cache_mb = reader_cache_mb
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
        self._access = access.choose(self.path, read_only=read_only)
        try:
            self._writer = self._connect()
            if self._access.writable:
                # a checkpoint every 1000 pages (the default) is constant work during ingest
                self._writer.execute("PRAGMA wal_autocheckpoint=4000")
                self._writer.execute(f"PRAGMA cache_size=-{int(writer_cache_mb) * 1024}")
                if read_only:
                    schema.require_store(self._writer, self.path)
                schema.migrate(self._writer, self.path)
                if signal_summary and not read_only:  # filling one: ~1 s a full day file
                    summary.ensure(self._writer)
            else:
                schema.check_current(self._writer, self.path)
            self._codec = codec.DocCodec(self._writer)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise StoreUnavailable(access.open_error(self.path, exc, read_only=read_only)) from None
        except StoreError:
            self.close()
            raise

    # -- connections -------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self._access.target,
            uri=self._access.uri,
            isolation_level=None,
            check_same_thread=False,
            timeout=30.0,
        )
        if self._access.writable:
            # 16 KB pages (a new file only): a 3-6 KB document row fits in a page
            # instead of spilling into overflow pages
            conn.execute("PRAGMA page_size=16384")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute(f"PRAGMA cache_size=-{self._reader_cache_mb * 1024}")
        conn.execute("PRAGMA temp_store=MEMORY")
        with self._conn_lock:
            self._all_connections.append(conn)
        return conn

    def _reader(self) -> sqlite3.Connection:
        """This thread's read connection. It is closed when the thread ends: a server's
        thread pool stops idle threads and starts new ones (anyio: after 10 s idle), and
        each would otherwise leave a connection open, with its page cache, for good."""
        if self._closed:
            raise StoreUnavailable(f"SQLite store {self.path} is closed")
        holder: _ThreadReader | None = getattr(self._local, "reader", None)
        if holder is None:
            conn = self._connect()
            holder = self._local.reader = _ThreadReader(conn)
            # not a method: the finalizer must not keep the store alive
            weakref.finalize(holder, _close_reader, conn, self._all_connections, self._conn_lock)
        return holder.conn

    def _refuse_writes(self) -> None:
        if self.read_only:
            how = f": {self._access.reason}" if self._access.reason else ""
            raise StoreError(f"SQLite store {self.path} is open read-only{how}")

    def flush(self) -> None:
        """Commit the rows a bulk load has written so far."""
        self._refuse_writes()
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

    # -- writes --------------------------------------------------------------

    def write(self, docs: Sequence[EventDocument]) -> WriteResult:
        return self.write_prepared([prepare_row(doc) for doc in docs])

    def write_prepared(self, rows: Sequence[PreparedRow | WriteError]) -> WriteResult:
        """Store rows made by :func:`prepare_row` (possibly in another process:
        parallel ingest renders rows in workers and only writes here). A
        :class:`WriteError` in place of a row is reported as not stored."""
        self._refuse_writes()
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
                if fresh and audit_rows.has_pending(conn):
                    fresh, plan = audit_rows.join_arriving(conn, fresh, decode=orjson.loads)
                    result.joined_exact = sum(j.source == "audit-exact" for j in plan.joins)
                    result.joined_nearest = len(plan.joins) - result.joined_exact
                stored = self._codec.encode_batch(conn, [item[1][-2] for item in fresh])
                seq = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
                event_rows, signal_rows, fts_rows = table_rows(fresh, stored, seq=seq)
                conn.executemany(INSERT_EVENTS, event_rows)
                conn.executemany(INSERT_SIGNALS, signal_rows)
                if signal_rows and summary.present(conn):
                    conn.executemany(summary.ADD, summary.batch_groups(signal_rows))
                conn.executemany(
                    INSERT_SIGNAL_NAME, [(name,) for name in {row[0] for row in signal_rows}]
                )
                conn.executemany(INSERT_FTS, fts_rows)
                conn.execute(ADD_TO_COUNT, (len(event_rows),))
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

    def write_audit(self, records: Sequence[AuditRecord]) -> AuditResult:
        """:class:`~kubetrail.store.base.AuditJoin`: keep the records, join them to the
        stored versions (see :mod:`.audit`); one transaction."""
        if not records:
            self._refuse_writes()
            return AuditResult()
        return self._audit_transaction(
            lambda conn, decode, encode: audit_rows.store_records(
                conn, records, decode=decode, encode=encode
            )
        )

    def join_pending(self, *, start: datetime, end: datetime) -> AuditResult:
        """:class:`~kubetrail.store.base.AuditJoin`: every write here joins already, so this
        only finds what it could not (none, unless documents came in another way)."""
        return self._audit_transaction(
            lambda conn, decode, encode: audit_rows.join_pending(
                conn, to_micros(start), to_micros(end), decode=decode, encode=encode
            )
        )

    def _audit_transaction(
        self,
        work: Callable[[sqlite3.Connection, audit_rows.Decode, audit_rows.Encode], AuditResult],
    ) -> AuditResult:
        """``work`` in a transaction of its own (a bulk load's rows committed first), with
        the codec to read and rewrite documents."""
        self._refuse_writes()
        with self._write_lock:
            conn = self._writer
            self._commit_pending()
            try:
                with schema.transaction(conn):
                    return work(
                        conn,
                        lambda blob: self._codec.decode(blob, conn),
                        lambda docs: self._codec.encode_batch(conn, docs),
                    )
            except BaseException as exc:
                # rolled back: a dictionary trained meanwhile is gone too
                with contextlib.suppress(sqlite3.Error):
                    self._codec.rollback(conn)
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"SQLite write to {self.path} failed: {exc}") from None
                raise

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

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of these ids are stored (committed, or in this store's open bulk load)."""
        if not ids:
            return set()
        with self._write_lock:
            return self._existing_ids(self._writer, list(ids))

    def written_bounds(self) -> tuple[int, int | None]:
        """The number of events and the newest time written, an open bulk load's rows
        included (the write connection's view)."""
        with self._write_lock:
            count = self._writer.execute(
                "SELECT value FROM meta WHERE key = ?", (schema.EVENT_COUNT,)
            ).fetchone()
            newest = self._writer.execute("SELECT MAX(ts) FROM events").fetchone()[0]
        return int(count[0]) if count else 0, newest

    def version(self) -> tuple[int, int]:
        """The newest row number and the number of events (committed): they change
        whenever the file's events do."""
        row = self._read(
            "SELECT (SELECT MAX(seq) FROM events), (SELECT value FROM meta WHERE key = ?)",
            [schema.EVENT_COUNT],
        )[0]
        return int(row[0] or 0), int(row[1] or 0)

    def ids_after(self, seq: int) -> tuple[list[str], int]:
        """The ids of the events written after row number ``seq``, and the newest row
        number (committed rows only)."""
        rows = self._read("SELECT seq, id FROM events WHERE seq > ? ORDER BY seq", [seq])
        return [r[1] for r in rows], (rows[-1][0] if rows else seq)

    def release_memory(self) -> None:
        """Commit a bulk load's rows and give back the write connection's page cache (a
        store of many files keeps a big cache for the file being written only)."""
        with self._write_lock:
            if self._closed:
                return
            self._commit_pending()
            with contextlib.suppress(sqlite3.Error):
                self._writer.execute("PRAGMA shrink_memory")

    def delete_before(self, cutoff: datetime) -> int:
        """Delete in chunks of :data:`_DELETE_CHUNK` rows, oldest first, one short
        transaction each, so readers (WAL) never stall and a writer waits at most
        one chunk."""
        self._refuse_writes()
        limit = to_micros(cutoff)
        deleted = 0
        while True:
            with self._write_lock:
                self._commit_pending()  # a bulk load's rows first: one transaction at a time
                with schema.transaction(self._writer):
                    summary.drop(self._writer)  # it cannot follow deletions
                    count = self._delete_chunk(self._writer, limit)
            deleted += count
            if count < _DELETE_CHUNK:
                break
        with self._write_lock, schema.transaction(self._writer):
            audit_rows.delete_before(self._writer, limit)  # the records of those events
        return deleted

    def delete_audit_before(self, cutoff: datetime) -> None:
        """Forget the audit records of requests before ``cutoff`` (their events stay)."""
        self._refuse_writes()
        with self._write_lock:
            self._commit_pending()
            with schema.transaction(self._writer):
                audit_rows.delete_before(self._writer, to_micros(cutoff))

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
            conn.execute(ADD_TO_COUNT, (-len(rows),))
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
        items, nxt, _ = self.search_page(query)
        return EventPage(items=items, next=nxt)

    def search_raw(self, query: EventQuery) -> RawPage:
        items, nxt, _ = self.search_page(query, raw=True)
        return RawPage(items=items, next=nxt)

    def search_page(
        self, query: EventQuery, *, raw: bool = False
    ) -> tuple[list[Any], Cursor | None, Cursor | None]:
        """A page of documents (JSON bytes when ``raw``), the cursor to the next one (when
        more may follow) and the position of the page's last document."""
        rows, nxt = self._page(query)
        last = Cursor(ts=rows[-1][0], id=rows[-1][1]) if rows else None
        conn = self._reader()
        if query.fields:  # a sparse fieldset (the documents are stored whole)
            docs = [project(self._codec.decode(r[2], conn), query.fields) for r in rows]
            return ([orjson.dumps(d) for d in docs] if raw else docs), nxt, last
        decode = self._codec.decode_json if raw else self._codec.decode
        return [decode(r[2], conn) for r in rows], nxt, last

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
        self, query: EventQuery, flt: EventFilter, extra: Statement | None = None
    ) -> list[Any]:
        """The first ``limit + 1`` matching rows (ts, id, doc), in order."""
        return self._read(*search_statement(query, flt, extra))

    def _search_by_signal(self, query: EventQuery) -> list[Any]:
        """One exact signal: walk its index entries in time order and stop at the
        limit (the ``IN (subquery)`` form collects every match in the range first:
        0.2-0.3 s for a common signal over two days of a busy cluster)."""
        return self._read(*signal_search_statement(query))

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
        rows = self.group_rows(query)
        kept, truncated = rank_groups(rows, order=query.order, limit=query.limit)
        docs: dict[str, EventDocument] = {}
        if query.latest and kept:
            docs = self.documents([i for r in kept if (i := newest_id(r, TS_DIGITS))])
        buckets = make_buckets(query, kept, ts_digits=TS_DIGITS, documents=docs)
        return AggregateResult(buckets=buckets, truncated=truncated)

    def group_statement(self, query: AggregateQuery, *, schema: str) -> Statement:
        """Every group of ``query`` (not sliced) in this file, in no order, as a statement
        over this file attached as ``schema`` (see :attr:`attach_target`): one part of
        :func:`~.sql.union_statement`."""
        check_group_keys(query.group_by)
        query = dataclasses.replace(query, filter=self._exact_signals(query.filter))
        if summary_usable(query) and self._read_summary_present():
            return summary_statement(query, schema=schema)
        return aggregate_statement(
            query, long_window=self._long_window, schema=schema, ordered=False
        )

    def _read_summary_present(self) -> bool:
        try:
            return summary.present(self._reader())
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite read from {self.path} failed: {exc}") from None

    @property
    def attach_target(self) -> str:
        """What ``ATTACH`` takes to read this file, on a connection opened with URIs: as
        the store opens it, but never creating it (a file another process has just
        removed must fail to attach, not come back empty)."""
        if self._access.uri:
            return self._access.target
        return Path(self._access.target).absolute().as_uri() + "?mode=rw"

    def group_rows(self, query: AggregateQuery, *, origin: int | None = None) -> list[GroupRow]:
        """The aggregation's groups as :data:`~.merge.GroupRow` (checked, signal prefixes
        expanded), up to ``limit + 1`` per slice in the query's order: what
        :meth:`aggregate` ranks, and what a store of several files merges. ``origin``:
        where the time slices start (µs), when not at ``filter.start``."""
        check_group_keys(query.group_by)
        if query.limit < 1:
            raise InvalidQuery("limit must be at least 1")
        query = dataclasses.replace(query, filter=self._exact_signals(query.filter))
        if query.every is not None:
            time_slices(query)  # refuses a query that cannot be sliced
        statement = aggregate_statement(query, long_window=self._long_window, origin=origin)
        rows = self._read(*statement)
        n = len(query.group_by)
        if query.every is not None:
            return [
                (r[0], tuple(r[1 : n + 1]), r[n + 1], r[n + 2], r[n + 3], r[n + 4]) for r in rows
            ]
        return [(0, tuple(r[:n]), r[n], r[n + 1], r[n + 2], r[n + 3]) for r in rows]

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

    def event_count(self) -> int:
        """The number of stored events (kept by every write and deletion)."""
        return int(self._read("SELECT value FROM meta WHERE key = ?", [schema.EVENT_COUNT])[0][0])

    def count_between(self, lo: int, hi: int) -> int:
        """How many events have ``lo <= ts < hi`` (µs): one range of the time index."""
        return int(
            self._read(
                "SELECT COUNT(*) FROM events INDEXED BY events_ts WHERE ts >= ? AND ts < ?",
                [lo, hi],
            )[0][0]
        )

    def time_bounds(self, lo: int | None = None) -> tuple[int | None, int | None]:
        """The oldest stored time at or after ``lo`` (µs) and the newest stored time."""
        if lo is None:
            return self._time_bounds()
        oldest = self._read("SELECT MIN(ts) FROM events WHERE ts >= ?", [lo])[0][0]
        return oldest, self._read("SELECT MAX(ts) FROM events", [])[0][0]

    def health(self) -> Health:
        try:
            count = int(
                self._read("SELECT value FROM meta WHERE key = ?", [schema.EVENT_COUNT])[0][0]
            )
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
                "readOnly": self.read_only,
                "schemaVersion": schema.SCHEMA_VERSION,
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
