"""The StatefulSet controller: create the one pod of a one-replica StatefulSet."""

from __future__ import annotations

from kubetrail.demo.controllers.kubelet import pod_lifecycle
from kubetrail.demo.controllers.status import sync_statefulset
from kubetrail.demo.objects.apps import hash_template
from kubetrail.demo.objects.events import record
from kubetrail.demo.objects.pods import new_pod
from kubetrail.demo.primitives import Obj, Process
from kubetrail.demo.simulation import Sim


def start_statefulset_pod(sim: Sim, sts: Obj, *, claim_name: str | None = None) -> Process:
    """Create ``<name>-0`` (mounting ``claim_name`` as ``storage`` if given), then run it."""
    name = f"{sts['metadata']['name']}-0"
    revision = f"{sts['metadata']['name']}-{hash_template(sts['spec']['template'])}"
    pod = new_pod(
        sim,
        sts,
        sts["spec"]["template"],
        name,
        extra_labels={
            "apps.kubernetes.io/pod-index": "0",
            "controller-revision-hash": revision,
            "statefulset.kubernetes.io/pod-name": name,
        },
    )
    pod["spec"]["hostname"] = name
    pod["spec"]["subdomain"] = sts["spec"]["serviceName"]
    if claim_name:
        pod["spec"]["volumes"].insert(
            0, {"name": "storage", "persistentVolumeClaim": {"claimName": claim_name}}
        )
    sim.create(pod)
    record(
        sim,
        sts,
        "SuccessfulCreate",
        f"create Pod {name} in StatefulSet {sts['metadata']['name']} successful",
        component="statefulset-controller",
    )
    sync_statefulset(sim, sts)
    yield from pod_lifecycle(sim, pod)
