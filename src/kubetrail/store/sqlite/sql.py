"""The SQL of the embedded store: the statements of a write, and the conditions
of a query built from an :class:`~kubetrail.store.base.EventFilter`.

Every builder returns SQL text with ``?`` placeholders plus the values for them:
only column and index names and constants are spliced into the text, so user
input (names, full text) can break nothing. Tables are aliased ``e``
(``events``), ``s`` (``signals``) and ``x`` (``signals`` in a subquery). Which
index a query should use is decided here too (``INDEXED BY``, which table drives
a join), because SQLite without statistics often picks a far wider one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from kubetrail.events.timing import to_micros
from kubetrail.store.base import AggregateQuery, EventFilter, EventQuery, InvalidQuery
from kubetrail.store.sqlite.schema import EVENT_COUNT

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
INSERT_SIGNAL_NAME = "INSERT OR IGNORE INTO signal_names (signal) VALUES (?)"
ADD_TO_COUNT = f"UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = '{EVENT_COUNT}'"

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
    "user": "user",
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

#: The newest (ts, id) of a group is MAX over "ts || id" strings, which order like
#: (ts, id) only when every ts has as many digits: offset by 10^16, every time from
#: 1653 to 4819 has 17 (an integer add; printf('%020d') made grouping ~20 % slower).
_TS_OFFSET = 10**16
TS_DIGITS = 17

#: A statement and the values of its placeholders.
Statement = tuple[str, list[Any]]


def search_statement(
    query: EventQuery, flt: EventFilter, extra: Statement | None = None
) -> Statement:
    """The first ``limit + 1`` rows ``(ts, id, doc)`` matching ``flt`` (and ``extra``,
    one more condition), in the query's order, after its cursor."""
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
    return sql, params


