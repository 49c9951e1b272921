"""Realistic Kubernetes objects for tests, shaped like `kubectl get -o json` output."""

from __future__ import annotations

import base64
import json
from typing import Any


def managed(
    manager: str, time: str, operation: str = "Update", subresource: str | None = None
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "manager": manager,
        "operation": operation,
        "apiVersion": "v1",
        "time": time,
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:metadata": {"f:labels": {".": {}}}},
    }
    if subresource:
        entry["subresource"] = subresource
    return entry


def pod(
    name: str = "checkout-7d9f8b6c5-x2k4p",
    namespace: str = "shop",
    *,
    uid: str = "5f1c2d3e-0000-4000-8000-000000000001",
    rv: str = "1001",
    created: str = "2026-11-20T10:00:00Z",
    status: dict[str, Any] | None = None,
    env: list[dict[str, Any]] | None = None,
    managed_fields: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uid,
            "resourceVersion": rv,
            "creationTimestamp": created,
            "labels": {"app": "checkout", "pod-template-hash": "7d9f8b6c5"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "checkout-7d9f8b6c5",
                    "uid": "5f1c2d3e-0000-4000-8000-0000000000aa",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
            "managedFields": managed_fields
            if managed_fields is not None
            else [
                managed("kube-controller-manager", created),
                managed("kubelet", "2026-11-20T10:00:05Z", subresource="status"),
            ],
        },
        "spec": {
            "nodeName": "worker-1",
            "restartPolicy": "Always",
            "containers": [
                {
                    "name": "app",
                    "image": "registry.example.com/shop/checkout:1.5.0",
                    "env": env if env is not None else [{"name": "LOG_LEVEL", "value": "info"}],
                    "resources": {
                        "requests": {"cpu": "100m", "memory": "128Mi"},
                        "limits": {"memory": "256Mi"},
                    },
                }
            ],
        },
        "status": status
        if status is not None
        else {
            "phase": "Running",
            "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-20T10:00:05Z"}
            ],
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": True,
                    "started": True,
                    "restartCount": 0,
                    "image": "registry.example.com/shop/checkout:1.5.0",
                    "imageID": "registry.example.com/shop/checkout@sha256:abc",
                    "containerID": "containerd://abc",
                    "state": {"running": {"startedAt": "2026-11-20T10:00:04Z"}},
                }
            ],
        },
    }


def crashlooping_status(
    restarts: int = 4, finished: str = "2026-11-25T03:10:00Z"
) -> dict[str, Any]:
    return {
        "phase": "Running",
        "conditions": [
            {
                "type": "Ready",
                "status": "False",
                "reason": "ContainersNotReady",
                "lastTransitionTime": finished,
            }
        ],
        "containerStatuses": [
            {
                "name": "app",
                "ready": False,
                "started": False,
                "restartCount": restarts,
                "image": "registry.example.com/shop/checkout:1.5.0",
                "imageID": "registry.example.com/shop/checkout@sha256:abc",
                "containerID": "containerd://def",
                "state": {
                    "waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": "back-off 40s restarting failed container=app",
                    }
                },
                "lastState": {
                    "terminated": {
                        "exitCode": 1,
                        "reason": "Error",
                        "startedAt": "2026-11-25T03:09:58Z",
                        "finishedAt": finished,
                        "containerID": "containerd://ccc",
                    }
                },
            }
        ],
    }


def secret(
    *,
    password: str,
    name: str = "payment-db-credentials",
    namespace: str = "payments",
    rv: str = "2001",
    uid: str = "7a7a7a7a-0000-4000-8000-000000000002",
) -> dict[str, Any]:
    encoded = base64.b64encode(password.encode()).decode()
    manifest = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "data": {"password": encoded, "username": base64.b64encode(b"payments").decode()},
        "stringData": {"extra": password},
        "type": "Opaque",
    }
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uid,
            "resourceVersion": rv,
            "creationTimestamp": "2026-10-01T08:00:00Z",
            "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": json.dumps(manifest) + "\n",
                "team": "payments",
            },
            "managedFields": [managed("kubectl-client-side-apply", "2026-11-25T02:00:00Z")],
        },
        "data": {"password": encoded, "username": base64.b64encode(b"payments").decode()},
    }


def node(
    name: str = "worker-3",
    *,
    ready: str = "True",
    rv: str = "3001",
    heartbeat: str = "2026-11-25T04:00:00Z",
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "uid": f"node-{name}-uid",
            "resourceVersion": rv,
            "creationTimestamp": "2026-09-01T00:00:00Z",
            "labels": {"kubernetes.io/hostname": name},
        },
        "spec": {"podCIDR": "10.244.3.0/24"},
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": ready,
                    "reason": "KubeletReady" if ready == "True" else "NodeStatusUnknown",
                    "lastHeartbeatTime": heartbeat,
                    "lastTransitionTime": "2026-11-24T00:00:00Z",
                }
            ]
        },
    }


def k8s_event(
    *,
    reason: str = "BackOff",
    type_: str = "Warning",
    involved_kind: str = "Pod",
    involved_name: str = "checkout-7d9f8b6c5-x2k4p",
    namespace: str = "shop",
    count: int = 3,
    last: str = "2026-11-25T03:10:00Z",
    uid: str = "e0e0e0e0-0000-4000-8000-000000000003",
    rv: str = "4001",
    message: str = "Back-off restarting failed container app in pod checkout-7d9f8b6c5-x2k4p_shop",
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{involved_name}.17a1b2c3d4e5f6a7",
            "namespace": namespace,
            "uid": uid,
            "resourceVersion": rv,
            "creationTimestamp": "2026-11-25T03:00:00Z",
        },
        "involvedObject": {
            "kind": involved_kind,
            "namespace": namespace if involved_kind != "Node" else "",
            "name": involved_name,
            "uid": "5f1c2d3e-0000-4000-8000-000000000001",
            "apiVersion": "v1",
            "fieldPath": "spec.containers{app}",
        },
        "reason": reason,
        "message": message,
        "source": {"component": "kubelet", "host": "worker-1"},
        "firstTimestamp": "2026-11-25T03:00:00Z",
        "lastTimestamp": last,
        "count": count,
        "type": type_,
        "reportingComponent": "kubelet",
        "reportingInstance": "worker-1",
    }
