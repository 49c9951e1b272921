"""The replica set controller: create or delete pods to match ``spec.replicas``."""

from __future__ import annotations

from kubetrail.demo.controllers.kubelet import pod_lifecycle, start_termination
from kubetrail.demo.controllers.status import sync_deployment
from kubetrail.demo.fields import touch
from kubetrail.demo.objects.events import record
from kubetrail.demo.objects.pods import is_active, is_ready, new_pod
from kubetrail.demo.primitives import KCM, Obj, parse_ts, token
from kubetrail.demo.simulation import Sim


def reconcile_replica_set(sim: Sim, rs: Obj) -> None:
    """Create or delete pods until the ReplicaSet has ``spec.replicas`` active ones."""
    pods = [p for p in sim.owned(rs, "Pod") if is_active(p)]
    missing = rs["spec"]["replicas"] - len(pods)
    rs_name = rs["metadata"]["name"]
    for _ in range(missing):
        number = sim.next_number(rs["metadata"]["uid"])
        name = f"{rs_name}-{token(5, sim.seed, rs_name, number)}"
        pod = sim.create(
            new_pod(sim, rs, rs["spec"]["template"], name, generate_name=f"{rs_name}-")
        )
        record(
            sim, rs, "SuccessfulCreate", f"Created pod: {name}", component="replicaset-controller"
        )
        sim.later(1, pod_lifecycle(sim, pod))
    if missing < 0:
        # The controller's ranking: unscheduled, not running, not ready, doubled up
        # on a node with more of this ReplicaSet's pods, restarted more, newer: first.
        per_node: dict[str | None, int] = {}
        for pod in pods:
            per_node[pod["spec"].get("nodeName")] = per_node.get(pod["spec"].get("nodeName"), 0) + 1
        victims = sorted(
            pods,
            key=lambda p: (
                bool(p["spec"].get("nodeName")),
                p["status"]["phase"] == "Running",
                is_ready(p),
                -per_node[p["spec"].get("nodeName")],
                -sum(c.get("restartCount", 0) for c in p["status"].get("containerStatuses", ())),
                -parse_ts(p["metadata"]["creationTimestamp"]).timestamp(),
            ),
        )
        for pod in victims[:-missing]:
            record(
                sim,
                rs,
                "SuccessfulDelete",
                f"Deleted pod: {pod['metadata']['name']}",
                component="replicaset-controller",
            )
            start_termination(sim, pod)
    _sync_owner_of_rs(sim, rs)


def _sync_owner_of_rs(sim: Sim, rs: Obj) -> None:
    deploy = sim.live.get(rs["metadata"]["ownerReferences"][0]["uid"])
    if deploy is not None:
        sync_deployment(sim, deploy)


def scale(sim: Sim, deploy: Obj, rs: Obj, replicas: int) -> None:
    """The deployment controller scales ``rs`` to ``replicas``; the RS controller follows."""
    old = rs["spec"]["replicas"]
    rs["spec"]["replicas"] = replicas
    rs["metadata"]["generation"] += 1
    rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] = str(
        deploy["spec"]["replicas"]
    )
    touch(rs, KCM, sim.now, ("metadata", "annotations"), ("spec", "replicas"))
    sim.update(rs)
    name = rs["metadata"]["name"]
    direction = "up" if replicas > old else "down"
    message = f"Scaled {direction} replica set {name} to {replicas}" + (
        f" from {old}" if old else ""
    )
    record(sim, deploy, "ScalingReplicaSet", message, component="deployment-controller")
    reconcile_replica_set(sim, rs)
