"""The churn digest: what counts as "nothing but a heartbeat changed"."""

from __future__ import annotations

import copy

import orjson

from kubetrail.shipper.watcher import churn_digest
from tests.support.k8s_objects import node, pod


def test_heartbeats_resource_version_and_managed_fields_do_not_count() -> None:
    a = node("worker-1", heartbeat="2026-11-25T04:00:00Z", rv="10")
    b = node("worker-1", heartbeat="2026-11-25T04:00:40Z", rv="11")
    b["metadata"]["managedFields"] = [{"manager": "kubelet", "time": "2026-11-25T04:00:40Z"}]
    assert churn_digest(a) == churn_digest(b)


def test_a_real_change_counts() -> None:
    a = node("worker-1", ready="True")
    assert churn_digest(a) != churn_digest(node("worker-1", ready="Unknown"))
    p = pod()
    changed = copy.deepcopy(p)
    changed["spec"]["containers"][0]["image"] = "registry.example.com/shop/checkout:1.5.1"
    assert churn_digest(p) != churn_digest(changed)


def test_list_items_without_type_fields_match_watch_objects() -> None:
    watched = pod()
    listed = {k: v for k, v in watched.items() if k not in ("kind", "apiVersion")}
    listed["kind"], listed["apiVersion"] = "Pod", "v1"  # added at the end, as the watcher does
    assert churn_digest(listed) == churn_digest(watched)


def test_the_digest_leaves_the_object_exactly_as_it_was() -> None:
    # the digest runs on the object the document is made of: it must not change it
    obj = node("worker-1", heartbeat="2026-11-25T04:00:00Z", rv="10")
    obj["metadata"]["managedFields"] = [{"manager": "kubelet", "time": "2026-11-25T04:00:40Z"}]
    before = orjson.dumps(obj)  # orjson keeps key order: order changes would show
    conditions = obj["status"]["conditions"]
    churn_digest(obj)
    assert orjson.dumps(obj) == before
    assert obj["status"]["conditions"] is conditions
