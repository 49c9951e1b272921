"""The Store protocol and the query types every store understands.

A store keeps event documents and answers four kinds of question: *which
events* (a filtered, ordered, paginated search), *how many and when* (a
group-by aggregation: count, first seen, last seen, latest document per group),
*is it alive* (health) and *forget the old* (retention). Everything else —
object history, the REST API, the diagnostics — is written once on top of this
protocol, so the embedded SQLite store and OpenSearch answer identically.

Ordering is always ``(timestamp, id)``, which makes pagination a keyset cursor
(:class:`Cursor`) that every store can serve (SQLite index range, OpenSearch
``search_after``) and that stays stable while new events arrive.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, runtime_checkable

import orjson

from kubetrail.events.audit import AuditRecord
from kubetrail.events.model import EventDocument
from kubetrail.events.timing import MAX_MICROS, MIN_MICROS, format_rfc3339

#: Keys a search can filter on and an aggregation can group by. Dotted names
#: are document paths; ``signal`` is one element of ``signals``.
GROUP_KEYS: tuple[str, ...] = (
    "namespace",
    "resourceType",
    "resourceName",
    "kind",
    "apiGroup",
    "verb",
    "user",
    "uid",
    "signal",
    "reason",
    "eventType",
    "fieldManager",
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
)


class StoreError(Exception):
    """A store failed; the message is one line a user can act on."""


class StoreUnavailable(StoreError):
    """The store cannot be reached or opened."""


class InvalidQuery(StoreError):
    """The query is not valid (an unknown group key, a bad cursor...)."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """Position after the last returned event in ``(timestamp, id)`` order."""

    ts: int  # microseconds since the epoch
    id: str

    def encode(self) -> str:
        raw = orjson.dumps([self.ts, self.id])
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            ts, ident = orjson.loads(raw)
        except (binascii.Error, ValueError, TypeError, orjson.JSONDecodeError):
            raise InvalidQuery(
                "cursor is not valid: pass the value of X-Next-Cursor as it is"
            ) from None
        if (
            not isinstance(ts, int)
            or isinstance(ts, bool)
            or not MIN_MICROS <= ts <= MAX_MICROS
            or not isinstance(ident, str)
        ):
            raise InvalidQuery("cursor is not valid: pass the value of X-Next-Cursor as it is")
        return cls(ts=ts, id=ident)


@dataclass(frozen=True, slots=True, kw_only=True)
class EventFilter:
    """Which events. Every tuple is any-of (empty: no condition); fields are and-ed.

    ``signal`` items ending in ``*`` match by prefix (``pod.waiting:*``).
    ``namespace`` ``""`` selects cluster-scoped objects.
    ``text`` is full-text: every word must occur; it is never parsed as query syntax.
    Times: ``start <= timestamp <= end``.
    """

    start: datetime | None = None
    end: datetime | None = None
    namespace: tuple[str, ...] = ()
    resource_type: tuple[str, ...] = ()
    name: tuple[str, ...] = ()
    kind: tuple[str, ...] = ()
    verb: tuple[str, ...] = ()
    uid: tuple[str, ...] = ()
    signal: tuple[str, ...] = ()
    reason: tuple[str, ...] = ()
    event_type: tuple[str, ...] = ()
    field_manager: tuple[str, ...] = ()
    user: tuple[str, ...] = ()
    involved_kind: tuple[str, ...] = ()
    involved_namespace: tuple[str, ...] = ()
    involved_name: tuple[str, ...] = ()
    involved_uid: tuple[str, ...] = ()
    snapshot: bool | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EventQuery:
    filter: EventFilter = field(default_factory=EventFilter)
    order: Literal["asc", "desc"] = "asc"
    limit: int = 1000
    after: Cursor | None = None
    #: the parts of each document returned, dotted paths as
    #: :func:`~kubetrail.events.projection.project` reads them; empty: whole documents
    fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EventPage:
    items: list[EventDocument]
    next: Cursor | None  # set when more events may follow


@dataclass(frozen=True, slots=True, kw_only=True)
class AggregateQuery:
    """Group matching events by ``group_by`` keys (see :data:`GROUP_KEYS`).

    Buckets are ordered by ``order`` (``count``: most events first; ``last``:
    most recently seen first), ties by key, ascending.
    """

    filter: EventFilter = field(default_factory=EventFilter)
    group_by: tuple[str, ...]
    order: Literal["count", "last"] = "count"
    limit: int = 100
    latest: bool = True  # include the newest document of each bucket
    latest_id: bool = False  # the newest document's id only (``Bucket.latest_id``)
    #: also split the groups by time: ``Bucket.key["time"]`` is the start (RFC3339) of
    #: the ``every``-wide slice of ``[filter.start, filter.end]`` its events fall in;
    #: ``order`` and ``limit`` apply within each slice (``truncated``: some slice had
    #: more), the slices come oldest first. One query for a histogram of many slices.
    every: timedelta | None = None


@dataclass(frozen=True, slots=True)
class Bucket:
    key: dict[str, str]
    count: int
    first_seen: str  # RFC3339
    last_seen: str
    latest: EventDocument | None = None
    latest_id: str | None = None  # the id of the newest document, even without ``latest``


@dataclass(frozen=True, slots=True)
class AggregateResult:
    buckets: list[Bucket]
    truncated: bool  # more groups matched than ``limit``


@dataclass(frozen=True, slots=True)
class WriteError:
    id: str
    reason: str


@dataclass(slots=True)
class WriteResult:
    stored: int = 0
    duplicates: int = 0
    errors: list[WriteError] = field(default_factory=list)
    #: pending audit records joined to these documents (:class:`AuditJoin`)
    joined_exact: int = 0
    joined_nearest: int = 0

    def merge(self, other: WriteResult) -> None:
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.errors.extend(other.errors)
        self.joined_exact += other.joined_exact
        self.joined_nearest += other.joined_nearest


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    store: str  # "sqlite", "opensearch"
    detail: dict[str, Any]


@runtime_checkable
class Store(Protocol):
    """What every store implements. Methods are synchronous and thread-safe."""

    kind: str

    def write(self, docs: Sequence[EventDocument]) -> WriteResult:
        """Store documents; an ``id`` already stored counts as a duplicate, not an error.
        A store that is also :class:`AuditJoin` joins its pending audit records to them."""
        ...

    def search(self, query: EventQuery) -> EventPage: ...

    def aggregate(self, query: AggregateQuery) -> AggregateResult: ...

    def documents(self, ids: Sequence[str]) -> dict[str, EventDocument]:
        """The stored documents with these ids (unknown ids are left out)."""
        ...

    def delete_before(self, cutoff: datetime) -> int:
        """Retention: delete events older than ``cutoff``; returns how many."""
        ...

    def health(self) -> Health: ...

    def close(self) -> None: ...


@runtime_checkable
class PreparedWrites(Protocol):
    """A store that can take documents turned into rows elsewhere (parallel ingest:
    worker processes prepare, the store only writes).

    ``prepare`` is a pure module-level function (so it can be sent to a worker
    process) returning a row, or a :class:`WriteError` for a document that cannot
    be stored; ``write_prepared`` has the semantics of ``Store.write``, except
    that a store opened for a bulk load may hold written rows in an open
    transaction until ``flush``, which commits them (or raises)."""

    prepare: Callable[[EventDocument], Any]

    def write_prepared(self, rows: Sequence[Any]) -> WriteResult: ...

    def flush(self) -> None: ...


@dataclass(frozen=True, slots=True)
class RawPage:
    """A page of documents as JSON bytes, exactly as ``orjson.dumps`` of the
    document (what :meth:`Store.search` would return, not yet parsed)."""

    items: list[bytes]
    next: Cursor | None


@runtime_checkable
class RawSearch(Protocol):
    """A store that keeps documents as JSON and can hand pages over unparsed: the
    REST API then sends them as they are instead of parsing and re-encoding
    thousands of documents per page."""

    def search_raw(self, query: EventQuery) -> RawPage: ...


@dataclass(slots=True)
class AuditResult:
    """What :meth:`AuditJoin.write_audit` did with a batch of audit records."""

    stored: int = 0  # records kept
    duplicates: int = 0  # records kept before (same auditID): left as they were
    exact: int = 0  # versions joined by their resourceVersion
    nearest: int = 0  # versions joined by object, verb and time
    pending: int = 0  # records kept whose version is not stored (yet)

    def merge(self, other: AuditResult) -> None:
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.exact += other.exact
        self.nearest += other.nearest
        self.pending += other.pending


@runtime_checkable
class AuditJoin(Protocol):
    """A store that keeps audit records and joins them to the versions it stores, so a
    document's ``user`` is who made that change (the rules: :mod:`kubetrail.events.audit`).

    :meth:`write_audit` keeps each record once (idempotent on ``audit_id``) and joins it to
    its stored version, updating that document's ``user``, ``userSource``, ``auditID`` and
    ``impersonatedBy``. A record whose version is not stored yet stays *pending*, and
    :meth:`Store.write` joins pending records to the documents it stores: whichever comes
    first, the documents end up the same. Writes of documents never fail because of a join.
    :meth:`Store.delete_before` deletes records as old as the events it deletes."""

    def write_audit(self, records: Sequence[AuditRecord]) -> AuditResult: ...

    def join_pending(self, *, start: datetime, end: datetime) -> AuditResult:
        """Join the pending records of requests made between ``start`` and ``end`` (give
        or take the nearest-join window) to the versions stored by now; the joins made.
        For documents whose write could not join them (rows prepared elsewhere, read
        after a bulk load); what :meth:`Store.write` joined needs no second look."""
        ...


@dataclass(frozen=True, slots=True)
class IndexChanges:
    """What :meth:`IndexRetention.manage_indices` did: the new write indices it rolled
    over to, the indices it deleted, and what it could not do."""

    rolled_over: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    #: what could not be done, one line each (the rest was still done)
    warnings: list[str] = field(default_factory=list)


@runtime_checkable
class IndexRetention(Protocol):
    """A store that keeps events in time-ordered indices and may have to roll them over
    and drop whole expired ones itself (OpenSearch without ISM): far cheaper than
    deleting their events one by one, and what frees the disk. Retention
    (:func:`~kubetrail.store.retention.enforce_retention`) calls it before
    :meth:`Store.delete_before`."""

    def manage_indices(self, *, days: int, now: datetime) -> IndexChanges:
        """When nothing else does: roll the write index over when it is due, delete the
        indices whose events are all older than the retention (never the one being
        written to); ``days`` when the store has no retention of its own."""
        ...


#: the most time slices one aggregation may be split into (``AggregateQuery.every``)
MAX_SLICES = 10_000


def time_slices(query: AggregateQuery) -> list[tuple[datetime, datetime]]:
    """The ``every``-wide slices of the query's range, each ``(start, end)`` with its end
    inclusive (a microsecond before the next slice's start), the last ending at
    ``filter.end``; refused when the query cannot be sliced."""
    every, start, end = query.every, query.filter.start, query.filter.end
    if every is None:
        return []
    if start is None or end is None:
        raise InvalidQuery("a time-sliced aggregation needs a start and an end")
    if every <= timedelta(0):
        raise InvalidQuery("every must be a positive duration")
    if (end - start) / every > MAX_SLICES:
        raise InvalidQuery(f"at most {MAX_SLICES} time slices; make every wider")
    out = []
    at = start
    while at <= end:
        nxt = at + every
        out.append((at, min(end, nxt - timedelta(microseconds=1))))
        at = nxt
    return out


def aggregate_slice_by_slice(
    aggregate: Callable[[AggregateQuery], AggregateResult], query: AggregateQuery
) -> AggregateResult:
    """``AggregateQuery.every`` as one aggregation per slice, for a store that cannot
    split by time in one query."""
    buckets: list[Bucket] = []
    truncated = False
    for start, end in time_slices(query):
        part = aggregate(
            replace(query, every=None, filter=replace(query.filter, start=start, end=end))
        )
        truncated = truncated or part.truncated
        label = format_rfc3339(start)
        buckets.extend(replace(b, key={**b.key, "time": label}) for b in part.buckets)
    return AggregateResult(buckets=buckets, truncated=truncated)


def check_group_keys(keys: Sequence[str]) -> None:
    if not keys:
        raise InvalidQuery("group_by needs at least one key")
    unknown = [k for k in keys if k not in GROUP_KEYS]
    if unknown:
        raise InvalidQuery(
            f"cannot group by {', '.join(unknown)}; known keys: {', '.join(GROUP_KEYS)}"
        )
