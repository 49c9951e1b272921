"""The embedded store as one SQLite file per day, the way OpenSearch keeps time-based
indices: a write goes to the day of its timestamp, a read opens only the days its range
covers, and retention removes whole days.

Why: in one file every index grows with the store, so each insert lands on a page of a
bigger tree (the ingest rate halved from 100,000 to 1,000,000 events), and retention
deleted row by row (6-7 s for 130,000 events, the space kept in the file). A day file
stays the size of a day: writes cost the same at 10,000,000 events as at 0, and a day
past the retention is an ``unlink``.

- **Layout** (:mod:`.layout`): the store URL's path is a small catalog; the days are
  ordinary store files (:class:`~.store.SQLiteStore`) in ``<path>.days/``.
- **Every id once** across all days: a write asks the other days whether they hold its
  ids, through an in-memory id filter per day (:mod:`.idfilter`) that rules out nearly
  every new id; SQLite confirms the rest. A watch event replayed days later is a
  duplicate, as in one file.
- **Reads**: a search walks the days of its range in its order and stops at the page's
  end, so a cursor crosses midnight like any other position. An aggregation merges the
  groups of each file (:mod:`.merge`), then orders and limits them: the files wholly
  inside its range are read together, up to ten attached to one connection so that
  SQLite adds their groups up, and that answer is kept in memory until one of them
  changes (:mod:`.groupcache`); ``order="last"`` walks the files newest first and stops
  once it has more groups than its limit, asking older files for just the kept ones.
- **Retention**: the catalog keeps a floor: events before it are left out of every answer
  from that moment, and each day wholly before it is removed (its files unlinked: space
  freed at once, readers never wait; a process still holding a removed file closes it on
  a low-priority thread, since that close is when its blocks are freed). The day the
  floor falls in is removed once the floor has passed it: at most a day more on disk,
  never in an answer.
- **Audit records** go to the day of the version they join (found by id), else to the
  day of the request; a nearest join (±5 s) across midnight is not made.

Concurrency: as in one file, readers never wait for writers. Other processes (``api``
beside ``ship``) see new days and removed ones at their next query (the directory's
mtime), the floor at every query. A day removed while a query reads it is closed when
that query ends.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from kubetrail.events.audit import NEAREST_WINDOW, AuditRecord
from kubetrail.events.model import EventDocument
from kubetrail.events.timing import (
    MAX_MICROS,
    MIN_MICROS,
    format_rfc3339,
    from_micros,
    parse_rfc3339,
    to_micros,
)
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
from kubetrail.store.sqlite import layout
from kubetrail.store.sqlite.groupcache import Files, GroupCache
from kubetrail.store.sqlite.idfilter import IdFilter, Probe
from kubetrail.store.sqlite.merge import (
    GroupRow,
    make_buckets,
    merge_groups,
    narrowed,
    newest_id,
    rank_groups,
)
from kubetrail.store.sqlite.rows import PreparedRow, prepare_row
from kubetrail.store.sqlite.sql import TS_DIGITS, fts_query, union_statement
from kubetrail.store.sqlite.store import SQLiteStore

log = logging.getLogger("kubetrail.store")

#: Each day's read connections get a smaller page cache than a single file's (a query
#: over a week opens seven); the operating system's cache holds the files for all.
DAY_READER_CACHE_MB = 4
#: A day's file holding this many events is followed by another for the rest of the day:
#: inserts cost more as a file's indexes grow (each lands on a random page of a bigger
#: tree: 2.9 times the CPU per row into a 1,000,000-event file as into an empty one), so
#: files stay small enough to ingest into at nearly the empty rate.
PART_ROWS = 200_000
#: An aggregation over several days asks each for every group (its order and limit
#: apply to the merged groups).
_ALL_GROUPS = 1 << 62
#: Groups of whole files kept in memory (:mod:`.groupcache`), in rows (~450 bytes each).
GROUP_CACHE_ROWS = 200_000
#: Up to this many groups kept by an ``order="last"`` aggregation, older files are asked
#: for just those (an index seek per value); more, and reading each file's groups whole
#: is as fast (and cached).
_NARROW_GROUPS = 200
#: Files one statement reads together, attached to one connection (SQLite's limit).
_ATTACH_MAX = 10


def _close_aside(store: SQLiteStore) -> None:
    """Close a removed file's store on a thread of its own, at the lowest CPU priority:
    the last descriptor of an unlinked file frees its blocks in ``close()`` (0.4-0.6 s of
    kernel time for a 1.9 GB day here), which a query holding the store's lock would
    otherwise wait for, and which should not take a core from the queries."""

    def close() -> None:
        with contextlib.suppress(OSError, AttributeError):  # Linux: a thread's own niceness
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        store.close()

    threading.Thread(target=close, name="kubetrail-close-day", daemon=True).start()


def _untimed(query: AggregateQuery) -> AggregateQuery:
    """Every group of ``query`` in files wholly inside its range: its times do not matter,
    and each group's newest event is kept whether asked or not, so that the same groups
    asked with and without it (two checks sharing an aggregation) are read once."""
    return dataclasses.replace(
        query,
        filter=dataclasses.replace(query.filter, start=None, end=None),
        limit=_ALL_GROUPS,
        latest=False,
        latest_id=True,
    )


def _expired(floor: int) -> str:
    return (
        f"older than the store's retention (events before {format_rfc3339(from_micros(floor))} "
        "were deleted): not kept"
    )


@dataclass(slots=True)
class _Day:
    store: SQLiteStore
    users: int = 0  # queries reading it now
    retired: bool = False  # removed: closed when the last query ends


class DailyStore:
    """The embedded store over day files (see module docstring). ``path``: the catalog;
    the options are :class:`~.store.SQLiteStore`'s, for each day."""

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
        part_rows: int = PART_ROWS,
    ) -> None:
        """``part_rows``: a day's file holding this many events is followed by a new one
        for the later times of the day."""
        self.path = Path(path)
        self.read_only = read_only
        self.directory = layout.days_dir(self.path)
        self._writer_cache_mb = writer_cache_mb
        self._rows_per_commit = rows_per_commit
        if self.path.parent and not self.path.parent.exists():
            raise StoreUnavailable(
                f"cannot open {self.path}: directory {self.path.parent} does not exist"
            )
        self._catalog = layout.Catalog(self.path, read_only=read_only)
        if not read_only:
            try:
                self.directory.mkdir(exist_ok=True)
            except OSError as exc:
                self._catalog.close()
                raise StoreUnavailable(f"cannot create {self.directory}: {exc}") from None
            layout.remove_orphans(self.directory)
        self._lock = threading.RLock()  # the days known and open
        self._write_lock = threading.Lock()  # one write (or removal) at a time
        self._part_rows = part_rows
        self._days: dict[str, _Day] = {}  # open files by name
        self._known: list[str] = []  # every file's name, oldest first
        self._starts: list[int] = []  # and the first microsecond each covers
        self._listed: int | None = None  # the directory's mtime when listed
        self._filters: dict[str, IdFilter] = {}
        self._bulk_day: str | None = None  # the day a bulk load is writing
        self._hidden: tuple[int | None, int] = (None, 0)  # (floor, events before it in its day)
        self._closed = False
        self._groups = GroupCache(GROUP_CACHE_ROWS)
        self._refresh()

    # -- days ----------------------------------------------------------------

    def _refresh(self) -> None:
        """Notice days created or removed (also by another process)."""
        try:
            mtime = os.stat(self.directory).st_mtime_ns
        except FileNotFoundError:
            mtime = None
        with self._lock:
            if mtime is not None and mtime == self._listed:
                return
            self._listed = mtime
            self._set_known(layout.list_parts(self.directory))
            for name in [d for d in self._days if d not in self._known]:
                self._retire(name)

    def _set_known(self, names: list[str]) -> None:
        # with self._lock held
        self._known = names
        self._starts = [layout.part_start(n) for n in names]

    def _span(self, i: int) -> tuple[int, int]:
        """The first and last microsecond file ``i`` covers: to the next file's start or
        its day's end."""
        start = self._starts[i]
        end = layout.midnight(start) + layout.DAY_MICROS
        if i + 1 < len(self._starts):
            end = min(end, self._starts[i + 1])
        return start, end - 1

    def _part_for(self, ts: int) -> str:
        """The file a time belongs in (a new one at its day's midnight when its day has
        none)."""
        i = bisect.bisect_right(self._starts, ts) - 1
        if i >= 0 and ts <= self._span(i)[1]:
            return self._known[i]
        return layout.part_name(layout.midnight(ts))

    def _retire(self, day: str) -> None:
        # with self._lock held
        holder = self._days.pop(day, None)
        self._filters.pop(day, None)
        self._groups.drop(day)
        if holder is not None:
            holder.retired = True
            if holder.users == 0:
                _close_aside(holder.store)

    def _open_day(self, day: str) -> SQLiteStore:
        # with self._lock held
        holder = self._days.get(day)
        if holder is None:
            if self._closed:
                raise StoreUnavailable(f"SQLite store {self.path} is closed")
            store = SQLiteStore(
                layout.part_file(self.directory, day),
                writer_cache_mb=self._writer_cache_mb,
                rows_per_commit=self._rows_per_commit,
                read_only=self.read_only,
                reader_cache_mb=DAY_READER_CACHE_MB,
                signal_summary=True,
            )
            holder = self._days[day] = _Day(store)
            if day not in self._known:
                self._set_known(sorted([*self._known, day]))
        return holder.store

    def _on_disk(self, name: str) -> bool:
        return layout.part_file(self.directory, name).exists()

    def _readable(self, name: str) -> bool:
        """Whether a file another process has just created is ready to be read (it has
        its tables): a read-only store cannot create them, and a file still empty holds
        no events yet."""
        # with self._lock held
        if name in self._days:
            return True
        try:
            self._open_day(name)
        except StoreUnavailable as exc:
            if "no schema version" in str(exc) or "empty file" in str(exc):
                return False
            if not self._on_disk(name):  # removed between the check above and the open
                self._listed = None
                return False
            raise
        return True

    @contextlib.contextmanager
    def _reading(self, lo: int, hi: int) -> Iterator[list[SQLiteStore]]:
        """The files that may hold times ``lo``..``hi``, oldest first, kept open while used."""
        self._refresh()
        with self._lock:
            days = [
                name
                for i, name in enumerate(self._known)
                if self._starts[i] <= hi and self._span(i)[1] >= lo
            ]
            # Another process's retention may have removed a file since the listing (a
            # directory's mtime can stay the same within one tick of the kernel's clock):
            # its events are below the floor by then, so it is left out, not reopened
            # (nor, by a writer, created again empty).
            present = [d for d in days if d in self._days or self._on_disk(d)]
            if len(present) < len(days):
                self._listed = None  # list again at the next query
            days = present
            if self.read_only:
                days = [d for d in days if self._readable(d)]
            stores = [self._open_day(d) for d in days]
            holders = [self._days[d] for d in days]
            for holder in holders:
                holder.users += 1
        try:
            yield stores
        finally:
            with self._lock:
                for holder in holders:
                    holder.users -= 1
                    if holder.retired and holder.users == 0:
                        _close_aside(holder.store)

    # -- the retention floor ---------------------------------------------------

    def _floor(self) -> int:
        return self._catalog.floor() or MIN_MICROS

    def _visible(self, flt: EventFilter) -> tuple[EventFilter, int, int] | None:
        """The filter with its start raised to the floor, and its range in µs; ``None``
        when nothing of it is visible."""
        floor = self._floor()
        lo = max(to_micros(flt.start), floor) if flt.start else floor
        hi = to_micros(flt.end) if flt.end else MAX_MICROS
        if lo > hi:
            return None
        if flt.start is None or lo > to_micros(flt.start):
            flt = dataclasses.replace(flt, start=from_micros(lo))
        return flt, lo, hi

    # -- reads ---------------------------------------------------------------

    def search(self, query: EventQuery) -> EventPage:
        items, nxt = self._search(query, raw=False)
        return EventPage(items=items, next=nxt)

    def search_raw(self, query: EventQuery) -> RawPage:
        items, nxt = self._search(query, raw=True)
        return RawPage(items=items, next=nxt)

    def _search(self, query: EventQuery, *, raw: bool) -> tuple[list[Any], Cursor | None]:
        if query.limit < 1:
            raise InvalidQuery("limit must be at least 1")
        if query.filter.text is not None and fts_query(query.filter.text) is None:
            raise InvalidQuery("search text is empty: give at least one word")
        visible = self._visible(query.filter)
        if visible is None:
            return [], None
        flt, lo, hi = visible
        desc = query.order == "desc"
        if query.after is not None:
            lo, hi = (lo, min(hi, query.after.ts)) if desc else (max(lo, query.after.ts), hi)
        query = dataclasses.replace(query, filter=flt)
        items: list[Any] = []
        with self._reading(lo, hi) as days:
            ordered = days[::-1] if desc else days
            for n, day in enumerate(ordered):
                part, nxt, last = day.search_page(
                    dataclasses.replace(query, limit=query.limit - len(items)), raw=raw
                )
                items.extend(part)
                if len(items) >= query.limit:
                    # the page is full: more may follow in this day or a later one
                    return items, nxt or (last if n < len(ordered) - 1 else None)
        return items, None

    def aggregate(self, query: AggregateQuery) -> AggregateResult:
        check_group_keys(query.group_by)
        if query.limit < 1:
            raise InvalidQuery("limit must be at least 1")
        time_slices(query)  # refuses a query that cannot be sliced
        visible = self._visible(query.filter)
        if visible is None:
            return AggregateResult(buckets=[], truncated=False)
        flt, lo, hi = visible
        origin = to_micros(query.filter.start) if query.every and query.filter.start else None
        per_day = dataclasses.replace(
            query, filter=flt, latest=False, latest_id=query.latest or query.latest_id
        )
        with self._reading(lo, hi) as days:
            whole = self._whole(days, lo, hi)
            if len(days) > 1 and query.order == "last" and query.every is None:
                rows = self._newest_groups(days, whole, per_day)
            elif len(days) > 1 and query.every is None:
                rows = self._all_groups(days, whole, per_day)
            else:
                if len(days) > 1:
                    per_day = dataclasses.replace(per_day, limit=_ALL_GROUPS)
                parts = [day.group_rows(per_day, origin=origin) for day in days]
                rows = merge_groups(parts) if len(parts) > 1 else (parts or [[]])[0]
            kept, truncated = rank_groups(rows, order=query.order, limit=query.limit)
            docs: dict[str, EventDocument] = {}
            if query.latest and kept:
                wanted = [i for r in kept if (i := newest_id(r, TS_DIGITS))]
                docs = self._documents_in(days, wanted)
        buckets_ = make_buckets(query, kept, ts_digits=TS_DIGITS, documents=docs)
        if not (query.latest_id or query.latest):
            buckets_ = [dataclasses.replace(b, latest_id=None) for b in buckets_]
        return AggregateResult(buckets=buckets_, truncated=truncated)

    def _whole(self, days: list[SQLiteStore], lo: int, hi: int) -> set[SQLiteStore]:
        """Which of ``days`` lie wholly inside ``lo``..``hi`` (µs)."""
        with self._lock:
            index = {name: i for i, name in enumerate(self._known)}
            out = set()
            for day in days:
                i = index.get(day.path.stem)
                if i is not None and lo <= self._span(i)[0] and self._span(i)[1] <= hi:
                    out.add(day)
            return out

    def _all_groups(
        self,
        days: list[SQLiteStore],
        whole: set[SQLiteStore],
        query: AggregateQuery,
        versions: Files | None = None,
    ) -> list[GroupRow]:
        """Every group of ``query`` (not sliced) over ``days``: the files wholly inside
        its range answered together, through :mod:`.groupcache`, the others each."""
        query = dataclasses.replace(query, limit=_ALL_GROUPS)
        inside = [day for day in days if day in whole]
        edges = [day for day in days if day not in whole]
        parts = [day.group_rows(query) for day in edges]
        if inside:
            parts.append(self._whole_groups(inside, query, versions))
        return merge_groups(parts)

    def _versions(self, files: list[SQLiteStore]) -> Files:
        return tuple((day.path.stem, day.version()) for day in files)

    def _whole_groups(
        self, files: list[SQLiteStore], query: AggregateQuery, versions: Files | None = None
    ) -> list[GroupRow]:
        """Every group of ``query`` over ``files``, each wholly inside its range: the
        query without its times, whose answer stands until one of the files changes."""
        untimed = _untimed(query)
        # versions before the rows: a write in between makes a miss, not a stale answer
        versions = versions or self._versions(files)
        rows = self._groups.get(versions, untimed)
        if rows is None:
            rows = self._union_groups(files, untimed)
            self._groups.put(versions, untimed, rows)
        return rows

    def _union_groups(self, files: list[SQLiteStore], query: AggregateQuery) -> list[GroupRow]:
        """Every group of ``query`` (not sliced) over ``files``, added up by SQLite: up to
        :data:`_ATTACH_MAX` files attached to one connection and their groups merged in
        one statement, so that Python sees each group once per batch instead of once per
        file (a week of a busy cluster: ~470,000 rows merged in Python, 1.0 s, against
        0.5 s for the same in SQL)."""
        flt = query.filter
        if len(files) == 1 or flt.name or flt.uid or flt.involved_name or flt.involved_uid:
            # a few objects' events: each file's open connection answers in a seek,
            # where attaching ~50 files would cost more than the groups do
            every_group = dataclasses.replace(query, limit=_ALL_GROUPS)
            if len(files) > 1 and (query.latest or query.latest_id):
                return self._newest_from_one_file(files, every_group)
            return merge_groups(day.group_rows(every_group) for day in files)
        keys = len(query.group_by)
        batches = [files[i : i + _ATTACH_MAX] for i in range(0, len(files), _ATTACH_MAX)]

        def run(batch: list[SQLiteStore]) -> list[GroupRow]:
            conn = sqlite3.connect(":memory:", uri=True, check_same_thread=False)
            try:
                attached: list[SQLiteStore] = []
                for day in batch:
                    try:
                        conn.execute(f"ATTACH DATABASE ? AS f{len(attached)}", [day.attach_target])
                    except sqlite3.OperationalError:
                        if day.path.exists():
                            raise
                        # removed by retention in another process since this query read
                        # the floor: its events are below the floor now
                        continue
                    attached.append(day)
                if not attached:
                    return []
                parts = [
                    day.group_statement(query, schema=f"f{i}") for i, day in enumerate(attached)
                ]
                sql, params = union_statement(parts, keys)
                rows = conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"SQLite read from {self.directory} failed: {exc}") from None
            finally:
                conn.close()
            return [
                (0, tuple(r[:keys]), r[keys], r[keys + 1], r[keys + 2], r[keys + 3]) for r in rows
            ]

        parts = [run(batch) for batch in batches]
        return merge_groups(parts) if len(parts) > 1 else parts[0]

    def _newest_from_one_file(
        self, files: list[SQLiteStore], query: AggregateQuery
    ) -> list[GroupRow]:
        """Every group of ``query`` over ``files`` (oldest first) with its newest event:
        counts and times from each file, the newest event's id only from the file that
        holds the group's newest time. The object index gives counts and times without
        reading the events, but an id costs a table page for every matching row: a
        diagnostic's current-state query over a week (43 pods, 27 files, 10M events not
        in the page cache) read 150-450 ms a file with ids against 24-51 ms without."""
        bare = dataclasses.replace(query, latest=False, latest_id=False)
        per_file = [day.group_rows(bare) for day in files]
        holder: dict[tuple[str, ...], int] = {}
        for i, rows in enumerate(per_file):  # files hold disjoint times, oldest first
            for row in rows:
                holder[row[1]] = i
        wanted: dict[int, set[tuple[str, ...]]] = {}
        for key, i in holder.items():
            wanted.setdefault(i, set()).add(key)
        newest: dict[tuple[str, ...], str | None] = {}
        for i, keys in sorted(wanted.items()):
            only = dataclasses.replace(query, filter=narrowed(query.filter, query.group_by, keys))
            for row in files[i].group_rows(only):
                if row[1] in keys:
                    newest[row[1]] = row[5]
        return [(*row[:5], newest.get(row[1])) for row in merge_groups(per_file)]

    def _newest_groups(
        self, days: list[SQLiteStore], whole: set[SQLiteStore], query: AggregateQuery
    ) -> list[GroupRow]:
        """The groups of ``query`` (``order="last"``, not sliced) over ``days``: its
        ``limit`` newest exactly, and one more when there are more, without reading
        every group of every file.

        Walking the files newest first, a group first met in a file is older than every
        group met before it (files hold disjoint times), so once more than ``limit``
        groups are met the older files can only add to the counts of the kept ones:
        they are asked for just those (:func:`.merge.narrowed`). A limit of more than
        :data:`_NARROW_GROUPS` would recount nearly every group of every file: such a
        query reads them all at once, as :meth:`_all_groups` does (and keeps them)."""
        limit = query.limit
        inside = [day for day in days if day in whole]
        versions = self._versions(inside) if inside else ()
        if limit > _NARROW_GROUPS or (
            versions and self._groups.get(versions, _untimed(query)) is not None
        ):
            # many groups kept would be recounted in every older file anyway: every
            # group of every file, as the cached path reads them
            return self._all_groups(days, whole, query, versions or None)
        every_group = dataclasses.replace(query, limit=_ALL_GROUPS)
        read: list[list[GroupRow]] = []  # every group of each file met, newest first
        older: list[SQLiteStore] = []  # the files not read
        keys: set[tuple[str, ...]] = set()
        newest_first = days[::-1]
        for n, day in enumerate(newest_first):
            # every group, not the newest limit + 1: SQLite groups all of them either way
            rows = day.group_rows(every_group)
            read.append(rows)
            keys.update(r[1] for r in rows)
            if len(keys) > limit:
                older = newest_first[n + 1 :]
                break
        if not older:
            if versions and query.latest_id:  # every group of every file was read (as
                # the kept ones are: with their newest events): the next asks none
                met = zip(newest_first, read, strict=True)
                self._groups.put(
                    versions, _untimed(query), merge_groups(r for d, r in met if d in whole)
                )
            return merge_groups(read)
        merged = merge_groups(read)
        ranked, _ = rank_groups(merged, order="last", limit=limit + 1)
        kept = {r[1] for r in ranked[:limit]}
        only = dataclasses.replace(
            query, filter=narrowed(query.filter, query.group_by, kept), limit=_ALL_GROUPS
        )
        recounted = [day.group_rows(only) for day in older]
        exact = merge_groups([[r for r in rows if r[1] in kept] for rows in [merged, *recounted]])
        return [*exact, *ranked[limit:]]  # the one more says there are more

    def documents(self, ids: Sequence[str]) -> dict[str, EventDocument]:
        if not ids:
            return {}
        with self._reading(self._floor(), MAX_MICROS) as days:
            return self._documents_in(days, list(dict.fromkeys(ids)))

    def _documents_in(self, days: list[SQLiteStore], ids: list[str]) -> dict[str, EventDocument]:
        out: dict[str, EventDocument] = {}
        wanted = list(dict.fromkeys(ids))
        floor = self._floor()
        for day in reversed(days):  # the newest days hold what is asked for most
            if not wanted:
                break
            found = day.documents(wanted)
            for ident, doc in found.items():
                if to_micros(parse_rfc3339(doc["timestamp"])) >= floor:
                    out[ident] = doc
            wanted = [i for i in wanted if i not in found]
        return out

    def health(self) -> Health:
        try:
            floor = self._floor()
            with self._reading(floor, MAX_MICROS) as days:
                count = sum(day.event_count() for day in days) - self._hidden_count(days, floor)
                oldest = newest = None
                for day in days:
                    oldest = day.time_bounds(floor)[0]
                    if oldest is not None:
                        break
                for day in reversed(days):
                    newest = day.time_bounds()[1]
                    if newest is not None:
                        break
        except StoreError as exc:
            return Health(
                ok=False, store=self.kind, detail={"path": str(self.path), "error": str(exc)}
            )
        detail: dict[str, Any] = {
            "path": str(self.path),
            "readOnly": self.read_only,
            "schemaVersion": layout.CATALOG_VERSION,
            "layout": "daily",
            "days": len({name[:10] for name in self._known}),
            "files": len(self._known),
            "events": count,
            "oldest": format_rfc3339(from_micros(oldest)) if oldest is not None else None,
            "newest": format_rfc3339(from_micros(newest)) if newest is not None else None,
        }
        if floor > MIN_MICROS:
            detail["retainedFrom"] = format_rfc3339(from_micros(floor))
        return Health(ok=True, store=self.kind, detail=detail)

    def _hidden_count(self, days: list[SQLiteStore], floor: int) -> int:
        """Events of the floor's day before the floor (counted once per floor)."""
        if floor == MIN_MICROS or not days:
            return 0
        if self._hidden[0] != floor:
            first = days[0]
            self._hidden = (floor, first.count_between(MIN_MICROS, floor))
        return self._hidden[1]

    # -- writes ----------------------------------------------------------------

    def _refuse_writes(self) -> None:
        if self.read_only:
            raise StoreError(f"SQLite store {self.path} is open read-only")

    def write(self, docs: Sequence[EventDocument]) -> WriteResult:
        return self.write_prepared([prepare_row(doc) for doc in docs])

    def write_prepared(self, rows: Sequence[PreparedRow | WriteError]) -> WriteResult:
        """Each row to the day of its time, unless another day holds its id; a row older
        than the retention floor is refused (it would never be answered)."""
        self._refuse_writes()
        result = WriteResult()
        fresh: list[PreparedRow] = []
        seen: set[str] = set()
        floor = self._floor()
        for item in rows:
            if isinstance(item, WriteError):
                result.errors.append(item)
            elif item[1][1] < floor:
                result.errors.append(WriteError(id=item[0], reason=_expired(floor)))
            elif item[0] in seen:
                result.duplicates += 1
            else:
                seen.add(item[0])
                fresh.append(item)
        if not fresh:
            return result
        self._refresh()
        with self._write_lock:
            by_part: dict[str, list[PreparedRow]] = {}
            with self._lock:
                for item in fresh:
                    by_part.setdefault(self._part_for(item[1][1]), []).append(item)
            pending = sorted(by_part.items())
            while pending:
                name, items = pending.pop(0)
                elsewhere = self._stored_elsewhere(name, [item[0] for item in items])
                if elsewhere:
                    result.duplicates += len(elsewhere)
                    items = [item for item in items if item[0] not in elsewhere]
                if not items:
                    continue
                with self._lock:
                    store = self._open_day(name)
                later = self._split_off(name, store, items)
                if later is not None:  # the file is full: later times go to a new one
                    items, (next_name, rest) = later
                    pending.insert(0, (next_name, rest))
                    if not items:
                        continue
                self._bulk_moves_to(name)
                result.merge(store.write_prepared(items))
                known = self._filters.get(name)
                if known is not None:
                    known.add(item[0] for item in items)
        return result

    def _split_off(
        self, name: str, store: SQLiteStore, items: list[PreparedRow]
    ) -> tuple[list[PreparedRow], tuple[str, list[PreparedRow]]] | None:
        """When ``name`` is its day's last file and holds :data:`PART_ROWS` events: the
        rows it keeps and those after its newest event, for a new file starting there."""
        with self._lock:
            i = self._known.index(name)
            last_of_day = (
                self._span(i)[1] == layout.midnight(self._starts[i]) + layout.DAY_MICROS - 1
            )
        if not last_of_day:
            return None
        count, newest = store.written_bounds()
        if count < self._part_rows or newest is None:
            return None
        start = newest + 1
        if layout.midnight(start) != layout.midnight(self._starts[i]):
            return None
        later = [item for item in items if item[1][1] >= start]
        if not later:
            return None
        kept = [item for item in items if item[1][1] < start]
        return kept, (layout.part_name(start), later)

    def _bulk_moves_to(self, day: str) -> None:
        """A bulk load keeps one day's rows in an open transaction with a big page cache:
        the day it leaves is committed and its cache given back."""
        if not self._rows_per_commit or self._bulk_day == day:
            return
        previous, self._bulk_day = self._bulk_day, day
        holder = self._days.get(previous) if previous else None
        if holder is not None:
            holder.store.release_memory()

    def _stored_elsewhere(self, day: str, ids: list[str]) -> set[str]:
        """Which of ``ids`` the other days hold (with the write lock held)."""
        found: set[str] = set()
        probe: Probe | None = None
        floor = self._floor()
        for i in range(len(self._known) - 1, -1, -1):
            other = self._known[i]
            if other == day or self._span(i)[1] < floor:
                continue
            id_filter = self._filter(other)
            if probe is None:
                probe = Probe(ids)
            maybe = id_filter.maybe(probe)
            if maybe:
                with self._lock:
                    store = self._open_day(other)
                found |= store.existing_ids(maybe)
        return found

    def _filter(self, day: str) -> IdFilter:
        """The day's id filter, up to date with what is committed there."""
        with self._lock:
            store = self._open_day(day)
        if self._rows_per_commit and self._bulk_day == day:
            store.flush()
        id_filter = self._filters.get(day)
        if id_filter is None:
            id_filter = IdFilter.load(layout.filter_file(self.directory, day)) or IdFilter()
            self._filters[day] = id_filter
        ids, seq = store.ids_after(id_filter.seq)
        if ids:
            id_filter.add(ids)
            id_filter.seq = seq
        return id_filter

    def _save_filters(self) -> None:
        for day, id_filter in list(self._filters.items()):
            if id_filter.changed and day in self._days:
                try:
                    id_filter.save(layout.filter_file(self.directory, day))
                except OSError as exc:  # a cache: rebuilt from the day file when missing
                    log.warning("could not save the id filter of %s: %s", day, exc)

    def flush(self) -> None:
        """Commit every day's bulk-loaded rows."""
        self._refuse_writes()
        with self._write_lock:
            for holder in list(self._days.values()):
                holder.store.flush()
            self._save_filters()

    def delete_before(self, cutoff: datetime) -> int:
        """Raise the floor to ``cutoff`` (those events leave every answer now) and remove
        each file wholly before the floor; the number of events that left. Interrupted
        (a crash after the floor was raised), the next call removes what is left."""
        self._refuse_writes()
        limit = to_micros(cutoff)
        self._refresh()
        gone = 0
        with self._write_lock:
            old = self._floor()
            if limit > old:
                with self._reading(old, limit - 1) as covered:
                    for day_store in covered:
                        gone += day_store.count_between(old, limit)
                self._catalog.set_floor(limit)
                with self._reading(limit, limit) as boundary:
                    for day_store in boundary:  # its audit records go now, its events with it
                        day_store.delete_audit_before(cutoff)
            floor = max(old, limit)
            with self._lock:
                expired = [n for i, n in enumerate(self._known) if self._span(i)[1] < floor]
                for name in expired:
                    self._retire(name)
                    layout.remove_part(self.directory, name)
                self._set_known([n for n in self._known if n not in expired])
                if self._bulk_day in expired:
                    self._bulk_day = None
        if expired:
            log.info("retention removed %d file(s): %s", len(expired), ", ".join(expired))
        return gone

    # -- audit records ---------------------------------------------------------

    def write_audit(self, records: Sequence[AuditRecord]) -> AuditResult:
        """Each record to the day holding the version it names, else its request's day."""
        self._refuse_writes()
        result = AuditResult()
        if not records:
            return result
        self._refresh()
        by_day: dict[str, list[AuditRecord]] = {}
        with self._write_lock:
            for record in records:
                by_day.setdefault(self._audit_day(record), []).append(record)
            for day, group in sorted(by_day.items()):
                with self._lock:
                    store = self._open_day(day)
                result.merge(store.write_audit(group))
        return result

    def _audit_day(self, record: AuditRecord) -> str:
        if record.uid and record.resource_version:
            version = f"{record.uid}:{record.resource_version}"
            idents = [version, f"{version}:delete"]
            probe = Probe(idents)
            for day in reversed(self._known):
                maybe = self._filter(day).maybe(probe)
                if maybe:
                    with self._lock:
                        store = self._open_day(day)
                    if store.existing_ids(maybe):
                        return day
        with self._lock:
            return self._part_for(record.micros)

    def join_pending(self, *, start: datetime, end: datetime) -> AuditResult:
        self._refuse_writes()
        result = AuditResult()
        lo = to_micros(start - NEAREST_WINDOW)
        hi = to_micros(end + NEAREST_WINDOW)
        with self._write_lock, self._reading(lo, hi) as days:
            for day in days:
                result.merge(day.join_pending(start=start, end=end))
        return result

    # -- lifetime --------------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            return
        with self._write_lock:
            if not self.read_only:
                self._save_filters()
            with self._lock:
                self._closed = True
                for holder in self._days.values():
                    holder.store.close()
                self._days.clear()
        self._catalog.close()
