"""``check_workload_rollouts``: rollouts that failed or stalled, Jobs that failed,
CronJobs that miss runs — each with the change that started it and the pods it
left failing.

What counts, by kind, all from signals derived at ingest
(:mod:`kubetrail.events.signals`, mapped to issues in
:mod:`~kubetrail.diagnostics.rollout_state`):

- Deployment: the controller's own verdict — ``Progressing=False``
  (``ProgressDeadlineExceeded``), ``Available=False`` (``Unavailable``: fewer
  available pods than the strategy allows), ``ReplicaFailure=True``.
- StatefulSet, DaemonSet: no controller gives a verdict; their rollout signals
  say "not done yet". A rollout is ``RolloutStuck`` when it is still not done at
  the end of the range and was not done at any moment of the
  :data:`STUCK_AFTER` before (a Deployment's default progress deadline).
- Job: ``Failed=True`` (``JobFailed``, e.g. BackoffLimitExceeded;
  ``JobDeadlineExceeded`` when it ran past ``activeDeadlineSeconds``).
- CronJob: its last scheduled run did not succeed (``CronJobRunFailed``), or
  the controller reports runs it missed or skipped (``CronJobMissedRuns``:
  MissSchedule, TooManyMissedTimes, JobAlreadyActive... Events).

A stalled rollout writes nothing more, so a Deployment, StatefulSet or
DaemonSet still failing when the range starts counts as failing in it.

The queries: one aggregation over the workload signals in the range (grouped by
object and signal), one over those before it for the stalls still going on,
and the id comparisons of :func:`~kubetrail.diagnostics.rollout_state.showing_at`
for the state at a moment. For the findings shown (at most ``limit``), bounded
reads (:mod:`~kubetrail.diagnostics.rollout_context`) add the newest version
showing the issue, the change that started it and the failing pods.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from kubetrail.diagnostics.common import (
    aggregate,
    attach_related_events,
    base_filter,
    event_findings,
    one_line,
    ranked,
    report,
)
from kubetrail.diagnostics.model import (
    CheckParams,
    Finding,
    ObjectRef,
    Report,
    Severity,
    format_window,
)
from kubetrail.diagnostics.rollout_context import failing_pods, template_images, trace_start
from kubetrail.diagnostics.rollout_state import (
    LONG_LIVED,
    LONG_LIVED_SIGNALS,
    PENDING_SIGNALS,
    SIGNALS,
    SUBSUMED_BY,
    WORKLOAD_TYPES,
    ObjectKey,
    issue_for,
    newest_order,
    newest_versions,
    object_filter,
    showing_at,
)
from kubetrail.events.timing import parse_rfc3339
from kubetrail.store.base import Bucket, EventFilter, Store

#: How long a StatefulSet or DaemonSet rollout may stay not done before it is stuck.
STUCK_AFTER = timedelta(minutes=10)
STUCK_NOTE = (
    "StatefulSets and DaemonSets have no progress deadline: a rollout counts as stuck "
    "when it is still not done at the end of the range and was not done at any moment of "
    f"the {format_window(STUCK_AFTER)} before"
)
_CRON_EVENTS: dict[str, tuple[str, Severity]] = {
    reason: ("CronJobMissedRuns", "warning")
    for reason in (
        "MissSchedule",
        "TooManyMissedTimes",
        "JobAlreadyActive",
        "FailedCreate",
        "FailedNeedsStart",
        "InvalidSchedule",
        "UnknownTimeZone",
    )
}
_CONDITION_OF = {
    "ProgressDeadlineExceeded": "Progressing",
    "NotProgressing": "Progressing",
    "Unavailable": "Available",
    "ReplicaFailure": "ReplicaFailure",
}


@dataclass(slots=True)
class _Problem:
    key: ObjectKey
    issue: str
    severity: Severity
    signals: set[str] = field(default_factory=set)
    count: int = 0
    first_seen: str = ""
    last_seen: str = ""
    newest: Bucket | None = None  # the bucket holding the newest version showing it

    def add(self, b: Bucket, *, count: int, first_seen: str) -> None:
        self.signals.add(b.key["signal"])
        self.count = max(self.count, count)
        if not self.first_seen or parse_rfc3339(first_seen) < parse_rfc3339(self.first_seen):
            self.first_seen = first_seen
        if self.newest is None or newest_order(b) > newest_order(self.newest):
            self.newest, self.last_seen = b, b.last_seen


Problems = dict[tuple[str, str, str, str], _Problem]


def check_workload_rollouts(store: Store, params: CheckParams) -> Report:
    problems: Problems = {}
    flt = base_filter(params, resource_type=tuple(WORKLOAD_TYPES.values()), signal=SIGNALS)
    buckets, truncated = aggregate(
        store, flt, ("kind", "namespace", "resourceName", "signal"), latest=False, latest_id=True
    )
    for b in buckets:
        _add(problems, b, count=b.count, first_seen=b.first_seen)
    _add_ongoing(store, params, problems)
    _keep_stuck(store, params, problems)
    _drop_subsumed(problems)
    by_finding: dict[int, _Problem] = {}
    findings: list[Finding] = []
    for p in problems.values():
        kind, namespace, name = p.key
        f = Finding(
            object=ObjectRef(kind=kind, namespace=namespace, name=name),
            issue=p.issue,
            severity=p.severity,
            count=p.count,
            first_seen=p.first_seen,
            last_seen=p.last_seen,
            message=p.issue,
        )
        by_finding[id(f)] = p
        findings.append(f)
    findings.extend(_cron_event_findings(store, params))
    # Only what the report will show needs its evidence, origin, pods and Events.
    shown = ranked(findings)[: params.limit]
    _explain(store, params, [(f, by_finding[id(f)]) for f in shown if id(f) in by_finding])
    attach_related_events(store, params, shown, kinds=tuple(WORKLOAD_TYPES))
    return report(
        "check_workload_rollouts", params, findings, truncated=truncated, notes=[STUCK_NOTE]
    )


def _add(problems: Problems, b: Bucket, *, count: int, first_seen: str) -> None:
    mapped = issue_for(b.key["signal"])
    if mapped is None:
        return
    issue, severity = mapped
    key = (b.key["kind"], b.key["namespace"], b.key["resourceName"])
    problem = problems.setdefault((*key, issue), _Problem(key, issue, severity))
    problem.add(b, count=count, first_seen=first_seen)


def _add_ongoing(store: Store, params: CheckParams, problems: Problems) -> None:
    """Deployment, StatefulSet and DaemonSet problems still showing when the range
    starts (found among the versions before it that carried a signal)."""
    start = params.range.start
    flt = EventFilter(
        end=start,
        namespace=(params.namespace,) if params.namespace is not None else (),
        resource_type=tuple(WORKLOAD_TYPES[k] for k in LONG_LIVED),
        signal=LONG_LIVED_SIGNALS,
    )
    # Past the group cap the least recently seen objects are left out: a stall still
    # going on was seen showing its signal when it began, and usually since.
    buckets, _ = aggregate(
        store, flt, ("kind", "namespace", "resourceName", "signal"), latest=False, latest_id=True
    )
    if not buckets:
        return
    keys = {(b.key["kind"], b.key["namespace"], b.key["resourceName"]) for b in buckets}
    newest = newest_versions(store, keys, at=start)
    for b in buckets:
        current = newest.get((b.key["kind"], b.key["namespace"], b.key["resourceName"]))
        if current is None or current.verb == "delete" or current.id != b.latest_id:
            continue
        # since at least the version current at the start; trace_start finds the beginning
        _add(problems, b, count=1, first_seen=b.last_seen)


def _keep_stuck(store: Store, params: CheckParams, problems: Problems) -> None:
    """Keep the StatefulSet and DaemonSet rollouts not done at the end of the range and
    at every moment of the :data:`STUCK_AFTER` before it; drop the others."""
    pending = {k: p for k, p in problems.items() if p.issue == "RolloutStuck"}
    if not pending:
        return
    objs = {p.key for p in pending.values()}
    end = params.range.end
    before = end - STUCK_AFTER
    at_end = showing_at(store, objs, PENDING_SIGNALS, at=end)
    at_before = showing_at(store, objs, PENDING_SIGNALS, at=before)
    # every version in between still not done: as many versions as versions with a signal
    between = before + timedelta(microseconds=1)
    counts = [
        _versions(store, object_filter(objs, start=between, end=end, signal=signals), objs)
        for signals in ((), PENDING_SIGNALS)
    ]
    for k, p in pending.items():
        if (
            p.key in at_end
            and p.key in at_before
            and counts[0].get(p.key, 0) == counts[1].get(p.key, 0)
        ):
            continue
        del problems[k]


def _versions(store: Store, flt: EventFilter | None, objs: set[ObjectKey]) -> dict[ObjectKey, int]:
    if flt is None:
        return {}
    buckets, _ = aggregate(store, flt, ("kind", "namespace", "resourceName"), latest=False)
    out = {}
    for b in buckets:
        key = (b.key["kind"], b.key["namespace"], b.key["resourceName"])
        if key in objs:
            out[key] = b.count
    return out


def _drop_subsumed(problems: Problems) -> None:
    for k, p in list(problems.items()):
        stronger = problems.get((*p.key, SUBSUMED_BY.get(p.issue, "")))
        if stronger is None:
            continue
        if p.newest is not None:
            stronger.add(p.newest, count=p.count, first_seen=p.first_seen)
            stronger.signals |= p.signals
        del problems[k]


def _cron_event_findings(store: Store, params: CheckParams) -> list[Finding]:
    """One finding per CronJob the controller reported missed or skipped runs for."""
    merged: dict[tuple[str, str], Finding] = {}
    for f in ranked(event_findings(store, params, kinds=("CronJob",), reasons=_CRON_EVENTS)):
        key = (f.object.namespace, f.object.name)
        first = merged.get(key)
        if first is None:  # the most recent reason's message stays
            f.evidence = {"eventReasons": [f.evidence["eventReason"]]}
            merged[key] = f
            continue
        first.count += f.count
        first.first_seen = min(first.first_seen, f.first_seen, key=parse_rfc3339)
        first.evidence["eventReasons"].append(f.evidence["eventReason"])
    return list(merged.values())


# -- the evidence of the findings shown -------------------------------------------------


def _explain(store: Store, params: CheckParams, shown: list[tuple[Finding, _Problem]]) -> None:
    if not shown:
        return
    docs = store.documents(
        sorted({p.newest.latest_id for _, p in shown if p.newest and p.newest.latest_id})
    )
    looked_from: dict[ObjectKey, str] = {}
    for f, p in shown:
        doc: Mapping[str, Any] = (docs.get(p.newest.latest_id or "") if p.newest else None) or {}
        obj = doc.get("objectChanges") or {}
        f.object.uid = str(doc.get("uid") or "")
        line, evidence = _state(p.key[0], p.issue, obj)
        origin = trace_start(store, p.key, shows=_shows(p.issue), from_time=p.first_seen)
        if origin.began and parse_rfc3339(origin.began) < parse_rfc3339(f.first_seen):
            f.first_seen = origin.began
        evidence["signals"] = sorted(p.signals)
        evidence["startedBy"] = origin.change or {"note": origin.note}
        f.message, f.evidence = line, evidence
        since = (origin.change or {}).get("time") or f.first_seen
        earlier = looked_from.get(p.key)
        if earlier is None or parse_rfc3339(since) < parse_rfc3339(earlier):
            looked_from[p.key] = since
    pods = failing_pods(store, params, looked_from)
    newest = newest_versions(store, {p.key for _, p in shown}, at=params.range.end)
    for f, p in shown:
        owned, more = pods.get(p.key, ([], 0))
        f.evidence["failingPods"] = owned
        if more:
            f.evidence["moreFailingPods"] = more
        current = newest.get(p.key)
        if current is None:
            pass
        elif current.verb == "delete":
            f.evidence["current"] = "deleted"
        elif p.newest is not None and current.id == p.newest.latest_id:
            f.evidence["current"] = "still failing"
        else:
            f.evidence["current"] = f"recovered by {current.time}"
        f.message = _message(f.message, f.evidence["startedBy"], owned, more)


def _shows(issue: str) -> Callable[[str], bool]:
    return lambda signal: (
        (issue_for(signal) or ("",))[0]
        in (
            issue,
            *(weaker for weaker, strong in SUBSUMED_BY.items() if strong == issue),
        )
    )


def _message(state: str, started: Mapping[str, Any], pods: list[dict[str, Any]], more: int) -> str:
    parts = [state]
    if started.get("verb"):
        how = "created by" if started["verb"] == "create" else "after a change by"
        what = (started.get("highlights") or started.get("changedPaths") or [""])[0]
        what = _short_image_change(what)
        parts.append(
            f"{how} {started.get('by')} at {started.get('time')}" + (f": {what}" if what else "")
        )
    else:
        parts.append("no spec change before it")
    if pods:
        total = len(pods) + more
        first = f"{pods[0]['name']} ({_headline(pods[0]['signals'])})"
        parts.append(f"{total} pods failing, e.g. {first}" if total > 1 else f"pod {first} failing")
    return one_line("; ".join(parts))


_IMAGE_CHANGE = re.compile(r"^\S*\.image: (\S+):([\w.-]+) → (\S+):([\w.-]+)$")


def _short_image_change(highlight: str) -> str:
    """``spec…containers[app].image: repo:1.4.2 → repo:1.5.0`` → ``image repo:1.4.2 → 1.5.0``."""
    m = _IMAGE_CHANGE.match(highlight)
    if m is None or m.group(1) != m.group(3):
        return highlight
    return f"image {m.group(1)}:{m.group(2)} → {m.group(4)}"


def _headline(signals: list[str]) -> str:
    """What a pod's signals say, shortest first: ``CrashLoopBackOff, Error exit 1``."""
    values = dict(s.partition(":")[::2] for s in signals)
    said = [values[k] for k in ("waiting", "reason") if values.get(k)]
    ended = values.get("terminated") or values.get("lastTerminated")
    if ended:
        said.append(ended + (f" exit {values['exitCode']}" if values.get("exitCode") else ""))
    if "unschedulable" in values:
        said.append("Unschedulable")
    return ", ".join(said) or ", ".join(signals) or "failing"


