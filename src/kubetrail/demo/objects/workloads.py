"""Deployments, ReplicaSets and StatefulSets, and the rollout limits they set.

:func:`write_deployment_spec` is also how an upgrade happens: the app's owner
writes the new template, the deployment controller
(:mod:`kubetrail.demo.controllers.deployment`) rolls it out.
"""

from __future__ import annotations

import copy

from kubetrail.demo.fields import touch
from kubetrail.demo.objects.apps import App, app_container, hash_template, pod_template
from kubetrail.demo.objects.meta import (
    LAST_APPLIED,
    applied_manifest,
    helm_annotations,
    object_meta,
)
from kubetrail.demo.primitives import KCM, Obj
from kubetrail.demo.simulation import Sim


def _scaled(value: int | str, total: int, *, up: bool) -> int:
    if isinstance(value, int):
        return value
    fraction = int(value.rstrip("%")) * total
    return -(-fraction // 100) if up else fraction // 100


def max_surge(deploy: Obj) -> int:
    """``maxSurge`` of a Deployment, in pods."""
    rolling = deploy["spec"]["strategy"]["rollingUpdate"]
    return _scaled(rolling["maxSurge"], deploy["spec"]["replicas"], up=True)


def max_unavailable(deploy: Obj) -> int:
    """``maxUnavailable`` of a Deployment, in pods (at least 1 if maxSurge is 0)."""
    rolling = deploy["spec"]["strategy"]["rollingUpdate"]
    unavailable = _scaled(rolling["maxUnavailable"], deploy["spec"]["replicas"], up=False)
    return 1 if unavailable == 0 and max_surge(deploy) == 0 else unavailable


def revision_of(obj: Obj) -> int:
    """The ``deployment.kubernetes.io/revision`` of a Deployment or ReplicaSet."""
    return int(obj["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision", 0))


def new_deployment(sim: Sim, app: App, version: str) -> Obj:
    created = sim.now
    annotations: dict[str, str] = {}
    if app.manager == "helm":
        annotations.update(helm_annotations(app.name, app.namespace))
    obj: Obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": object_meta(
            sim,
            "Deployment",
            app.name,
            app.namespace,
            created,
            labels=app.object_labels(version),
            annotations=annotations,
            generation=1,
        ),
        "spec": {
            "progressDeadlineSeconds": app.progress_deadline,
            "replicas": app.replicas,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": app.selector()},
            "strategy": {
                "rollingUpdate": {"maxSurge": app.max_surge, "maxUnavailable": app.max_unavailable},
                "type": "RollingUpdate",
            },
            "template": pod_template(app, version),
        },
        "status": {},
    }
    write_deployment_spec(sim, obj, app, version)
    return obj


def write_deployment_spec(sim: Sim, deploy: Obj, app: App, version: str) -> None:
    """The app's owner (helm, argocd, kubectl, kubeadm) writes labels and spec."""
    meta = deploy["metadata"]
    meta["labels"] = app.object_labels(version)
    deploy["spec"]["template"] = pod_template(app, version)
    owned = [("metadata", "labels"), ("spec",)]
    if app.manager in ("argocd-controller", "kubectl-client-side-apply"):
        container = app_container(app, version, defaults=False)
        meta.setdefault("annotations", {})[LAST_APPLIED] = applied_manifest(
            deploy,
            spec={
                "replicas": app.replicas,
                "selector": {"matchLabels": app.selector()},
                "template": {
                    "metadata": {"labels": app.selector()},
                    "spec": {"containers": [container]},
                },
            },
        )
        owned.append(("metadata", "annotations", LAST_APPLIED))
    if app.manager == "helm":
        owned += [("metadata", "annotations", key) for key in helm_annotations("", "")]
    touch(deploy, app.manager, sim.now, *owned)


def new_replica_set(sim: Sim, deploy: Obj, revision: int) -> Obj:
    """The ReplicaSet for the Deployment's current template, at zero replicas."""
    template = copy.deepcopy(deploy["spec"]["template"])
    pod_hash = hash_template(template)
    template["metadata"]["labels"]["pod-template-hash"] = pod_hash
    name = f"{deploy['metadata']['name']}-{pod_hash}"
    desired = deploy["spec"]["replicas"]
    annotations = {
        k: v for k, v in deploy["metadata"].get("annotations", {}).items() if k != LAST_APPLIED
    }
    annotations.update(
        {
            "deployment.kubernetes.io/desired-replicas": str(desired),
            "deployment.kubernetes.io/max-replicas": str(desired + max_surge(deploy)),
            "deployment.kubernetes.io/revision": str(revision),
        }
    )
    obj: Obj = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": object_meta(
            sim,
            "ReplicaSet",
            name,
            deploy["metadata"]["namespace"],
            sim.now,
            labels=template["metadata"]["labels"],
            annotations=annotations,
            owner=deploy,
            generation=1,
        ),
        "spec": {
            "replicas": 0,
            "selector": {
                "matchLabels": {
                    **deploy["spec"]["selector"]["matchLabels"],
                    "pod-template-hash": pod_hash,
                }
            },
            "template": template,
        },
        "status": {"replicas": 0},
    }
    touch(
        obj,
        KCM,
        sim.now,
        ("metadata", "annotations"),
        ("metadata", "labels"),
        ("metadata", "ownerReferences"),
        ("spec",),
    )
    return obj


def new_statefulset(sim: Sim, app: App, version: str, *, claim: Obj) -> Obj:
    """A one-replica StatefulSet whose pod mounts ``claim`` (a volumeClaimTemplate
    when the claim has no name yet, else an existing PVC)."""
    template = pod_template(app, version)
    template["spec"]["containers"][0]["volumeMounts"] = [
        {"mountPath": claim["mountPath"], "name": claim["volume"]}
    ]
    spec: Obj = {
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        "podManagementPolicy": "OrderedReady",
        "replicas": app.replicas,
        "revisionHistoryLimit": 10,
        "selector": {"matchLabels": app.selector()},
        "serviceName": app.name,
        "template": template,
        "updateStrategy": {"rollingUpdate": {"partition": 0}, "type": "RollingUpdate"},
    }
    if claim.get("template"):
        spec["volumeClaimTemplates"] = [
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"creationTimestamp": None, "name": claim["volume"]},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": claim["size"]}},
                    "storageClassName": claim["class"],
                    "volumeMode": "Filesystem",
                },
                "status": {"phase": "Pending"},
            }
        ]
    else:
        template["spec"]["volumes"] = [
            {"name": claim["volume"], "persistentVolumeClaim": {"claimName": claim["name"]}}
        ]
    annotations = helm_annotations(app.name, app.namespace) if app.manager == "helm" else {}
    obj: Obj = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": object_meta(
            sim,
            "StatefulSet",
            app.name,
            app.namespace,
            sim.now,
            labels=app.object_labels(version),
            annotations=annotations,
            generation=1,
        ),
        "spec": spec,
        "status": {"availableReplicas": 0, "replicas": 0},
    }
    if app.manager == "kubectl-client-side-apply":
        obj["metadata"]["annotations"] = {
            LAST_APPLIED: applied_manifest(
                obj,
                spec={
                    "replicas": app.replicas,
                    "selector": {"matchLabels": app.selector()},
                    "serviceName": app.name,
                    "template": {
                        "metadata": {"labels": app.selector()},
                        "spec": {
                            "containers": [app_container(app, version, defaults=False)],
                            "volumes": template["spec"].get("volumes", []),
                        },
                    },
                },
            )
        }
    touch(obj, app.manager, sim.now, ("metadata", "labels"), ("metadata", "annotations"), ("spec",))
    return obj
