"""The demo incident as writes to an API server (kubetrail.demo.play): replayed in order,
they rebuild every recorded object; the command refuses what it cannot do in one line.

Playing them into a real kube-apiserver, shipping and diagnosing what the shipper stored:
tests/diagnostics/test_played_incident.py."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given

from kubetrail.cli.demo_play import foreign_nodes
from kubetrail.demo.incident import DEMO_SECRET_CANARY, generate_incident
from kubetrail.demo.play import (
    PLAYED_LABEL,
    InvalidPrefix,
    Plan,
    Write,
    merge_patch,
    plan_writes,
)
from kubetrail.demo.player import Player, PlayError
from tests.support.kube_apiservers import RealCluster
from tests.support.strategies import json_values

ANCHOR = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SERVER_METADATA = {"uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"}


@pytest.fixture(scope="module")
def events() -> list[dict[str, Any]]:
    return generate_incident(anchor=ANCHOR)


@pytest.fixture(scope="module")
def plan(events: list[dict[str, Any]]) -> Plan:
    return plan_writes(events)


def apply_patch(target: Any, patch: Any) -> Any:
    """RFC 7386, as the API server applies a merge patch."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = apply_patch(out.get(key), value)
    return out


def replay(plan: Plan) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """What a server holds after the writes (uid → object), and the uids deleted."""
    objects: dict[str, dict[str, Any]] = {}
    deleted: set[str] = set()
    for w in plan.writes:
        if not w.demo_uid:
            continue
        if w.creates:
            objects[w.demo_uid] = dict(w.body or {})
        elif w.deletes:
            objects.pop(w.demo_uid, None)
            deleted.add(w.demo_uid)
        elif w.path.endswith("/binding"):
            obj = objects[w.demo_uid]
            obj["spec"] = {**obj["spec"], "nodeName": (w.body or {})["target"]["name"]}
        elif w.method == "PATCH":
            body = dict(w.body or {})
            body["metadata"] = {
                k: v for k, v in body.get("metadata", {}).items() if k != "managedFields"
            }
            objects[w.demo_uid] = apply_patch(objects[w.demo_uid], body)
    return objects, deleted


def test_replayed_writes_rebuild_every_recorded_object(
    events: list[dict[str, Any]], plan: Plan
) -> None:
    final: dict[str, dict[str, Any]] = {}
    for e in events:
        uid = e["object"]["metadata"]["uid"]
        if e["type"] == "DELETED":
            final.pop(uid)
        else:
            final[uid] = e["object"]
    objects, deleted = replay(plan)
    assert objects.keys() == final.keys()
    assert deleted == {e["object"]["metadata"]["uid"] for e in events if e["type"] == "DELETED"}
    for uid, recorded in final.items():
        played = objects[uid]
        kind = recorded["kind"]
        for field in set(recorded) - {"metadata", "spec"}:
            assert played.get(field) == recorded[field], (kind, field)
        if kind not in ("Service", "Job"):  # server-assigned IPs, ports, selector (below)
            assert played.get("spec") == recorded.get("spec"), kind
        meta = recorded["metadata"]
        labels = meta.get("labels", {})
        if kind == "Node":
            labels = {**labels, PLAYED_LABEL: "true"}
        if kind == "Job":
            labels = {k: v for k, v in labels.items() if "controller-uid" not in k}
        assert played["metadata"].get("labels", {}) == labels, kind
        assert played["metadata"].get("annotations") == meta.get("annotations"), kind
        assert played["metadata"].get("finalizers") == meta.get("finalizers"), kind


