"""Pod checks: ``check_pod_issues`` and ``check_resource_limits``.

Both start from the pod signals derived at ingest (``pod.waiting:*``,
``pod.lastTerminated:OOMKilled``, ``pod.reason:Evicted``, ``pod.unschedulable``)
grouped by pod and signal, and add what only Kubernetes Events say (probe
failures, scheduling and quota messages), grouped by object and reason.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from kubetrail.diagnostics.common import (
    aggregate,
    attach_related_events,
    base_filter,
    event_findings,
    latest_object,
    latest_uid,
    one_line,
    ranked,
    report,
)
from kubetrail.diagnostics.model import CheckParams, Finding, ObjectRef, Report, Severity
from kubetrail.store.base import Bucket, Store

_CRITICAL_WAITING = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "CreateContainerConfigError",
        "CreateContainerError",
        "InvalidImageName",
        "RunContainerError",
        "ErrImageNeverPull",
    }
)
_POD_SIGNALS = (
    "pod.waiting:*",
    "pod.lastTerminated:OOMKilled",
    "pod.terminated:OOMKilled",
    "pod.reason:*",
    "pod.unschedulable",
)
_PROBE = re.compile(r"^(Liveness|Readiness|Startup) probe", re.IGNORECASE)


def _issue_for(signal: str) -> tuple[str, Severity] | None:
    kind, _, value = signal.partition(":")
    if kind == "pod.waiting":
        return value, "critical" if value in _CRITICAL_WAITING else "warning"
    if kind in ("pod.lastTerminated", "pod.terminated") and value == "OOMKilled":
        return "OOMKilled", "critical"
    if kind == "pod.reason":
        return value, "warning"
    if kind == "pod.unschedulable":
        return "Unschedulable", "warning"
    return None


def containers(pod: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """(spec container, status) pairs, init containers first."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    out = []
    for spec_key, status_key in (
        ("initContainers", "initContainerStatuses"),
        ("containers", "containerStatuses"),
    ):
        by_name = {c.get("name"): c for c in status.get(status_key) or [] if isinstance(c, Mapping)}
        for c in spec.get(spec_key) or []:
            if isinstance(c, Mapping):
                out.append((c, by_name.get(c.get("name"), {})))
    return out


def container_evidence(pod: Mapping[str, Any], issue: str) -> tuple[str, dict[str, Any]]:
    """The message and evidence for ``issue`` from the pod's container statuses."""
    for spec, status in containers(pod):
        state = status.get("state") or {}
        waiting = state.get("waiting") or {}
        last = (status.get("lastState") or {}).get("terminated") or {}
        terminated = state.get("terminated") or {}
        evidence: dict[str, Any] = {
            "container": spec.get("name"),
            "image": spec.get("image"),
            "restartCount": status.get("restartCount", 0),
        }
        limits = (spec.get("resources") or {}).get("limits") or {}
        if waiting.get("reason") == issue:
            if last:
                evidence["lastTermination"] = {
                    "reason": last.get("reason"),
                    "exitCode": last.get("exitCode"),
                    "finishedAt": last.get("finishedAt"),
                }
                if last.get("message"):
                    evidence["lastTermination"]["message"] = one_line(last["message"])
            message = waiting.get("message") or issue
            if last:
                message = (
                    f"{message} (last exit: {last.get('reason')}, code {last.get('exitCode')})"
                )
            return one_line(message), evidence
        if issue == "OOMKilled" and "OOMKilled" in (last.get("reason"), terminated.get("reason")):
            evidence["memoryLimit"] = limits.get("memory")
            evidence["memoryRequest"] = ((spec.get("resources") or {}).get("requests") or {}).get(
                "memory"
            )
            limit = limits.get("memory") or "no limit"
            return one_line(
                f"container {spec.get('name')} was OOMKilled (exit 137, memory limit {limit})"
            ), evidence
    status = pod.get("status") or {}
    if status.get("message"):
        return one_line(status["message"]), {"reason": status.get("reason")}
    for cond in status.get("conditions") or []:
        if isinstance(cond, Mapping) and cond.get("type") == "PodScheduled" and cond.get("message"):
            return one_line(cond["message"]), {"reason": cond.get("reason")}
    return issue, {}


def _signal_findings(
    store: Store, params: CheckParams, signals: tuple[str, ...], *, evidence: bool = True
) -> tuple[list[Finding], bool]:
    """One finding per (pod, issue); ``evidence=False`` skips reading the newest
    documents (messages, container states) when only the pods are needed."""
    findings, truncated, newest = _signal_groups(store, params, signals, with_ids=evidence)
    if evidence:
        _add_evidence(store, findings, newest)
    return findings, truncated


#: (namespace, pod, issue) → the id of the newest document showing it
NewestIds = dict[tuple[str, str, str], str]