def _state(kind: str, issue: str, obj: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """One line and the evidence from the newest version showing the issue."""
    spec, status = _mapping(obj.get("spec")), _mapping(obj.get("status"))
    evidence: dict[str, Any] = {"images": template_images(obj)}
    if kind == "Deployment":
        return _deployment_state(issue, spec, status, evidence)
    if kind == "StatefulSet":
        replicas, ready = _int(spec.get("replicas", 1)), _int(status.get("readyReplicas"))
        updated = _int(status.get("updatedReplicas"))
        evidence["replicas"] = {"desired": replicas, "ready": ready, "updated": updated}
        line = f"rollout not done: {ready}/{replicas} pods ready, {updated} updated"
        current, update = status.get("currentRevision"), status.get("updateRevision")
        if current and update and current != update:
            evidence["revisions"] = {"current": current, "update": update}
            line += f" (revision {current} → {update})"
        return line, evidence
    if kind == "DaemonSet":
        desired = _int(status.get("desiredNumberScheduled"))
        updated = _int(status.get("updatedNumberScheduled"))
        available = _int(status.get("numberAvailable"))
        evidence["nodes"] = {"desired": desired, "updated": updated, "available": available}
        return (
            f"rollout not done: {updated}/{desired} nodes run the new pod, "
            f"{available}/{desired} available"
        ), evidence
    if kind == "Job":
        return _job_state(spec, status, evidence)
    evidence.update(
        {
            k: spec.get(k) if k in ("schedule", "suspend") else status.get(k)
            for k in ("schedule", "suspend", "lastScheduleTime", "lastSuccessfulTime")
        }
    )
    return (
        f"the run scheduled at {status.get('lastScheduleTime')} did not succeed (last success: "
        f"{status.get('lastSuccessfulTime') or 'never'})"
    ), evidence


def _deployment_state(
    issue: str, spec: Mapping[str, Any], status: Mapping[str, Any], evidence: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    cond = _condition(status, _CONDITION_OF.get(issue, ""))
    evidence["condition"] = cond
    desired = _int(spec.get("replicas", 1))
    counts = {
        "desired": desired,
        **{
            key: _int(status.get(f"{key}Replicas"))
            for key in ("updated", "ready", "available", "unavailable")
        },
    }
    evidence["replicas"] = counts
    line = str(cond.get("reason") or f"{cond.get('type')}={cond.get('status')}")
    if cond.get("message"):
        line += f": {str(cond['message']).rstrip('.')}"
    line += f" ({counts['ready']}/{desired} ready, {counts['updated']} updated)"
    return line, evidence


def _job_state(
    spec: Mapping[str, Any], status: Mapping[str, Any], evidence: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    cond = _condition(status, "Failed") or _condition(status, "FailureTarget")
    evidence["condition"] = cond
    evidence["failedPods"] = _int(status.get("failed"))
    evidence["backoffLimit"] = spec.get("backoffLimit")
    if spec.get("activeDeadlineSeconds") is not None:
        evidence["activeDeadlineSeconds"] = spec.get("activeDeadlineSeconds")
    evidence["startTime"] = status.get("startTime")
    line = f"Job failed ({cond.get('reason') or 'Failed'})"
    if cond.get("message"):
        line += f": {cond['message']}"
    limit = (
        f"activeDeadlineSeconds {spec.get('activeDeadlineSeconds')}"
        if cond.get("reason") == "DeadlineExceeded"
        else f"backoffLimit {spec.get('backoffLimit')}"
    )
    failed = evidence["failedPods"]
    return f"{line} ({failed} pod{'s' if failed != 1 else ''} failed, {limit})", evidence


def _condition(status: Mapping[str, Any], type_: str) -> dict[str, Any]:
    for c in status.get("conditions") or []:
        if isinstance(c, Mapping) and c.get("type") == type_:
            keys = ("type", "status", "reason", "message", "lastTransitionTime")
            return {k: c[k] for k in keys if c.get(k) is not None}
    return {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
