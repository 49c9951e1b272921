"""Status writes that follow a pod's change: ReplicaSet, Deployment, StatefulSet.

The informers' event handlers, in effect: when the kubelet or a controller
changes a pod, :func:`sync_owner` recomputes its owners' status (replica counts,
``Available`` and ``Progressing`` conditions).
"""

from __future__ import annotations

import copy
from datetime import datetime

from kubetrail.demo.fields import set_condition, touch
from kubetrail.demo.objects.apps import hash_template
from kubetrail.demo.objects.pods import is_active, is_ready
from kubetrail.demo.objects.workloads import max_unavailable, revision_of
from kubetrail.demo.primitives import KCM, Obj, ts
from kubetrail.demo.simulation import Sim


def sync_owner(sim: Sim, pod: Obj) -> None:
    """Status writers reacting to a pod change (the informers' event handlers)."""
    for ref in pod["metadata"].get("ownerReferences", ()):
        owner = sim.live.get(ref["uid"])
        if owner is None:
            continue
        if owner["kind"] == "ReplicaSet":
            deploy = sim.live.get(owner["metadata"]["ownerReferences"][0]["uid"])
            if deploy is not None:
                sync_deployment(sim, deploy)
        elif owner["kind"] == "StatefulSet":
            sync_statefulset(sim, owner)


def _sync_replica_set(sim: Sim, rs: Obj) -> None:
    pods = [p for p in sim.owned(rs, "Pod") if is_active(p)]
    ready = sum(is_ready(p) for p in pods)
    status: Obj = {"observedGeneration": rs["metadata"]["generation"], "replicas": len(pods)}
    if pods:
        status["fullyLabeledReplicas"] = len(pods)
    if ready:
        status["availableReplicas"] = status["readyReplicas"] = ready
    if status != rs["status"]:
        rs["status"] = status
        touch(rs, KCM, sim.now, ("status",), subresource="status")
        sim.update(rs)


def _deployment_condition(
    conditions: list[Obj],
    type_: str,
    status: str,
    when: datetime,
    reason: str,
    message: str,
    *,
    progressed: bool = False,
) -> None:
    cond = next((c for c in conditions if c["type"] == type_), None)
    before = dict(cond) if cond else None
    set_condition(conditions, type_, status, when, reason=reason, message=message)
    cond = next(c for c in conditions if c["type"] == type_)
    if (
        progressed
        or before is None
        or {**before, "lastUpdateTime": None} != {**cond, "lastUpdateTime": None}
    ):
        cond["lastUpdateTime"] = ts(when)


def sync_deployment(
    sim: Sim,
    deploy: Obj,
    *,
    progressing: tuple[str, str, str] | None = None,
    progressed: bool = False,
) -> None:
    """The deployment controller's status write, from its ReplicaSets' pods."""
    replica_sets = sim.owned(deploy, "ReplicaSet")
    for rs in replica_sets:
        _sync_replica_set(sim, rs)
    revision = revision_of(deploy)
    new = next((rs for rs in replica_sets if revision_of(rs) == revision), None)
    desired = deploy["spec"]["replicas"]
    available = sum(rs["status"].get("availableReplicas", 0) for rs in replica_sets)
    counts = (
        ("replicas", sum(rs["status"]["replicas"] for rs in replica_sets)),
        ("updatedReplicas", new["status"]["replicas"] if new else 0),
        ("readyReplicas", sum(rs["status"].get("readyReplicas", 0) for rs in replica_sets)),
        ("availableReplicas", available),
        (
            "unavailableReplicas",
            max(sum(rs["spec"]["replicas"] for rs in replica_sets) - available, 0),
        ),
    )
    status: Obj = {"observedGeneration": deploy["metadata"]["generation"]}
    status.update((key, value) for key, value in counts if value)
    conditions = copy.deepcopy(deploy["status"].get("conditions", []))
    if available >= desired - max_unavailable(deploy):
        _deployment_condition(
            conditions,
            "Available",
            "True",
            sim.now,
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
        )
    else:
        _deployment_condition(
            conditions,
            "Available",
            "False",
            sim.now,
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        )
    if progressing:
        cond_status, reason, message = progressing
        _deployment_condition(
            conditions, "Progressing", cond_status, sim.now, reason, message, progressed=progressed
        )
    status["conditions"] = sorted(conditions, key=lambda c: c["type"])
    if status != deploy["status"]:
        deploy["status"] = status
        touch(deploy, KCM, sim.now, ("status",), subresource="status")
        sim.update(deploy)


def sync_statefulset(sim: Sim, sts: Obj) -> None:
    """The StatefulSet controller's status write, from its pods."""
    pods = [p for p in sim.owned(sts, "Pod") if is_active(p)]
    ready = sum(is_ready(p) for p in pods)
    revision = f"{sts['metadata']['name']}-{hash_template(sts['spec']['template'])}"
    status: Obj = {
        "availableReplicas": ready,
        "collisionCount": 0,
        "currentReplicas": len(pods),
        "currentRevision": revision,
        "observedGeneration": sts["metadata"]["generation"],
        "replicas": len(pods),
        "updateRevision": revision,
        "updatedReplicas": len(pods),
    }
    if ready:
        status["readyReplicas"] = ready
    if status != sts["status"]:
        sts["status"] = status
        touch(sts, KCM, sim.now, ("status",), subresource="status")
        sim.update(sts)
