"""The timeline page: one swimlane per object over the page's range, each lane's
versions and Warning Events counted per time bucket by the store, drawn as marks.

Lanes are grouped by namespace, then by owner (``metadata.ownerReferences`` of each
object's newest stored version: Deployment → ReplicaSet → Pods, CronJob → Job → Pods),
the owner first and its children indented under it. Kubernetes Events are not lanes:
a Warning Event is a mark on the lane of the object it is about (``involvedObject``).

The browser never gets raw events. The store counts them (:class:`AggregateQuery`):

- one aggregation (rarely up to four) picks the lanes: the objects with a version
  matching the filters in the range, most recently changed first, at most
  :data:`LANE_CAP` of them (the page says how many were left out, and which filter
  narrows them). The most recently changed objects of a range are those of its tail,
  so they are looked for in its last 1/64 first, then 1/16, 1/4 and the whole range,
  until one holds more candidates than the cap (:func:`choose_lanes`): the same lanes
  as one aggregation over the range, for the cost of a few minutes of events
  (a busy day: ~500,000 events grouped, 1.3 s, against ~8,000, 0.07 s);
- one reads the newest version of each lane (its owner references);
- three count the lanes' versions by verb, their signals, and the Warning Events about
  them, each split by time into the buckets (``AggregateQuery.every`` =
  :func:`bucket_step`: 60-100 buckets across the range); these four run side by side.

So a page costs five to eight aggregations whatever the number of events or buckets,
and a lane has at most one mark per bucket: its most severe kind (:data:`SEVERITY`),
its counts shown on hover. The marks reach the browser as one compact JSON data block
(:mod:`kubetrail.ui.marks`) that the page's script draws, not as thousands of elements.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from kubetrail.diagnostics import TimeRange
from kubetrail.events.resources import plural_for_kind
from kubetrail.events.timing import format_rfc3339, parse_rfc3339
from kubetrail.queries import EventParams, InvalidParameter, event_query
from kubetrail.store.base import AggregateQuery, Bucket, EventFilter, Store
from kubetrail.ui.links import object_url
from kubetrail.ui.params import MAX_WINDOW, PageError

#: the most lanes a page draws (the most recently changed objects)
LANE_CAP = 200
#: the most objects read to choose the lanes from
LANE_SCAN = 5000
#: the lanes are looked for in the range's last 1/64, then 1/16, 1/4, all of it
LANE_WINDOWS = (64, 16, 4, 1)
#: bucket widths, seconds: the smallest giving at most MAX_BUCKETS across the range
STEPS = (
    5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400
)  # fmt: skip
MAX_BUCKETS = 100
#: the narrowest range zooming in reaches
MIN_WINDOW = timedelta(minutes=5)
WIDTH = 1000  # the lanes' SVG viewBox width
MARK_GAP = 0.15  # of a bucket's width, between marks
#: filters of the URL (the API's names); ``name`` matches a substring of the object's name
FILTERS = ("namespace", "kind", "resourceType", "name", "signal", "q")
#: mark kinds, least severe first: a bucket's mark is its most severe kind
SEVERITY = ("listed", "changed", "created", "deleted", "warning", "signal")
_VERB_KIND = {"create": "created", "update": "changed", "patch": "changed", "delete": "deleted"}
#: core Events: marks on the lane of the object they are about, never lanes
EVENT_TYPES = frozenset({"events"})
_NAMESPACE = re.compile(r"^(_|[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?)$")
_KIND = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,62}$")
_RESOURCE_TYPE = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")
#: a document id: ``uid:resourceVersion``, ``:delete`` for a deletion
_DOC_ID = re.compile(r"^[^:]+:([0-9]+)(:delete)?$")

LaneKey = tuple[str, str, str]  # (namespace, resourceType, name)


@dataclass(frozen=True, slots=True)
class Mark:
    bucket: int  # the index of its bucket (:attr:`Timeline.columns`)
    kind: str  # one of SEVERITY
    counts: str  # what it holds, shown on hover after its bucket's time
    version: str = ""  # the resourceVersion it opens the object's page at ("": the page)


@dataclass(frozen=True, slots=True)
class Column:
    """A bucket across the lanes: where its marks are drawn, and its time."""

    x: float
    width: float
    label: str  # "2026-11-25T09:10:00Z to 2026-11-25T09:14:59.999999Z"


@dataclass(slots=True)
class Lane:
    namespace: str
    resource_type: str
    name: str
    kind: str
    url: str
    depth: int = 0  # 0: no owner among the lanes; 1: owned by the lane above...
    index: int = 0  # its place on the page, top to bottom (its marks in the JSON)
    owner: str = ""  # "ReplicaSet checkout-abc" when its owner is not a lane
    marks: list[Mark] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Group:
    namespace: str  # "" for cluster-scoped objects
    lanes: list[Lane]


@dataclass(frozen=True, slots=True)
class Timeline:
    groups: list[Group]
    lanes: int
    left_out: int  # objects that matched but got no lane (LANE_CAP)
    #: left_out is a lower bound: the lanes were found in the range's tail, or among
    #: the LANE_SCAN objects changed last
    left_out_at_least: bool
    buckets: int
    step: str  # a bucket's width, e.g. "5m"
    width: int
    marks: int
    queries: int  # aggregations asked of the store
    columns: list[Column] = field(default_factory=list)


# ---------------------------------------------------------------- parameters


def filters(params: Mapping[str, str]) -> dict[str, str]:
    """The page's filters, stripped (absent ones ``""``)."""
    return {k: (params.get(k) or "").strip() for k in FILTERS}


