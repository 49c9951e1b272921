"""kube-scheduler: bind a pod to a node, or report why it cannot be placed."""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta

from kubetrail.demo.fields import set_condition, touch
from kubetrail.demo.objects.events import record_scheduler
from kubetrail.demo.objects.pods import is_active
from kubetrail.demo.primitives import Obj
from kubetrail.demo.simulation import Sim


def _tolerates(pod: Obj, taint: Obj) -> bool:
    for tol in pod["spec"].get("tolerations", ()):
        key_ok = (tol.get("operator") == "Exists" and not tol.get("key")) or tol.get(
            "key"
        ) == taint["key"]
        if key_ok and tol.get("effect") in (None, taint["effect"]):
            return True
    return False


def _feasible(pod: Obj, node: Obj) -> bool:
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    if ready["status"] != "True":
        return False
    if any(not _tolerates(pod, t) for t in node["spec"].get("taints", ())):
        return False
    labels = node["metadata"]["labels"]
    return all(labels.get(k) == v for k, v in pod["spec"].get("nodeSelector", {}).items())


def _app_labels(pod: Obj) -> dict[str, str]:
    skip = ("pod-template-hash", "controller-revision-hash", "statefulset.kubernetes.io/pod-name")
    return {k: v for k, v in pod["metadata"].get("labels", {}).items() if k not in skip}


def _unschedulable(sim: Sim, pod: Obj) -> str | None:
    n = len(sim.nodes)
    for volume in pod["spec"].get("volumes", ()):
        claim = volume.get("persistentVolumeClaim")
        if claim is None:
            continue
        pvc = sim.find("PersistentVolumeClaim", pod["metadata"]["namespace"], claim["claimName"])
        if pvc is None or pvc["status"]["phase"] != "Bound":
            return (
                f"0/{n} nodes are available: pod has unbound immediate PersistentVolumeClaims. "
                f"preemption: 0/{n} nodes are available: {n} Preemption is not helpful "
                "for scheduling."
            )
    return None


def schedule_pod(sim: Sim, pod: Obj) -> Generator[int | timedelta, None, str | None]:
    """kube-scheduler: bind to the feasible node with the fewest pods of the same
    app (then the fewest pods), or report why not and retry every 5 minutes.
    Returns the node name (``None`` if the pod went away)."""
    while True:
        if not sim.alive(pod) or pod["metadata"].get("deletionTimestamp"):
            return None
        problem = _unschedulable(sim, pod)
        if problem is None:
            break
        if set_condition(
            pod["status"].setdefault("conditions", []),
            "PodScheduled",
            "False",
            sim.now,
            reason="Unschedulable",
            message=problem,
            lastProbeTime=None,
        ):
            touch(pod, "kube-scheduler", sim.now, ("status", "conditions"), subresource="status")
            sim.update(pod)
        record_scheduler(
            sim, pod, "FailedScheduling", problem, type_="Warning", action="Scheduling"
        )
        yield 300
    app = _app_labels(pod)
    registered = {name: i for i, name in enumerate(sim.nodes)}  # ties: the last registered

    def load(node: str) -> tuple[int, int, int]:
        pods = [p for p in sim.pods_on(node) if is_active(p)]
        return (sum(_app_labels(p) == app for p in pods), len(pods), -registered[node])

    candidates = [name for name, node in sim.nodes.items() if _feasible(pod, node)]
    node = min(candidates, key=load)
    pod["spec"]["nodeName"] = node
    set_condition(
        pod["status"].setdefault("conditions", []),
        "PodScheduled",
        "True",
        sim.now,
        lastProbeTime=None,
    )
    sim.update(pod)
    ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
    record_scheduler(
        sim,
        pod,
        "Scheduled",
        f"Successfully assigned {ns}/{name} to {node}",
        type_="Normal",
        action="Binding",
    )
    return node
