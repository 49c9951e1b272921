"""Node status: kubelet heartbeats, and the node lifecycle controller losing a node."""

from __future__ import annotations

from kubetrail.demo.controllers.kubelet import start_termination
from kubetrail.demo.controllers.replicaset import reconcile_replica_set
from kubetrail.demo.controllers.status import sync_owner
from kubetrail.demo.fields import set_condition, touch
from kubetrail.demo.objects.events import record
from kubetrail.demo.objects.pods import is_active
from kubetrail.demo.primitives import KCM, Process, pick, ts
from kubetrail.demo.simulation import Sim


def heartbeats(sim: Sim, name: str) -> Process:
    """The kubelet reports node status; only heartbeat times change."""
    yield pick(600, sim.seed, name)
    node = sim.nodes[name]
    while name not in sim.down:
        for cond in node["status"]["conditions"]:
            cond["lastHeartbeatTime"] = ts(sim.now)
        touch(node, "kubelet", sim.now, ("status",), subresource="status")
        sim.update(node)
        yield 600 + pick(300, sim.seed, name, sim.now)


def node_lost(sim: Sim, name: str) -> Process:
    """The node lifecycle controller: status Unknown, pods not ready, unreachable
    taints; after the pods' 300s toleration, the taint manager evicts them; their
    ReplicaSets replace them elsewhere. The kubelet never confirms, so an operator
    force-deletes the Terminating pods."""
    node = sim.nodes[name]
    for cond in node["status"]["conditions"]:
        cond.update(
            lastTransitionTime=ts(sim.now),
            message="Kubelet stopped posting node status.",
            reason="NodeStatusUnknown",
            status="Unknown",
        )
    touch(node, KCM, sim.now, ("status", "conditions"), subresource="status")
    sim.update(node)
    record(
        sim,
        node,
        "NodeNotReady",
        f"Node {name} status is now: NodeNotReady",
        component="node-controller",
    )
    for pod in sim.pods_on(name):
        ready = next((c for c in pod["status"].get("conditions", ()) if c["type"] == "Ready"), None)
        if not is_active(pod) or ready is None or ready["status"] == "False":
            continue
        ready.update(status="False", lastTransitionTime=ts(sim.now))
        touch(pod, KCM, sim.now, ("status", "conditions"), subresource="status")
        sim.update(pod)
        record(
            sim,
            pod,
            "NodeNotReady",
            "Node is not ready",
            type_="Warning",
            component="node-controller",
        )
        sync_owner(sim, pod)
    yield 1
    node["spec"]["taints"] = [
        {"effect": effect, "key": "node.kubernetes.io/unreachable", "timeAdded": ts(sim.now)}
        for effect in ("NoSchedule", "NoExecute")
    ]
    touch(node, KCM, sim.now, ("spec", "taints"))
    sim.update(node)
    yield 300
    evicted = []
    for pod in sim.pods_on(name):
        if not is_active(pod):
            continue
        ns, pod_name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        set_condition(
            pod["status"]["conditions"],
            "DisruptionTarget",
            "True",
            sim.now,
            reason="DeletionByTaintManager",
            message="Taint manager: deleting due to NoExecute taint",
            lastProbeTime=None,
        )
        touch(pod, KCM, sim.now, ("status", "conditions"), subresource="status")
        sim.update(pod)
        record(
            sim,
            pod,
            "TaintManagerEviction",
            f"Marking for deletion Pod {ns}/{pod_name}",
            component="taint-eviction-controller",
        )
        start_termination(sim, pod)
        evicted.append(pod)
        for ref in pod["metadata"].get("ownerReferences", ()):
            owner = sim.live.get(ref["uid"])
            if owner is not None and owner["kind"] == "ReplicaSet":
                reconcile_replica_set(sim, owner)
        yield 1
    yield 120
    for pod in evicted:  # kubectl delete pod --force --grace-period=0
        pod["metadata"]["deletionGracePeriodSeconds"] = 0
        sim.delete(pod)
        sync_owner(sim, pod)
        yield 1
