"""The PersistentVolume controller, failing to provision a claim."""

from __future__ import annotations

from kubetrail.demo.objects.events import record
from kubetrail.demo.primitives import Obj, Process
from kubetrail.demo.simulation import Sim


def provisioning_fails(sim: Sim, pvc: Obj) -> Process:
    """The PV controller retries every 15 seconds (its spam filter thins the events)."""
    message = f'storageclass.storage.k8s.io "{pvc["spec"]["storageClassName"]}" not found'
    while pvc["status"]["phase"] == "Pending" and sim.alive(pvc):
        record(
            sim,
            pvc,
            "ProvisioningFailed",
            message,
            type_="Warning",
            component="persistentvolume-controller",
        )
        yield 15