def lane_filter(rng: TimeRange, values: Mapping[str, str]) -> EventFilter:
    """The documents whose objects get a lane; :class:`PageError` (400) for a bad filter."""
    for key, pattern, example in (
        ("namespace", _NAMESPACE, "shop, or _ for cluster-scoped objects"),
        ("kind", _KIND, "Deployment"),
        ("resourceType", _RESOURCE_TYPE, "deployments"),
    ):
        if values[key] and not pattern.match(values[key]):
            raise PageError(400, f"{key} {values[key]!r} is not valid: e.g. {example}")
    if len(values["name"]) > 253:
        raise PageError(400, "name must be at most 253 characters")
    if len(values["signal"]) > 256 or len(values["q"]) > 1024:
        raise PageError(400, "signal or q is too long")
    try:
        query = event_query(
            EventParams.from_mapping(
                {
                    "namespace": values["namespace"],
                    "kind": values["kind"],
                    "resourceType": values["resourceType"],
                    "signal": values["signal"],
                    "q": values["q"],
                    "start": format_rfc3339(rng.start),
                    "end": format_rfc3339(rng.end),
                }
            ),
            default_limit=1,
            max_limit=1,
        )
    except InvalidParameter as exc:
        raise PageError(400, str(exc)) from None
    return query.filter


def bucket_step(rng: TimeRange) -> timedelta:
    """The narrowest of :data:`STEPS` that covers ``rng`` in at most :data:`MAX_BUCKETS`."""
    seconds = (rng.end - rng.start).total_seconds()
    for step in STEPS:
        if seconds / step <= MAX_BUCKETS:
            return timedelta(seconds=step)
    return timedelta(seconds=math.ceil(seconds / MAX_BUCKETS))


def buckets_of(rng: TimeRange) -> list[TimeRange]:
    """``rng`` cut into buckets of :func:`bucket_step` from its start (the last one
    shorter); each ends a microsecond before the next (a filter's end is inclusive)."""
    step = bucket_step(rng)
    n = max(1, math.ceil((rng.end - rng.start) / step))
    out = []
    for i in range(n):
        start = rng.start + step * i
        end = rng.end if i == n - 1 else start + step - timedelta(microseconds=1)
        out.append(TimeRange(start=start, end=end))
    return out


