"""The same recorded incident in every store gives the same answers: same ids,
same order, same pages, same aggregation buckets, same object histories."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kubetrail.demo.incident import generate_incident
from kubetrail.ingest.documents import to_documents
from kubetrail.queries.history import ObjectKey, object_history
from kubetrail.store.base import AggregateQuery, EventFilter, EventQuery, Store
from kubetrail.store.sqlite import SQLiteStore
from tests.support.opensearch_servers import opensearch_store

ANCHOR = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def incident_docs() -> list[dict]:
    return [doc for event in generate_incident(anchor=ANCHOR) for doc in to_documents(event)]


@pytest.fixture(scope="module")
def reference(
    incident_docs: list[dict], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    store = SQLiteStore(tmp_path_factory.mktemp("same") / "ref.db")
    assert store.write(incident_docs).stored == len(incident_docs)
    yield store
    store.close()


@pytest.fixture(scope="module", params=["osmem", "opensearch"])
def other(request: pytest.FixtureRequest, incident_docs: list[dict]) -> Iterator[Store]:
    url = request.getfixturevalue("osmem_url" if request.param == "osmem" else "real_opensearch")
    store = opensearch_store(url, prefix=f"same-{request.param}-events")
    result = store.write(incident_docs)
    assert (result.stored, result.errors) == (len(incident_docs), [])
    yield store
    store.close()


def all_pages(store: Store, flt: EventFilter, *, page: int, order: str = "asc") -> list[list[str]]:
    pages = []
    after = None
    while True:
        result = store.search(EventQuery(filter=flt, limit=page, after=after, order=order))  # type: ignore[arg-type]
        pages.append([d["id"] for d in result.items])
        if result.next is None:
            return pages
        after = result.next


FILTERS = {
    "everything": EventFilter(),
    "namespace shop": EventFilter(namespace=("shop",)),
    "cluster scope": EventFilter(namespace=("",)),
    "pods updated in data": EventFilter(
        namespace=("data",), resource_type=("pods",), verb=("update",)
    ),
    "crash loops": EventFilter(signal=("pod.waiting:CrashLoopBackOff",)),
    "node signals": EventFilter(signal=("node.*",)),
    "warnings": EventFilter(signal=("event.type:Warning",)),
    "changes only": EventFilter(
        snapshot=False, resource_type=("configmaps", "secrets", "deployments")
    ),
    "snapshots": EventFilter(snapshot=True),
    "by helm": EventFilter(field_manager=("helm",)),
    "events about worker-3": EventFilter(involved_name=("worker-3",), involved_kind=("Node",)),
    "last two hours": EventFilter(start=datetime(2026, 11, 25, 10, 0, tzinfo=UTC), end=ANCHOR),
    "text: one word": EventFilter(text="ProvisioningFailed"),
    "text: two words": EventFilter(text="fast-ssd ProvisioningFailed"),
    "text: prefix": EventFilter(text="OOMKill*"),
}


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_same_events_in_the_same_order_and_pages(name: str, reference: Store, other: Store) -> None:
    flt = FILTERS[name]
    expected = all_pages(reference, flt, page=97)
    assert sum(map(len, expected)) > 0, "the filter should match something in the incident"
    assert all_pages(other, flt, page=97) == expected
    assert all_pages(other, flt, page=50, order="desc") == all_pages(
        reference, flt, page=50, order="desc"
    )


AGGREGATIONS = {
    "signals by count": AggregateQuery(group_by=("signal",), limit=200),
    "pod signals by object, most recent": AggregateQuery(
        filter=EventFilter(signal=("pod.*",)),
        group_by=("namespace", "resourceName", "signal"),
        order="last",
        limit=30,
    ),
    "warning events by reason": AggregateQuery(
        filter=EventFilter(resource_type=("events",), event_type=("Warning",)),
        group_by=("reason", "involvedObject.kind"),
    ),
    "changes by kind and manager": AggregateQuery(
        filter=EventFilter(snapshot=False, verb=("update",)),
        group_by=("kind", "fieldManager"),
        limit=5,
    ),
}


@pytest.mark.parametrize("name", sorted(AGGREGATIONS))
def test_same_aggregation_buckets(name: str, reference: Store, other: Store) -> None:
    query = AGGREGATIONS[name]
    expected = reference.aggregate(query)
    got = other.aggregate(query)
    assert expected.buckets, "the aggregation should have buckets"
    assert got.truncated == expected.truncated
    assert [(b.key, b.count, b.first_seen, b.last_seen) for b in got.buckets] == [
        (b.key, b.count, b.first_seen, b.last_seen) for b in expected.buckets
    ]
    assert [b.latest["id"] for b in got.buckets if b.latest] == [
        b.latest["id"] for b in expected.buckets if b.latest
    ]


@pytest.mark.parametrize(
    "ref",
    [
        ObjectKey("", "nodes", "worker-3"),
        ObjectKey("data", "persistentvolumeclaims", "postgres-data"),
        ObjectKey("shop", "deployments", "checkout"),
        ObjectKey("payments", "secrets", "payment-db-credentials"),
    ],
)
def test_same_object_history(ref: ObjectKey, reference: Store, other: Store) -> None:
    expected = object_history(reference, ref)
    got = object_history(other, ref)
    assert expected is not None and got is not None
    assert got.versions == expected.versions
    assert [e["id"] for e in got.events] == [e["id"] for e in expected.events]


def test_retention_deletes_the_same_events(
    incident_docs: list[dict], tmp_path: Path, osmem_url: str
) -> None:
    cutoff = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    sqlite = SQLiteStore(tmp_path / "r.db")
    opensearch = opensearch_store(osmem_url, prefix="same-retention-events")
    try:
        for store in (sqlite, opensearch):
            store.write(incident_docs)
        assert opensearch.delete_before(cutoff) == sqlite.delete_before(cutoff) > 0
        assert all_pages(opensearch, EventFilter(), page=500) == all_pages(
            sqlite, EventFilter(), page=500
        )
    finally:
        sqlite.close()
        opensearch.close()


@pytest.mark.parametrize("name", sorted(AGGREGATIONS))
def test_one_request_top_groups_agree_with_paging_every_group(
    name: str, incident_docs: list[dict], osmem_url: str
) -> None:
    """OpenSearch answers with one terms/multi_terms request; paging through every
    group (the fallback for OpenSearch before 2.1) must give the same top groups."""
    from kubetrail.store.opensearch import OpenSearchStore

    store = opensearch_store(osmem_url, prefix="same-paths-events")
    try:
        assert isinstance(store, OpenSearchStore)
        store.write(incident_docs)
        query = AGGREGATIONS[name]
        top, _ = store._top_groups(query)
        every = store._all_groups(query)
        keys = query.group_by
        rank = (
            (lambda g: (-g[1], *(g[0][k] for k in keys)))
            if query.order == "count"
            else (lambda g: (-g[3], *(g[0][k] for k in keys)))
        )
        assert sorted(top, key=rank)[: query.limit] == sorted(every, key=rank)[: query.limit]
    finally:
        store.close()
