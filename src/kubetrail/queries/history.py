"""One object's history, written once over the Store protocol.

The history of ``namespace/resourceType/name`` is every stored version of it,
oldest first, each with the paths that changed since the previous version of
the same incarnation (same uid), plus the Kubernetes Events whose
``involvedObject`` is that object — the newest version of each Event, so a
``BackOff`` repeated 40 times is one entry with ``count: 40``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kubetrail.events.changes import changed_paths
from kubetrail.events.resources import plural_for_kind
from kubetrail.events.timing import parse_rfc3339
from kubetrail.store.base import AggregateQuery, EventFilter, EventQuery, Store

CLUSTER_SCOPE = "_"


@dataclass(frozen=True, slots=True)
class ObjectRef:
    namespace: str  # "" for cluster-scoped objects
    resource_type: str
    name: str


@dataclass(frozen=True, slots=True)
class ObjectHistory:
    ref: ObjectRef
    versions: list[dict[str, Any]]  # documents, each with "changedPaths"
    events: list[dict[str, Any]]  # related Kubernetes Event documents
    truncated: bool  # more versions exist than were returned


def object_history(
    store: Store,
    ref: ObjectRef,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 1000,
) -> ObjectHistory | None:
    """The history of one object, or ``None`` when nothing is stored about it."""
    page = store.search(
        EventQuery(
            filter=EventFilter(
                start=start,
                end=end,
                namespace=(ref.namespace,),
                resource_type=(ref.resource_type,),
                name=(ref.name,),
            ),
            limit=limit,
        )
    )
    versions = with_changed_paths(page.items)
    events = related_events(store, ref, start=start, end=end, limit=limit)
    if not versions and not events:
        return None
    return ObjectHistory(ref=ref, versions=versions, events=events, truncated=page.next is not None)


def with_changed_paths(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copies of ``docs`` (oldest first) with ``changedPaths`` against the previous
    version of the same uid (``[]`` for the first one seen)."""
    previous: dict[str, dict[str, Any]] = {}
    out = []
    for doc in docs:
        prev = previous.get(doc.get("uid", ""))
        paths = changed_paths(prev["objectChanges"], doc["objectChanges"]) if prev else []
        out.append({**doc, "changedPaths": paths})
        previous[doc.get("uid", "")] = doc
    return out


def related_events(
    store: Store,
    ref: ObjectRef,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """The newest version of every Kubernetes Event about ``ref``, oldest first."""
    about = EventFilter(
        start=start,
        end=end,
        resource_type=("events",),
        involved_namespace=(ref.namespace,),
        involved_name=(ref.name,),
    )
    # Events name their object by kind, the path by plural: keep the kinds whose
    # plural is the one asked for (a Pod and a PodGroup may share a name).
    kinds = store.aggregate(
        AggregateQuery(filter=about, group_by=("involvedObject.kind",), latest=False, limit=50)
    )
    wanted = tuple(
        b.key["involvedObject.kind"]
        for b in kinds.buckets
        if plural_for_kind(b.key["involvedObject.kind"]) == ref.resource_type
    )
    if not wanted:
        return []
    per_event = store.aggregate(
        AggregateQuery(
            filter=EventFilter(
                start=start,
                end=end,
                resource_type=("events",),
                involved_namespace=(ref.namespace,),
                involved_name=(ref.name,),
                involved_kind=wanted,
            ),
            group_by=("uid",),
            order="last",
            limit=limit,
        )
    )
    docs = [b.latest for b in per_event.buckets if b.latest is not None]
    docs.sort(key=lambda d: (parse_rfc3339(d["timestamp"]), d["id"]))
    return docs
