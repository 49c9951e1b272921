"""The embedded store as day files: the same answers as one file, across midnight.

The single-file store is the oracle: the same documents, spread over four days, are
written to both, and every search (walked page by page with cursors), aggregation and
document lookup must come back the same. Then what only day files do: every id once
across days, retention that removes whole days, other processes, the upgrade.
"""

from __future__ import annotations

import copy
import dataclasses
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from kubetrail.events.timing import format_rfc3339, parse_rfc3339
from kubetrail.store import open_store
from kubetrail.store.base import (
    AggregateQuery,
    EventFilter,
    EventQuery,
    InvalidQuery,
    Store,
    StoreUnavailable,
)
from kubetrail.store.sqlite import DailyStore, SQLiteStore, layout
from kubetrail.store.sqlite import daily as daily_module
from kubetrail.store.sqlite.daily import _ATTACH_MAX
from tests.support.dataset import documents

DAY0 = parse_rfc3339("2026-11-25T00:00:00Z")


def spread(
    copies: int = 16, step: timedelta = timedelta(hours=5, minutes=7)
) -> list[dict[str, Any]]:
    """The conformance documents ``copies`` times, each copy later by ``step`` (crossing
    midnight three times) and of objects of its own (uids, so ids, as a re-normalising
    ``kubetrail ingest`` makes them); same-second ties included."""
    out = []
    for n in range(copies):
        for doc in documents():
            copied = copy.deepcopy(doc)
            when = parse_rfc3339(doc["timestamp"]) - timedelta(hours=3) + step * n
            copied["timestamp"] = format_rfc3339(when)
            uid = f"{doc['uid']}-{n}"
            copied["id"] = doc["id"].replace(doc["uid"], uid, 1)
            copied["uid"] = copied["objectChanges"]["metadata"]["uid"] = uid
            out.append(copied)
    return out


def write_in_fives(store: Store, docs: list[dict[str, Any]]) -> int:
    """``docs`` in writes of five, as a shipper makes them: a day's last file is split
    when a write finds it full (one write of everything would make a file a day).
    Returns how many were stored."""
    stored = 0
    for i in range(0, len(docs), 5):
        result = store.write(docs[i : i + 5])
        assert result.duplicates == 0 and not result.errors
        stored += result.stored
    return stored