def _signal_groups(
    store: Store, params: CheckParams, signals: tuple[str, ...], *, with_ids: bool
) -> tuple[list[Finding], bool, NewestIds]:
    """The findings of one aggregation, without evidence yet (the message is the
    issue); with ``with_ids`` also the newest document id of each, for
    :func:`_add_evidence` to read only the findings a report will show."""
    flt = base_filter(params, resource_type=("pods",), signal=signals)
    buckets, truncated = aggregate(
        store, flt, ("namespace", "resourceName", "signal"), latest=False, latest_id=with_ids
    )
    merged: dict[tuple[str, str, str], Finding] = {}
    newest: NewestIds = {}
    for b in buckets:  # most recently seen first
        mapped = _issue_for(b.key["signal"])
        if mapped is None:
            continue
        issue, severity = mapped
        key = (b.key["namespace"], b.key["resourceName"], issue)
        found = merged.get(key)
        if found is not None:
            found.count = max(found.count, b.count)
            found.first_seen = min(found.first_seen, b.first_seen)
            found.last_seen = max(found.last_seen, b.last_seen)
            continue
        if b.latest_id:
            newest[key] = b.latest_id
        merged[key] = Finding(
            object=ObjectRef(kind="Pod", namespace=key[0], name=key[1]),
            issue=issue,
            severity=severity,
            count=b.count,
            first_seen=b.first_seen,
            last_seen=b.last_seen,
            message=issue,
        )
    return list(merged.values()), truncated, newest


def _add_evidence(store: Store, findings: list[Finding], newest: NewestIds) -> None:
    """Message, container evidence and uid from each finding's newest document."""
    keys = [(f.object.namespace, f.object.name, f.issue) for f in findings]
    docs = store.documents([newest[k] for k in keys if k in newest])
    for f, key in zip(findings, keys, strict=True):
        doc = docs.get(newest.get(key, ""))
        if doc is None:
            continue
        f.object.uid = str(doc.get("uid") or "")
        f.message, f.evidence = container_evidence(doc.get("objectChanges") or {}, f.issue)


def _mark_current(store: Store, params: CheckParams, findings: list[Finding]) -> None:
    """Whether each pod still shows the issue in its newest stored version."""
    names = tuple(sorted({f.object.name for f in findings}))
    if not names:
        return
    namespaces = tuple(sorted({f.object.namespace for f in findings}))
    flt = base_filter(params, resource_type=("pods",), name=names)
    # the newest version up to the end of the range; naming the namespaces lets the
    # store use its (namespace, type, name, time) index instead of every pod event
    flt = dataclasses.replace(flt, namespace=namespaces)
    buckets, _ = aggregate(store, flt, ("namespace", "resourceName"))
    newest: dict[tuple[str, str], Bucket] = {
        (b.key["namespace"], b.key["resourceName"]): b for b in buckets
    }
    # A pod found through its Events alone may have no version in the range: only
    # those are looked for before it (every stored day, where the range is one hour).
    unseen = [f for f in findings if (f.object.namespace, f.object.name) not in newest]
    if unseen:
        flt = dataclasses.replace(
            flt,
            start=None,
            namespace=tuple(sorted({f.object.namespace for f in unseen})),
            name=tuple(sorted({f.object.name for f in unseen})),
        )
        for older in aggregate(store, flt, ("namespace", "resourceName"))[0]:
            newest[(older.key["namespace"], older.key["resourceName"])] = older
    for f in findings:
        b = newest.get((f.object.namespace, f.object.name))
        if b is None or b.latest is None:
            continue
        if b.latest.get("verb") == "delete":
            f.evidence["current"] = "deleted"
            continue
        f.evidence["current"] = _current_state(f.issue, b.latest.get("signals") or [], b.last_seen)


def _current_state(issue: str, signals: list[str], newest_time: str) -> str:
    """How a pod's ``issue`` stands in its newest version (with ``signals``, at
    ``newest_time``): a pod that moved from one failure to the next (ErrImagePull →
    ImagePullBackOff, Unschedulable → CrashLoopBackOff) has not recovered."""
    issues = {(_issue_for(s) or ("", ""))[0] for s in signals}
    if issue in issues:
        return "still failing"
    # the states a failing pod sits in; an old termination in lastState is history
    now = sorted(
        (_issue_for(s) or ("", ""))[0]
        for s in signals
        if s.startswith("pod.waiting:") or s == "pod.unschedulable"
    )
    if now:
        return f"still failing, now {', '.join(now)}"
    return f"recovered by {newest_time}"


_POD_EVENT_REASONS: dict[str, tuple[str, Severity]] = {
    "Unhealthy": ("ProbeFailure", "warning"),
    "FailedScheduling": ("FailedScheduling", "warning"),
    "Evicted": ("Evicted", "warning"),
    "FailedCreatePodSandBox": ("FailedCreatePodSandBox", "warning"),
    "FailedMount": ("FailedMount", "warning"),
}


