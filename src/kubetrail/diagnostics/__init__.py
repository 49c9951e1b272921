"""Diagnostics: the six checks, written once against the Store protocol.

Each check is aggregation queries in the store (grouped by object and signal or
Event reason: count, first seen, last seen, newest document) plus bounded reads
for the few objects it reports; never "fetch N events and loop".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from kubetrail.diagnostics.changes import analyze_recent_changes
from kubetrail.diagnostics.model import (
    CheckParams,
    Finding,
    InvalidParams,
    Report,
    TimeRange,
    parse_window,
)
from kubetrail.diagnostics.nodes import check_node_health
from kubetrail.diagnostics.pods import check_pod_issues, check_resource_limits
from kubetrail.diagnostics.startup import investigate_pod_startup
from kubetrail.diagnostics.volumes import check_volume_issues
from kubetrail.store.base import Store


@dataclass(frozen=True, slots=True)
class CheckSpec:
    name: str
    description: str
    run: Callable[[Store, CheckParams], Report]
    default_window: timedelta = timedelta(hours=1)
    needs_pod: bool = False


CHECKS: dict[str, CheckSpec] = {
    spec.name: spec
    for spec in (
        CheckSpec(
            "check_node_health",
            "NotReady/Unknown nodes and their transitions, memory/disk/PID pressure, "
            "network unavailable, cordoned nodes, kubelet and node Events.",
            check_node_health,
        ),
        CheckSpec(
            "check_pod_issues",
            "CrashLoopBackOff (with last exit reason and code), ImagePullBackOff/ErrImagePull, "
            "OOMKilled, CreateContainerConfigError and other waiting errors, probe failures, "
            "evictions, scheduling failures; init containers included.",
            check_pod_issues,
        ),
        CheckSpec(
            "check_volume_issues",
            "PVCs Pending or Lost, provisioning failures (missing StorageClass), binding, mount, "
            "attach and resize failures, pods waiting for unbound claims.",
            check_volume_issues,
        ),
        CheckSpec(
            "analyze_recent_changes",
            "Creates, updates and deletes of workloads, ConfigMaps, Secrets (redacted), "
            "Services, Ingresses, NetworkPolicies, RBAC and CRDs: who changed what.",
            analyze_recent_changes,
            default_window=timedelta(hours=24),
        ),
        CheckSpec(
            "investigate_pod_startup",
            "One pod's timeline, current state, owners' recent changes, referenced "
            "ConfigMaps/Secrets/PVCs and node, ending with the most likely cause.",
            investigate_pod_startup,
            needs_pod=True,
        ),
        CheckSpec(
            "check_resource_limits",
            "OOM kills, evictions for memory or ephemeral storage, scheduling failures for "
            "insufficient cpu/memory, quota exceeded, failing pods without memory requests/limits.",
            check_resource_limits,
        ),
    )
}


class UnknownCheck(KeyError):
    def __str__(self) -> str:
        return f"unknown check {self.args[0]!r}; known checks: {', '.join(CHECKS)}"


def run_check(store: Store, name: str, params: CheckParams) -> Report:
    spec = CHECKS.get(name)
    if spec is None:
        raise UnknownCheck(name)
    return spec.run(store, params)


__all__ = [
    "CHECKS",
    "CheckParams",
    "CheckSpec",
    "Finding",
    "InvalidParams",
    "Report",
    "TimeRange",
    "UnknownCheck",
    "parse_window",
    "run_check",
]
