"""Synthetic cluster churn as watch-event JSON lines, for benchmarks.

A cluster of ``nodes`` nodes and ``pods`` pods spread over ``namespaces``
namespaces, observed for ``hours``: pods are updated (restarts, readiness
flaps, some CrashLoopBackOff / OOMKilled / ImagePullBackOff), recreated,
and every change comes with Kubernetes Events, the way a busy cluster's watch
streams look. Objects are full-sized (managedFields, env, resources, status:
~3-5 KB a pod). Deterministic for a seed.

    python bench/generate.py --events 100000 -o /tmp/cluster.jsonl
"""

from __future__ import annotations

import argparse
import random
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

_NS = uuid.UUID("6f1d0c1e-8a55-4f0e-9a4b-3c1f0e2d9b7a")
_PROBLEMS = (
    ("CrashLoopBackOff", "Error", 1),
    ("CrashLoopBackOff", "OOMKilled", 137),
    ("ImagePullBackOff", None, None),
    ("CreateContainerConfigError", None, None),
)


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _uid(*parts: object) -> str:
    return str(uuid.uuid5(_NS, "/".join(map(str, parts))))


def _managed(manager: str, t: str, subresource: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "manager": manager,
        "operation": "Update",
        "apiVersion": "v1",
        "time": t,
        "fieldsType": "FieldsV1",
        "fieldsV1": {
            "f:metadata": {"f:labels": {".": {}, "f:app": {}, "f:pod-template-hash": {}}},
            "f:spec": {"f:containers": {'k:{"name":"app"}': {".": {}, "f:image": {}, "f:env": {}}}},
        },
    }
    if subresource:
        entry["subresource"] = subresource
    return entry