@pytest.fixture(params=[200_000, 9], ids=["a-file-a-day", "9-events-a-file"])
def both(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[SQLiteStore, DailyStore]:
    single = SQLiteStore(tmp_path / "single.db")
    daily = DailyStore(tmp_path / "daily.db", part_rows=request.param)
    docs = spread()
    for store in (single, daily):
        assert write_in_fives(store, docs) == len(docs)
    if request.param == 9:
        assert len(layout.list_parts(daily.directory)) > _ATTACH_MAX  # two batches at least
    yield single, daily
    single.close()
    daily.close()


def walk(store: Store, query: EventQuery) -> list[str]:
    out: list[str] = []
    while True:
        page = store.search(query)
        out.extend(d["id"] for d in page.items)
        if page.next is None:
            return out
        query = EventQuery(
            filter=query.filter, order=query.order, limit=query.limit, after=page.next
        )


def test_the_documents_are_spread_over_days(both: tuple[SQLiteStore, DailyStore]) -> None:
    _, daily = both
    assert layout.list_days(daily.directory) == [
        "2026-11-25",
        "2026-11-26",
        "2026-11-27",
        "2026-11-28",
    ]
    assert daily.health().detail["events"] == 16 * 12
    assert daily.health().detail["days"] == 4
    files = layout.list_parts(daily.directory)
    assert [name[:10] for name in files][:: len(files) - 1] == ["2026-11-25", "2026-11-28"]
    assert all(name.endswith("T000000.000000Z") for name in files) == (len(files) == 4)


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("limit", [1, 5, 12, 13, 1000])
@pytest.mark.parametrize(
    "flt",
    [
        EventFilter(),
        EventFilter(namespace=("shop",)),
        EventFilter(signal=("pod.waiting:*",)),
        EventFilter(text="BackOff"),
        EventFilter(
            start=parse_rfc3339("2026-11-25T20:00:00Z"), end=parse_rfc3339("2026-11-27T04:00:00Z")
        ),
        EventFilter(resource_type=("events",), start=parse_rfc3339("2026-11-26T00:00:00Z")),
    ],
)
def test_cursor_walks_match_one_file_across_midnight(
    both: tuple[SQLiteStore, DailyStore], order: str, limit: int, flt: EventFilter
) -> None:
    single, daily = both
    query = EventQuery(filter=flt, order=order, limit=limit)  # type: ignore[arg-type]
    expected = walk(single, query)
    got = walk(daily, query)
    assert got == expected
    assert len(set(got)) == len(got) and expected  # every event once, and some


#: the Warnings about some pods by reason, as ``related_events_by_object`` asks
RELATED_EVENTS = AggregateQuery(
    filter=EventFilter(
        resource_type=("events",),
        event_type=("Warning",),
        involved_kind=("Pod",),
        involved_namespace=("shop", "default"),
        involved_name=("checkout-7d9f8b6c5-x2k4p", "cart-1"),
    ),
    group_by=("involvedObject.namespace", "involvedObject.name", "reason"),
    order="last",
)


@pytest.mark.parametrize(
    "query",
    [
        AggregateQuery(group_by=("namespace", "resourceType", "resourceName")),
        AggregateQuery(group_by=("signal",), order="last", limit=2),
        AggregateQuery(group_by=("resourceName",), limit=3, latest_id=True, latest=False),
        AggregateQuery(filter=EventFilter(signal=("pod.*",)), group_by=("uid", "signal")),
        # named objects: counts from every file, the newest event from the newest file
        AggregateQuery(
            filter=EventFilter(name=("checkout-7d9f8b6c5-x2k4p", "cart-1", "worker-3")),
            group_by=("namespace", "resourceName"),
            latest_id=True,
            latest=False,
        ),
        AggregateQuery(
            filter=EventFilter(
                namespace=("shop",),
                resource_type=("pods",),
                name=("checkout-7d9f8b6c5-x2k4p", "cart-1"),
            ),
            group_by=("namespace", "resourceName"),
        ),
        AggregateQuery(
            filter=EventFilter(name=("checkout-7d9f8b6c5-x2k4p", "worker-3")),
            group_by=("resourceType", "verb"),
            order="last",
            limit=2,
            latest_id=True,
        ),
        # Events about named objects (the involved-object index), as diagnostics ask
        RELATED_EVENTS,
        AggregateQuery(
            filter=EventFilter(
                involved_namespace=("",), involved_name=("worker-3",), resource_type=("events",)
            ),
            group_by=("involvedObject.kind", "involvedObject.name", "reason"),
            latest=True,
        ),
        AggregateQuery(
            filter=EventFilter(
                start=parse_rfc3339("2026-11-25T10:00:00Z"),
                end=parse_rfc3339("2026-11-28T02:00:00Z"),
            ),
            group_by=("verb",),
            every=timedelta(hours=7),
        ),
        AggregateQuery(
            filter=EventFilter(
                start=parse_rfc3339("2026-11-25T00:00:00Z"),
                end=parse_rfc3339("2026-11-28T23:59:59Z"),
            ),
            group_by=("namespace",),
            order="last",
            limit=1,
            every=timedelta(days=1),
        ),
    ],
)
def test_aggregations_match_one_file(
    both: tuple[SQLiteStore, DailyStore], query: AggregateQuery
) -> None:
    single, daily = both
    assert daily.aggregate(query) == single.aggregate(query)


def test_a_write_to_the_newest_file_keeps_the_earlier_files_groups_cached(
    both: tuple[SQLiteStore, DailyStore],
) -> None:
    """A shipper writes to the newest file while diagnostics ask about the week up to
    now: the newest file is read each time, the groups of the files before it stay
    cached, and a late event in an earlier file makes that entry stale, never wrong."""
    single, daily = both
    first = documents()[0]
    query = AggregateQuery(
        filter=EventFilter(
            start=parse_rfc3339("2026-11-25T00:00:00Z"), end=parse_rfc3339("2026-11-28T20:00:00Z")
        ),
        group_by=("namespace", "resourceName"),
        latest_id=True,
        latest=False,
    )

    def late(n: int, when: str) -> dict[str, Any]:
        doc = copy.deepcopy(first)
        doc["id"] = f"{doc['id']}-late-{n}"
        doc["timestamp"] = when
        return doc

    assert daily.aggregate(query) == single.aggregate(query)
    for n, when in enumerate(["2026-11-28T19:00:00.000001Z", "2026-11-28T19:30:00Z"]):
        hits = daily._groups.hits
        for store in (single, daily):
            assert store.write([late(n, when)]).stored == 1
        assert daily.aggregate(query) == single.aggregate(query)
        assert daily._groups.hits == hits + 1  # the newest file read, the rest kept
    misses = daily._groups.misses
    for store in (single, daily):
        assert store.write([late(9, "2026-11-26T12:00:00Z")]).stored == 1
    assert daily.aggregate(query) == single.aggregate(query)
    assert daily._groups.misses == misses + 1


@pytest.mark.parametrize(
    "group_by",
    [
        ("resourceName",),
        ("uid",),
        ("namespace", "resourceName", "signal"),
        ("involvedObject.name", "reason"),
        ("kind", "verb", "user"),
        ("apiGroup", "kind"),
    ],
)
@pytest.mark.parametrize("limit", [1, 2, 5, 17, 60, 400])
@pytest.mark.parametrize("recount", ["kept groups", "every group"])
def test_the_newest_groups_match_one_file_whatever_the_limit(
    both: tuple[SQLiteStore, DailyStore],
    group_by: tuple[str, ...],
    limit: int,
    recount: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``order="last"`` reads older files only for the groups it keeps (or, when it
    keeps many, every group of them, read together): their counts, first times and
    newest events must still be those of every file."""
    if recount == "every group":
        monkeypatch.setattr(daily_module, "_NARROW_GROUPS", 0)
    single, daily = both
    for flt in (
        EventFilter(),
        EventFilter(namespace=("shop",)),
        EventFilter(signal=("pod.*",)),
        EventFilter(start=parse_rfc3339("2026-11-26T03:00:00Z")),
    ):
        for latest in (False, True, False):  # with and without, either first
            query = AggregateQuery(
                filter=flt, group_by=group_by, order="last", limit=limit, latest=latest
            )
            expected = single.aggregate(query)
            assert daily.aggregate(query) == expected, (flt, latest)
            assert expected.buckets or flt.signal


@pytest.mark.parametrize("part_rows", [200_000, 9])
def test_aggregations_see_what_is_written_into_files_they_read_before(
    tmp_path: Path, part_rows: int
) -> None:
    """Whole files' groups are kept in memory: a file written to again (a backfill into
    an older day, or another process writing) must be read again."""
    single = SQLiteStore(tmp_path / "single.db")
    daily = DailyStore(tmp_path / "daily.db", part_rows=part_rows)
    docs = spread()
    queries = [
        AggregateQuery(group_by=("namespace", "resourceName"), order="count", limit=1000),
        AggregateQuery(group_by=("resourceName",), order="last", limit=3, latest=True),
        AggregateQuery(
            filter=EventFilter(start=parse_rfc3339("2026-11-26T00:00:00Z")),
            group_by=("signal",),
            order="last",
            limit=1000,
        ),
    ]
    for part in (docs[::3], docs[1::3]):
        for store in (single, daily):
            store.write(part)
        for query in queries:
            assert daily.aggregate(query) == single.aggregate(query)
            assert daily.aggregate(query) == single.aggregate(query)  # answered again
    other = DailyStore(tmp_path / "daily.db", part_rows=part_rows)  # another process
    other.write(docs[2::3])
    single.write(docs[2::3])
    for query in queries:
        assert daily.aggregate(query) == single.aggregate(query)
    daily.delete_before(parse_rfc3339("2026-11-27T00:00:00Z"))
    single.delete_before(parse_rfc3339("2026-11-27T00:00:00Z"))
    for query in queries:
        assert daily.aggregate(query) == single.aggregate(query)
    for store in (single, daily, other):
        store.close()


@pytest.mark.parametrize("wal", ["with its log", "closed cleanly"])
def test_aggregations_over_unwritable_day_files_read_them_as_a_read_only_store_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wal: str
) -> None:
    """Files wholly inside a range are read together, attached to one connection: by
    the same URI (``mode=ro``, or ``immutable`` without a log) as the store opens them."""
    from kubetrail.store.sqlite import access

    single = SQLiteStore(tmp_path / "single.db")
    writer = DailyStore(tmp_path / "daily.db", part_rows=9)
    for store in (single, writer):
        store.write(spread())
    if wal == "closed cleanly":
        writer.close()
    monkeypatch.setattr(access, "why_not_writable", lambda path: "the file system is read-only")
    daily = DailyStore(tmp_path / "daily.db", read_only=True)
    for query in (
        AggregateQuery(group_by=("namespace", "resourceName"), order="count", limit=1000),
        AggregateQuery(group_by=("signal",), order="last", limit=2, latest=True),
        AggregateQuery(filter=EventFilter(text="BackOff"), group_by=("uid",), limit=1000),
    ):
        assert daily.aggregate(query) == single.aggregate(query)
    daily.close()
    single.close()
    if wal == "with its log":
        writer.close()


SIGNAL_QUERIES = [
    AggregateQuery(
        filter=EventFilter(resource_type=("pods",), signal=("pod.*",)),
        group_by=("namespace", "resourceName", "signal"),
        order="count",
        limit=1000,
        latest_id=True,
        latest=False,
    ),
    AggregateQuery(group_by=("signal", "kind"), order="count", limit=1000, latest=True),
]


def test_signal_groups_kept_while_written_count_each_signal_row_once(tmp_path: Path) -> None:
    """Day files keep their signal groups as rows are written (:mod:`.summary`); a
    replayed write (every row a duplicate) must not count again."""
    from kubetrail.store.sqlite import summary

    single = SQLiteStore(tmp_path / "single.db")
    daily = DailyStore(tmp_path / "daily.db", part_rows=9)
    docs = spread()
    single.write(docs)
    write_in_fives(daily, docs)
    assert daily.write(docs).duplicates == len(docs)
    for query in SIGNAL_QUERIES:
        assert daily.aggregate(query) == single.aggregate(query)
    files = sorted(layout.days_dir(tmp_path / "daily.db").glob("*.db"))
    assert len(files) > 10
    for file in files:
        with sqlite3.connect(file) as conn:
            assert summary.present(conn)
            assert not _has_index(conn, summary.GROUP_INDEX)  # the summary does its job
    with sqlite3.connect(tmp_path / "single.db") as conn:
        assert _has_index(conn, summary.GROUP_INDEX)
    single.close()
    daily.close()


def _has_index(conn: sqlite3.Connection, name: str) -> bool:
    found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (name,))
    return found.fetchone() is not None


def test_a_day_file_without_signal_groups_is_grouped_row_by_row_and_given_them_when_written(
    tmp_path: Path,
) -> None:
    """A file written before the summary existed: read as it is, and given one (filled
    from its rows) when a writer opens it."""
    from kubetrail.store.sqlite import summary

    single = SQLiteStore(tmp_path / "single.db")
    writer = DailyStore(tmp_path / "daily.db", part_rows=9)
    docs = spread()
    single.write(docs)
    write_in_fives(writer, docs)
    writer.close()
    files = sorted(layout.days_dir(tmp_path / "daily.db").glob("*.db"))
    for file in files[::2]:
        with sqlite3.connect(file) as conn:
            summary.drop(conn)
            # as the files of an older kubetrail had it
            conn.execute(
                "CREATE INDEX signals_group"
                " ON signals (resource_type, signal, namespace, resource_name, ts, id)"
            )
    reader = DailyStore(tmp_path / "daily.db", read_only=True)
    for query in SIGNAL_QUERIES:
        assert reader.aggregate(query) == single.aggregate(query)
    reader.close()
    with sqlite3.connect(files[0]) as conn:
        assert not summary.present(conn)
    writer = DailyStore(tmp_path / "daily.db")
    for query in SIGNAL_QUERIES:  # the writer opens every file, and fills its summary
        assert writer.aggregate(query) == single.aggregate(query)
    for n, file in enumerate(files):
        with sqlite3.connect(file) as conn:
            assert summary.present(conn)
            # an older file keeps its index (dropping it would free nothing)
            assert _has_index(conn, summary.GROUP_INDEX) == (n % 2 == 0)
    writer.close()
    # a file that loses rows forgets its summary
    one = SQLiteStore(files[0], signal_summary=True)
    one.delete_before(parse_rfc3339("2026-11-25T12:00:00Z"))
    with sqlite3.connect(files[0]) as conn:
        assert not summary.present(conn)
    one.close()
    single.close()


def test_a_new_day_file_answers_the_events_about_objects_from_its_index_alone(
    tmp_path: Path,
) -> None:
    """A new day file's involved-object index holds only Events, with the keys
    diagnostics ask of them: "the Warnings about these pods, by reason" reads no table
    row. A file written before keeps its plain index, and both answer alike."""
    from kubetrail.store.sqlite.sql import aggregate_statement

    single = SQLiteStore(tmp_path / "single.db")
    writer = DailyStore(tmp_path / "daily.db", part_rows=9)
    docs = spread()
    single.write(docs)
    write_in_fives(writer, docs)
    writer.close()
    files = sorted(layout.days_dir(tmp_path / "daily.db").glob("*.db"))
    bare = dataclasses.replace(RELATED_EVENTS, latest=False, latest_id=False)
    statement, params = aggregate_statement(bare, long_window=lambda _: False)
    for file in files:
        with sqlite3.connect(file) as conn:
            plan = " ".join(r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {statement}", params))
            assert "USING COVERING INDEX events_involved" in plan
            in_index = conn.execute(
                "SELECT COUNT(*) FROM events INDEXED BY events_involved WHERE inv_name IS NOT NULL"
            ).fetchone()[0]
            events = conn.execute(
                "SELECT COUNT(*) FROM events WHERE inv_name IS NOT NULL"
            ).fetchone()[0]
            assert in_index == events
    for file in files[::2]:
        with sqlite3.connect(file) as conn:  # as the files of an older kubetrail had it
            conn.execute("DROP INDEX events_involved")
            conn.execute("CREATE INDEX events_involved ON events (inv_namespace, inv_name, ts)")
    reader = DailyStore(tmp_path / "daily.db", read_only=True)
    result = reader.aggregate(RELATED_EVENTS)
    assert result == single.aggregate(RELATED_EVENTS)
    assert [b.key["reason"] for b in result.buckets] == ["BackOff"]
    reader.close()
    single.close()


def test_documents_by_id_across_days(both: tuple[SQLiteStore, DailyStore]) -> None:
    single, daily = both
    ids = [*[d["id"] for d in spread()][::7], "no-such-id"]
    assert daily.documents(ids) == single.documents(ids)
    assert len(daily.documents(ids)) == len(ids) - 1


def test_an_id_is_stored_once_whatever_day_it_comes_back_on(tmp_path: Path) -> None:
    store = DailyStore(tmp_path / "s.db")
    docs = spread(copies=1)
    assert store.write(docs).stored == 12
    # the same versions observed again three days later (a replayed watch, a relist)
    later = copy.deepcopy(docs)
    for doc in later:
        doc["timestamp"] = format_rfc3339(parse_rfc3339(doc["timestamp"]) + timedelta(days=3))
    result = store.write(later)
    assert (result.stored, result.duplicates) == (0, 12)
    store.close()
    # a new process (filters read back from their files) says the same
    again = DailyStore(tmp_path / "s.db")
    assert again.write(later[:5]).duplicates == 5
    assert again.health().detail["events"] == 12
    assert layout.list_days(again.directory) == ["2026-11-25"]
    again.close()


def test_an_id_filter_lost_or_stale_is_rebuilt(tmp_path: Path) -> None:
    store = DailyStore(tmp_path / "s.db")
    first = spread(copies=1)
    store.write(first)
    store.close()
    for stale in layout.days_dir(tmp_path / "s.db").glob("*.ids"):
        stale.write_bytes(b"not a filter")
    store = DailyStore(tmp_path / "s.db")
    moved = copy.deepcopy(first)
    for doc in moved:
        doc["timestamp"] = "2026-12-01T00:00:00Z"
    assert store.write(moved).duplicates == 12
    store.close()


def test_retention_removes_whole_days_and_hides_the_rest(tmp_path: Path) -> None:
    store = DailyStore(tmp_path / "s.db")
    docs = spread()
    store.write(docs)
    files = layout.days_dir(tmp_path / "s.db")
    cutoff = parse_rfc3339("2026-11-27T06:00:00Z")
    expected = sum(parse_rfc3339(d["timestamp"]) < cutoff for d in docs)
    assert store.delete_before(cutoff) == expected
    # two whole days gone from disk; the third hidden up to the cutoff
    assert layout.list_days(files) == ["2026-11-27", "2026-11-28"]
    assert not list(files.glob("2026-11-25*")) and not list(files.glob("2026-11-26*"))
    remaining = walk(store, EventQuery(limit=7))
    assert len(remaining) == len(docs) - expected
    assert all(parse_rfc3339(d["timestamp"]) >= cutoff for d in store.search(EventQuery()).items)
    assert store.health().detail["events"] == len(docs) - expected
    assert store.health().detail["oldest"] >= "2026-11-27T06:00:00Z"
    hidden_ids = [d["id"] for d in docs if parse_rfc3339(d["timestamp"]) < cutoff]
    assert store.documents(hidden_ids) == {}
    assert store.aggregate(AggregateQuery(group_by=("verb",))).buckets[0].first_seen >= (
        "2026-11-27T06:00:00Z"
    )
    assert store.delete_before(cutoff) == 0
    # an event older than the retention arriving now is refused, saying why
    late = store.write([docs[0]])
    assert late.stored == 0 and "older than the store's retention" in late.errors[0].reason
    store.close()
    # the floor is kept: a new process hides the same
    again = DailyStore(tmp_path / "s.db", read_only=True)
    assert len(walk(again, EventQuery(limit=50))) == len(docs) - expected
    again.close()


def test_a_sliced_aggregation_keeps_its_slices_when_the_floor_cuts_its_range(
    tmp_path: Path,
) -> None:
    single, daily = SQLiteStore(tmp_path / "one.db"), DailyStore(tmp_path / "days.db")
    docs = spread()
    cutoff = parse_rfc3339("2026-11-26T01:30:00Z")
    single.write(docs)
    daily.write(docs)
    single.delete_before(cutoff)
    daily.delete_before(cutoff)
    query = AggregateQuery(
        filter=EventFilter(start=DAY0, end=parse_rfc3339("2026-11-28T23:00:00Z")),
        group_by=("namespace",),
        every=timedelta(hours=3),
    )
    assert daily.aggregate(query) == single.aggregate(query)


def test_another_process_sees_new_days_and_removed_ones(tmp_path: Path) -> None:
    writer = DailyStore(tmp_path / "s.db")
    reader = DailyStore(tmp_path / "s.db", read_only=True)
    docs = spread()
    writer.write(docs[:12])
    assert len(walk(reader, EventQuery(limit=100))) == 12
    writer.write(docs[12:])
    assert len(walk(reader, EventQuery(limit=100))) == len(docs)
    writer.delete_before(parse_rfc3339("2026-11-27T00:00:00Z"))
    left = [d for d in docs if d["timestamp"] >= "2026-11-27"]
    assert len(walk(reader, EventQuery(limit=100))) == len(left)
    with pytest.raises(Exception, match="read-only"):
        reader.write(docs[:1])
    writer.close()
    reader.close()


@pytest.mark.parametrize("read_only", [True, False], ids=["reader", "writer"])
@pytest.mark.parametrize("opened", [True, False], ids=["open-before", "not-yet-open"])
def test_a_query_that_read_the_floor_before_another_process_removed_a_day_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read_only: bool, opened: bool
) -> None:
    """Retention in another process raises the floor, then removes the files below it.
    A query that read the floor just before, and lists or reads the files just after
    (a directory's mtime can even stay the same within one tick of the kernel's clock),
    must still answer: never an error, never a removed file created again empty."""
    writer = DailyStore(tmp_path / "s.db", part_rows=9)
    docs = spread()
    writer.write(docs)
    other = DailyStore(tmp_path / "s.db", read_only=read_only)
    query = AggregateQuery(group_by=("namespace",), order="count", limit=100)
    if opened:  # every file open, and the groups of whole files kept in memory
        assert sum(b.count for b in other.aggregate(query).buckets) == len(docs)
    else:
        newest = EventFilter(start=parse_rfc3339("2026-11-28T00:00:00Z"))
        assert other.search(EventQuery(filter=newest, limit=1)).items
    directory = layout.days_dir(tmp_path / "s.db")
    listed = os.stat(directory).st_mtime_ns
    floor_before = other._floor()
    cutoff = parse_rfc3339("2026-11-26T00:00:00Z")
    writer.delete_before(cutoff)
    assert not list(directory.glob("2026-11-25*.db"))
    os.utime(directory, ns=(listed, listed))  # as if within the same tick
    monkeypatch.setattr(other, "_floor", lambda: floor_before)  # read before the removal
    before = [d for d in docs if parse_rfc3339(d["timestamp"]) < cutoff]
    # a query not asked before: the files wholly inside its range are read together
    fresh = AggregateQuery(group_by=("resourceType", "verb"), order="count", limit=100)
    counted = sum(b.count for b in other.aggregate(fresh).buckets)
    assert len(docs) - len(before) <= counted <= len(docs)
    found = len(walk(other, EventQuery(limit=50)))
    assert len(docs) - len(before) <= found <= len(docs)
    monkeypatch.undo()
    assert sum(b.count for b in other.aggregate(query).buckets) == len(docs) - len(before)
    assert not list(directory.glob("2026-11-25*.db"))  # not created again
    writer.close()
    other.close()


def test_a_single_file_store_opens_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "kubetrail.db"
    old = SQLiteStore(path)
    old.write(spread(copies=2))
    old.close()
    opened = open_store(f"sqlite:///{path}")
    assert isinstance(opened, SQLiteStore)
    assert opened.health().detail["events"] == 24
    assert not layout.days_dir(path).exists()
    opened.close()


def test_a_new_store_is_day_files_and_an_older_kubetrail_refuses_it(tmp_path: Path) -> None:
    path = tmp_path / "kubetrail.db"
    store = open_store(f"sqlite:///{path}")
    assert isinstance(store, DailyStore)
    store.write(spread(copies=1))
    store.close()
    # this kubetrail's single-file store says what the file is
    with pytest.raises(StoreUnavailable, match="catalog of a store of day files"):
        SQLiteStore(path)
    # kubetrail before day files (schema 8) refuses any file whose version is newer:
    # "… has schema version 9, newer than this kubetrail understands (8): upgrade kubetrail"
    conn = sqlite3.connect(path)
    version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    conn.close()
    assert int(version) > 8


def test_a_newer_catalog_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "kubetrail.db"
    DailyStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = '10' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(StoreUnavailable, match="upgrade kubetrail"):
        open_store(f"sqlite:///{path}")


def test_reading_a_missing_store_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="does not exist"):
        open_store(f"sqlite:///{tmp_path / 'none.db'}", read_only=True)
    assert list(tmp_path.iterdir()) == []


def test_bad_queries_are_refused_before_any_day_is_read(tmp_path: Path) -> None:
    store = DailyStore(tmp_path / "s.db")
    with pytest.raises(InvalidQuery):
        store.search(EventQuery(filter=EventFilter(text="  ")))
    with pytest.raises(InvalidQuery):
        store.aggregate(AggregateQuery(group_by=("nope",)))
    with pytest.raises(InvalidQuery):
        store.aggregate(AggregateQuery(group_by=("verb",), every=timedelta(hours=1)))
    store.close()


def _ingest_forever(path: str, ready: Any) -> None:
    store = open_store(f"sqlite:///{path}", bulk=True)
    n = 0
    while True:
        docs = spread(copies=4)
        for doc in docs:
            doc["id"] = f"{doc['id']}@{n}"  # distinct rows, enough for a store
        store.write(docs)  # type: ignore[arg-type]
        n += 1
        if n == 3:
            ready.set()


def test_a_killed_bulk_load_leaves_a_store_that_opens_and_takes_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    child = ctx.Process(target=_ingest_forever, args=(str(path), ready))
    child.start()
    assert ready.wait(60)
    time.sleep(0.2)
    os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
    child.join()
    store = DailyStore(path)
    before = store.health().detail["events"]
    docs = spread(copies=4)
    for doc in docs:
        doc["id"] = f"{doc['id']}@0"
    # what the killed load committed is there once; the rest is written now
    result = store.write(docs)  # type: ignore[arg-type]
    assert result.stored + result.duplicates == len(docs)
    assert store.health().detail["events"] == before + result.stored
    ids = walk(store, EventQuery(limit=500))
    assert len(ids) == len(set(ids))
    store.close()


def test_the_cli_bulk_load_writes_day_files(tmp_path: Path) -> None:
    import orjson

    lines = tmp_path / "in.jsonl"
    from tests.support.k8s_objects import pod

    with open(lines, "wb") as fh:
        for day in range(3):
            obj = pod(name=f"p{day}", uid=f"u{day}", rv=str(10 + day))
            fh.write(
                orjson.dumps(
                    {"type": "ADDED", "object": obj, "timestamp": f"2026-11-2{day + 1}T12:00:00Z"}
                )
                + b"\n"
            )
    store = tmp_path / "k.db"
    out = subprocess.run(
        [sys.executable, "-m", "kubetrail", "ingest", "--store", f"sqlite:///{store}", str(lines)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert layout.list_days(layout.days_dir(store)) == ["2026-11-21", "2026-11-22", "2026-11-23"]


def test_a_single_file_store_is_copied_into_day_files_by_export_and_ingest(tmp_path: Path) -> None:
    old, new = tmp_path / "old.db", tmp_path / "new.db"
    single = SQLiteStore(old)
    docs = spread(copies=6)
    single.write(docs)
    expected = walk(single, EventQuery(limit=1000))
    single.close()
    kubetrail = [sys.executable, "-m", "kubetrail"]
    exported = subprocess.run(
        [*kubetrail, "export", "--store", f"sqlite:///{old}"], capture_output=True, timeout=120
    )
    assert exported.returncode == 0, exported.stderr
    ingested = subprocess.run(
        [*kubetrail, "ingest", "--store", f"sqlite:///{new}", "-"],
        input=exported.stdout,
        capture_output=True,
        timeout=120,
    )
    assert ingested.returncode == 0, ingested.stderr
    daily = open_store(f"sqlite:///{new}")
    assert isinstance(daily, DailyStore)
    assert walk(daily, EventQuery(limit=1000)) == expected
    assert len(layout.list_days(daily.directory)) == 2
    daily.close()


def test_a_full_file_is_followed_by_another_for_the_later_times_of_its_day(tmp_path: Path) -> None:
    store = DailyStore(tmp_path / "s.db", part_rows=10)
    docs = spread(copies=3, step=timedelta(minutes=40))  # 36 events, all on 2026-11-25
    for n in range(0, len(docs), 6):
        store.write(docs[n : n + 6])
    files = layout.list_parts(store.directory)
    assert files[0] == "2026-11-25T000000.000000Z" and len(files) >= 3
    # each file starts after the newest event of the one before: no file overlaps another
    sizes = []
    starts = [layout.part_start(name) for name in files]
    for name, start, end in zip(
        files, starts, [*starts[1:], layout.part_start(files[0]) + layout.DAY_MICROS], strict=True
    ):
        with sqlite3.connect(layout.part_file(store.directory, name)) as conn:
            lo, hi, n = conn.execute("SELECT MIN(ts), MAX(ts), COUNT(*) FROM events").fetchone()
        assert start <= lo <= hi < end
        sizes.append(n)
    assert sum(sizes) == 36 and max(sizes) <= 10 + 6
    # an id stored in an earlier file is a duplicate in a later one
    again = copy.deepcopy(docs[:3])
    for doc in again:
        doc["timestamp"] = "2026-11-25T23:00:00Z"
    assert store.write(again).duplicates == 3
    # and a late event of the morning goes to the file covering its time
    late = copy.deepcopy(docs[0])
    late["id"], late["timestamp"] = "late:1", "2026-11-25T00:00:30Z"
    assert store.write([late]).stored == 1
    with sqlite3.connect(layout.part_file(store.directory, files[0])) as conn:
        assert conn.execute("SELECT COUNT(*) FROM events WHERE id = 'late:1'").fetchone()[0] == 1
    store.close()


def test_retention_interrupted_after_the_floor_is_finished_by_the_next_run(tmp_path: Path) -> None:
    store = DailyStore(tmp_path / "s.db")
    docs = spread()
    store.write(docs)
    cutoff = parse_rfc3339("2026-11-27T00:00:00Z")
    # killed between raising the floor and removing the files: the floor alone is written
    store._catalog.set_floor(int(cutoff.timestamp()) * 1_000_000)
    store.close()
    again = DailyStore(tmp_path / "s.db")
    assert layout.list_days(again.directory)[0] == "2026-11-25"  # still on disk
    assert all(d["timestamp"] >= "2026-11-27" for d in again.search(EventQuery()).items)
    assert again.delete_before(cutoff) == 0  # nothing more leaves the answers
    assert layout.list_days(again.directory) == ["2026-11-27", "2026-11-28"]
    again.close()


def _write_at_once(path: str, barrier: Any, n: int, errors: Any) -> None:
    try:
        barrier.wait(30)
        store = DailyStore(path)
        docs = spread(copies=1)
        for doc in docs:
            doc["id"] = f"{doc['id']}/{n}"
        store.write(docs)  # type: ignore[arg-type]
        store.close()
    except Exception as exc:  # reported to the test
        errors.put(f"{type(exc).__name__}: {exc}")


def test_processes_creating_the_same_new_file_at_once_all_write(tmp_path: Path) -> None:
    DailyStore(tmp_path / "s.db").close()
    ctx = multiprocessing.get_context("spawn")
    barrier, errors = ctx.Barrier(4), ctx.Queue()
    children = [
        ctx.Process(target=_write_at_once, args=(str(tmp_path / "s.db"), barrier, n, errors))
        for n in range(4)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(120)
    assert errors.empty(), errors.get()
    store = DailyStore(tmp_path / "s.db", read_only=True)
    assert store.health().detail["events"] == 4 * 12
    store.close()
