"""The plain core/v1 objects: Namespace, ConfigMap, Secret, Service, PVC.

Including the Secrets helm keeps its release revisions in, and the updates the
incident makes to a ConfigMap and a Secret (``set_applied_*``, as ``kubectl
apply`` of an edited manifest).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime, timedelta

from kubetrail.demo.fields import touch
from kubetrail.demo.objects.meta import (
    LAST_APPLIED,
    applied_manifest,
    helm_annotations,
    object_meta,
)
from kubetrail.demo.primitives import KCM, Obj, b64, digest, pick
from kubetrail.demo.simulation import Sim


def new_namespace(sim: Sim, name: str, created: datetime, manager: str) -> Obj:
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": object_meta(
            sim, "Namespace", name, "", created, labels={"kubernetes.io/metadata.name": name}
        ),
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }
    touch(obj, manager, created, ("metadata", "labels"))
    return obj


def new_config_map(
    sim: Sim, namespace: str, name: str, data: Mapping[str, str], created: datetime, manager: str
) -> Obj:
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_meta(sim, "ConfigMap", name, namespace, created),
        "data": dict(data),
    }
    if manager == "helm":
        obj["metadata"]["labels"] = {"app.kubernetes.io/managed-by": "Helm"}
        obj["metadata"]["annotations"] = helm_annotations(name, namespace)
    if manager == "kubectl-client-side-apply":
        obj["metadata"]["annotations"] = {LAST_APPLIED: applied_manifest(obj, data=dict(data))}
    touch(obj, manager, created, ("data",), ("metadata", "annotations"), ("metadata", "labels"))
    return obj


def set_applied_config_map(sim: Sim, obj: Obj, data: Mapping[str, str]) -> None:
    obj["data"] = dict(data)
    obj["metadata"]["annotations"][LAST_APPLIED] = applied_manifest(obj, data=dict(data))
    touch(obj, "kubectl-client-side-apply", sim.now, ("data",), ("metadata", "annotations"))


def new_applied_secret(
    sim: Sim, namespace: str, name: str, plain: Mapping[str, str], created: datetime
) -> Obj:
    """A Secret written with ``kubectl apply`` of a ``stringData`` manifest: the API
    server stores base64 ``data``; the last-applied annotation keeps the plain values."""
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": object_meta(sim, "Secret", name, namespace, created),
        "type": "Opaque",
        "data": {},
    }
    set_applied_secret(sim, obj, plain, created)
    return obj


def set_applied_secret(sim: Sim, obj: Obj, plain: Mapping[str, str], when: datetime) -> None:
    obj["data"] = {key: b64(value) for key, value in plain.items()}
    obj["metadata"]["annotations"] = {
        LAST_APPLIED: applied_manifest(obj, stringData=dict(plain), type="Opaque")
    }
    touch(obj, "kubectl-client-side-apply", when, ("data",), ("metadata", "annotations"), ("type",))


def new_helm_release(
    sim: Sim, release: str, namespace: str, number: int, status: str, when: datetime
) -> Obj:
    """Helm 3 keeps each release revision in a Secret of type helm.sh/release.v1."""
    name = f"sh.helm.release.v1.{release}.v{number}"
    # as helm writes it: base64 of base64 of gzip (whose magic bytes are H4sI…), valid
    # base64 throughout (an API server refuses anything else)
    gzipped = b"H4sIAAAAAAAC/" + base64.b64encode(digest(sim.seed, name) * 12)
    blob = base64.b64encode(gzipped).decode()
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": object_meta(
            sim,
            "Secret",
            name,
            namespace,
            when,
            labels={
                "modifiedAt": str(int(when.timestamp())),
                "name": release,
                "owner": "helm",
                "status": status,
                "version": str(number),
            },
        ),
        "type": "helm.sh/release.v1",
        "data": {"release": blob},
    }
    touch(obj, "helm", when, ("data",), ("metadata", "labels"), ("type",))
    return obj


def set_release_status(sim: Sim, release: Obj, status: str) -> None:
    release["metadata"]["labels"]["status"] = status
    release["metadata"]["labels"]["modifiedAt"] = str(int(sim.now.timestamp()))
    touch(release, "helm", sim.now, ("data",), ("metadata", "labels"), ("type",))
    sim.update(release)


def new_service(
    sim: Sim,
    namespace: str,
    name: str,
    *,
    selector: Mapping[str, str],
    ports: list[Obj],
    created: datetime,
    manager: str,
    labels: Mapping[str, str] | None = None,
    cluster_ip: str | None = None,
    load_balancer_ip: str | None = None,
) -> Obj:
    ip = (
        "None"
        if cluster_ip == "None"
        else cluster_ip
        or (f"10.96.{pick(250, namespace, name) + 1}.{pick(250, name, namespace) + 2}")
    )
    spec: Obj = {
        "clusterIP": ip,
        "clusterIPs": [ip],
        "internalTrafficPolicy": "Cluster",
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
        "ports": ports,
        "selector": dict(selector),
        "sessionAffinity": "None",
        "type": "ClusterIP",
    }
    status: Obj = {"loadBalancer": {}}
    if load_balancer_ip:
        spec.update(type="LoadBalancer", externalTrafficPolicy="Cluster")
        spec["allocateLoadBalancerNodePorts"] = True
        for port in ports:
            port["nodePort"] = 30000 + pick(2767, namespace, name, port["port"])
        status = {"loadBalancer": {"ingress": [{"ip": load_balancer_ip, "ipMode": "VIP"}]}}
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_meta(sim, "Service", name, namespace, created, labels=labels),
        "spec": spec,
        "status": status,
    }
    if manager == "helm":
        obj["metadata"]["annotations"] = helm_annotations(
            (labels or {}).get("app.kubernetes.io/instance", name), namespace
        )
    if manager in ("kubectl-client-side-apply", "argocd-controller"):
        applied_ports = [{k: v for k, v in p.items() if k != "nodePort"} for p in ports]
        body: Obj = {"spec": {"ports": applied_ports, "selector": dict(selector)}}
        if cluster_ip == "None":
            body["spec"]["clusterIP"] = "None"
        obj["metadata"]["annotations"] = {LAST_APPLIED: applied_manifest(obj, **body)}
    touch(obj, manager, created, ("metadata", "labels"), ("metadata", "annotations"), ("spec",))
    if load_balancer_ip:
        touch(obj, "metallb-controller", created, ("status",), subresource="status")
    return obj


def new_pvc(
    sim: Sim,
    namespace: str,
    name: str,
    *,
    size: str,
    storage_class: str,
    created: datetime,
    manager: str,
    bound: bool,
    labels: Mapping[str, str] | None = None,
) -> Obj:
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": object_meta(
            sim,
            "PersistentVolumeClaim",
            name,
            namespace,
            created,
            labels=labels,
            finalizers=["kubernetes.io/pvc-protection"],
        ),
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": size}},
            "storageClassName": storage_class,
            "volumeMode": "Filesystem",
        },
        "status": {"phase": "Pending"},
    }
    if manager == "kubectl-client-side-apply":
        obj["metadata"]["annotations"] = {
            LAST_APPLIED: applied_manifest(
                obj,
                spec={
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": size}},
                    "storageClassName": storage_class,
                },
            )
        }
    touch(obj, manager, created, ("metadata", "annotations"), ("metadata", "labels"), ("spec",))
    if bound:
        bound_at = created + timedelta(seconds=3)
        obj["metadata"].setdefault("annotations", {}).update(
            {
                "pv.kubernetes.io/bind-completed": "yes",
                "pv.kubernetes.io/bound-by-controller": "yes",
                "volume.beta.kubernetes.io/storage-provisioner": "driver.longhorn.io",
                "volume.kubernetes.io/storage-provisioner": "driver.longhorn.io",
            }
        )
        obj["spec"]["volumeName"] = f"pvc-{obj['metadata']['uid']}"
        obj["status"] = {
            "accessModes": ["ReadWriteOnce"],
            "capacity": {"storage": size},
            "phase": "Bound",
        }
        touch(obj, KCM, bound_at, ("metadata", "annotations"), ("spec", "volumeName"))
        touch(obj, KCM, bound_at, ("status",), subresource="status")
    return obj
