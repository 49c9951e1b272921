"""One object's history, written once over the Store protocol.

The history of ``namespace/resourceType/name`` is every stored version of it,
oldest first, each with the paths that changed since the previous version of
the same incarnation (same uid), plus the Kubernetes Events whose
``involvedObject`` is that object — the newest version of each Event, so a
``BackOff`` repeated 40 times is one entry with ``count: 40``.

It is domain logic over the store, not a store: the REST API
(``GET /api/v1/events/{namespace}/{resourceType}/{name}``) and the MCP server's
store backend both answer with :meth:`ObjectHistory.to_dict`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kubetrail.events.changes import MAX_PATHS
from kubetrail.events.diff import Change, diff
from kubetrail.events.model import EventDocument
from kubetrail.events.resources import plural_for_kind
from kubetrail.events.timing import parse_rfc3339
from kubetrail.queries.events import CLUSTER_SCOPE
from kubetrail.store.base import AggregateQuery, EventFilter, EventQuery, Store


@dataclass(frozen=True, slots=True)
class ObjectKey:
    """Which object: how it is addressed in a path (not a diagnostics finding's object)."""

    namespace: str  # "" for cluster-scoped objects
    resource_type: str
    name: str

    @classmethod
    def from_path(cls, namespace: str, resource_type: str, name: str) -> ObjectKey:
        """``_`` (or ``""``) as the namespace names a cluster-scoped object."""
        ns = "" if namespace in ("", CLUSTER_SCOPE) else namespace
        return cls(namespace=ns, resource_type=resource_type, name=name)


@dataclass(frozen=True, slots=True)
class ObjectHistory:
    key: ObjectKey
    versions: list[dict[str, Any]]  # documents, each with "changedPaths"
    events: list[EventDocument]  # related Kubernetes Event documents
    truncated: bool  # more versions exist than were returned
    # each version's changes against the previous one of its uid (None: the first seen),
    # kept so that the change view does not diff every version a second time
    diffs: Sequence[list[Change] | None] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON the API serves (``_`` as the namespace of cluster-scoped objects)."""
        return {
            "namespace": self.key.namespace or CLUSTER_SCOPE,
            "resourceType": self.key.resource_type,
            "name": self.key.name,
            "history": self.versions,
            "relatedEvents": self.events,
            "truncated": self.truncated,
        }


def object_history(
    store: Store,
    key: ObjectKey,
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
                namespace=(key.namespace,),
                resource_type=(key.resource_type,),
                name=(key.name,),
            ),
            limit=limit,
        )
    )
    diffs = version_diffs(page.items)
    versions = with_changed_paths(page.items, diffs)
    events = related_events(store, key, start=start, end=end, limit=limit)
    if not versions and not events:
        return None
    return ObjectHistory(
        key=key, versions=versions, events=events, truncated=page.next is not None, diffs=diffs
    )


def version_diffs(docs: Sequence[Mapping[str, Any]]) -> list[list[Change] | None]:
    """For each of ``docs`` (oldest first), its changes against the previous version of
    the same uid, at most ``MAX_PATHS`` in :func:`~kubetrail.events.diff.diff`'s order;
    ``None`` for the first version seen of a uid."""
    previous: dict[str, Mapping[str, Any]] = {}
    out: list[list[Change] | None] = []
    for doc in docs:
        uid = doc.get("uid", "")
        prev = previous.get(uid)
        out.append(
            None
            if prev is None
            else diff(prev["objectChanges"], doc["objectChanges"], limit=MAX_PATHS)
        )
        previous[uid] = doc
    return out


def with_changed_paths(
    docs: Sequence[Mapping[str, Any]], diffs: Sequence[list[Change] | None] | None = None
) -> list[dict[str, Any]]:
    """Copies of ``docs`` (oldest first) with ``changedPaths`` against the previous
    version of the same uid (``[]`` for the first one seen); ``diffs`` are
    :func:`version_diffs` of ``docs`` when the caller has them already."""
    if diffs is None:
        diffs = version_diffs(docs)
    return [
        {**doc, "changedPaths": sorted(c.path for c in changes) if changes else []}
        for doc, changes in zip(docs, diffs, strict=True)
    ]


def related_events(
    store: Store,
    key: ObjectKey,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 1000,
) -> list[EventDocument]:
    """The newest version of every Kubernetes Event about ``key``, oldest first."""
    about = EventFilter(
        start=start,
        end=end,
        resource_type=("events",),
        involved_namespace=(key.namespace,),
        involved_name=(key.name,),
    )
    # Events name their object by kind, the path by plural: keep the kinds whose
    # plural is the one asked for (a Pod and a PodGroup may share a name).
    kinds = store.aggregate(
        AggregateQuery(filter=about, group_by=("involvedObject.kind",), latest=False, limit=50)
    )
    wanted = tuple(
        b.key["involvedObject.kind"]
        for b in kinds.buckets
        if plural_for_kind(b.key["involvedObject.kind"]) == key.resource_type
    )
    if not wanted:
        return []
    per_event = store.aggregate(
        AggregateQuery(
            filter=EventFilter(
                start=start,
                end=end,
                resource_type=("events",),
                involved_namespace=(key.namespace,),
                involved_name=(key.name,),
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
