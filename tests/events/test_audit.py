"""Audit events → audit records, and the join's rules (kubetrail.events.audit), on events
shaped as the real API server writes them (tests/support/audit_events.py)."""

from __future__ import annotations

import orjson
import pytest

from kubetrail.events.audit import (
    EXACT,
    NEAREST,
    AuditError,
    AuditRecord,
    Candidate,
    audit_record,
    plan_joins,
)
from kubetrail.events.timing import format_rfc3339, from_micros, parse_rfc3339, to_micros
from tests.support.audit_events import audit_event, deleted_status

CANARY = "kubetrail-audit-canary-5e1d"


def deployment(rv: str, image: str = "web:2") -> dict:
    return {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {"name": "web", "namespace": "shop", "uid": "web-uid", "resourceVersion": rv},
        "spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}},
    }


def test_a_request_response_write_names_its_version() -> None:
    event = audit_event(
        audit_id="a1",
        verb="patch",
        resource="deployments",
        api_group="apps",
        name="web",
        level="RequestResponse",
        request={"spec": {"replicas": 3}},
        written=deployment("212"),
    )
    assert audit_record(event) == AuditRecord(
        audit_id="a1",
        timestamp="2026-11-25T04:00:01Z",
        verb="update",
        resource_type="deployments",
        api_group="apps",
        namespace="shop",
        name="web",
        uid="web-uid",
        resource_version="212",
        user="system:serviceaccount:shop:alice",
    )


def test_a_metadata_update_names_no_version_even_with_objectref_resource_version() -> None:
    """objectRef.resourceVersion of an update is the version it replaced (its request's
    precondition), as the real API server writes it: not the one written."""
    event = audit_event(
        audit_id="m1",
        verb="update",
        resource="configmaps",
        name="settings",
        uid="cm-uid",
        replaced_version="214",
    )
    record = audit_record(event)
    assert record is not None
    assert (record.verb, record.uid, record.resource_version) == ("update", "cm-uid", "")


def test_a_deletion_is_known_by_the_uid_its_status_names() -> None:
    event = deleted_status(
        audit_event(audit_id="d1", verb="delete", resource="configmaps", name="settings"),
        uid="cm-uid",
    )
    record = audit_record(event)
    assert record is not None
    assert (record.verb, record.uid, record.resource_version) == ("delete", "cm-uid", "")


def test_subresource_writes_change_their_object() -> None:
    scale = audit_event(
        audit_id="s1",
        verb="patch",
        resource="deployments",
        api_group="apps",
        name="web",
        subresource="scale",
        level="RequestResponse",
        written={
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": "web",
                "namespace": "shop",
                "uid": "web-uid",
                "resourceVersion": "213",
            },
        },
    )
    record = audit_record(scale)
    assert record is not None
    assert (record.verb, record.resource_type, record.resource_version) == (
        "update",
        "deployments",
        "213",
    )
    binding = audit_event(
        audit_id="b1", verb="create", resource="pods", name="p", subresource="binding"
    )
    assert audit_record(binding).verb == "update"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "change",
    [
        {"verb": "get"},
        {"verb": "list"},
        {"verb": "deletecollection"},
        {"code": 403},
        {"code": 409},
        {"stage": "RequestReceived"},
        {"subresource": "token", "verb": "create"},
        {"subresource": "exec", "verb": "create"},
        {"subresource": "eviction", "verb": "create"},
        {"name": ""},
    ],
)
def test_what_wrote_no_version_is_no_record(change: dict) -> None:
    args = {"audit_id": "x", "verb": "patch", "resource": "pods", "name": "p", **change}
    assert audit_record(audit_event(**args)) is None


def test_the_impersonated_user_is_the_user() -> None:
    event = audit_event(
        audit_id="i1",
        verb="patch",
        resource="deployments",
        name="web",
        user="kubetrail-admin",
        impersonated="bob@example.com",
    )
    record = audit_record(event)
    assert record is not None
    assert (record.user, record.impersonated_by) == ("bob@example.com", "kubetrail-admin")


def test_malformed_events_are_refused_in_one_line_without_content() -> None:
    good = audit_event(audit_id="x", verb="patch", resource="pods", name="p")
    broken = [
        ({**good, "auditID": ""}, "no auditID"),
        ({**good, "user": {"groups": [CANARY]}}, "no user.username"),
        ({**good, "stageTimestamp": CANARY, "requestReceivedTimestamp": None}, "not RFC3339"),
        ({**good, "apiVersion": "audit.k8s.io/v1beta1"}, "not an audit.k8s.io/v1 Event"),
    ]
    for event, why in broken:
        with pytest.raises(AuditError, match=why) as info:
            audit_record(event)
        assert CANARY not in str(info.value)


