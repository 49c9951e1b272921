"""Pods as a controller creates them, and reading their state.

:func:`new_pod` gives a pod after admission (service account token volume,
default tolerations, priority), Pending and unscheduled; the scheduler and the
kubelet take it from there. :func:`set_pod_conditions` writes the conditions the
kubelet reports.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime

from kubetrail.demo.fields import set_condition, touch
from kubetrail.demo.objects.meta import object_meta
from kubetrail.demo.primitives import KCM, Obj, hex_id, token
from kubetrail.demo.simulation import Sim

_SA_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


def new_pod(
    sim: Sim,
    owner: Obj,
    template: Obj,
    name: str,
    *,
    generate_name: str | None = None,
    extra_labels: Mapping[str, str] | None = None,
    finalizers: list[str] | None = None,
) -> Obj:
    """A pod as a controller creates it, after admission (service account token
    volume, default tolerations, priority): Pending, not yet scheduled."""
    tpl = copy.deepcopy(template)
    labels = {**tpl["metadata"].get("labels", {}), **(extra_labels or {})}
    spec = tpl["spec"]
    token_volume = f"kube-api-access-{token(5, sim.seed, 'sa', name)}"
    for container in spec["containers"]:
        container.setdefault("volumeMounts", []).append(
            {"mountPath": _SA_MOUNT, "name": token_volume, "readOnly": True}
        )
    spec.setdefault("volumes", []).append(
        {
            "name": token_volume,
            "projected": {
                "defaultMode": 420,
                "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {
                        "configMap": {
                            "items": [{"key": "ca.crt", "path": "ca.crt"}],
                            "name": "kube-root-ca.crt",
                        }
                    },
                    {
                        "downwardAPI": {
                            "items": [
                                {
                                    "fieldRef": {
                                        "apiVersion": "v1",
                                        "fieldPath": "metadata.namespace",
                                    },
                                    "path": "namespace",
                                }
                            ]
                        }
                    },
                ],
            },
        }
    )
    account = spec.get("serviceAccountName", "default")
    spec["serviceAccount"] = spec["serviceAccountName"] = account
    spec["enableServiceLinks"] = True
    spec["preemptionPolicy"] = "PreemptLowerPriority"
    spec["priority"] = 2_000_000_000 if spec.get("priorityClassName") else 0
    spec["tolerations"] = [
        *spec.get("tolerations", []),
        *(
            {
                "effect": "NoExecute",
                "key": f"node.kubernetes.io/{key}",
                "operator": "Exists",
                "tolerationSeconds": 300,
            }
            for key in ("not-ready", "unreachable")
        ),
    ]
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": object_meta(
            sim,
            "Pod",
            name,
            owner["metadata"]["namespace"],
            sim.now,
            labels=labels,
            annotations=tpl["metadata"].get("annotations"),
            owner=owner,
            generate_name=generate_name,
            finalizers=finalizers,
        ),
        "spec": spec,
        "status": {"phase": "Pending", "qosClass": "Burstable"},
    }
    touch(
        obj,
        KCM,
        sim.now,
        *([("metadata", "generateName")] if generate_name else []),
        ("metadata", "annotations"),
        ("metadata", "labels"),
        ("metadata", "ownerReferences"),
        ("spec",),
    )
    return obj


def container_status(pod: Obj) -> Obj:
    """The status of the pod's (only) container."""
    return pod["status"]["containerStatuses"][0]


def first_container(pod: Obj) -> Obj:
    """The spec of the pod's (only) container."""
    return pod["spec"]["containers"][0]


def image_id(image: str) -> str:
    repo = image.rsplit(":", 1)[0]
    return f"{repo}@sha256:{hex_id(64, 'image', image)}"


def container_id(pod: Obj, restarts: int) -> str:
    return f"containerd://{hex_id(64, pod['metadata']['uid'], restarts)}"


def is_ready(pod: Obj) -> bool:
    return any(
        c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", ())
    )


def is_active(pod: Obj) -> bool:
    return not pod["metadata"].get("deletionTimestamp") and pod["status"]["phase"] not in (
        "Succeeded",
        "Failed",
    )


_POD_CONDITION_ORDER = (
    "PodReadyToStartContainers",
    "Initialized",
    "Ready",
    "ContainersReady",
    "PodScheduled",
    "DisruptionTarget",
)


def set_pod_conditions(
    pod: Obj,
    when: datetime,
    *,
    sandbox: bool,
    ready: bool,
    completed: bool = False,
    failed: bool = False,
) -> None:
    """The pod conditions the kubelet reports for this state of the pod."""
    conditions = pod["status"].setdefault("conditions", [])
    name = first_container(pod)["name"]
    reason, message = (
        ("PodCompleted", None)
        if completed
        else ("PodFailed", None)
        if failed
        else ("ContainersNotReady", f"containers with unready status: [{name}]")
    )
    for type_, ok in (
        ("PodReadyToStartContainers", sandbox),
        ("Initialized", True),
        ("Ready", ready),
        ("ContainersReady", ready),
    ):
        not_ready = type_ in ("Ready", "ContainersReady") and not ok
        set_condition(
            conditions,
            type_,
            "True" if ok else "False",
            when,
            reason=reason if not_ready else None,
            message=message if not_ready else None,
            lastProbeTime=None,
        )
    conditions.sort(key=lambda c: _POD_CONDITION_ORDER.index(c["type"]))