def step_label(step: timedelta) -> str:
    seconds = int(step.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def navigation(rng: TimeRange) -> dict[str, dict[str, str]]:
    """The ranges of the zoom and pan links: zoom in (half the range) and out (twice)
    around the centre, earlier and later by half the range."""
    span = rng.end - rng.start
    centre = rng.start + span / 2
    half = max(span / 4, MIN_WINDOW / 2)
    wide = min(span, MAX_WINDOW / 2)
    shift = span / 2

    def window(start: datetime, end: datetime) -> dict[str, str]:
        return {"from": format_rfc3339(start), "to": format_rfc3339(end)}

    return {
        "earlier": window(rng.start - shift, rng.end - shift),
        "zoom in": window(centre - half, centre + half),
        "zoom out": window(centre - wide, centre + wide),
        "later": window(rng.start + shift, rng.end + shift),
    }


# ---------------------------------------------------------------- the page


def timeline(
    store: Store,
    rng: TimeRange,
    params: Mapping[str, str],
    *,
    lane_cap: int | None = None,
) -> Timeline:
    """The timeline of the objects matching ``params`` (:data:`FILTERS`) in ``rng``."""
    cap = LANE_CAP if lane_cap is None else lane_cap
    values = filters(params)
    found = choose_lanes(store, rng, lane_filter(rng, values), needle=values["name"], cap=cap)
    chosen = found.candidates[:cap]
    lanes = {
        (k["namespace"], k["resourceType"], k["resourceName"]): Lane(
            namespace=k["namespace"],
            resource_type=k["resourceType"],
            name=k["resourceName"],
            kind=k["kind"],
            url=object_url(k["namespace"], k["resourceType"], k["resourceName"]),
        )
        for k in chosen
    }
    queries = found.queries
    owners: dict[LaneKey, LaneKey] = {}
    owner_names: dict[LaneKey, str] = {}
    buckets = buckets_of(rng)
    if lanes:
        # the owners and the three counts: independent, each mostly time in the store
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="ui-timeline") as pool:
            asked_owners = pool.submit(owner_refs, store, rng, lanes)
            queries += add_marks(store, rng, buckets, lanes, pool=pool)
            owners, owner_names = asked_owners.result()
        queries += 1
    groups = arrange(lanes, owners, owner_names)
    for index, lane in enumerate(lane for group in groups for lane in group.lanes):
        lane.index = index
    return Timeline(
        groups=groups,
        lanes=len(lanes),
        left_out=len(found.candidates) - len(chosen),
        left_out_at_least=found.partial,
        buckets=len(buckets),
        step=step_label(bucket_step(rng)),
        width=WIDTH,
        marks=sum(len(lane.marks) for lane in lanes.values()),
        queries=queries,
        columns=columns(rng, buckets),
    )


@dataclass(frozen=True, slots=True)
class Candidates:
    """The objects that may get a lane, most recently changed first (their keys)."""

    candidates: list[dict[str, str]]
    partial: bool  # more may have matched: in the range's head, or beyond LANE_SCAN
    queries: int  # aggregations asked


def choose_lanes(
    store: Store, rng: TimeRange, flt: EventFilter, *, needle: str, cap: int
) -> Candidates:
    """The objects matching ``flt`` (and whose name holds ``needle``), most recently
    changed first: the first ``cap`` are the lanes.

    Looked for in the range's tail (:data:`LANE_WINDOWS`), widening it until it holds
    more than ``cap`` candidates or :data:`LANE_SCAN` objects, or is the whole range.
    The first ``cap`` are then the same as one aggregation over the whole range would
    give: an object changed last in the tail is ranked by that change, before every
    object changed last earlier, and a scan that stops at ``LANE_SCAN`` objects stops
    at the same ones. Only the count of those left out is then a lower bound."""
    span = rng.end - rng.start
    queries = 0
    for divisor in LANE_WINDOWS:
        start = max(rng.start, rng.end - span / divisor)
        found = store.aggregate(
            AggregateQuery(
                filter=replace(flt, start=start),
                group_by=("namespace", "resourceType", "resourceName", "kind"),
                order="last",
                limit=LANE_SCAN,
                latest=False,
            )
        )
        queries += 1
        candidates = [
            b.key
            for b in found.buckets
            if b.key["resourceType"] not in EVENT_TYPES and needle in b.key["resourceName"]
        ]
        whole = start <= rng.start
        if whole or found.truncated or len(candidates) > cap:
            break
    return Candidates(candidates=candidates, partial=found.truncated or not whole, queries=queries)


