"""Each signal group of a day file kept as one row while the file is written.

A week of a busy cluster holds ~2,200,000 pod signal rows (a version in CrashLoopBackOff
or OOMKilled shows it for as long as it lasts), and ``check_pod_issues`` groups them by
pod and signal: ~1 µs a row in SQLite, 2-3 s for the first such question a process asks.
The same groups, kept per file as they grow (``signal_groups``: one row per type, signal,
namespace, name and kind, with their count, first and last time and newest event),
answer it from ~17,000 rows a file instead of ~80,000.

Each write adds its signal rows' groups (:func:`batch_groups`, one upsert per group) in
its own transaction, while the table exists: only the store of day files creates it
(:class:`~.store.SQLiteStore` with ``signal_summary``, filled from the rows already
there), and reads it only for files wholly inside a query's range (it has no per-row
times). A file that loses rows drops it (:func:`drop`) and is grouped row by row again; a
day file never does (its day is removed whole). A day file created with the summary has
no ``signals_group`` index (see :func:`ensure`): the few groupings it served that the
summary cannot (a long part of the file at a range's end) read the primary key's
(signal, time) range and sort instead. Not a trigger: a trigger writing another
table makes SQLite keep a statement journal for every row inserted, whose cost grows with
the open transaction (a bulk load of 100,000 events: 54 s instead of 7.5 s).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from kubetrail.store.sqlite.schema import cover_involved, transaction

TABLE = "signal_groups"
#: the index of signal rows in group order, which a new day file does without
GROUP_INDEX = "signals_group"
#: the newest event of a group as the aggregations write it: (ts + 10^16) || id
_TS_OFFSET = 10**16

_CREATE = """
CREATE TABLE signal_groups (
    resource_type TEXT NOT NULL,
    signal TEXT NOT NULL,
    namespace TEXT NOT NULL,
    resource_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    n INTEGER NOT NULL,
    first_ts INTEGER NOT NULL,
    last_ts INTEGER NOT NULL,
    newest TEXT NOT NULL,
    PRIMARY KEY (resource_type, signal, namespace, resource_name, kind)
) WITHOUT ROWID
"""
_FILL = f"""
INSERT INTO signal_groups
SELECT resource_type, signal, namespace, resource_name, kind, COUNT(*), MIN(ts), MAX(ts),
       MAX((ts + {_TS_OFFSET}) || id)
FROM signals GROUP BY resource_type, signal, namespace, resource_name, kind
"""
#: one group's rows of a write added to what the file holds
ADD = """
INSERT INTO signal_groups VALUES (?,?,?,?,?,?,?,?,?)
ON CONFLICT DO UPDATE SET
    n = n + excluded.n,
    first_ts = MIN(first_ts, excluded.first_ts),
    last_ts = MAX(last_ts, excluded.last_ts),
    newest = MAX(newest, excluded.newest)
"""


def present(conn: sqlite3.Connection) -> bool:
    """Whether the file keeps the summary."""
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)
    ).fetchone()
    return found is not None


def ensure(conn: sqlite3.Connection) -> None:
    """Create the summary, filled from the signal rows already stored, in one write
    transaction (a process writing the file meanwhile waits, then adds to it)."""
    if present(conn):
        return
    with transaction(conn):
        if present(conn):
            return
        conn.execute(_CREATE)
        conn.execute(_FILL)
        if conn.execute("SELECT 1 FROM events LIMIT 1").fetchone() is None:
            # a new file: what signals_group served (a file's groups in order, with
            # no sort) the summary now answers, and the index cost 326 bytes an event
            # (12 % of the disk). Older files keep theirs: dropping it frees nothing.
            # Its Events' involved-object index covers what diagnostics ask of them.
            conn.execute(f"DROP INDEX IF EXISTS {GROUP_INDEX}")
            cover_involved(conn)


def drop(conn: sqlite3.Connection) -> None:
    """Forget the summary (in the caller's transaction): rows are about to be deleted,
    which it cannot follow."""
    conn.execute(f"DROP TABLE IF EXISTS {TABLE}")


def batch_groups(signal_rows: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """The groups of one write's signal rows (as ``sql.INSERT_SIGNALS`` takes them:
    signal, ts, seq, namespace, type, name, kind, id), as :data:`ADD` takes them."""
    groups: dict[tuple[str, str, str, str, str], list[Any]] = {}
    rows: set[tuple[str, int, int]] = set()  # a signal twice in one version is one row
    for signal, ts, seq, namespace, resource_type, name, kind, ident in signal_rows:
        if (signal, ts, seq) in rows:
            continue
        rows.add((signal, ts, seq))
        key = (resource_type, signal, namespace, name, kind)
        newest = f"{ts + _TS_OFFSET}{ident}"
        seen = groups.get(key)
        if seen is None:
            groups[key] = [1, ts, ts, newest]
            continue
        seen[0] += 1
        if ts < seen[1]:
            seen[1] = ts
        if ts > seen[2]:
            seen[2] = ts
        if newest > seen[3]:
            seen[3] = newest
    return [(*key, *values) for key, values in groups.items()]