def check_pod_issues(store: Store, params: CheckParams) -> Report:
    # thousands of pods may fail at once: read evidence only for those shown (below)
    findings, truncated, newest = _signal_groups(store, params, _POD_SIGNALS, with_ids=True)
    from_signals = {id(f) for f in findings}
    seen = {(f.object.namespace, f.object.name, f.issue) for f in findings}
    for f in event_findings(store, params, kinds=("Pod",), reasons=_POD_EVENT_REASONS):
        if f.issue == "ProbeFailure":
            probe = _PROBE.match(f.message)
            f.evidence["probe"] = probe.group(1).lower() if probe else "unknown"
        if f.issue == "Evicted" and (f.object.namespace, f.object.name, "Evicted") in seen:
            continue
        if (
            f.issue == "FailedScheduling"
            and (f.object.namespace, f.object.name, "Unschedulable") in seen
        ):
            continue
        findings.append(f)
    # Only what the report will show needs its evidence, current state and Events.
    shown = ranked(findings)[: params.limit]
    _add_evidence(store, [f for f in shown if id(f) in from_signals], newest)
    _mark_current(store, params, shown)
    attach_related_events(store, params, shown, kinds=("Pod",), warnings_only=True)
    return report("check_pod_issues", params, findings, truncated=truncated)


# -- resource limits -----------------------------------------------------------------

_INSUFFICIENT = re.compile(
    r"Insufficient (cpu|memory|ephemeral-storage|nvidia\.com/gpu|pods)", re.I
)
_QUOTA = re.compile(r"exceeded quota", re.I)
_EVICTED_FOR = re.compile(r"low on resource: ([\w-]+)", re.I)

RESOURCE_NOTES = [
    "CPU throttling is not visible in watch data (it needs cAdvisor/metrics-server metrics); "
    "it is not reported here.",
]


def check_resource_limits(store: Store, params: CheckParams) -> Report:
    findings, truncated, newest = _signal_groups(
        store,
        params,
        ("pod.lastTerminated:OOMKilled", "pod.terminated:OOMKilled", "pod.reason:Evicted"),
        with_ids=True,
    )
    # An eviction's message names the resource, and with it the issue (counted in the
    # summary): those are read for every eviction; the rest only for what is shown.
    evicted = [f for f in findings if f.issue == "Evicted"]
    _add_evidence(store, evicted, newest)
    for f in evicted:
        match = _EVICTED_FOR.search(f.message)
        if match:
            f.evidence["resource"] = match.group(1)
            f.issue = f"Evicted ({match.group(1)})"
    needs_evidence = {id(f) for f in findings} - {id(f) for f in evicted}
    for f in event_findings(
        store,
        params,
        kinds=("Pod",),
        reasons={"FailedScheduling": ("InsufficientResources", "warning")},
        message_filter=lambda reason, msg: bool(_INSUFFICIENT.search(msg)),
    ):
        f.evidence["insufficient"] = sorted({m.lower() for m in _INSUFFICIENT.findall(f.message)})
        findings.append(f)
    for f in event_findings(
        store,
        params,
        kinds=("ReplicaSet", "StatefulSet", "DaemonSet", "Job"),
        reasons={"FailedCreate": ("QuotaExceeded", "warning")},
        message_filter=lambda reason, msg: bool(_QUOTA.search(msg)),
    ):
        findings.append(f)
    notes = list(RESOURCE_NOTES)
    failing, _ = _signal_findings(store, params, _POD_SIGNALS, evidence=False)
    unbounded = _pods_without_limits(store, params, ranked(failing)[: params.limit])
    findings.extend(unbounded)
    shown = ranked(findings)[: params.limit]  # evidence does not change the order
    _add_evidence(store, [f for f in shown if id(f) in needs_evidence], newest)
    attach_related_events(store, params, findings, kinds=("Pod",), warnings_only=True)
    return report("check_resource_limits", params, findings, truncated=truncated, notes=notes)


def _pods_without_limits(
    store: Store, params: CheckParams, failing: list[Finding]
) -> list[Finding]:
    """Failing pods with a container lacking memory requests or limits."""
    out: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    names = tuple(sorted({f.object.name for f in failing}))
    if not names:
        return out
    namespaces = tuple(sorted({f.object.namespace for f in failing}))
    buckets, _ = aggregate(
        store,
        replace(base_filter(params, resource_type=("pods",), name=names), namespace=namespaces),
        ("namespace", "resourceName"),
    )
    for b in buckets:
        key = (b.key["namespace"], b.key["resourceName"])
        pod = latest_object(b)
        if key in seen:
            continue
        missing: list[dict[str, Any]] = []
        for spec, _status in containers(pod):
            res = spec.get("resources") or {}
            lacks = [
                what
                for what, part in (("requests", res.get("requests")), ("limits", res.get("limits")))
                if not (part or {}).get("memory")
            ]
            if lacks:
                missing.append({"container": spec.get("name"), "missingMemory": lacks})
        if missing:
            seen.add(key)
            out.append(
                Finding(
                    object=ObjectRef(
                        kind="Pod",
                        namespace=key[0],
                        name=key[1],
                        uid=latest_uid(b),
                    ),
                    issue="NoMemoryRequestsOrLimits",
                    severity="info",
                    count=b.count,
                    first_seen=b.first_seen,
                    last_seen=b.last_seen,
                    message=one_line(
                        "failing pod without memory "
                        + ", ".join(
                            f"{m['container']}: {'/'.join(m['missingMemory'])}" for m in missing
                        )
                    ),
                    evidence={"containers": missing},
                )
            )
    return out
