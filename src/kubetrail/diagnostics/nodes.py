"""``check_node_health``: NotReady/Unknown nodes and their transitions, pressure
conditions, cordoned nodes, and the node Events kubelet and the node controller
emit (NodeNotReady, Rebooted, EvictionThresholdMet, image/container GC failures)."""

from __future__ import annotations

from typing import Any

from kubetrail.diagnostics.common import (
    aggregate,
    attach_related_events,
    base_filter,
    event_findings,
    latest_object,
    latest_uid,
    report,
)
from kubetrail.diagnostics.model import CheckParams, Finding, ObjectRef, Report, Severity
from kubetrail.store.base import EventFilter, Store

_NODE_EVENTS: dict[str, tuple[str, Severity]] = {
    "NodeNotReady": ("NodeNotReady", "critical"),
    "Rebooted": ("Rebooted", "warning"),
    "EvictionThresholdMet": ("EvictionThresholdMet", "warning"),
    "ContainerGCFailed": ("ContainerGCFailed", "warning"),
    "ImageGCFailed": ("ImageGCFailed", "warning"),
    "FreeDiskSpaceFailed": ("FreeDiskSpaceFailed", "warning"),
    "SystemOOM": ("SystemOOM", "warning"),
    "KubeletSetupFailed": ("KubeletSetupFailed", "critical"),
    "NodeHasDiskPressure": ("DiskPressure", "warning"),
    "NodeHasInsufficientMemory": ("MemoryPressure", "warning"),
    "NodeHasInsufficientPID": ("PIDPressure", "warning"),
}


def _issue(signal: str) -> tuple[str, Severity] | None:
    if signal == "node.unschedulable":
        return "Unschedulable (cordoned)", "info"
    kind, _, value = signal.partition(":")
    if kind != "node.condition":
        return None
    cond, _, status = value.partition("=")
    if cond == "Ready":
        return (
            "NotReady" if status == "False" else "Unknown (kubelet stopped reporting)"
        ), "critical"
    return f"{cond}={status}", "warning"


def check_node_health(store: Store, params: CheckParams) -> Report:
    # Nodes are cluster-scoped: a namespace narrows nothing here.
    node_params = CheckParams(range=params.range, namespace=None, limit=params.limit)
    flt = base_filter(node_params, resource_type=("nodes",), signal=("node.*",))
    buckets, truncated = aggregate(store, flt, ("resourceName", "signal"))
    findings: list[Finding] = []
    for b in buckets:
        mapped = _issue(b.key["signal"])
        if mapped is None:
            continue
        issue, severity = mapped
        node = latest_object(b)
        cond_type = b.key["signal"].partition(":")[2].partition("=")[0]
        condition: dict[str, Any] = next(
            (
                c
                for c in (node.get("status") or {}).get("conditions") or []
                if c.get("type") == cond_type
            ),
            {},
        )
        evidence = {
            "signal": b.key["signal"],
            "reason": condition.get("reason"),
            "lastTransitionTime": condition.get("lastTransitionTime"),
        }
        taints = (node.get("spec") or {}).get("taints") or []
        if taints:
            evidence["taints"] = [f"{t.get('key')}:{t.get('effect')}" for t in taints]
        findings.append(
            Finding(
                object=ObjectRef(
                    kind="Node",
                    namespace="",
                    name=b.key["resourceName"],
                    uid=latest_uid(b),
                ),
                issue=issue,
                severity=severity,
                count=b.count,
                first_seen=b.first_seen,
                last_seen=b.last_seen,
                message=str(condition.get("message") or condition.get("reason") or b.key["signal"]),
                evidence=evidence,
            )
        )
    _mark_current(store, node_params, findings)
    findings.extend(event_findings(store, node_params, kinds=("Node",), reasons=_NODE_EVENTS))
    attach_related_events(store, node_params, findings, kinds=("Node",))
    notes = []
    if params.namespace is not None:
        notes.append("nodes are cluster-scoped: the namespace filter does not apply to this check")
    return report("check_node_health", params, findings, truncated=truncated, notes=notes)


def _mark_current(store: Store, params: CheckParams, findings: list[Finding]) -> None:
    """Whether each node still has the condition in its newest stored version."""
    names = tuple(sorted({f.object.name for f in findings}))
    if not names:
        return
    flt = EventFilter(end=params.range.end, namespace=("",), resource_type=("nodes",), name=names)
    buckets, _ = aggregate(store, flt, ("resourceName",))
    newest = {b.key["resourceName"]: b for b in buckets}
    for f in findings:
        b = newest.get(f.object.name)
        if b is None or b.latest is None:
            continue
        still = f.evidence.get("signal") in (b.latest.get("signals") or [])
        f.evidence["current"] = "still present" if still else f"cleared by {b.last_seen}"