def columns(rng: TimeRange, buckets: list[TimeRange]) -> list[Column]:
    """Where each bucket's marks are drawn across :data:`WIDTH`, with a gap
    (:data:`MARK_GAP`) between neighbours, and its time."""
    span = (rng.end - rng.start).total_seconds() or 1.0
    step = bucket_step(rng)
    out = []
    for bucket in buckets:
        x = (bucket.start - rng.start).total_seconds() / span * WIDTH
        end = min(bucket.start + step, rng.end)
        width = (end - bucket.start).total_seconds() / span * WIDTH
        label = f"{format_rfc3339(bucket.start)} to {format_rfc3339(bucket.end)}"
        out.append(
            Column(x=round(x, 2), width=round(max(width * (1 - MARK_GAP), 0.5), 2), label=label)
        )
    return out


def lanes_filter(lanes: Mapping[LaneKey, Lane], start: datetime, end: datetime) -> EventFilter:
    """The lanes' documents in a time range: a superset (any of their namespaces, types and
    names), cut down to the lanes by the caller."""
    return EventFilter(
        start=start,
        end=end,
        namespace=tuple(sorted({k[0] for k in lanes})),
        resource_type=tuple(sorted({k[1] for k in lanes})),
        name=tuple(sorted({k[2] for k in lanes})),
    )


def owner_refs(
    store: Store, rng: TimeRange, lanes: Mapping[LaneKey, Lane]
) -> tuple[dict[LaneKey, LaneKey], dict[LaneKey, str]]:
    """Each lane's owner (its controller, else its first owner reference), from its
    newest version in the range: ``(lane → owner's key, lane → "Kind name")``."""
    result = store.aggregate(
        AggregateQuery(
            filter=lanes_filter(lanes, rng.start, rng.end),
            group_by=("namespace", "resourceType", "resourceName"),
            order="last",
            limit=LANE_SCAN,
            latest=True,
        )
    )
    owners: dict[LaneKey, LaneKey] = {}
    names: dict[LaneKey, str] = {}
    for b in result.buckets:
        key = (b.key["namespace"], b.key["resourceType"], b.key["resourceName"])
        if key not in lanes or b.latest is None:
            continue
        ref = owner_ref(b.latest.get("objectChanges") or {})
        if ref is None:
            continue
        kind, name = ref
        owners[key] = (key[0], plural_for_kind(kind), name)
        names[key] = f"{kind} {name}"
    return owners, names


