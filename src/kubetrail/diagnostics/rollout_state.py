"""What a workload's rollout signals say, and whether a workload shows one at a moment.

The workload signals (:mod:`kubetrail.events.signals`) map to the issues the
rollout check reports (:func:`issue_for`). Whether an object shows a signal at
a moment ``t`` is answered without reading a document: its newest version up to
``t`` is the newest version carrying the signal. Two aggregations give both
newest document ids (grouped by object); equal ids mean yes
(:func:`showing_at`). The rollout check uses it for stalls that began before
its range and for the state at the range's end; the recent changes use it to
say how a changed workload's rollout stands.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from kubetrail.diagnostics.common import aggregate
from kubetrail.diagnostics.model import Severity
from kubetrail.events.timing import parse_rfc3339
from kubetrail.store.base import Bucket, EventFilter, Store

#: Plural resource type of each workload kind the rollout check reads.
WORKLOAD_TYPES = {
    "Deployment": "deployments",
    "StatefulSet": "statefulsets",
    "DaemonSet": "daemonsets",
    "Job": "jobs",
    "CronJob": "cronjobs",
}
#: Kinds whose stalled rollout writes nothing more: still failing when a range
#: starts counts as failing in it.
LONG_LIVED = ("Deployment", "StatefulSet", "DaemonSet")
#: The rollout "not done yet" signals (stuck only when that lasts).
PENDING_SIGNALS = ("statefulset.rollout:*", "daemonset.rollout:*")
LONG_LIVED_SIGNALS = (
    "deployment.reason:ProgressDeadlineExceeded",
    "deployment.condition:Progressing=False",
    "deployment.condition:Available=False",
    "deployment.condition:ReplicaFailure=True",
    *PENDING_SIGNALS,
)
SIGNALS = (
    *LONG_LIVED_SIGNALS,
    "job.condition:Failed=True",
    "job.condition:FailureTarget=True",
    "job.reason:DeadlineExceeded",
    "cronjob.lastRunFailed",
)
#: An issue another issue of the same object already says.
SUBSUMED_BY = {"NotProgressing": "ProgressDeadlineExceeded", "JobFailed": "JobDeadlineExceeded"}

ObjectKey = tuple[str, str, str]  # kind, namespace, name


def issue_for(signal: str) -> tuple[str, Severity] | None:
    """The rollout issue a workload signal stands for (``None``: not one)."""
    if signal.startswith(("statefulset.rollout:", "daemonset.rollout:")):
        return "RolloutStuck", "critical"
    return _ISSUES.get(signal)


_ISSUES: dict[str, tuple[str, Severity]] = {
    "deployment.reason:ProgressDeadlineExceeded": ("ProgressDeadlineExceeded", "critical"),
    "deployment.condition:Progressing=False": ("NotProgressing", "critical"),
    "deployment.condition:Available=False": ("Unavailable", "critical"),
    "deployment.condition:ReplicaFailure=True": ("ReplicaFailure", "warning"),
    "job.reason:DeadlineExceeded": ("JobDeadlineExceeded", "critical"),
    "job.condition:Failed=True": ("JobFailed", "critical"),
    "job.condition:FailureTarget=True": ("JobFailed", "critical"),
    "cronjob.lastRunFailed": ("CronJobRunFailed", "warning"),
}


@dataclass(frozen=True, slots=True)
class Newest:
    """An object's newest version up to a moment: its id, time and verb."""

    id: str
    time: str
    verb: str


def object_filter(objects: Iterable[ObjectKey], **kw: object) -> EventFilter | None:
    """Every version of these objects (a superset: namespaces and names are any-of;
    callers match the exact keys). ``None`` when there are none."""
    objs = sorted(set(objects))
    if not objs:
        return None
    return EventFilter(
        kind=tuple(sorted({k for k, _, _ in objs})),
        resource_type=tuple(sorted({WORKLOAD_TYPES[k] for k, _, _ in objs})),
        namespace=tuple(sorted({ns for _, ns, _ in objs})),
        name=tuple(sorted({n for _, _, n in objs})),
        **kw,  # type: ignore[arg-type]
    )


def _newer(a: Bucket, b: Bucket | None) -> bool:
    """Whether ``a``'s newest document comes after ``b``'s in (timestamp, id) order."""
    return b is None or newest_order(a) > newest_order(b)


def newest_order(b: Bucket) -> tuple[datetime, str]:
    """A bucket's newest document's place in the stores' (timestamp, id) order."""
    return parse_rfc3339(b.last_seen), b.latest_id or ""


def newest_versions(
    store: Store, objects: Iterable[ObjectKey], *, at: datetime
) -> dict[ObjectKey, Newest]:
    """Each object's newest version up to ``at`` (ids only, no document read)."""
    objs = set(objects)
    flt = object_filter(objs, end=at)
    if flt is None:
        return {}
    buckets, _ = aggregate(
        store, flt, ("kind", "namespace", "resourceName", "verb"), latest=False, latest_id=True
    )
    best: dict[ObjectKey, Bucket] = {}
    for b in buckets:
        key = (b.key["kind"], b.key["namespace"], b.key["resourceName"])
        if key in objs and _newer(b, best.get(key)):
            best[key] = b
    return {
        key: Newest(id=b.latest_id or "", time=b.last_seen, verb=b.key["verb"])
        for key, b in best.items()
    }


def newest_with_signal(
    store: Store, objects: Iterable[ObjectKey], signals: tuple[str, ...], *, at: datetime
) -> dict[ObjectKey, dict[str, Bucket]]:
    """Per object and signal, the newest version up to ``at`` carrying it."""
    objs = set(objects)
    flt = object_filter(objs, end=at, signal=signals)
    if flt is None:
        return {}
    buckets, _ = aggregate(
        store, flt, ("kind", "namespace", "resourceName", "signal"), latest=False, latest_id=True
    )
    out: dict[ObjectKey, dict[str, Bucket]] = {}
    for b in buckets:
        key = (b.key["kind"], b.key["namespace"], b.key["resourceName"])
        if key in objs:
            out.setdefault(key, {})[b.key["signal"]] = b
    return out


def showing_at(
    store: Store, objects: Iterable[ObjectKey], signals: tuple[str, ...], *, at: datetime
) -> dict[ObjectKey, list[str]]:
    """The signals (of ``signals``) each object's newest version up to ``at`` carries;
    objects carrying none are left out."""
    objs = set(objects)
    newest = newest_versions(store, objs, at=at)
    out: dict[ObjectKey, list[str]] = {}
    for key, by_signal in newest_with_signal(store, objs, signals, at=at).items():
        current = newest.get(key)
        if current is None or current.verb == "delete":
            continue
        shown = sorted(s for s, b in by_signal.items() if b.latest_id == current.id)
        if shown:
            out[key] = shown
    return out


def describe(signals: list[str]) -> list[str]:
    """Rollout signals in words: their issues (``ProgressDeadlineExceeded``), and for
    a rollout that is not done yet, why (``not done: PodsNotReady``)."""
    out: list[str] = []
    for signal in signals:
        if signal.startswith(("statefulset.rollout:", "daemonset.rollout:")):
            said = f"not done: {signal.partition(':')[2]}"
        else:
            said = (issue_for(signal) or ("",))[0]
        if said and said not in out:
            out.append(said)
    return [s for s in out if SUBSUMED_BY.get(s) not in out]
