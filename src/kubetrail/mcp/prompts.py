"""Investigation prompts: step-by-step workflows that name the tools to call.

Each prompt renders one user message for the model: what to find out, which
kubetrail tools to call in which order (with the arguments filled in), what to
look for in each answer, and how to report. The names and arguments are the
original toolkit's. :func:`add_prompts` registers them on the server; a bad
argument (a window that is not one) is an invalid-params error with its message.
"""

# No ``from __future__ import annotations``: the SDK reads the prompts' signatures.

from collections.abc import Callable
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS
from pydantic import Field

from kubetrail.diagnostics import InvalidParams, parse_window

FOCUS_AREAS = ("all", "nodes", "pods", "rollouts", "volumes", "changes", "resources")


def _window(time_window: str) -> str:
    try:
        parse_window(time_window)
    except InvalidParams as exc:
        raise ValueError(str(exc)) from None
    return time_window.strip()


def investigate_pod_failure(pod_name: str, namespace: str, time_window: str = "2h") -> str:
    tw = _window(time_window)
    return f"""\
Investigate why pod `{pod_name}` in namespace `{namespace}` is failing, using the kubetrail \
audit tools (every answer comes from recorded changes of the cluster; do not guess beyond them).

1. Call `investigate_pod_startup` with pod_name="{pod_name}", namespace="{namespace}", \
time_window="{tw}". Read its timeline, current state and conclusion: scheduling, image pulls, \
mounts, container starts, probes, restarts, terminations.
2. Call `check_pod_issues` with namespace="{namespace}", time_window="{tw}" to see whether \
other pods share the problem (a namespace-wide CrashLoopBackOff or ImagePullBackOff points at a \
rollout or a registry, not at this pod).
3. Call `analyze_recent_changes` with namespace="{namespace}", time_window="{tw}": did a \
Deployment image, a ConfigMap or a Secret change shortly before the failure began? Note who \
changed it (fieldManager) and what changed (changed paths).
4. If the pod was OOMKilled or evicted, call `check_resource_limits` with \
namespace="{namespace}", time_window="{tw}". If it is Pending or stuck on a volume, call \
`check_volume_issues` with namespace="{namespace}", time_window="{tw}". If the node looks \
unhealthy, call `check_node_health` with time_window="{tw}".
5. Call `get_object_history` for the objects the evidence points at (for example \
namespace="{namespace}", resource_type="deployments", name=<the owner>) to see exactly which \
fields changed and when.

Report: the most likely cause in one sentence, the evidence (times, reasons, exit codes, \
messages), what changed just before, and the fix to try first (for example roll back the \
deployment, correct the image tag, restore the config). Never print Secret values: kubetrail \
only stores their hashes.
"""


