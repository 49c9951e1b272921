import pytest

from kubetrail.events.model import DOCUMENT_FIELDS, MAX_NESTING, ORIGINAL_FIELDS
from kubetrail.events.normalize import NormalizeError, normalize
from kubetrail.events.timing import parse_rfc3339
from tests.support.k8s_objects import crashlooping_status, k8s_event, node, pod


def test_modified_pod_has_every_original_field_with_the_contract_values():
    obj = pod(status=crashlooping_status())
    doc = normalize("MODIFIED", obj, observed_at=parse_rfc3339("2026-11-25T03:10:01Z"))
    assert list(doc)[: len(ORIGINAL_FIELDS)] == list(ORIGINAL_FIELDS)
    assert set(doc) <= set(DOCUMENT_FIELDS)
    assert doc["timestamp"] == "2026-11-25T03:10:01Z"
    assert doc["verb"] == "update"
    assert doc["user"] == "system:k8s-watcher"
    assert doc["namespace"] == "shop"
    assert doc["resourceType"] == "pods"
    assert doc["resourceName"] == "checkout-7d9f8b6c5-x2k4p"
    assert doc["responseStatus"] == 200
    assert doc["message"] == "Update pods checkout-7d9f8b6c5-x2k4p"
    assert doc["stage"] == "ResponseComplete"
    assert doc["requestURI"] == "/api/v1/namespaces/shop/pods/checkout-7d9f8b6c5-x2k4p"
    assert doc["objectChanges"]["status"]["containerStatuses"][0]["restartCount"] == 4
    assert doc["id"] == "5f1c2d3e-0000-4000-8000-000000000001:1001"
    assert doc["apiGroup"] == "" and doc["apiVersion"] == "v1" and doc["kind"] == "Pod"
    assert "pod.waiting:CrashLoopBackOff" in doc["signals"]
    assert doc["fieldManager"] == "kubelet"
    assert doc["snapshot"] is False
    assert "involvedObject" not in doc


def test_time_is_derived_from_the_object_when_not_observed():
    doc = normalize("MODIFIED", pod(status=crashlooping_status(finished="2026-11-25T03:10:00Z")))
    assert doc["timestamp"] == "2026-11-25T03:10:00Z"


def test_grouped_cluster_scoped_and_namespaced_request_uris():
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "checkout", "namespace": "shop", "uid": "d1", "resourceVersion": "5"},
    }
    assert (
        normalize("ADDED", deploy)["requestURI"]
        == "/apis/apps/v1/namespaces/shop/deployments/checkout"
    )
    doc = normalize("MODIFIED", node())
    assert doc["requestURI"] == "/api/v1/nodes/worker-3"
    assert doc["namespace"] == ""
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "deny", "namespace": "shop", "uid": "n1", "resourceVersion": "6"},
    }
    doc = normalize("DELETED", policy)
    assert doc["resourceType"] == "networkpolicies"
    assert doc["verb"] == "delete"
    assert doc["message"] == "Delete networkpolicies deny"


def test_discovery_plural_wins_over_the_guess():
    crd_obj = {
        "apiVersion": "example.com/v1",
        "kind": "Octopus",
        "metadata": {"name": "o", "namespace": "sea", "uid": "u", "resourceVersion": "1"},
    }
    assert normalize("ADDED", crd_obj, plural="octopi")["resourceType"] == "octopi"
    assert normalize("ADDED", crd_obj)["resourceType"] == "octopuses"


def test_added_long_after_creation_is_a_snapshot_and_a_fresh_one_a_create():
    old = pod(created="2026-11-01T00:00:00Z")
    doc = normalize("ADDED", old, observed_at=parse_rfc3339("2026-11-25T00:00:00Z"))
    assert doc["snapshot"] is True
    assert doc["verb"] == "create"
    assert doc["message"].endswith("(snapshot)")
    fresh = pod(created="2026-11-25T00:00:00Z")
    doc = normalize("ADDED", fresh, observed_at=parse_rfc3339("2026-11-25T00:00:03Z"))
    assert doc["snapshot"] is False
    explicit = normalize(
        "ADDED", fresh, observed_at=parse_rfc3339("2026-11-25T00:00:03Z"), snapshot=True
    )
    assert explicit["snapshot"] is True


def test_id_is_stable_and_distinguishes_verbs():
    obj = pod()
    assert normalize("MODIFIED", obj)["id"] == normalize("MODIFIED", obj)["id"]
    assert normalize("MODIFIED", obj)["id"] != normalize("DELETED", obj)["id"]


def test_object_without_uid_or_resource_version_still_gets_a_stable_id():
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "d"},
        "data": {"a": "1"},
    }
    first = normalize("ADDED", obj)["id"]
    assert first == normalize("ADDED", obj)["id"]
    changed = {**obj, "data": {"a": "2"}}
    assert normalize("ADDED", changed)["id"] != first


