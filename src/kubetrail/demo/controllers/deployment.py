"""The deployment controller's rolling update, within maxSurge and maxUnavailable."""

from __future__ import annotations

from kubetrail.demo.controllers.replicaset import scale
from kubetrail.demo.controllers.status import sync_deployment
from kubetrail.demo.fields import touch
from kubetrail.demo.objects.apps import hash_template
from kubetrail.demo.objects.workloads import (
    max_surge,
    max_unavailable,
    new_replica_set,
    revision_of,
)
from kubetrail.demo.primitives import KCM, Obj, Process
from kubetrail.demo.simulation import Sim


def rollout(sim: Sim, deploy: Obj) -> Process:
    """The deployment controller during a rolling update: new ReplicaSet up, old
    ones down, within maxSurge / maxUnavailable, until done; past
    ``progressDeadlineSeconds`` without progress it reports ProgressDeadlineExceeded."""
    template_hash = hash_template(deploy["spec"]["template"])
    replica_sets = sim.owned(deploy, "ReplicaSet")
    new = next(
        (
            rs
            for rs in replica_sets
            if rs["metadata"]["labels"]["pod-template-hash"] == template_hash
        ),
        None,
    )
    if new is None:
        revision = max((revision_of(rs) for rs in replica_sets), default=0) + 1
        new = sim.create(new_replica_set(sim, deploy, revision))
        annotations = deploy["metadata"].setdefault("annotations", {})
        annotations["deployment.kubernetes.io/revision"] = str(revision)
        # through the status subresource (UpdateStatus), as the controller writes it: a
        # Deployment's annotations written through the main resource bump its generation
        touch(
            deploy,
            KCM,
            sim.now,
            ("metadata", "annotations", "deployment.kubernetes.io/revision"),
            subresource="status",
        )
        sim.update(deploy)
    new_name = new["metadata"]["name"]
    sync_deployment(
        sim,
        deploy,
        progressing=("True", "NewReplicaSetCreated", f'Created new replica set "{new_name}"'),
    )
    last_progress = sim.now
    exceeded = False
    available_before = -1
    while True:
        desired = deploy["spec"]["replicas"]
        progressed = _rolling_step(sim, deploy, new)
        available = new["status"].get("availableReplicas", 0)
        if available > available_before >= 0:
            progressed = True
        available_before = available
        olds = [rs for rs in sim.owned(deploy, "ReplicaSet") if rs is not new]
        if available == desired and not any(rs["spec"]["replicas"] for rs in olds):
            sync_deployment(
                sim,
                deploy,
                progressing=(
                    "True",
                    "NewReplicaSetAvailable",
                    f'ReplicaSet "{new_name}" has successfully progressed.',
                ),
                progressed=True,
            )
            return
        if progressed and not exceeded:
            last_progress = sim.now
            sync_deployment(
                sim,
                deploy,
                progressing=(
                    "True",
                    "ReplicaSetUpdated",
                    f'ReplicaSet "{new_name}" is progressing.',
                ),
                progressed=True,
            )
        deadline = deploy["spec"]["progressDeadlineSeconds"]
        if not exceeded and (sim.now - last_progress).total_seconds() > deadline:
            exceeded = True
            sync_deployment(
                sim,
                deploy,
                progressing=(
                    "False",
                    "ProgressDeadlineExceeded",
                    f'ReplicaSet "{new_name}" has timed out progressing.',
                ),
            )
        yield 5


def _rolling_step(sim: Sim, deploy: Obj, new: Obj) -> bool:
    desired = deploy["spec"]["replicas"]
    replica_sets = sim.owned(deploy, "ReplicaSet")
    olds = sorted(
        (rs for rs in replica_sets if rs is not new and rs["spec"]["replicas"] > 0),
        key=lambda rs: rs["metadata"]["creationTimestamp"],
    )
    total = sum(rs["spec"]["replicas"] for rs in replica_sets)
    changed = False
    if new["spec"]["replicas"] < desired:
        allowed = desired + max_surge(deploy) - total
        if allowed > 0:
            scale(sim, deploy, new, min(desired, new["spec"]["replicas"] + allowed))
            changed = True
    if olds:
        total = sum(rs["spec"]["replicas"] for rs in sim.owned(deploy, "ReplicaSet"))
        min_available = desired - max_unavailable(deploy)
        new_unavailable = new["spec"]["replicas"] - new["status"].get("availableReplicas", 0)
        room = total - min_available - new_unavailable
        available = sum(rs["status"].get("availableReplicas", 0) for rs in replica_sets)
        room = min(room, available - min_available)
        for rs in olds:
            if room <= 0:
                break
            step = min(rs["spec"]["replicas"], room)
            scale(sim, deploy, rs, rs["spec"]["replicas"] - step)
            room -= step
            changed = True
    return changed