def signal_search_statement(query: EventQuery) -> Statement:
    """The same rows for a filter with one exact signal, read from that signal's
    index entries in time order: the object keys the signal rows carry are matched
    there, the rest on the joined event."""
    flt = query.filter
    on_signal = {k: getattr(flt, k) for k in _SIGNAL_ROW_FILTERS if k != "signal"}
    # the signal rows carry these keys: matched there, not again on the event
    rest = dataclasses.replace(
        flt, signal=(), start=None, end=None, namespace=(), resource_type=(), name=(), kind=()
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
    return sql, params


def aggregate_statement(
    query: AggregateQuery,
    *,
    long_window: Callable[[EventFilter], bool],
    origin: int | None = None,
    schema: str = "",
    ordered: bool = True,
) -> Statement:
    """The groups of an aggregation, ``limit + 1`` of them in order: per group its
    keys, count, first and last time, and ``(ts + offset) || id`` of its newest event
    (the id follows :data:`TS_DIGITS` digits). Signal prefixes must be expanded to
    exact signals first. ``long_window(filter)``: whether the filter's time range
    covers much of the stored time (asked only when it decides the index). ``origin``:
    where the time slices start (µs), when not at ``filter.start`` (a range cut short
    by the retention floor keeps the slices of the range asked for). ``schema``: the
    attached database the tables are in (:func:`union_statement`); ``ordered=False``:
    every group, in no order (not for a sliced query)."""
    pre = f"{schema}." if schema else ""
    by_signal = "signal" in query.group_by
    cols = [_GROUP_COLUMNS[k] for k in query.group_by]
    if by_signal and _signals_only(query):
        # Everything asked is in the signal rows: the signals index alone answers.
        where, params = _where(query.filter, table="s", signal_alias="s", pre=pre)
        cols = [c.replace("e.", "s.", 1) for c in cols]
        source, t = f"{pre}signals s", "s"
        if query.filter.resource_type and not long_window(query.filter):
            # A short window: read its time range in the primary key (signal, ts)
            # and sort, rather than every stored row of the type in group order
            # (the unary + keeps SQLite off signals_group).
            where = [w.replace("s.resource_type", "+s.resource_type", 1) for w in where]
    else:
        where, params = _where(query.filter, signal_alias="s" if by_signal else None, pre=pre)
        source, t = _from_clause(query.filter, by_signal=by_signal, pre=pre), "e"
        if by_signal:
            # Drive from the signals index (signal, ts, seq) and look events up by
            # seq: the other way round scans a signal's history once per event.
            where.extend(_signal_time(query.filter, "s"))
            params.extend(_signal_time_params(query.filter))
    # signal rows have no NULLs; plain columns let SQLite group in index order
    key_exprs = [c if t == "s" else f"COALESCE({c}, '')" for c in cols]
    keys_sql = ", ".join(key_exprs)
    order = "n DESC" if query.order == "count" else "last_ts DESC"
    if query.every is not None and query.filter.start is not None:
        return _sliced(query, t, source, where, params, key_exprs, order, origin)
    if not ordered:
        sql = (
            f"SELECT {keys_sql}, COUNT(*), MIN({t}.ts), MAX({t}.ts), {_newest(query, t)}"
            f" FROM {source} {_where_sql(where)} GROUP BY {keys_sql}"
        )
        return sql, params
    sql = (
        f"SELECT {keys_sql}, COUNT(*) AS n, MIN({t}.ts), MAX({t}.ts) AS last_ts,"
        f" {_newest(query, t)}"
        f" FROM {source}"
        f" {_where_sql(where)}"
        f" GROUP BY {keys_sql} ORDER BY {order}, {keys_sql} LIMIT ?"
    )
    params.append(query.limit + 1)
    return sql, params


def summary_usable(query: AggregateQuery) -> bool:
    """Whether a file's ``signal_groups`` (:mod:`.summary`) answer ``query`` over the whole
    file: grouped by signal (it counts signal rows), on keys and filters the signal rows
    carry, with no times."""
    flt = query.filter
    return (
        "signal" in query.group_by
        and query.every is None
        and flt.start is None
        and flt.end is None
        and _signals_only(query)
    )


def summary_statement(query: AggregateQuery, *, schema: str = "") -> Statement:
    """:func:`aggregate_statement` with ``ordered=False`` read from the file's
    ``signal_groups`` instead of its signal rows (:func:`summary_usable` must hold)."""
    pre = f"{schema}." if schema else ""
    # alias s: the filters' signal conditions name the signal rows so
    where, params = _where(query.filter, table="s", signal_alias="s")
    keys = ", ".join(_GROUP_COLUMNS[k].replace("e.", "s.", 1) for k in query.group_by)
    newest = "MAX(s.newest)" if query.latest or query.latest_id else "NULL"
    sql = (
        f"SELECT {keys}, SUM(s.n), MIN(s.first_ts), MAX(s.last_ts), {newest}"
        f" FROM {pre}signal_groups s {_where_sql(where)} GROUP BY {keys}"
    )
    return sql, params


def union_statement(parts: list[Statement], keys: int) -> Statement:
    """The groups of several files' unordered aggregations (``ordered=False``, each
    over its attached schema) added up in SQL: counts summed, the earliest first time,
    the latest last time and newest event. ``keys``: how many group keys lead each row."""
    names = [f"c{i}" for i in range(keys + 4)]
    key_cols = ", ".join(names[:keys])
    n, first, last, newest = names[keys:]
    sql = (
        f"WITH u({', '.join(names)}) AS ({' UNION ALL '.join(p[0] for p in parts)})"
        f" SELECT {key_cols}, SUM({n}), MIN({first}), MAX({last}), MAX({newest})"
        f" FROM u GROUP BY {key_cols}"
    )
    return sql, [v for p in parts for v in p[1]]


def _newest(query: AggregateQuery, t: str) -> str:
    """The newest event of a group, ``(ts + offset) || id``, when the query wants it: the
    string built for every row is half the time of a large aggregation (1.4 of 2.9 s
    over 500,000 events), so NULL when it does not."""
    if query.latest or query.latest_id:
        return f"MAX(({t}.ts + {_TS_OFFSET}) || {t}.id)"
    return "NULL"


def _sliced(
    query: AggregateQuery,
    t: str,
    source: str,
    where: list[str],
    params: list[Any],
    key_exprs: list[str],
    order: str,
    origin: int | None,
) -> Statement:
    """An aggregation split by time (``AggregateQuery.every``): per row the slice number,
    the keys, count, first and last time and the newest ``(ts + offset) || id``; the
    groups of each slice in the query's order, ``limit + 1`` of them at most
    (``ROW_NUMBER``): one pass over the range instead of one query per slice."""
    assert query.every is not None and query.filter.start is not None
    if origin is None:
        origin = to_micros(query.filter.start)
    width = max(1, query.every // timedelta(microseconds=1))
    named = ", ".join(f"{e} AS k{i}" for i, e in enumerate(key_exprs))
    keys = ", ".join(f"k{i}" for i in range(len(key_exprs)))
    groups = (
        f"SELECT ({t}.ts - ?) / ? AS slice, {named}, COUNT(*) AS n, MIN({t}.ts) AS first_ts,"
        f" MAX({t}.ts) AS last_ts, {_newest(query, t)} AS newest"
        f" FROM {source} {_where_sql(where)} GROUP BY slice, {keys}"
    )
    sql = (
        f"SELECT slice, {keys}, n, first_ts, last_ts, newest FROM ("
        f"SELECT *, ROW_NUMBER() OVER (PARTITION BY slice ORDER BY {order}, {keys}) AS rn"
        f" FROM ({groups})) WHERE rn <= ? ORDER BY slice, rn"
    )
    return sql, [origin, width, *params, query.limit + 1]


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
#: Filters an index of ``events`` leads with (or follows the type in).
_INDEXED_FILTERS = (
    "namespace",
    "resource_type",
    "name",
    "kind",
    "verb",
    "uid",
    "involved_namespace",
)


def _signals_only(query: AggregateQuery) -> bool:
    flt = query.filter
    used = {name for name in _ALL_FILTERS if getattr(flt, name) not in ((), None)}
    return used <= _SIGNAL_ROW_FILTERS and set(query.group_by) <= _SIGNAL_ROW_KEYS


def _where(
    flt: EventFilter, *, table: str = "e", signal_alias: str | None = None, pre: str = ""
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
    if flt.involved_namespace and flt.involved_name:
        # implied by the name terms, written out so an SQLite that does not see it
        # can still use a day file's partial involved-object index (the hint names it)
        where.append(f"{table}.inv_name IS NOT NULL")
    if flt.snapshot is not None:
        # Most events are not snapshots: (snapshot, ts) narrows little when another
        # indexed filter is there (a week of deployments: 2.1 s through it, 1 ms by
        # type), so the unary + leaves it to a filter alone.
        others = any(getattr(flt, name) for name in _INDEXED_FILTERS) or flt.signal or flt.text
        where.append(f"{'+' if others else ''}e.snapshot = ?")
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
            where.append(f"e.seq IN (SELECT x.seq FROM {pre}signals x WHERE {cond}{time_cond})")
        params.extend(cond_params)
    if flt.text is not None:
        match = fts_query(flt.text)
        if match is None:
            raise InvalidQuery("search text is empty: give at least one word")
        where.append(f"e.seq IN (SELECT rowid FROM {pre}events_fts WHERE events_fts MATCH ?)")
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
    if flt.user:
        return "INDEXED BY events_user"
    return ""


def _from_clause(flt: EventFilter, *, by_signal: bool, pre: str = "") -> str:
    if by_signal:
        # Drive from the signals index (signal, ts, seq) and look events up by seq.
        return f"{pre}signals s CROSS JOIN {pre}events e ON e.seq = s.seq"
    return f"{pre}events e {_index_hint(flt)}"


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
