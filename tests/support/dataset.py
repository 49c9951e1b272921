"""A small, fully known set of documents for the store conformance suite."""

from __future__ import annotations

import copy
from typing import Any

from kubetrail.events.normalize import normalize
from kubetrail.events.timing import parse_rfc3339
from tests.support.k8s_objects import crashlooping_status, k8s_event, node, pod, secret


def at(minute: int, second: int = 0) -> Any:
    return parse_rfc3339(f"2026-11-25T03:{minute:02d}:{second:02d}Z")


def documents() -> list[dict[str, Any]]:
    """Twelve documents across three namespaces and cluster scope, 03:00-03:30."""
    docs = []
    healthy = pod(rv="100", created="2026-11-01T00:00:00Z")
    docs.append(normalize("ADDED", healthy, observed_at=at(0)))  # snapshot
    crashing = copy.deepcopy(healthy)
    crashing["metadata"]["resourceVersion"] = "110"
    crashing["status"] = crashlooping_status(restarts=1)
    docs.append(normalize("MODIFIED", crashing, observed_at=at(5)))
    crashing2 = copy.deepcopy(crashing)
    crashing2["metadata"]["resourceVersion"] = "120"
    crashing2["status"] = crashlooping_status(restarts=2)
    docs.append(normalize("MODIFIED", crashing2, observed_at=at(10)))
    other = pod(name="cart-1", uid="cart-uid", rv="130", created="2026-11-25T03:12:00Z")
    docs.append(normalize("ADDED", other, observed_at=at(12)))  # a real create
    docs.append(
        normalize(
            "DELETED",
            {**other, "metadata": {**other["metadata"], "resourceVersion": "140"}},
            observed_at=at(20),
        )
    )
    docs.append(normalize("MODIFIED", node(ready="Unknown", rv="150"), observed_at=at(15)))
    docs.append(
        normalize("MODIFIED", node(name="worker-1", ready="True", rv="151"), observed_at=at(15))
    )
    docs.append(
        normalize(
            "ADDED",
            k8s_event(count=1, rv="160", last="2026-11-25T03:05:00Z"),
            observed_at=at(5, 1),
            snapshot=False,
        )
    )
    docs.append(
        normalize(
            "MODIFIED",
            k8s_event(count=5, rv="170", last="2026-11-25T03:10:00Z"),
            observed_at=at(10, 1),
        )
    )
    docs.append(
        normalize(
            "ADDED",
            k8s_event(
                reason="NodeNotReady",
                type_="Normal",
                involved_kind="Node",
                involved_name="worker-3",
                namespace="default",
                uid="ev-node",
                rv="180",
                message="Node worker-3 status is now: NodeNotReady",
            ),
            observed_at=at(15, 1),
            snapshot=False,
        )
    )
    docs.append(
        normalize("MODIFIED", secret(password="rotated-value", rv="190"), observed_at=at(25))
    )
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "checkout-config",
            "namespace": "shop",
            "uid": "cm-uid",
            "resourceVersion": "200",
            "creationTimestamp": "2026-10-01T00:00:00Z",
        },
        "data": {"DATABASE_URL": "postgres://db.shop.svc:5432/checkout"},
    }
    docs.append(normalize("MODIFIED", cm, observed_at=at(30)))
    return docs
