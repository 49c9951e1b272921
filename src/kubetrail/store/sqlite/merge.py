"""Answers of several day files made one: pure functions, no SQL, no files.

An aggregation's groups come from each day file as :data:`GroupRow` tuples (times in
microseconds, the newest event as ``(ts + offset) || id``, which orders like
``(ts, id)``); :func:`merge_groups` adds up the rows of the same group (and time
slice), :func:`rank_groups` applies the query's order and limit the way one SQL
statement would (count or last seen descending, then the keys ascending; per slice
when the query is split by time), and :func:`make_buckets` turns them into the
protocol's :class:`~kubetrail.store.base.Bucket`.

The newest groups (``order="last"``) need not be read from every file: files cover
disjoint times, so a group first met walking the files newest first is newer than
every group met later. :func:`narrowed` turns the groups kept into a filter that
reads only their events, for their counts in the older files.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from kubetrail.events.model import EventDocument
from kubetrail.events.timing import format_rfc3339, from_micros
from kubetrail.store.base import AggregateQuery, Bucket, EventFilter

#: One group of one aggregation: time slice (0 when not split), keys, count, first and
#: last time (µs), newest ``(ts + offset) || id`` (``None`` when not asked for).
GroupRow = tuple[int, tuple[str, ...], int, int, int, str | None]


def merge_groups(parts: Iterable[Iterable[GroupRow]]) -> list[GroupRow]:
    """The groups of several answers, each group (and slice) once: counts added, the
    earliest first time, the latest last time and newest event."""
    # mutable lists while adding up, tuples at the end: a week of a busy cluster's
    # day files is ~500,000 rows to merge
    merged: dict[tuple[int, tuple[str, ...]], list[Any]] = {}
    for part in parts:
        for row in part:
            at = (row[0], row[1])
            seen = merged.get(at)
            if seen is None:
                merged[at] = [row[2], row[3], row[4], row[5]]
                continue
            seen[0] += row[2]
            if row[3] < seen[1]:
                seen[1] = row[3]
            if row[4] > seen[2]:
                seen[2] = row[4]
            if row[5] is not None and (seen[3] is None or row[5] > seen[3]):
                seen[3] = row[5]
    return [(at[0], at[1], v[0], v[1], v[2], v[3]) for at, v in merged.items()]


#: The filter field that selects a group key's values (``apiGroup`` has none).
_FILTER_FIELD: dict[str, str] = {
    "namespace": "namespace",
    "resourceType": "resource_type",
    "resourceName": "name",
    "kind": "kind",
    "verb": "verb",
    "user": "user",
    "uid": "uid",
    "signal": "signal",
    "reason": "reason",
    "eventType": "event_type",
    "fieldManager": "field_manager",
    "involvedObject.kind": "involved_kind",
    "involvedObject.namespace": "involved_namespace",
    "involvedObject.name": "involved_name",
    "involvedObject.uid": "involved_uid",
}
#: More values than this for one key are not worth a filter (nor SQLite's variables).
_NARROW_MAX = 5000


def narrowed(
    flt: EventFilter, group_by: tuple[str, ...], keys: Collection[tuple[str, ...]]
) -> EventFilter:
    """``flt`` also requiring each group key to be one of the values ``keys`` hold: it
    selects every event of those groups (and maybe of some others: the values are
    any-of per key, so the caller keeps only the groups it asked for). A key with an
    empty value (a missing field) or too many values is left as ``flt`` has it."""
    changes: dict[str, tuple[str, ...]] = {}
    for i, key in enumerate(group_by):
        field = _FILTER_FIELD.get(key)
        values = sorted({k[i] for k in keys})
        if field is None or "" in values or len(values) > _NARROW_MAX:
            continue
        changes[field] = tuple(values)
    return dataclasses.replace(flt, **changes)  # type: ignore[arg-type]


def rank_groups(rows: Iterable[GroupRow], *, order: str, limit: int) -> tuple[list[GroupRow], bool]:
    """The first ``limit`` groups of each slice in the query's order, slices oldest
    first; and whether any slice had more."""
    by_slice: dict[int, list[GroupRow]] = {}
    for row in rows:
        by_slice.setdefault(row[0], []).append(row)
    kept: list[GroupRow] = []
    truncated = False
    for number in sorted(by_slice):
        group = by_slice[number]
        # keys ascending, then (stable) the measure descending
        group.sort(key=lambda r: r[1])
        group.sort(key=(lambda r: r[2]) if order == "count" else (lambda r: r[4]), reverse=True)
        truncated = truncated or len(group) > limit
        kept.extend(group[:limit])
    return kept, truncated


def newest_id(row: GroupRow, ts_digits: int) -> str | None:
    """The id of a group's newest event."""
    return row[5][ts_digits:] if row[5] else None


def make_buckets(
    query: AggregateQuery,
    rows: Iterable[GroupRow],
    *,
    ts_digits: int,
    documents: Mapping[str, EventDocument],
) -> list[Bucket]:
    """The buckets of ranked groups; ``documents``: the newest events by id (when the
    query asks for them)."""
    start: datetime | None = query.filter.start
    every: timedelta | None = query.every
    buckets = []
    for row in rows:
        latest_id = newest_id(row, ts_digits)
        key = dict(zip(query.group_by, row[1], strict=True))
        if every is not None and start is not None:
            key["time"] = format_rfc3339(start + every * row[0])
        buckets.append(
            Bucket(
                key=key,
                count=row[2],
                first_seen=format_rfc3339(from_micros(row[3])),
                last_seen=format_rfc3339(from_micros(row[4])),
                latest=documents.get(latest_id) if query.latest and latest_id else None,
                latest_id=latest_id,
            )
        )
    return buckets