def test_an_event_list_item_needs_no_kind_of_its_own() -> None:
    item = audit_event(audit_id="x", verb="patch", resource="pods", name="p")
    del item["kind"], item["apiVersion"]
    with pytest.raises(AuditError):
        audit_record(item)
    assert audit_record(item, in_list=True) is not None


def test_no_body_value_reaches_a_record() -> None:
    """A Secret logged at RequestResponse level (a policy less careful than the
    recommended one): the record keeps identifiers only."""
    secret = {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": {
            "name": "db",
            "namespace": "shop",
            "uid": "s-uid",
            "resourceVersion": "9",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": CANARY},
        },
        "data": {"password": CANARY},
        "stringData": {"token": CANARY},
    }
    event = audit_event(
        audit_id="sec",
        verb="update",
        resource="secrets",
        name="db",
        level="RequestResponse",
        request=secret,
        written=secret,
    )
    record = audit_record(event)
    assert record is not None and record.resource_version == "9"
    assert CANARY.encode() not in orjson.dumps(record.to_dict())


# -- the plan ------------------------------------------------------------------------------

T0 = to_micros(parse_rfc3339("2026-11-25T04:00:00Z"))


def version(rv: str, seconds: float, **kw: object) -> Candidate:
    base: dict = {
        "id": f"web-uid:{rv}",
        "micros": T0 + int(seconds * 1e6),
        "verb": "update",
        "resource_type": "deployments",
        "namespace": "shop",
        "name": "web",
        "uid": "web-uid",
        "resource_version": rv,
    }
    return Candidate(**{**base, **kw})  # type: ignore[arg-type]


def rec(audit_id: str, seconds: float, rv: str = "", user: str = "u") -> AuditRecord:
    return AuditRecord(
        audit_id=audit_id,
        timestamp=format_rfc3339(from_micros(T0 + int(seconds * 1e6))),
        verb="update",
        resource_type="deployments",
        api_group="apps",
        namespace="shop",
        name="web",
        uid="web-uid",
        resource_version=rv,
        user=user,
    )


def joined(plan) -> dict[str, tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {j.doc_id: (j.audit_id, j.source) for j in plan.joins}


def test_nearest_pairs_are_taken_closest_first() -> None:
    """Records arriving in any order: each version goes to the request closest to it, and a
    request that made no version (a no-op patch) is left over."""
    versions = [version("1", 0.0), version("2", 1.0), version("3", 2.0)]
    records = [rec("noop", 1.45), rec("c", 1.98), rec("a", -0.01), rec("b", 0.97)]
    plan = plan_joins(records, versions)
    assert joined(plan) == {
        "web-uid:1": ("a", NEAREST),
        "web-uid:2": ("b", NEAREST),
        "web-uid:3": ("c", NEAREST),
    }


def test_exact_first_then_nearest_for_the_rest() -> None:
    versions = [version("1", 0.0), version("2", 0.1)]
    plan = plan_joins([rec("near", 0.09), rec("exact", 0.05, rv="2")], versions)
    assert joined(plan) == {"web-uid:2": ("exact", EXACT), "web-uid:1": ("near", NEAREST)}


def test_an_exact_record_releases_a_nearest_join_and_settles_a_repeat() -> None:
    held = version("2", 1.0, audit_id="guess", user_source=NEAREST)
    plan = plan_joins([rec("sure", 1.0, rv="2")], [held])
    assert joined(plan) == {"web-uid:2": ("sure", EXACT)}
    assert plan.released == ["guess"]
    taken = version("2", 1.0, audit_id="sure", user_source=EXACT)
    again = plan_joins([rec("noop", 5.0, rv="2")], [taken])
    assert again.joins == [] and again.settled == [("noop", "web-uid:2")]


def test_nearest_never_takes_a_snapshot_or_another_verb_or_a_joined_version() -> None:
    versions = [
        version("1", 0.0, snapshot=True),
        version("2", 0.0, verb="delete"),
        version("3", 0.0, audit_id="other", user_source=NEAREST),
    ]
    assert plan_joins([rec("r", 0.0)], versions).joins == []
