"""Where a workload problem came from and what it left behind: bounded reads for
the findings a rollout report shows.

:func:`trace_start` walks one workload's versions back from the first one that
shows a problem: the versions that still show it give when it began, and the
first spec change before it (``metadata.generation`` going up) or the creation is
the change that started it — who, when, what changed. :func:`failing_pods` finds
the pods a workload left failing with one aggregation over pod failure signals,
matches them to the workload by name and confirms each by its owner reference.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubetrail.diagnostics.changes import spec_change
from kubetrail.diagnostics.common import aggregate
from kubetrail.diagnostics.model import CheckParams
from kubetrail.diagnostics.rollout_state import WORKLOAD_TYPES, ObjectKey, newest_order
from kubetrail.events.timing import parse_rfc3339
from kubetrail.store.base import Cursor, EventFilter, EventQuery, Store

#: Versions read per page, and at most, walking back from a problem.
WALK_PAGE = 25
WALK_CAP = 100
#: Pods checked per workload (newest failing first).
POD_CAP = 10
#: What a failing pod shows. ``pod.notReady`` is left out: every pod passes
#: through it while it starts.
POD_FAILURE_SIGNALS = (
    "pod.waiting:*",
    "pod.terminated:*",
    "pod.lastTerminated:*",
    "pod.exitCode:*",
    "pod.reason:*",
    "pod.unschedulable",
    "pod.phase:Failed",
    "pod.phase:Unknown",
)


@dataclass(slots=True)
class Origin:
    """When a problem began and the change that started it (``None``: none recorded)."""

    began: str | None = None
    change: dict[str, Any] | None = None
    note: str | None = None


def trace_start(
    store: Store, key: ObjectKey, *, shows: Callable[[str], bool], from_time: str
) -> Origin:
    """Walk ``key``'s versions back from ``from_time`` (a version with a signal that
    ``shows`` the problem) to where it began and the change that started it."""
    kind, namespace, name = key
    flt = EventFilter(
        namespace=(namespace,),
        resource_type=(WORKLOAD_TYPES[kind],),
        kind=(kind,),
        name=(name,),
        end=parse_rfc3339(from_time),
    )
    origin = Origin()
    in_problem = True
    newer: Mapping[str, Any] | None = None
    read = 0
    after: Cursor | None = None
    oldest = from_time
    while read < WALK_CAP:
        page = store.search(EventQuery(filter=flt, order="desc", limit=WALK_PAGE, after=after))
        for doc in page.items:
            read += 1
            oldest = doc["timestamp"]
            if in_problem and any(shows(s) for s in doc.get("signals") or ()):
                origin.began = doc["timestamp"]
            else:
                in_problem = False
            if (
                newer is not None
                and newer.get("uid") == doc.get("uid")
                and _generation(newer) > _generation(doc)
            ):
                origin.change = _update(doc, newer)
                return origin
            if doc.get("verb") == "create" and not doc.get("snapshot"):
                origin.change = _creation(doc)
                return origin
            newer = doc
        if page.next is None or not page.items:
            break
        after = page.next
    origin.note = (
        f"no spec change recorded before it (history read back to {oldest}): it did not "
        "start with a rollout of this object"
    )
    return origin


def _generation(doc: Mapping[str, Any]) -> int:
    meta = (doc.get("objectChanges") or {}).get("metadata") or {}
    value = meta.get("generation")
    return value if isinstance(value, int) else 0


def _update(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    paths, highlights = spec_change(old.get("objectChanges") or {}, new.get("objectChanges") or {})
    return {
        "time": new["timestamp"],
        "verb": "update",
        "by": new.get("fieldManager") or "unknown",
        "generation": _generation(new),
        "changedPaths": paths[:10],
        **({"highlights": highlights} if highlights else {}),
    }


def _creation(doc: Mapping[str, Any]) -> dict[str, Any]:
    obj = doc.get("objectChanges") or {}
    owners = [
        f"{o.get('kind')}/{o.get('name')}"
        for o in (obj.get("metadata") or {}).get("ownerReferences") or []
        if isinstance(o, Mapping)
    ]
    return {
        "time": doc["timestamp"],
        "verb": "create",
        "by": doc.get("fieldManager") or "unknown",
        **({"owner": owners[0]} if owners else {}),
        "highlights": [f"image {image}" for image in template_images(obj)],
    }


def template_images(obj: Mapping[str, Any]) -> list[str]:
    """The images of a workload's pod template (a CronJob's through its Job template)."""
    spec = obj.get("spec") or {}
    if "jobTemplate" in spec:
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    pod_spec = ((spec.get("template") or {}).get("spec")) or {}
    return [
        str(c.get("image"))
        for c in (pod_spec.get("containers") or [])
        if isinstance(c, Mapping) and c.get("image")
    ]


# -- the pods it left failing --------------------------------------------------------


@dataclass(slots=True)
class _Pod:
    namespace: str
    name: str
    signals: set[str] = field(default_factory=set)
    last_seen: str = ""
    newest_id: str = ""


def _name_pattern(kind: str, name: str) -> re.Pattern[str]:
    """The names the workload's controller gives its pods."""
    stem = re.escape(name)
    suffix = {
        "Deployment": r"-[a-z0-9]+-[a-z0-9]+",  # <replicaset hash>-<random>
        "StatefulSet": r"-\d+",  # <ordinal>
        "CronJob": r"-\d+-[a-z0-9]+",  # <job: scheduled minute>-<random>
    }.get(kind, r"-[a-z0-9]+")
    return re.compile(f"^{stem}{suffix}$")


