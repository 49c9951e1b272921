"""The embedded store's tables, and how an older file is brought up to date.

Schema v9: ``events`` holds one row per document — the filter and group keys as
indexed columns, the document (orjson bytes, or a zstd frame once a dictionary
is trained: :mod:`.codec`, ``zdicts``) and its search text; ``signals`` holds one
row per (signal, event) with the object's keys and the event id, so "which pods
crash-looped" is answered from its primary key (signal, ts) or from
``signals_group`` (type, signal, namespace, name) alone; ``signal_names`` lists
the signals ever stored (prefixes expand to them); ``events_fts`` is an FTS5
index over the search text (external content, so the text is stored once);
``meta`` keeps the schema version and the number of stored events (kept by each
write and deletion, so health reads it at once); ``audit`` keeps the API server's audit
records, joined or pending (:mod:`kubetrail.events.audit`).

A new file gets the v1 tables, then every migration in order; a file at an older
version gets the migrations it lacks. All in one transaction: a migration that
fails leaves the file as it was. Each migration's docstring says why it exists.
A file that can only be read (:mod:`.access`) is never migrated: one at an older
version is refused with a line saying how to upgrade it.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from kubetrail.store.base import StoreUnavailable
from kubetrail.store.sqlite import codec

log = logging.getLogger("kubetrail.store")

SCHEMA_VERSION = 9

#: The ``meta`` key of the number of stored events (schema v6).
EVENT_COUNT = "event_count"

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
    # v1's involved-object index was partial (inv_name IS NOT NULL), which the SQLite
    # of the time did not match against `inv_name IN (...)`: make it a plain one.
    # (3.40 does, and the queries now say `inv_name IS NOT NULL`: a new day file's
    # index is partial again, see COVERING_INVOLVED_INDEX.)
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
    (:mod:`.codec`); rows written before stay readable as they are. An index
    on object names."""
    conn.execute(codec.SCHEMA)
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
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (EVENT_COUNT, str(count))
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


_AUDIT_V8 = """
CREATE TABLE IF NOT EXISTS audit (
    audit_id TEXT PRIMARY KEY,
    ts INTEGER NOT NULL,
    verb TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    uid TEXT NOT NULL,
    resource_version TEXT NOT NULL,
    record BLOB NOT NULL,
    event_id TEXT,
    source TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS audit_pending ON audit (resource_type, namespace, name, ts)
    WHERE event_id IS NULL;
CREATE INDEX IF NOT EXISTS audit_ts ON audit (ts);
CREATE INDEX IF NOT EXISTS events_user ON events (user, ts)
"""


def _v7_to_v8(conn: sqlite3.Connection) -> None:
    """Who made each change: ``audit`` keeps the API server's audit records (one row per
    audited write: the object's keys, the record as JSON, the document it was joined to,
    ``event_id`` NULL while its version has not arrived), so a version arriving after its
    record is joined as it is written; pending records of a batch's objects are one range
    of ``audit_pending``. ``user=`` filters by ``events_user``."""
    for statement in _AUDIT_V8.split(";"):
        if statement.strip():
            conn.execute(statement)


def _v8_to_v9(conn: sqlite3.Connection) -> None:
    """Every filter of ``GET /api/v1/events`` has an index: ``verb=delete`` over two weeks
    read every event of the range (0.8-2.2 s at 2,000,000 events), ``kind`` and
    ``snapshot`` the same. Each leads with a value of few distinct values, then the time,
    so a write appends to its group's end (no random-position insert, see
    :mod:`.daily`)."""
    conn.execute("CREATE INDEX IF NOT EXISTS events_verb ON events (verb, ts)")
    conn.execute("CREATE INDEX IF NOT EXISTS events_kind ON events (kind, ts)")
    conn.execute("CREATE INDEX IF NOT EXISTS events_snapshot ON events (snapshot, ts)")


#: The involved-object index of a new day file: only Events' rows (the others have no
#: involved object), with the keys the diagnostics filter and group them by after the
#: object (kind, type, reason), so "the Warnings about these pods, by reason" is read
#: from the index alone. The plain index read each matching row's table page: at 10M
#: events with the page cache cold, 43 pods over a week's 30 files took 2.3 s, 0.34 s
#: through this one (0.17 s and 0.07 s warm). The same size: half the entries, wider.
#: It keeps the plain index's name and leading columns, so every query that named that
#: index reads either; its filter says ``inv_name IS NOT NULL``, which the involved-name
#: terms imply and :mod:`.sql` also writes out.
COVERING_INVOLVED_INDEX = (
    "CREATE INDEX events_involved ON events"
    " (inv_namespace, inv_name, ts, inv_kind, event_type, reason, resource_type)"
    " WHERE inv_name IS NOT NULL"
)


def cover_involved(conn: sqlite3.Connection) -> None:
    """Give a new, still empty file :data:`COVERING_INVOLVED_INDEX` (in the caller's
    transaction). A file with rows keeps its index: rebuilding it frees nothing."""
    conn.execute("DROP INDEX IF EXISTS events_involved")
    conn.execute(COVERING_INVOLVED_INDEX)


MIGRATIONS: dict[int, Migration] = {
    1: _v1_to_v2,
    2: _v2_to_v3,
    3: _v3_to_v4,
    4: _v4_to_v5,
    5: _v5_to_v6,
    6: _v6_to_v7,
    7: _v7_to_v8,
    8: _v8_to_v9,
}


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the file to :data:`SCHEMA_VERSION`; refuse one newer than this kubetrail."""
    conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    version = _version(conn, path)
    if version == SCHEMA_VERSION:
        return
    with transaction(conn):
        # read again with the write lock held: another process may have created (or
        # upgraded) the file meanwhile (a new day's file opened by the shipper and the API)
        version = _version(conn, path)
        if version == SCHEMA_VERSION:
            return
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


def check_current(conn: sqlite3.Connection, path: Path) -> None:
    """A file opened read-only cannot be migrated: refuse one at another version."""
    version = require_store(conn, path)
    if version < SCHEMA_VERSION:
        # not `kubetrail prune`: that also deletes the events past the retention
        raise StoreUnavailable(
            f"store {path} has schema v{version} (this kubetrail: v{SCHEMA_VERSION}) and is "
            "read-only; open it once where it can be written to upgrade it (e.g. "
            "kubetrail ingest --store URL - </dev/null)"
        )


def require_store(conn: sqlite3.Connection, path: Path) -> int:
    """The schema version of a kubetrail store; a command that only reads refuses any
    other file rather than make it one."""
    has_meta = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    ).fetchone()
    version = _version(conn, path) if has_meta else 0
    if version == 0:
        raise StoreUnavailable(
            f"{path} is not a kubetrail store (no schema version), and read-only it cannot "
            "become one"
        )
    return version


def _version(conn: sqlite3.Connection, path: Path) -> int:
    """The file's schema version (0: none yet); refuses one newer than this kubetrail."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    version = int(row[0]) if row else 0
    layout = conn.execute("SELECT value FROM meta WHERE key = 'layout'").fetchone()
    if layout is not None:
        raise StoreUnavailable(
            f"{path} is the catalog of a store of day files, not one store file: open it "
            f"by its URL (sqlite:///{path})"
        )
    if version > SCHEMA_VERSION:
        raise StoreUnavailable(
            f"{path} has schema version {version}, newer than this kubetrail "
            f"understands ({SCHEMA_VERSION}): upgrade kubetrail"
        )
    return version


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