def diagnose_cluster_health(time_window: str = "24h", focus_area: str = "all") -> str:
    tw = _window(time_window)
    focus = (focus_area or "all").strip().lower()
    if focus not in FOCUS_AREAS:
        raise ValueError(f"focus_area {focus_area!r} is not one of {', '.join(FOCUS_AREAS)}")
    steps = {
        "nodes": f'Call `check_node_health` with time_window="{tw}": NotReady/Unknown nodes, '
        "memory/disk/PID pressure, network unavailable, cordoned nodes, kubelet failures.",
        "pods": f'Call `check_pod_issues` with time_window="{tw}": CrashLoopBackOff, '
        "ImagePullBackOff, OOMKilled, probe failures, evictions, FailedScheduling.",
        "rollouts": f'Call `check_workload_rollouts` with time_window="{tw}": Deployments '
        "not progressing (ProgressDeadlineExceeded) or unavailable, stuck StatefulSet and "
        "DaemonSet rollouts, failed Jobs, CronJobs whose runs fail or are missed; each with the "
        "change that started it and the pods it left failing.",
        "volumes": f'Call `check_volume_issues` with time_window="{tw}": Pending or Lost PVCs, '
        "provisioning failures (missing StorageClass), mount and attach failures.",
        "resources": f'Call `check_resource_limits` with time_window="{tw}": OOM kills, '
        "evictions for memory or disk, insufficient cpu/memory, quota exceeded.",
        "changes": f'Call `analyze_recent_changes` with time_window="{tw}": deployments, '
        "configs, secrets, network policies and RBAC changed in the window, and by whom.",
    }
    chosen = list(steps) if focus == "all" else [focus]
    if "changes" not in chosen:
        chosen.append("changes")  # problems are explained by what changed before them
    body = "\n".join(f"{i}. {steps[area]}" for i, area in enumerate(chosen, 1))
    n = len(chosen)
    return f"""\
Assess the health of this Kubernetes cluster over the last {tw} (focus: {focus}), using the \
kubetrail audit tools.

{body}
{n + 1}. For each critical finding, correlate it with the changes: a problem that starts \
minutes after a rollout, config or secret change is probably caused by it. Use \
`get_object_history` on the objects involved and `search_events` (for example \
signal="node.condition:Ready=Unknown" or query="FailedScheduling") to confirm the timeline.
{n + 2}. If a tool says a result is truncated, repeat it with namespace= or a shorter time_window.

Report: a short overall verdict, then the issues ordered by severity (what, where, since when, \
the probable cause with its evidence), then what looks healthy. Never print Secret values.
"""


def analyze_deployment_rollout(
    deployment_name: str, namespace: str, time_window: str = "2h"
) -> str:
    tw = _window(time_window)
    return f"""\
Analyse the rollout of deployment `{deployment_name}` in namespace `{namespace}` over the last \
{tw}, using the kubetrail audit tools.

1. Call `get_object_history` with namespace="{namespace}", resource_type="deployments", \
name="{deployment_name}". Find the rollout: which version changed \
`spec.template.spec.containers[...].image` (or other template fields), when, and by whom \
(fieldManager: helm, kubectl, argocd...). Note conditions such as Progressing=False \
(ProgressDeadlineExceeded). Call `check_workload_rollouts` with namespace="{namespace}", \
time_window="{tw}": whether the rollout failed or is stuck, the change that started it and the \
pods it left failing (a migration Job failing alongside it shows there too).
2. Call `analyze_recent_changes` with namespace="{namespace}", time_window="{tw}" for the \
ConfigMaps, Secrets and other objects changed together with it.
3. Call `search_events` with namespace="{namespace}", kind="ReplicaSet", time_window="{tw}" \
to see the new and old ReplicaSets scaling, and `search_events` with \
namespace="{namespace}", query="{deployment_name}", kind="Event", time_window="{tw}" for the \
Kubernetes Events of the rollout.
4. Call `check_pod_issues` with namespace="{namespace}", time_window="{tw}": are the new pods \
crash-looping, failing to pull their image, failing probes or OOMKilled? For one failing \
pod, call `investigate_pod_startup` with its pod_name and namespace="{namespace}".

Report: what the rollout changed (old → new), whether it completed, stalled or is failing, the \
evidence, and whether rolling back (to which image or revision) is the likely fix. Never print \
Secret values.
"""