def owner_ref(obj: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(kind, name)`` of an object's controller (else its first owner), or ``None``."""
    metadata = obj.get("metadata")
    refs = metadata.get("ownerReferences") if isinstance(metadata, Mapping) else None
    if not isinstance(refs, list):
        return None
    refs = [r for r in refs if isinstance(r, Mapping) and r.get("kind") and r.get("name")]
    if not refs:
        return None
    ref = next((r for r in refs if r.get("controller")), refs[0])
    return str(ref["kind"]), str(ref["name"])


def arrange(
    lanes: Mapping[LaneKey, Lane],
    owners: Mapping[LaneKey, LaneKey],
    owner_names: Mapping[LaneKey, str],
) -> list[Group]:
    """The lanes by namespace (cluster-scoped first), each owner followed by the lanes
    it owns, indented; roots and siblings by name."""
    children: dict[LaneKey, list[LaneKey]] = {}
    roots: list[LaneKey] = []
    for key in lanes:
        owner = owners.get(key)
        if owner is not None and owner in lanes and owner != key:
            children.setdefault(owner, []).append(key)
        else:
            roots.append(key)
            if key in owner_names:
                lanes[key].owner = owner_names[key]
    order = lambda k: (k[2], k[1])  # noqa: E731
    by_namespace: dict[str, list[Lane]] = {}
    placed: set[LaneKey] = set()

    def place(key: LaneKey, depth: int) -> None:
        if key in placed:
            return
        placed.add(key)
        lane = lanes[key]
        lane.depth = depth
        by_namespace.setdefault(key[0], []).append(lane)
        for child in sorted(children.get(key, ()), key=order):
            place(child, depth + 1)

    for key in sorted(roots, key=order):
        place(key, 0)
    for key in sorted(set(lanes) - placed, key=order):  # owners in a cycle
        place(key, 0)
    return [Group(namespace=ns, lanes=by_namespace[ns]) for ns in sorted(by_namespace)]


# ---------------------------------------------------------------- the marks


@dataclass(slots=True)
class _Counts:
    verbs: dict[str, int] = field(default_factory=dict)  # mark kind → versions
    signals: dict[str, int] = field(default_factory=dict)  # signal → versions
    warnings: int = 0
    latest_id: str = ""

    @property
    def versions(self) -> int:
        return sum(self.verbs.values())

    @property
    def kind(self) -> str:
        kinds = [*self.verbs, *(["signal"] if self.signals else [])]
        kinds += ["warning"] if self.warnings else []
        return max(kinds, key=SEVERITY.index)


def add_marks(
    store: Store,
    rng: TimeRange,
    buckets: list[TimeRange],
    lanes: Mapping[LaneKey, Lane],
    *,
    pool: ThreadPoolExecutor | None = None,
) -> int:
    """Count each lane's versions, signals and Warning Events per bucket (three
    aggregations split by time, ``every`` = the buckets' step, asked side by side in
    ``pool``), and give each lane a mark per bucket with any; the number of
    aggregations asked."""
    if pool is None:
        with ThreadPoolExecutor(max_workers=3, thread_name_prefix="ui-timeline") as own:
            return add_marks(store, rng, buckets, lanes, pool=own)
    names = tuple(sorted({k[2] for k in lanes}))
    limit = max(100, 20 * len(lanes))  # groups per bucket
    step = bucket_step(rng)
    flt = lanes_filter(lanes, rng.start, rng.end)
    counts: list[dict[LaneKey, _Counts]] = [{} for _ in buckets]

    slices: dict[str, dict[LaneKey, _Counts]] = {}  # a slice's time → its bucket's counts

    def at(b: Bucket) -> dict[LaneKey, _Counts]:
        label = b.key["time"]
        found = slices.get(label)
        if found is None:
            # an event at the range's very end falls in a slice of its own: the last bucket's
            index = int((parse_rfc3339(label) - rng.start) / step)
            found = slices[label] = counts[min(max(index, 0), len(buckets) - 1)]
        return found

    # three independent counts, each mostly time in the store: side by side
    asked_versions = pool.submit(
        _aggregate,
        store,
        EventFilter(**{**_fields(flt), "snapshot": False}),
        ("namespace", "resourceType", "resourceName", "verb"),
        limit,
        step,
        latest_id=True,
    )
    # "*": any signal; said, it lets a store read its signal index by (signal, time)
    asked_signals = pool.submit(
        _aggregate,
        store,
        EventFilter(**{**_fields(flt), "signal": ("*",)}),
        ("namespace", "resourceType", "resourceName", "signal"),
        limit,
        step,
    )
    asked_warnings = pool.submit(
        _aggregate,
        store,
        EventFilter(
            start=rng.start,
            end=rng.end,
            resource_type=tuple(sorted(EVENT_TYPES)),
            event_type=("Warning",),
            involved_namespace=involved_namespaces(lanes),
            involved_name=names,
        ),
        ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name"),
        limit,
        step,
    )
    versions = asked_versions.result()
    signals = asked_signals.result()
    warnings = asked_warnings.result()
    for b in versions:
        key = (b.key["namespace"], b.key["resourceType"], b.key["resourceName"])
        if key in lanes:
            c = at(b).setdefault(key, _Counts())
            kind = _VERB_KIND.get(b.key["verb"], "changed")
            c.verbs[kind] = c.verbs.get(kind, 0) + b.count
            c.latest_id = b.latest_id or ""
    for b in signals:
        key = (b.key["namespace"], b.key["resourceType"], b.key["resourceName"])
        if key in lanes:
            c = at(b).setdefault(key, _Counts())
            c.signals[b.key["signal"]] = c.signals.get(b.key["signal"], 0) + b.count
    for b in warnings:
        about = involved_lane(lanes, b.key)
        if about is not None:
            at(b).setdefault(about, _Counts()).warnings += b.count
    for index, found in enumerate(counts):
        for key, c in found.items():
            lanes[key].marks.append(
                Mark(bucket=index, kind=c.kind, counts=mark_counts(c), version=mark_version(c))
            )
    return 3


def involved_namespaces(lanes: Mapping[LaneKey, Lane]) -> tuple[str, ...]:
    """The namespaces the Events about the lanes' objects name them in: their own, and
    for a cluster-scoped object none or ``default`` (where Kubernetes records the Events
    about Nodes and other cluster-scoped objects). Said, it lets a store read its
    index by (namespace, name, time) instead of every Warning Event of the range."""
    namespaces = {k[0] for k in lanes}
    if "" in namespaces:
        namespaces.add("default")
    return tuple(sorted(namespaces))


def _fields(flt: EventFilter) -> dict[str, Any]:
    return {name: getattr(flt, name) for name in EventFilter.__dataclass_fields__}


def _aggregate(
    store: Store,
    flt: EventFilter,
    group_by: tuple[str, ...],
    limit: int,
    every: timedelta,
    *,
    latest_id: bool = False,
) -> list[Bucket]:
    query = AggregateQuery(
        filter=flt,
        group_by=group_by,
        limit=limit,
        latest=False,
        latest_id=latest_id,
        every=every,
    )
    return store.aggregate(query).buckets


def involved_lane(lanes: Mapping[LaneKey, Lane], key: Mapping[str, str]) -> LaneKey | None:
    """The lane of the object an Event is about (kind, namespace, name); a cluster-scoped
    object's Events may carry a namespace (``default``), so it is matched without."""
    kind, name = key["involvedObject.kind"], key["involvedObject.name"]
    resource_type = plural_for_kind(kind)
    for namespace in (key["involvedObject.namespace"], ""):
        lane = lanes.get((namespace, resource_type, name))
        if lane is not None and lane.kind == kind:
            return (namespace, resource_type, name)
    return None


def mark_counts(c: _Counts) -> str:
    """What a mark holds: ``2 versions (1 changed, 1 created); signals: pod.notReady (1);
    1 Warning Event``."""
    parts = []
    if c.versions:
        verbs = ", ".join(f"{n} {kind}" for kind, n in sorted(c.verbs.items()))
        parts.append(f"{c.versions} version{'s' if c.versions != 1 else ''} ({verbs})")
    if c.signals:
        parts.append("signals: " + ", ".join(f"{s} ({n})" for s, n in sorted(c.signals.items())))
    if c.warnings:
        parts.append(f"{c.warnings} Warning Event{'s' if c.warnings != 1 else ''}")
    return "; ".join(parts)


def mark_version(c: _Counts) -> str:
    """The version a mark opens the object's page at: its one version when it holds one
    and nothing else (else ``""``: the page, newest first)."""
    match = _DOC_ID.match(c.latest_id)
    if c.versions == 1 and not c.warnings and match:
        return match.group(1)
    return ""
