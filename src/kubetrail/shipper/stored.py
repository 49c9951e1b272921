"""What the store last recorded of a resource's objects: the baseline of a relist that
follows a restart the API server could not replay.

A restarted shipper lists each resource without emitting anything and resumes the watch
from its checkpoint: the API server replays what changed meanwhile. When it cannot — etcd
compacted that revision away (410 Gone), or the checkpoint is newer than the cluster —
the listing says only what there is now. What changed while the shipper was down is then
found by comparing a new listing with what was stored before it stopped: per object, the
resourceVersion of its newest stored create or update, unless a delete of it is stored.
The store answers with two aggregations (group by object; the same every store runs for
the diagnostics), so nothing is kept on disk or in memory for it between runs.

Batches the previous run left in the spool are part of what was stored: until they have
reached the store the comparison cannot be made, and :class:`StoredStateUnavailable` says
so (the watcher retries later, as it does while the store is down).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from kubetrail.shipper.config import ResourceSpec
from kubetrail.store.base import AggregateQuery, EventFilter, Store, StoreError

#: groups asked for at once: every object of a resource
MAX_OBJECTS = 10_000_000
_GROUP_BY = ("apiGroup", "uid", "namespace", "resourceName")


class StoredStateUnavailable(Exception):
    """The store cannot say now what it holds (it is down, or the previous run's spooled
    batches have not reached it yet); the message says which."""


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """The newest stored version of an object that was not deleted."""

    rv: str
    namespace: str
    name: str


class StoredState:
    """``state(resource, namespace)``: uid → :class:`StoredVersion` of the objects of
    ``resource`` (in ``namespace``; ``None``: all) that the store holds as existing.
    ``spool_pending()`` tells whether batches of the previous run are still spooled."""

    def __init__(self, store: Store, *, spool_pending: Callable[[], bool]) -> None:
        self.store = store
        self.spool_pending = spool_pending

    def __call__(self, resource: ResourceSpec, namespace: str | None) -> dict[str, StoredVersion]:
        if self.spool_pending():
            raise StoredStateUnavailable(
                "the previous run's spooled batches have not reached the store yet"
            )
        where = EventFilter(
            resource_type=(resource.plural,),
            kind=(resource.kind,),
            namespace=(namespace,) if namespace is not None else (),
        )
        try:
            written = self._newest(replace(where, verb=("create", "update")))
            deleted = self._newest(replace(where, verb=("delete",)))
        except StoreError as exc:
            raise StoredStateUnavailable(f"the store failed: {exc}") from None
        out: dict[str, StoredVersion] = {}
        for (group, uid, ns, name), newest in written.items():
            if group != resource.group or not uid or (group, uid, ns, name) in deleted:
                continue
            out[uid] = StoredVersion(rv=_rv_of(newest, uid), namespace=ns, name=name)
        return out

    def _newest(self, where: EventFilter) -> dict[tuple[str, ...], str]:
        """Per object (the group-by keys), the id of its newest document."""
        result = self.store.aggregate(
            AggregateQuery(
                filter=where,
                group_by=_GROUP_BY,
                order="last",
                limit=MAX_OBJECTS,
                latest=False,
                latest_id=True,
            )
        )
        return {tuple(b.key[k] for k in _GROUP_BY): b.latest_id or "" for b in result.buckets}


def _rv_of(doc_id: str, uid: str) -> str:
    """The resourceVersion in a document id ``<uid>:<rv>`` ("" when it is not one)."""
    prefix = uid + ":"
    return doc_id[len(prefix) :] if doc_id.startswith(prefix) else ""