def troubleshoot_volume_issues(
    namespace: str, pvc_name: str | None = None, time_window: str = "24h"
) -> str:
    tw = _window(time_window)
    target = (
        f"PVC `{pvc_name}` in namespace `{namespace}`"
        if pvc_name
        else (f"the volumes of namespace `{namespace}`")
    )
    history = (
        f'Call `get_object_history` with namespace="{namespace}", '
        f'resource_type="persistentvolumeclaims", name="{pvc_name}": its phase over time, the '
        "StorageClass it asks for, and the Kubernetes Events about it (ProvisioningFailed, "
        "FailedBinding...)."
        if pvc_name
        else f'Call `search_events` with namespace="{namespace}", '
        f'resource_type="persistentvolumeclaims", time_window="{tw}" to list the claims and '
        "their phases, then `get_object_history` for the ones that are not Bound."
    )
    return f"""\
Troubleshoot {target} over the last {tw}, using the kubetrail audit tools.

1. Call `check_volume_issues` with namespace="{namespace}", time_window="{tw}": Pending or Lost \
claims, provisioning failures (a StorageClass that does not exist), FailedBinding, \
FailedMount, FailedAttachVolume, pods stuck on unbound claims.
2. {history}
3. Call `search_events` with resource_type="storageclasses", time_window="7d" to check \
whether the StorageClass named by the claim exists (or was deleted or renamed), and with \
namespace="{namespace}", query="FailedScheduling", time_window="{tw}" for pods that cannot be \
scheduled because of their claims.
4. For a pod waiting on the volume, call `investigate_pod_startup` with its pod_name and \
namespace="{namespace}"; for attach or mount failures, call `check_node_health` with \
time_window="{tw}" to rule out the node.

Report: which claims and pods are affected, the root cause (for example a missing \
StorageClass, no matching PersistentVolume, a zone conflict, a node that cannot attach), the \
evidence, and the fix (create or correct the StorageClass, fix the claim, ...).
"""


# -- registration --------------------------------------------------------------------------------

TimeWindowArg = Annotated[str, Field(description="How far back: e.g. 30m, 2h, '2 hours', 24h, 7d.")]


def _render(fn: Callable[..., str], *args: Any) -> str:
    """A bad argument is an invalid-params error with its message, not an internal error."""
    try:
        return fn(*args)
    except ValueError as exc:
        raise MCPError(code=INVALID_PARAMS, message=str(exc)) from None


def add_prompts(server: MCPServer) -> None:
    """Register the four investigation prompts on ``server``."""

    @server.prompt(
        name="investigate_pod_failure",
        title="Investigate a pod failure",
        description="Step-by-step investigation of why one pod fails or does not start.",
    )
    def _investigate_pod_failure(
        pod_name: Annotated[str, Field(description="The failing pod's name.")],
        namespace: Annotated[str, Field(description="The pod's namespace.")],
        time_window: TimeWindowArg = "2h",
    ) -> str:
        return _render(investigate_pod_failure, pod_name, namespace, time_window)

    @server.prompt(
        name="diagnose_cluster_health",
        title="Diagnose cluster health",
        description="A comprehensive health check of nodes, pods, rollouts and jobs, volumes, "
        "resources and recent changes, correlated.",
    )
    def _diagnose_cluster_health(
        time_window: TimeWindowArg = "24h",
        focus_area: Annotated[
            str,
            Field(description="all, nodes, pods, rollouts, volumes, changes or resources."),
        ] = "all",
    ) -> str:
        return _render(diagnose_cluster_health, time_window, focus_area)

    @server.prompt(
        name="analyze_deployment_rollout",
        title="Analyse a deployment rollout",
        description="What a rollout changed, whether it completed or stalled, and why.",
    )
    def _analyze_deployment_rollout(
        deployment_name: Annotated[str, Field(description="The Deployment's name.")],
        namespace: Annotated[str, Field(description="The Deployment's namespace.")],
        time_window: TimeWindowArg = "2h",
    ) -> str:
        return _render(analyze_deployment_rollout, deployment_name, namespace, time_window)

    @server.prompt(
        name="troubleshoot_volume_issues",
        title="Troubleshoot volume issues",
        description="PVC and volume problems: pending claims, provisioning, binding, mounts.",
    )
    def _troubleshoot_volume_issues(
        namespace: Annotated[str, Field(description="The namespace of the claim(s).")],
        pvc_name: Annotated[
            str | None, Field(description="One PersistentVolumeClaim; omit for all.")
        ] = None,
        time_window: TimeWindowArg = "24h",
    ) -> str:
        return _render(troubleshoot_volume_issues, namespace, pvc_name, time_window)
