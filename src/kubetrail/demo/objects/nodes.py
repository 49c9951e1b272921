"""Nodes: a kubeadm control plane and workers, healthy when they join."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import uuid5

from kubetrail.demo.fields import touch
from kubetrail.demo.objects.meta import object_meta
from kubetrail.demo.primitives import KCM, UID_ROOT, Obj, hex_id, ts
from kubetrail.demo.simulation import Sim

_KUBE_VERSION = "v1.29.4"


@dataclass(frozen=True)
class NodeInfo:
    name: str
    ip: str
    pod_cidr: str
    pool: str = "general"
    control_plane: bool = False


_NODE_HEALTHY = (
    (
        "MemoryPressure",
        "False",
        "KubeletHasSufficientMemory",
        "kubelet has sufficient memory available",
    ),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status. AppArmor enabled"),
)


def new_node(sim: Sim, info: NodeInfo, created: datetime) -> Obj:
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": info.name,
        "kubernetes.io/os": "linux",
    }
    spec: Obj = {"podCIDR": info.pod_cidr, "podCIDRs": [info.pod_cidr]}
    if info.control_plane:
        labels["node-role.kubernetes.io/control-plane"] = ""
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
        spec["taints"] = [{"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"}]
    else:
        labels["node.example.com/pool"] = info.pool
    cpu, memory = ("2", "8123456Ki") if info.control_plane else ("8", "32761536Ki")
    ready_since = created + timedelta(seconds=40)
    conditions = [
        {
            "lastHeartbeatTime": ts(ready_since),
            "lastTransitionTime": ts(ready_since),
            "message": message,
            "reason": reason,
            "status": status,
            "type": type_,
        }
        for type_, status, reason, message in _NODE_HEALTHY
    ]
    images = [
        ("registry.k8s.io/kube-proxy", _KUBE_VERSION, 28_620_000),
        ("registry.k8s.io/pause", "3.9", 321_520),
        ("docker.io/longhornio/longhorn-manager", "v1.6.1", 111_482_000),
    ]
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": object_meta(
            sim,
            "Node",
            info.name,
            "",
            created,
            labels=labels,
            annotations={
                "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///var/run/containerd/containerd.sock",
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        ),
        "spec": spec,
        "status": {
            "addresses": [
                {"address": info.ip, "type": "InternalIP"},
                {"address": info.name, "type": "Hostname"},
            ],
            "allocatable": {
                "cpu": cpu,
                "ephemeral-storage": "94580335255",
                "hugepages-1Gi": "0",
                "hugepages-2Mi": "0",
                "memory": memory,
                "pods": "110",
            },
            "capacity": {
                "cpu": cpu,
                "ephemeral-storage": "102626232Ki",
                "hugepages-1Gi": "0",
                "hugepages-2Mi": "0",
                "memory": memory,
                "pods": "110",
            },
            "conditions": conditions,
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "images": [
                {
                    "names": [f"{repo}@sha256:{hex_id(64, repo, tag)}", f"{repo}:{tag}"],
                    "sizeBytes": size,
                }
                for repo, tag, size in images
            ],
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": str(uuid5(UID_ROOT, f"boot/{info.name}")),
                "containerRuntimeVersion": "containerd://1.7.13",
                "kernelVersion": "5.15.0-105-generic",
                "kubeProxyVersion": _KUBE_VERSION,
                "kubeletVersion": _KUBE_VERSION,
                "machineID": hex_id(32, "machine", info.name),
                "operatingSystem": "linux",
                "osImage": "Ubuntu 22.04.4 LTS",
                "systemUUID": str(uuid5(UID_ROOT, f"system/{info.name}")),
            },
        },
    }
    touch(
        obj,
        "kubeadm",
        created,
        ("metadata", "annotations", "kubeadm.alpha.kubernetes.io/cri-socket"),
        *([("metadata", "labels")] if info.control_plane else []),
    )
    touch(
        obj,
        "kubelet",
        created,
        ("metadata", "annotations", "volumes.kubernetes.io/controller-managed-attach-detach"),
        ("metadata", "labels"),
    )
    touch(
        obj,
        KCM,
        created + timedelta(seconds=20),
        ("metadata", "annotations", "node.alpha.kubernetes.io/ttl"),
        ("spec", "podCIDR"),
        ("spec", "podCIDRs"),
    )
    touch(obj, "kubelet", ready_since, ("status",), subresource="status")
    sim.images[info.name] = set()
    return obj