def test_creates_leave_to_the_server_what_it_assigns(plan: Plan) -> None:
    creates = [w for w in plan.writes if w.creates]
    assert creates
    for w in creates:
        body = w.body or {}
        assert not SERVER_METADATA & set(body["metadata"]), body["metadata"]["name"]
        assert "status" not in body
        assert not w.path.endswith(body["metadata"]["name"])  # the collection
    services = [w.body for w in creates if w.body and w.body["kind"] == "Service"]
    assert services and all(
        s["spec"].get("clusterIP") in (None, "None")
        and all("nodePort" not in p for p in s["spec"]["ports"])
        for s in services
    )
    jobs = [w.body for w in creates if w.body and w.body["kind"] == "Job"]
    assert jobs and all("selector" not in j["spec"] for j in jobs)
    # created by whoever created them, not by the controller that wrote their status last
    deployers = {
        dict(w.query)["fieldManager"] for w in creates if (w.body or {})["kind"] == "Deployment"
    }
    assert deployers == {"helm", "argocd-controller", "kubectl-client-side-apply", "kubeadm"}
    # every status is written through the status subresource, by the recorded writer
    statuses = [w for w in plan.writes if w.path.endswith("/status")]
    assert {dict(w.query).get("fieldManager") for w in statuses} >= {
        "kubelet",
        "kube-controller-manager",
    }
    assert all(
        w.method == "PATCH" and "managedFields" in (w.body or {})["metadata"] for w in statuses
    )
    # the deployment controller writes its revision annotation there too: through the main
    # resource, a Deployment's annotations bump its generation as a spec change does
    revisions = [
        w
        for w in plan.writes
        if "deployment.kubernetes.io/revision"
        in (w.body or {}).get("metadata", {}).get("annotations", {})
        and not w.creates
    ]
    assert revisions and all(w.path.endswith("/status") for w in revisions)


def test_the_opening_list_is_the_setup_and_the_rest_the_incident(
    events: list[dict[str, Any]], plan: Plan
) -> None:
    listed = 0
    for e in events:
        if e["type"] != "ADDED" or e["timestamp"] != events[0]["timestamp"]:
            break
        listed += 1
    setup = plan.phase("setup")
    assert sum(1 for w in setup if w.creates and w.demo_uid) == listed
    assert [w.body["metadata"]["name"] for w in setup if not w.demo_uid] == ["default"]
    incident = plan.phase("incident")
    assert plan.writes == tuple(setup + incident)
    managers = Counter(dict(w.query).get("fieldManager") for w in incident)
    assert managers["helm"] and managers["argocd-controller"]


def test_pods_are_bound_as_the_scheduler_does_and_evicted_gracefully(plan: Plan) -> None:
    bindings = [w for w in plan.writes if w.path.endswith("/binding")]
    assert bindings and all(w.method == "POST" for w in bindings)
    assert all((w.body or {})["target"]["name"] in plan.nodes for w in bindings)
    graceful = [w for w in plan.writes if w.method == "DELETE" and not w.deletes]
    assert graceful and all(w.terminates and "/pods/" in w.path for w in graceful)
    assert all(dict(w.query)["gracePeriodSeconds"] != "0" for w in graceful)


def test_a_deletion_clears_the_finalizers_no_controller_will() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns", "uid": "u1", "finalizers": ["x/y"]},
        "spec": {"containers": [{"name": "c", "image": "i"}]},
    }
    plan = plan_writes(
        [
            {"type": "ADDED", "object": pod, "timestamp": "2026-11-25T12:00:00Z"},
            {"type": "DELETED", "object": pod, "timestamp": "2026-11-25T12:00:05Z"},
        ]
    )
    assert [(w.method, w.path, w.body) for w in plan.phase("incident")] == [
        ("PATCH", "/api/v1/namespaces/ns/pods/p", {"metadata": {"finalizers": None}}),
        ("DELETE", "/api/v1/namespaces/ns/pods/p", None),
    ]


def test_a_prefix_renames_namespaces_and_nodes_everywhere(events: list[dict[str, Any]]) -> None:
    plan = plan_writes(events, prefix="run-2")
    assert set(plan.nodes) == {
        "run-2-control-plane-1",
        "run-2-worker-1",
        "run-2-worker-2",
        "run-2-worker-3",
    }
    assert "default" in plan.namespaces  # Events about Nodes must live there
    assert all(ns == "default" or ns.startswith("run-2-") for ns in plan.namespaces)
    text = orjson.dumps([w.body for w in plan.writes]).decode()
    for name in ("worker-3", "shop"):
        assert f'"{name}"' not in text, name
    for w in plan.writes:
        if "/namespaces/" in w.path:
            assert w.path.split("/namespaces/")[1].split("/")[0] in plan.namespaces
        body = w.body or {}
        if body.get("kind") == "Pod" and body["spec"].get("nodeName"):
            assert body["spec"]["nodeName"] in plan.nodes
        if body.get("kind") == "Event" and body["involvedObject"]["kind"] == "Node":
            assert body["involvedObject"]["name"] in plan.nodes
            assert body["metadata"]["namespace"] == "default"
        if body.get("kind") == "Node":
            assert body["metadata"]["labels"][PLAYED_LABEL] == "true"