def _owned_by(pod: Mapping[str, Any], kind: str, name: str) -> bool:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if not isinstance(ref, Mapping):
            continue
        owner_kind, owner = ref.get("kind"), str(ref.get("name") or "")
        if kind == "Deployment" and owner_kind == "ReplicaSet":
            return owner.rsplit("-", 1)[0] == name
        if kind == "CronJob" and owner_kind == "Job":
            return owner.rsplit("-", 1)[0] == name
        if owner_kind == kind:
            return owner == name
    return False


def failing_pods(
    store: Store, params: CheckParams, workloads: Mapping[ObjectKey, str]
) -> dict[ObjectKey, tuple[list[dict[str, Any]], int]]:
    """For each workload (→ since when to look), the pods it owns that showed a
    failure up to the range's end: up to :data:`POD_CAP` of them, newest first, and
    how many more name-matching pods were not checked."""
    if not workloads:
        return {}
    flt = EventFilter(
        start=min(parse_rfc3339(t) for t in workloads.values()),
        end=params.range.end,
        resource_type=("pods",),
        namespace=tuple(sorted({ns for _, ns, _ in workloads})),
        signal=POD_FAILURE_SIGNALS,
    )
    buckets, _ = aggregate(
        store, flt, ("namespace", "resourceName", "signal"), latest=False, latest_id=True
    )
    pods: dict[tuple[str, str], _Pod] = {}
    for b in buckets:
        pod = pods.setdefault(
            (b.key["namespace"], b.key["resourceName"]),
            _Pod(b.key["namespace"], b.key["resourceName"]),
        )
        pod.signals.add(b.key["signal"])
        if not pod.last_seen or newest_order(b) > (parse_rfc3339(pod.last_seen), pod.newest_id):
            pod.last_seen, pod.newest_id = b.last_seen, b.latest_id or ""
    candidates: dict[ObjectKey, list[_Pod]] = {}
    more: dict[ObjectKey, int] = {}
    for key, since in workloads.items():
        kind, namespace, name = key
        pattern, start = _name_pattern(kind, name), parse_rfc3339(since)
        matching = sorted(
            (
                p
                for p in pods.values()
                if p.namespace == namespace
                and pattern.match(p.name)
                and parse_rfc3339(p.last_seen) >= start
            ),
            key=lambda p: (parse_rfc3339(p.last_seen), p.name),
            reverse=True,
        )
        candidates[key], more[key] = matching[:POD_CAP], max(len(matching) - POD_CAP, 0)
    docs = store.documents(sorted({p.newest_id for ps in candidates.values() for p in ps}))
    out: dict[ObjectKey, tuple[list[dict[str, Any]], int]] = {}
    for key, found in candidates.items():
        owned = []
        for p in found:
            doc = docs.get(p.newest_id)
            if doc is None or not _owned_by(doc.get("objectChanges") or {}, key[0], key[2]):
                continue
            owned.append(
                {
                    "name": p.name,
                    "signals": sorted(s.removeprefix("pod.") for s in p.signals),
                    "lastSeen": p.last_seen,
                }
            )
        out[key] = (owned, more[key])
    return out
