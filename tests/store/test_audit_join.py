"""The audit join, conformance: every store (SQLite, OpenSearch on osmem, a real OpenSearch
node) keeps audit records and joins them to the versions it stores the same way, whichever
arrives first (the rules: kubetrail.events.audit)."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from kubetrail.events.audit import AuditRecord
from kubetrail.events.model import WATCHER_USER
from kubetrail.events.normalize import normalize
from kubetrail.events.timing import format_rfc3339, parse_rfc3339
from kubetrail.store.base import (
    AggregateQuery,
    AuditJoin,
    EventFilter,
    EventQuery,
    PreparedWrites,
    Store,
)
from kubetrail.store.opensearch import OpenSearchStore
from tests.support.dataset import at, documents

T0 = parse_rfc3339("2026-11-25T04:00:00Z")


def when(seconds: float) -> str:
    return format_rfc3339(T0 + timedelta(seconds=seconds))


def deployment(rv: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "uid": "web-uid",
            "resourceVersion": rv,
            "creationTimestamp": "2026-11-25T03:59:00Z",
        },
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}},
    }


def versions() -> list[dict[str, Any]]:
    """Three updates of shop/web, one second apart (at 04:00:00, :01, :02)."""
    return [
        normalize(
            "MODIFIED",
            deployment(str(300 + i), f"web:{i}"),
            observed_at=T0 + timedelta(seconds=i),
        )
        for i in range(3)
    ]


def record(
    audit_id: str,
    user: str,
    seconds: float,
    *,
    rv: str = "",
    uid: str = "web-uid",
    verb: str = "update",
    name: str = "web",
    resource_type: str = "deployments",
    namespace: str = "shop",
    impersonated_by: str = "",
) -> AuditRecord:
    return AuditRecord(
        audit_id=audit_id,
        timestamp=when(seconds),
        verb=verb,  # type: ignore[arg-type]
        resource_type=resource_type,
        api_group="apps" if resource_type == "deployments" else "",
        namespace=namespace,
        name=name,
        uid=uid,
        resource_version=rv,
        user=user,
        impersonated_by=impersonated_by,
    )


def joins(store: Store) -> dict[str, tuple[str, str, str]]:
    """id → (user, userSource, auditID) of every stored document."""
    page = store.search(EventQuery(filter=EventFilter(), limit=1000))
    return {d["id"]: (d["user"], d.get("userSource", ""), d.get("auditID", "")) for d in page.items}


@pytest.fixture
def audit_store(store: Store) -> Any:
    assert isinstance(store, AuditJoin)
    return store


def test_every_store_joins_audit_records(store: Store) -> None:
    assert isinstance(store, AuditJoin)


@pytest.mark.parametrize("audit_first", [True, False], ids=["audit-first", "versions-first"])
def test_an_exact_record_names_its_version(audit_store: Any, audit_first: bool) -> None:
    docs = versions()
    alice = record("a-1", "alice@example.com", 1.0, rv="301")
    if audit_first:
        result = audit_store.write_audit([alice])
        assert (result.stored, result.pending, result.exact) == (1, 1, 0)
        written = audit_store.write(docs)
        assert (written.stored, written.joined_exact, written.joined_nearest) == (3, 1, 0)
    else:
        assert audit_store.write(docs).stored == 3
        result = audit_store.write_audit([alice])
        assert (result.stored, result.pending, result.exact) == (1, 0, 1)
    assert joins(audit_store) == {
        "web-uid:300": (WATCHER_USER, "", ""),
        "web-uid:301": ("alice@example.com", "audit-exact", "a-1"),
        "web-uid:302": (WATCHER_USER, "", ""),
    }


@pytest.mark.parametrize("audit_first", [True, False], ids=["audit-first", "versions-first"])
def test_two_users_changing_one_object_each_get_their_version(
    audit_store: Any, audit_first: bool
) -> None:
    docs = versions()
    records = [
        record("n-1", "alice@example.com", -0.02),
        record("n-2", "bob@example.com", 0.98),
        # a write that changed nothing (no version) between them: never joined
        record("n-noop", "carol@example.com", 1.6),
        record("n-3", "alice@example.com", 1.97),
    ]
    if audit_first:
        assert audit_store.write_audit(records).pending == 4
        audit_store.write(docs)
    else:
        audit_store.write(docs)
        result = audit_store.write_audit(records)
        assert (result.nearest, result.pending) == (3, 1)
    assert joins(audit_store) == {
        "web-uid:300": ("alice@example.com", "audit-nearest", "n-1"),
        "web-uid:301": ("bob@example.com", "audit-nearest", "n-2"),
        "web-uid:302": ("alice@example.com", "audit-nearest", "n-3"),
    }


def test_a_nearest_join_needs_the_object_the_verb_and_the_window(audit_store: Any) -> None:
    audit_store.write(versions())
    result = audit_store.write_audit(
        [
            record("far", "alice", 60.0),  # a minute later: not this version
            record("other-verb", "alice", 1.0, verb="delete"),
            record("other-object", "alice", 1.0, name="api"),
            record("other-namespace", "alice", 1.0, namespace="payments"),
            record("other-incarnation", "alice", 1.0, uid="another-uid"),
        ]
    )
    assert (result.stored, result.exact, result.nearest, result.pending) == (5, 0, 0, 5)
    assert {u for u, _, _ in joins(audit_store).values()} == {WATCHER_USER}


def test_listing_snapshots_are_joined_only_exactly(audit_store: Any) -> None:
    docs = documents()
    audit_store.write(docs)
    snapshot = next(d for d in docs if d["snapshot"])
    pod = {
        "verb": "create",
        "resource_type": "pods",
        "name": snapshot["resourceName"],
        "uid": snapshot["uid"],
    }
    near = replace(record("near", "alice", 0.0, **pod), timestamp=snapshot["timestamp"])
    assert audit_store.write_audit([near]).pending == 1
    # the version was created long before the shipper listed it
    exact = replace(
        record("exact", "bob", 0.0, rv=snapshot["resourceVersion"], **pod),
        timestamp="2026-11-01T00:00:00Z",
    )
    assert audit_store.write_audit([exact]).exact == 1
    assert joins(audit_store)[snapshot["id"]] == ("bob", "audit-exact", "exact")


def test_writes_are_idempotent(audit_store: Any) -> None:
    docs = versions()
    records = [record("i-1", "alice", 0.01), record("i-2", "bob", 1.0, rv="301")]
    audit_store.write(docs)
    first = audit_store.write_audit(records)
    assert (first.stored, first.nearest, first.exact) == (2, 1, 1)
    before = joins(audit_store)
    again = audit_store.write_audit(records + records[:1])
    assert (again.stored, again.duplicates, again.exact, again.nearest) == (0, 3, 0, 0)
    assert audit_store.write(docs).duplicates == 3
    assert joins(audit_store) == before


def test_an_exact_record_wins_over_a_nearest_one(audit_store: Any) -> None:
    audit_store.write(versions())
    assert audit_store.write_audit([record("guess", "mallory", 1.0)]).nearest == 1
    assert joins(audit_store)["web-uid:301"] == ("mallory", "audit-nearest", "guess")
    assert audit_store.write_audit([record("sure", "alice", 1.2, rv="301")]).exact == 1
    assert joins(audit_store)["web-uid:301"] == ("alice", "audit-exact", "sure")
    # and an exact join is never replaced: a write that changed nothing names the same version
    later = audit_store.write_audit([record("noop", "carol", 3.0, rv="301")])
    assert (later.exact, later.pending) == (0, 0)
    assert joins(audit_store)["web-uid:301"] == ("alice", "audit-exact", "sure")


def test_an_impersonated_user_is_the_user(audit_store: Any) -> None:
    audit_store.write(versions())
    audit_store.write_audit(
        [record("imp", "bob@example.com", 2.0, rv="302", impersonated_by="ci-deployer")]
    )
    doc = audit_store.documents(["web-uid:302"])["web-uid:302"]
    assert doc["user"] == "bob@example.com"
    assert doc["impersonatedBy"] == "ci-deployer"
    assert "impersonatedBy" not in audit_store.documents(["web-uid:301"])["web-uid:301"]


def test_events_can_be_searched_and_grouped_by_user(audit_store: Any) -> None:
    audit_store.write(versions() + documents())
    audit_store.write_audit(
        [record("u-1", "alice", 0.0, rv="300"), record("u-2", "bob", 1.0, rv="301")]
    )
    alice = audit_store.search(EventQuery(filter=EventFilter(user=("alice",)))).items
    assert [d["id"] for d in alice] == ["web-uid:300"]
    both = audit_store.search(EventQuery(filter=EventFilter(user=("alice", "bob")))).items
    assert [d["id"] for d in both] == ["web-uid:300", "web-uid:301"]
    groups = audit_store.aggregate(
        AggregateQuery(
            filter=EventFilter(resource_type=("deployments",)), group_by=("user",), latest=False
        )
    )
    assert {b.key["user"]: b.count for b in groups.buckets} == {
        "alice": 1,
        "bob": 1,
        WATCHER_USER: 1,
    }


def test_rows_prepared_elsewhere_are_joined_by_join_pending(audit_store: Any) -> None:
    """Parallel ingest writes rows prepared in worker processes; the run then asks the
    store to join what is pending over the time its documents cover."""
    if not isinstance(audit_store, PreparedWrites):
        pytest.skip(f"the {audit_store.kind} store takes no prepared rows")
    audit_store.write_audit([record("p-1", "alice", 1.0), record("p-2", "bob", 2.0, rv="302")])
    rows = [type(audit_store).prepare(doc) for doc in versions()]
    assert audit_store.write_prepared(rows).stored == 3
    audit_store.flush()
    audit_store.join_pending(start=T0, end=T0 + timedelta(seconds=2))
    assert joins(audit_store) == {
        "web-uid:300": (WATCHER_USER, "", ""),
        "web-uid:301": ("alice", "audit-nearest", "p-1"),
        "web-uid:302": ("bob", "audit-exact", "p-2"),
    }


def test_retention_forgets_audit_records_with_their_events(audit_store: Any) -> None:
    # requested an hour before its version is stored (which stays within the retention)
    old = record("old", "alice", -3600.0, rv="300")
    assert audit_store.write_audit([old]).pending == 1
    audit_store.delete_before(T0 - timedelta(minutes=30))
    # the record is gone: its version arriving now is nobody's
    audit_store.write(versions())
    assert joins(audit_store)["web-uid:300"] == (WATCHER_USER, "", "")


def test_a_deletion_and_the_last_update_share_a_version(audit_store: Any) -> None:
    docs = versions()
    gone = copy.deepcopy(docs[-1]["objectChanges"])
    deleted = normalize("DELETED", gone, observed_at=T0 + timedelta(seconds=3))
    audit_store.write([*docs, deleted])
    audit_store.write_audit(
        [
            record("upd", "alice", 2.0, rv="302"),
            record("del", "bob", 3.0, rv="302", verb="delete"),
        ]
    )
    got = joins(audit_store)
    assert got["web-uid:302"] == ("alice", "audit-exact", "upd")
    assert got["web-uid:302:delete"] == ("bob", "audit-exact", "del")


def test_documents_come_back_unchanged_apart_from_who(audit_store: Any) -> None:
    docs = documents()
    audit_store.write(docs)
    before = {d["id"]: d for d in audit_store.search(EventQuery(limit=1000)).items}
    cm = next(d for d in docs if d["kind"] == "ConfigMap")
    audit_store.write_audit(
        [
            AuditRecord(
                audit_id="cm-1",
                timestamp=cm["timestamp"],
                verb="update",
                resource_type="configmaps",
                api_group="",
                namespace="shop",
                name=cm["resourceName"],
                uid="",
                resource_version="",
                user="alice",
            )
        ]
    )
    after = {d["id"]: d for d in audit_store.search(EventQuery(limit=1000)).items}
    assert after[cm["id"]] == {
        **before[cm["id"]],
        "user": "alice",
        "userSource": "audit-nearest",
        "auditID": "cm-1",
    }
    assert {k: v for k, v in after.items() if k != cm["id"]} == {
        k: v for k, v in before.items() if k != cm["id"]
    }
    assert at(30) == parse_rfc3339(cm["timestamp"])


def test_opensearch_joins_what_it_has_not_made_searchable_yet(audit_store: Any) -> None:
    """A production store does not refresh on every write: versions written a moment ago
    are not searchable when their audit records arrive, yet they are joined."""
    if not isinstance(audit_store, OpenSearchStore):
        pytest.skip("only OpenSearch shows a write at its next refresh")
    lazy = OpenSearchStore(
        audit_store.client, prefix=audit_store.prefix, name=audit_store.name, refresh=False
    )
    lazy.client.indices.put_settings(index=lazy.pattern, body={"index": {"refresh_interval": "-1"}})
    lazy.write(versions())
    result = lazy.write_audit([record("late", "alice", 1.0), record("now", "bob", 2.0, rv="302")])
    assert (result.nearest, result.exact, result.pending) == (1, 1, 0)
    lazy.client.indices.refresh(index=lazy.pattern)  # to read the joins back
    assert joins(audit_store) == {
        "web-uid:300": (WATCHER_USER, "", ""),
        "web-uid:301": ("alice", "audit-nearest", "late"),
        "web-uid:302": ("bob", "audit-exact", "now"),
    }