@pytest.mark.parametrize("prefix", ["Run", "a_b", "-a", "a-", "x" * 41, "a.b"])
def test_a_prefix_that_cannot_start_a_name_is_refused(prefix: str) -> None:
    with pytest.raises(InvalidPrefix, match="invalid prefix"):
        plan_writes([], prefix=prefix)


@given(json_values(), json_values())
def test_a_merge_patch_turns_the_old_object_into_the_new(old: Any, new: Any) -> None:
    old, new = {"o": old}, {"o": new}

    def no_null(value: Any) -> Any:  # a merge patch cannot write null: it deletes
        if isinstance(value, dict):
            return {k: no_null(v) for k, v in value.items() if v is not None}
        return value

    new = no_null(new)
    assert apply_patch(old, merge_patch(old, new)) == new
    assert merge_patch(new, new) == {}


def test_a_refused_secret_write_is_named_without_the_servers_words() -> None:
    """The server's message may quote what was sent; for a Secret that is its value."""

    def server(method: str, path: str, **_: Any) -> tuple[int, Any]:
        return 422, {"kind": "Status", "reason": "Invalid", "message": DEMO_SECRET_CANARY}

    secret = Write("setup", "POST", "/api/v1/namespaces/a/secrets", "secrets", "u", {"x": 1})
    with pytest.raises(PlayError) as caught:
        Player(server).play([secret])
    assert str(caught.value) == "POST /api/v1/namespaces/a/secrets: 422 Invalid"
    config_map = Write("setup", "POST", "/api/v1/namespaces/a/configmaps", "configmaps", "u", {})
    with pytest.raises(PlayError, match="422 Invalid: s3cr3t"):
        Player(server).play([config_map])


def test_only_nodes_the_demo_made_are_not_foreign() -> None:
    nodes = {
        "items": [
            {"metadata": {"name": "p-worker-1", "labels": {PLAYED_LABEL: "true"}}},
            {"metadata": {"name": "kind-control-plane", "labels": {}}},
            {"metadata": {"name": "gke-pool-1"}},
        ]
    }
    assert foreign_nodes(nodes) == ["gke-pool-1", "kind-control-plane"]
    assert foreign_nodes({"items": []}) == []


def kubetrail(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubetrail", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("--prefix", "a"), "--prefix names what --play-into creates: give --play-into too"),
        (("--play-into", "k", "--store", "sqlite:///x.db"), "drop --store/--no-serve"),
        (("--play-into", "k", "--prefix", "A"), "invalid prefix 'A'"),
        (("--play-into", "/nonexistent/kubeconfig"), "/nonexistent/kubeconfig"),
    ],
)
def test_play_into_refuses_in_one_line(args: tuple[str, ...], error: str) -> None:
    r = kubetrail("demo", *args)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and error in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_play_into_a_real_api_server(real_kube: RealCluster) -> None:
    """The command as a user runs it, into a bare kube-apiserver; a second play under the
    same names is refused in one line, saying how to play it again."""
    prefix = f"kt-cli-{uuid.uuid4().hex[:6]}"
    kubeconfig = str(real_kube.kubeconfig)
    r = kubetrail("demo", "--play-into", kubeconfig, "--prefix", prefix)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("kubetrail demo: played the built-in incident into https://")
    assert f"nodes {prefix}-control-plane-1, {prefix}-worker-1" in r.stdout
    pods = real_kube.kubectl_json("get", "pods", "-n", f"{prefix}-shop")["items"]
    waiting = {
        cs["state"].get("waiting", {}).get("reason")
        for p in pods
        for cs in p["status"].get("containerStatuses", ())
    }
    assert "CrashLoopBackOff" in waiting
    again = kubetrail("demo", "--play-into", kubeconfig, "--prefix", prefix)
    assert again.returncode == 2
    assert again.stderr.count("\n") == 1, again.stderr
    assert "409 AlreadyExists" in again.stderr and "a new --prefix" in again.stderr


def test_play_into_a_cluster_with_nodes_of_its_own_is_refused(real_kube: RealCluster) -> None:
    name = f"kt-kubelet-{uuid.uuid4().hex[:6]}"
    real_kube.apply({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
    try:
        r = kubetrail("demo", "--play-into", str(real_kube.kubeconfig), "--prefix", "never")
    finally:
        real_kube.kubectl("delete", "node", name)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1, r.stderr
    assert f"it has nodes of its own ({name})" in r.stderr
    assert (
        real_kube.request("GET", "/api/v1/namespaces?fieldSelector=metadata.name=never-shop")[
            "items"
        ]
        == []
    )