class Cluster:
    def __init__(
        self, *, nodes: int, pods: int, namespaces: int, seed: int, start: datetime
    ) -> None:
        self.rng = random.Random(seed)
        self.start = start
        self.rv = 1000
        self.nodes = [f"node-{i:03d}" for i in range(nodes)]
        self.namespaces = [f"team-{i:02d}" for i in range(namespaces)]
        self.pods: list[dict[str, Any]] = []
        for i in range(pods):
            ns = self.namespaces[i % namespaces]
            app = f"svc-{(i // 3) % max(1, pods // 3):04d}"
            self.pods.append(self._pod(ns, app, i, start - timedelta(days=3)))

    def next_rv(self) -> str:
        self.rv += 1
        return str(self.rv)

    def _pod(self, ns: str, app: str, i: int, created: datetime) -> dict[str, Any]:
        name = f"{app}-7d9f8b6c5-{i:05d}"
        c = _ts(created)
        image = f"registry.example.com/{ns}/{app}:1.{i % 7}.{i % 13}"
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": ns,
                "uid": _uid(ns, name, c),
                "resourceVersion": self.next_rv(),
                "creationTimestamp": c,
                "generateName": f"{app}-7d9f8b6c5-",
                "labels": {
                    "app": app,
                    "pod-template-hash": "7d9f8b6c5",
                    "team": ns,
                    "tier": "backend",
                },
                "annotations": {
                    "prometheus.io/scrape": "true",
                    "prometheus.io/port": "9090",
                    "kubectl.kubernetes.io/restartedAt": c,
                },
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": f"{app}-7d9f8b6c5",
                        "uid": _uid(ns, app, "rs"),
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
                "managedFields": [
                    _managed("kube-controller-manager", c),
                    _managed("kubelet", c, "status"),
                ],
            },
            "spec": {
                "nodeName": self.rng.choice(self.nodes),
                "serviceAccountName": "default",
                "restartPolicy": "Always",
                "terminationGracePeriodSeconds": 30,
                "containers": [
                    {
                        "name": "app",
                        "image": image,
                        "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                        "env": [
                            {"name": "LOG_LEVEL", "value": "info"},
                            {"name": "DATABASE_HOST", "value": f"postgres.{ns}.svc.cluster.local"},
                            {
                                "name": "FEATURE_FLAGS",
                                "value": "checkout-v2,async-payments,new-cart",
                            },
                            {
                                "name": "POD_NAME",
                                "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                            },
                        ],
                        "resources": {
                            "requests": {"cpu": "100m", "memory": "128Mi"},
                            "limits": {"memory": "512Mi"},
                        },
                        "livenessProbe": {
                            "httpGet": {"path": "/healthz", "port": 8080},
                            "periodSeconds": 10,
                        },
                        "readinessProbe": {
                            "httpGet": {"path": "/ready", "port": 8080},
                            "periodSeconds": 5,
                        },
                        "volumeMounts": [
                            {
                                "name": "kube-api-access",
                                "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                                "readOnly": True,
                            }
                        ],
                    }
                ],
                "volumes": [
                    {
                        "name": "kube-api-access",
                        "projected": {
                            "sources": [
                                {
                                    "serviceAccountToken": {
                                        "path": "token",
                                        "expirationSeconds": 3607,
                                    }
                                }
                            ]
                        },
                    }
                ],
                "tolerations": [
                    {
                        "key": "node.kubernetes.io/not-ready",
                        "operator": "Exists",
                        "effect": "NoExecute",
                        "tolerationSeconds": 300,
                    }
                ],
            },
            "status": {
                "phase": "Running",
                "hostIP": "10.0.0.10",
                "podIP": f"10.244.{i % 250}.{i % 200 + 2}",
                "qosClass": "Burstable",
                "startTime": c,
                "conditions": [
                    {"type": "Initialized", "status": "True", "lastTransitionTime": c},
                    {"type": "Ready", "status": "True", "lastTransitionTime": c},
                    {"type": "ContainersReady", "status": "True", "lastTransitionTime": c},
                    {"type": "PodScheduled", "status": "True", "lastTransitionTime": c},
                ],
                "containerStatuses": [
                    {
                        "name": "app",
                        "ready": True,
                        "started": True,
                        "restartCount": 0,
                        "image": image,
                        "imageID": f"{image}@sha256:{_uid(image).replace('-', '')}",
                        "containerID": f"containerd://{_uid(name, 'c').replace('-', '')}",
                        "state": {"running": {"startedAt": c}},
                    }
                ],
            },
        }

    def _event(
        self, pod: dict[str, Any], reason: str, type_: str, message: str, t: str, count: int
    ) -> dict[str, Any]:
        meta = pod["metadata"]
        name = f"{meta['name']}.{_uid(meta['uid'], reason).replace('-', '')[:16]}"
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": name,
                "namespace": meta["namespace"],
                "uid": _uid(meta["uid"], reason),
                "resourceVersion": self.next_rv(),
                "creationTimestamp": t,
            },
            "involvedObject": {
                "kind": "Pod",
                "namespace": meta["namespace"],
                "name": meta["name"],
                "uid": meta["uid"],
                "apiVersion": "v1",
                "fieldPath": "spec.containers{app}",
            },
            "reason": reason,
            "message": message,
            "source": {"component": "kubelet", "host": pod["spec"]["nodeName"]},
            "firstTimestamp": t,
            "lastTimestamp": t,
            "count": count,
            "type": type_,
            "reportingComponent": "kubelet",
            "reportingInstance": pod["spec"]["nodeName"],
        }

    def churn(self, events: int, hours: float) -> Iterator[dict[str, Any]]:
        """``events`` watch events spread over ``hours`` after ``start``."""
        # the listing comes first, then the churn spans exactly ``hours``
        step = timedelta(hours=hours) / max(1, events - min(events, len(self.pods)))
        t = self.start
        emitted = 0
        seen_events: set[str] = set()
        for pod in self.pods:  # the watch starts with a listing
            if emitted >= events:
                return
            yield {"type": "ADDED", "object": pod, "timestamp": _ts(t)}
            emitted += 1
        while emitted < events:
            t += step * 2
            pod = self.rng.choice(self.pods)
            ts = _ts(t)
            cs = pod["status"]["containerStatuses"][0]
            pod["metadata"]["resourceVersion"] = self.next_rv()
            pod["metadata"]["managedFields"][1]["time"] = ts
            if self.rng.random() < 0.3:
                waiting, term, code = self.rng.choice(_PROBLEMS)
                cs["restartCount"] += 1
                cs["ready"] = False
                cs["state"] = {
                    "waiting": {
                        "reason": waiting,
                        "message": "back-off restarting failed container app",
                    }
                }
                if term:
                    cs["lastState"] = {
                        "terminated": {
                            "exitCode": code,
                            "reason": term,
                            "startedAt": ts,
                            "finishedAt": ts,
                        }
                    }
                pod["status"]["conditions"][1].update(status="False", lastTransitionTime=ts)
                reason, type_, msg = (
                    "BackOff",
                    "Warning",
                    f"Back-off restarting failed container app in pod {pod['metadata']['name']}",
                )
            else:
                cs["ready"] = True
                cs["state"] = {"running": {"startedAt": ts}}
                pod["status"]["conditions"][1].update(status="True", lastTransitionTime=ts)
                reason, type_, msg = "Started", "Normal", "Started container app"
            yield {"type": "MODIFIED", "object": pod, "timestamp": ts}
            emitted += 1
            if emitted < events:
                event = self._event(pod, reason, type_, msg, ts, cs["restartCount"] + 1)
                uid = event["metadata"]["uid"]
                yield {
                    "type": "MODIFIED" if uid in seen_events else "ADDED",
                    "object": event,
                    "timestamp": ts,
                }
                seen_events.add(uid)
                emitted += 1


def write_lines(
    out: Any,
    *,
    events: int,
    nodes: int,
    pods: int,
    namespaces: int,
    hours: float,
    seed: int,
    start: datetime,
) -> int:
    cluster = Cluster(nodes=nodes, pods=pods, namespaces=namespaces, seed=seed, start=start)
    size = 0
    for ev in cluster.churn(events, hours):
        line = orjson.dumps(ev) + b"\n"
        out.write(line)
        size += len(line)
    return size


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--nodes", type=int, default=50)
    p.add_argument("--pods", type=int, default=5_000)
    p.add_argument("--namespaces", type=int, default=20)
    p.add_argument("--hours", type=float, default=48.0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("-o", "--output", default="-")
    args = p.parse_args(argv)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=args.hours + 1)
    out = sys.stdout.buffer if args.output == "-" else open(args.output, "wb")  # noqa: SIM115
    try:
        write_lines(
            out,
            events=args.events,
            nodes=args.nodes,
            pods=args.pods,
            namespaces=args.namespaces,
            hours=args.hours,
            seed=args.seed,
            start=start,
        )
    finally:
        if out is not sys.stdout.buffer:
            out.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
