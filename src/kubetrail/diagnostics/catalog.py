"""The catalogue of checks: names, descriptions, default windows, and their parameters.

The REST API (``GET /api/v1/diagnostics``, ``/diagnostics/{check}``,
``/changes``) and the MCP server (one tool per check, ``audit://changes/…``)
both list these checks and take the same arguments, so what they share is here:
each check's description and default window (:data:`CHECKS`), how a request's
or a tool call's arguments become :class:`CheckParams` (:func:`check_params`,
one validation with one set of messages), and the named windows of recent
changes (:data:`CHANGE_RANGES`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from kubetrail.diagnostics.changes import analyze_recent_changes
from kubetrail.diagnostics.model import DEFAULT_LIMIT, CheckParams, Report, TimeRange
from kubetrail.diagnostics.nodes import check_node_health
from kubetrail.diagnostics.pods import check_pod_issues, check_resource_limits
from kubetrail.diagnostics.startup import investigate_pod_startup
from kubetrail.diagnostics.volumes import check_volume_issues
from kubetrail.diagnostics.workloads import check_workload_rollouts
from kubetrail.store.base import Store

#: The windows of ``GET /api/v1/changes?range=`` and ``audit://changes/{time_range}``.
CHANGE_RANGES: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}


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
            "Node health: NotReady/Unknown nodes and their transitions, memory/disk/PID "
            "pressure, NetworkUnavailable, cordoned (unschedulable) nodes, kubelet failures and "
            "node Events (NodeNotReady, Rebooted, EvictionThresholdMet, ContainerGCFailed, "
            "ImageGCFailed...).",
            check_node_health,
        ),
        CheckSpec(
            "check_pod_issues",
            "Pod problems: CrashLoopBackOff (with the last termination reason and exit code), "
            "ImagePullBackOff/ErrImagePull, OOMKilled, CreateContainerConfigError and other "
            "waiting errors, liveness/readiness/startup probe failures, evictions, "
            "FailedScheduling; init containers too.",
            check_pod_issues,
        ),
        CheckSpec(
            "check_volume_issues",
            "Volume problems: PVCs Pending or Lost, ProvisioningFailed (including a StorageClass "
            "that does not exist), FailedBinding, FailedMount, FailedAttachVolume, "
            "VolumeResizeFailed, pods stuck on unbound claims.",
            check_volume_issues,
        ),
        CheckSpec(
            "analyze_recent_changes",
            "What changed: creates/updates/deletes of Deployments, StatefulSets, DaemonSets, "
            "ConfigMaps, Secrets (values redacted, a change still shows), NetworkPolicies, "
            "Services, Ingresses, RBAC and CRDs, grouped by kind and namespace, with who changed "
            "them (fieldManager) and what changed (changed paths, e.g. an image tag). Startup "
            "snapshots are not changes.",
            analyze_recent_changes,
            default_window=timedelta(hours=24),
        ),
        CheckSpec(
            "investigate_pod_startup",
            "Why one pod does not start or keeps failing: its timeline (scheduling, image pulls, "
            "mounts, container starts, probes, restarts, terminations), current state, its "
            "owners' changes just before (ReplicaSet -> Deployment rollout), the ConfigMaps, "
            "Secrets and PVCs it references and whether they exist, its node's state; ends with "
            "the most likely cause and the evidence.",
            investigate_pod_startup,
            needs_pod=True,
        ),
        CheckSpec(
            "check_resource_limits",
            "Resource exhaustion: OOM kills, evictions for memory or ephemeral storage, "
            "FailedScheduling for insufficient cpu/memory, quota exceeded (FailedCreate), "
            "failing containers without requests/limits. CPU throttling needs metrics the "
            "recorded data does not have; the report says so.",
            check_resource_limits,
        ),
        CheckSpec(
            "check_workload_rollouts",
            "Failed and stuck rollouts and jobs: Deployments not progressing "
            "(ProgressDeadlineExceeded) or unavailable, StatefulSet and DaemonSet rollouts "
            "stuck, Jobs failed (BackoffLimitExceeded) or past their activeDeadlineSeconds, "
            "CronJobs whose runs fail or are missed; each with the change that started it "
            "(who, when, e.g. the image change) and the pods it left failing.",
            check_workload_rollouts,
            default_window=timedelta(hours=24),
        ),
    )
}


class UnknownCheck(KeyError):
    def __str__(self) -> str:
        return f"unknown check {self.args[0]!r}; known checks: {', '.join(CHECKS)}"


def check_params(
    name: str,
    *,
    namespace: str | None = None,
    start_time: str | None = None,
    end_time: str | None = None,
    time_window: str | None = None,
    limit: int | None = None,
    pod_name: str | None = None,
) -> CheckParams:
    """The :class:`CheckParams` of a call to check ``name`` (empty strings mean absent;
    the range defaults to the check's window). Raises :class:`UnknownCheck` or
    :class:`~kubetrail.diagnostics.model.InvalidParams`."""
    spec = CHECKS.get(name)
    if spec is None:
        raise UnknownCheck(name)
    rng = TimeRange.resolve(
        start_time=start_time or None,
        end_time=end_time or None,
        time_window=time_window or None,
        default=spec.default_window,
    )
    return CheckParams(
        range=rng,
        namespace=namespace or None,
        limit=DEFAULT_LIMIT if limit is None else limit,
        pod_name=pod_name or None,
    )


def run_check(store: Store, name: str, params: CheckParams) -> Report:
    spec = CHECKS.get(name)
    if spec is None:
        raise UnknownCheck(name)
    return spec.run(store, params)