def test_core_event_fields():
    doc = normalize("MODIFIED", k8s_event(count=7))
    assert doc["resourceType"] == "events"
    assert doc["involvedObject"] == {
        "kind": "Pod",
        "namespace": "shop",
        "name": "checkout-7d9f8b6c5-x2k4p",
        "uid": "5f1c2d3e-0000-4000-8000-000000000001",
    }
    assert doc["reason"] == "BackOff"
    assert doc["eventType"] == "Warning"
    assert doc["count"] == 7


def test_events_k8s_io_event_fields():
    ev = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "web.1", "namespace": "shop", "uid": "e2", "resourceVersion": "9"},
        "regarding": {"kind": "Pod", "namespace": "shop", "name": "web", "uid": "p1"},
        "reason": "Unhealthy",
        "type": "Warning",
        "note": "Readiness probe failed: HTTP probe failed with statuscode: 503",
        "series": {"count": 12, "lastObservedTime": "2026-11-25T03:00:00.000000Z"},
        "eventTime": "2026-11-25T02:00:00.000000Z",
    }
    doc = normalize("ADDED", ev)
    assert doc["apiGroup"] == "events.k8s.io"
    assert doc["involvedObject"]["name"] == "web"
    assert doc["reason"] == "Unhealthy"
    assert doc["count"] == 12
    assert doc["timestamp"] == "2026-11-25T03:00:00Z"


def test_newest_managed_fields_entry_names_the_field_manager():
    obj = pod()
    obj["metadata"]["managedFields"].append(
        {"manager": "helm", "operation": "Update", "time": "2026-11-25T01:00:00Z"}
    )
    assert normalize("MODIFIED", obj)["fieldManager"] == "helm"


@pytest.mark.parametrize(
    ("event_type", "obj", "message"),
    [
        ("BOGUS", pod(), "unknown watch event type"),
        ("ADDED", {"apiVersion": "v1", "metadata": {"name": "x"}}, "no kind"),
        ("ADDED", {"kind": "Pod", "metadata": {"name": "x"}}, "no apiVersion"),
        ("ADDED", {"kind": "Pod", "apiVersion": "v1", "metadata": {}}, "no metadata.name"),
        ("ADDED", ["not", "an", "object"], "must be a JSON object"),
    ],
)
def test_unusable_input_raises_a_clear_error(event_type, obj, message):
    with pytest.raises(NormalizeError, match=message):
        normalize(event_type, obj)


def test_input_object_is_not_mutated():
    import copy

    obj = pod(env=[{"name": "DB_PASSWORD", "value": "hunter2"}])
    before = copy.deepcopy(obj)
    normalize("MODIFIED", obj)
    assert obj == before


def test_one_id_per_version_however_it_was_seen() -> None:
    obj = pod(rv="2001")
    as_update = normalize("MODIFIED", obj, observed_at=parse_rfc3339("2026-11-25T03:00:00Z"))
    as_snapshot = normalize(
        "ADDED", obj, observed_at=parse_rfc3339("2026-11-25T05:00:00Z"), snapshot=True
    )
    deleted = normalize("DELETED", obj, observed_at=parse_rfc3339("2026-11-25T05:00:00Z"))
    assert as_update["id"] == as_snapshot["id"] == f"{obj['metadata']['uid']}:2001"
    assert deleted["id"] == f"{obj['metadata']['uid']}:2001:delete"


# -- hardening: inputs that once escaped as OverflowError / RecursionError -----------------


@pytest.mark.parametrize(
    "where", ["creationTimestamp", "condition", "deletionTimestamp", "managedFields"]
)
def test_an_overflowing_time_in_the_object_never_escapes_normalize(where: str) -> None:
    bad = "0001-01-01T00:00:00+01:00"
    obj = pod()
    if where == "condition":
        obj["status"]["conditions"] = [{"type": "Ready", "lastTransitionTime": bad}]
    elif where == "managedFields":
        obj["metadata"]["managedFields"] = [{"manager": "kubectl", "time": bad}]
    else:
        obj["metadata"][where] = bad
    doc = normalize("ADDED", obj)
    assert doc["resourceName"] == obj["metadata"]["name"]


def _nested(depth: int) -> dict:
    """A pod whose ``spec.x`` holds maps nested so that the object is ``depth`` deep."""
    obj = pod()
    value: object = "leaf"
    for _ in range(depth - 2):  # the object and its spec are two levels
        value = {"x": value}
    obj["spec"] = {"x": value}
    return obj


def test_nesting_up_to_the_documented_limit_is_stored_and_searchable() -> None:
    from kubetrail.events.text import search_text

    doc = normalize("ADDED", _nested(MAX_NESTING))
    assert "leaf" in search_text(doc["objectChanges"])


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 300, 990, 1020])
def test_deeper_nesting_is_a_clear_rejection_before_anything_walks_it(depth: int) -> None:
    with pytest.raises(NormalizeError, match=f"nests deeper than {MAX_NESTING} levels"):
        normalize("ADDED", _nested(depth))
