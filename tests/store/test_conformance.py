"""The store conformance suite: every store answers these the same way."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from kubetrail.events.projection import project
from kubetrail.queries.history import ObjectKey, object_history
from kubetrail.store.base import (
    AggregateQuery,
    Cursor,
    EventFilter,
    EventQuery,
    InvalidQuery,
    Store,
    aggregate_slice_by_slice,
)
from tests.support.dataset import at, documents


@pytest.fixture
def loaded(store: Store) -> Store:
    result = store.write(documents())
    assert result.stored == 12 and result.duplicates == 0 and not result.errors
    return store


def ids(page) -> list[str]:
    return [d["id"] for d in page.items]


def search(store: Store, **flt) -> list[dict]:
    return store.search(EventQuery(filter=EventFilter(**flt), limit=1000)).items


def test_writes_are_idempotent_on_id(store: Store):
    docs = documents()
    assert store.write(docs).stored == 12
    again = store.write(docs)
    assert (again.stored, again.duplicates) == (0, 12)
    within = store.write([docs[0], docs[0]])
    assert (within.stored, within.duplicates) == (0, 2)
    assert len(search(store)) == 12


def test_documents_come_back_unchanged_and_oldest_first(loaded: Store):
    items = search(loaded)
    expected = sorted(documents(), key=lambda d: (d["timestamp"], d["id"]))
    assert items == expected


def test_descending_order(loaded: Store):
    page = loaded.search(EventQuery(order="desc", limit=3))
    assert [d["timestamp"] for d in page.items] == [
        "2026-11-25T03:30:00Z",
        "2026-11-25T03:25:00Z",
        "2026-11-25T03:20:00Z",
    ]


def test_equal_timestamps_are_ordered_by_id(loaded: Store):
    same = [d for d in search(loaded) if d["timestamp"] == "2026-11-25T03:15:00Z"]
    assert len(same) == 2
    assert [d["id"] for d in same] == sorted(d["id"] for d in same)


def test_cursor_pages_cover_everything_once(loaded: Store):
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = loaded.search(EventQuery(limit=5, after=cursor))
        seen += ids(page)
        pages += 1
        if page.next is None:
            break
        cursor = Cursor.decode(page.next.encode())
    assert pages == 3
    assert seen == [d["id"] for d in search(loaded)]


def test_time_bounds_are_inclusive(loaded: Store):
    items = search(loaded, start=at(5), end=at(10))
    assert [d["timestamp"] for d in items] == [
        "2026-11-25T03:05:00Z",
        "2026-11-25T03:05:01Z",
        "2026-11-25T03:10:00Z",
    ]


def test_filters(loaded: Store):
    assert {d["namespace"] for d in search(loaded, namespace=("shop",))} == {"shop"}
    assert len(search(loaded, namespace=("shop",))) == 8
    assert {d["resourceName"] for d in search(loaded, namespace=("",))} == {"worker-3", "worker-1"}
    assert len(search(loaded, resource_type=("pods",))) == 5
    assert len(search(loaded, resource_type=("pods", "nodes"))) == 7
    assert [d["verb"] for d in search(loaded, verb=("delete",))] == ["delete"]
    assert len(search(loaded, name=("cart-1",))) == 2
    assert len(search(loaded, kind=("Secret",))) == 1
    assert len(search(loaded, uid=("cart-uid",))) == 2
    assert len(search(loaded, reason=("BackOff",))) == 2
    assert len(search(loaded, event_type=("Normal",))) == 1
    assert len(search(loaded, involved_kind=("Node",), involved_name=("worker-3",))) == 1
    assert len(search(loaded, field_manager=("kubectl-client-side-apply",))) == 1
    assert [d["resourceName"] for d in search(loaded, snapshot=True)] == [
        "checkout-7d9f8b6c5-x2k4p"
    ]
    assert len(search(loaded, snapshot=False)) == 11


def test_signal_filters_exact_and_prefix(loaded: Store):
    crash = search(loaded, signal=("pod.waiting:CrashLoopBackOff",))
    assert [d["resourceVersion"] for d in crash] == ["110", "120"]
    assert len(search(loaded, signal=("node.*",))) == 1
    assert len(search(loaded, signal=("event.reason:*",))) == 3
    both = search(loaded, signal=("node.condition:Ready=Unknown", "event.reason:NodeNotReady"))
    assert len(both) == 2
    assert search(loaded, signal=("pod.waiting:CrashLoopBackOff",), start=at(6)) == crash[1:]


def test_full_text_search(loaded: Store):
    assert [d["kind"] for d in search(loaded, text="checkout-config")] == ["ConfigMap"]
    assert len(search(loaded, text="NodeNotReady worker-3")) == 1
    assert {d["kind"] for d in search(loaded, text="db.shop.svc")} == {"ConfigMap"}
    assert len(search(loaded, text="checko*")) >= 4
    assert search(loaded, text="nothing-matches-this") == []


@pytest.mark.parametrize(
    "text", ['"unbalanced', "AND OR NOT", "NEAR(a b)", "col:value", "a* -b ^c", "))(("]
)
def test_full_text_never_fails_on_query_syntax(loaded: Store, text: str):
    search(loaded, text=text)  # must not raise


def test_control_characters_in_search_text_are_separators(loaded: Store):
    # a NUL ended SQLite's FTS5 query string mid-phrase ("unterminated string")
    expected = search(loaded, text="checkout config")
    assert expected
    assert search(loaded, text="checkout\x00config") == expected
    assert search(loaded, text="\x00\x1b[31m") is not None


def test_secret_values_are_not_searchable(loaded: Store):
    assert search(loaded, text="rotated-value") == []


def test_aggregate_by_object_and_signal(loaded: Store):
    result = loaded.aggregate(
        AggregateQuery(
            filter=EventFilter(signal=("pod.*",)),
            group_by=("namespace", "resourceName", "signal"),
        )
    )
    keyed = {(b.key["resourceName"], b.key["signal"]): b for b in result.buckets}
    crash = keyed[("checkout-7d9f8b6c5-x2k4p", "pod.waiting:CrashLoopBackOff")]
    assert crash.count == 2
    assert crash.first_seen == "2026-11-25T03:05:00Z"
    assert crash.last_seen == "2026-11-25T03:10:00Z"
    assert crash.latest is not None and crash.latest["resourceVersion"] == "120"
    assert all(sig.startswith("pod.") for _, sig in keyed)
    assert not result.truncated


def test_aggregate_newest_ids_without_documents(loaded: Store):
    def buckets(**kw: bool) -> dict[tuple[str, str], object]:
        result = loaded.aggregate(
            AggregateQuery(
                filter=EventFilter(signal=("pod.*",)),
                group_by=("resourceName", "signal"),
                **kw,
            )
        )
        return {(b.key["resourceName"], b.key["signal"]): b for b in result.buckets}

    full = buckets(latest=True)
    ids_only = buckets(latest=False, latest_id=True)
    assert ids_only.keys() == full.keys()
    for key, b in ids_only.items():
        assert b.latest is None  # type: ignore[attr-defined]
        assert b.latest_id == full[key].latest["id"]  # type: ignore[attr-defined,index]


def test_documents_by_id(loaded: Store):
    docs = documents()
    wanted = [docs[3]["id"], docs[0]["id"], "no-such-id"]
    got = loaded.documents(wanted)
    assert got == {docs[3]["id"]: docs[3], docs[0]["id"]: docs[0]}
    assert loaded.documents([]) == {}


def test_aggregate_order_limit_and_truncation(loaded: Store):
    by_ns = loaded.aggregate(AggregateQuery(group_by=("namespace",), latest=False))
    assert [(b.key["namespace"], b.count) for b in by_ns.buckets] == [
        ("shop", 8),
        ("", 2),
        ("default", 1),
        ("payments", 1),
    ]
    assert all(b.latest is None for b in by_ns.buckets)
    top = loaded.aggregate(AggregateQuery(group_by=("namespace",), limit=2))
    assert len(top.buckets) == 2 and top.truncated
    recent = loaded.aggregate(AggregateQuery(group_by=("namespace",), order="last"))
    assert recent.buckets[0].key["namespace"] == "shop"
    assert recent.buckets[0].last_seen == "2026-11-25T03:30:00Z"


def _sliced(loaded: Store, **kw) -> AggregateQuery:
    flt = kw.pop("filter", EventFilter())
    every = kw.pop("every", timedelta(minutes=10))
    return AggregateQuery(filter=replace(flt, start=at(0), end=at(30)), every=every, **kw)


@pytest.mark.parametrize(
    "kw",
    [
        {"group_by": ("namespace",), "latest": False},
        {"group_by": ("namespace", "verb"), "order": "last", "latest_id": True, "latest": False},
        {"group_by": ("resourceName", "signal"), "filter": EventFilter(signal=("pod.*",))},
        {"group_by": ("namespace",), "limit": 1, "latest": False},
    ],
    ids=["by-namespace", "order-last", "signals", "limit-per-slice"],
)
def test_aggregate_split_by_time_is_each_slice_aggregated(loaded: Store, kw: dict):
    """``every``: one query answers what one aggregation per slice answers, each group
    keyed by its slice's start."""
    query = _sliced(loaded, **kw)
    got = loaded.aggregate(query)
    want = aggregate_slice_by_slice(loaded.aggregate, query)
    assert [(b.key, b.count, b.first_seen, b.last_seen, b.latest_id) for b in got.buckets] == [
        (b.key, b.count, b.first_seen, b.last_seen, b.latest_id) for b in want.buckets
    ]
    assert [b.latest for b in got.buckets] == [b.latest for b in want.buckets]
    assert got.truncated == want.truncated
    assert {b.key["time"] for b in got.buckets} <= {
        "2026-11-25T03:00:00Z",
        "2026-11-25T03:10:00Z",
        "2026-11-25T03:20:00Z",
        "2026-11-25T03:30:00Z",
    }
    if kw.get("limit") == 1:
        assert got.truncated and len({b.key["time"] for b in got.buckets}) == len(got.buckets)
    else:  # the slices add up to the whole range
        whole = loaded.aggregate(replace(query, every=None, limit=1000, latest=False))
        counts: dict[tuple, int] = {}
        for b in got.buckets:
            key = tuple(v for k, v in sorted(b.key.items()) if k != "time")
            counts[key] = counts.get(key, 0) + b.count
        assert counts == {
            tuple(v for _, v in sorted(b.key.items())): b.count for b in whole.buckets
        }


def test_opensearch_splits_by_time_in_one_request(loaded: Store, monkeypatch):
    """OpenSearch answers ``every`` with one request (a histogram of the slices with the
    top groups of each inside), not one per slice; latest documents are one more."""
    if loaded.kind != "opensearch":
        pytest.skip("OpenSearch's request count")
    bodies: list[dict] = []
    search = loaded._search  # type: ignore[attr-defined]

    def counted(body: dict) -> dict:
        bodies.append(body)
        return search(body)

    monkeypatch.setattr(loaded, "_search", counted)
    for kw in (
        {"group_by": ("namespace", "verb"), "order": "last", "latest_id": True, "latest": False},
        {"group_by": ("resourceName", "signal"), "filter": EventFilter(signal=("pod.*",)),
         "latest": False},
        {"group_by": ("namespace",), "limit": 1, "latest": False},
    ):  # fmt: skip
        bodies.clear()
        got = loaded.aggregate(_sliced(loaded, **kw))
        assert got.buckets and len(bodies) == 1, kw
        assert "histogram" in bodies[0]["aggs"]["slices"]


def test_aggregate_split_by_time_refuses_what_it_cannot_slice(loaded: Store):
    with pytest.raises(InvalidQuery, match="start and an end"):
        loaded.aggregate(AggregateQuery(group_by=("namespace",), every=timedelta(minutes=1)))
    with pytest.raises(InvalidQuery, match="positive"):
        loaded.aggregate(_sliced(loaded, group_by=("namespace",), every=timedelta(0)))
    with pytest.raises(InvalidQuery, match="time slices"):
        loaded.aggregate(
            AggregateQuery(
                filter=EventFilter(start=at(0), end=at(30)),
                group_by=("namespace",),
                every=timedelta(milliseconds=1),
            )
        )


def test_aggregate_rejects_unknown_keys(loaded: Store):
    with pytest.raises(InvalidQuery, match="cannot group by"):
        loaded.aggregate(AggregateQuery(group_by=("objectChanges",)))


def test_retention_deletes_old_events_everywhere(loaded: Store):
    deleted = loaded.delete_before(at(12))
    assert deleted == 5  # 03:00, 03:05, 03:05:01, 03:10, 03:10:01
    remaining = search(loaded)
    assert min(d["timestamp"] for d in remaining) == "2026-11-25T03:12:00Z"
    assert search(loaded, signal=("pod.waiting:CrashLoopBackOff",)) == []
    assert search(loaded, text="BackOff") == []
    agg = loaded.aggregate(
        AggregateQuery(filter=EventFilter(signal=("pod.*",)), group_by=("signal",))
    )
    assert agg.buckets == []
    assert loaded.delete_before(at(12)) == 0


def test_health(loaded: Store):
    health = loaded.health()
    assert health.ok
    assert health.detail["events"] == 12
    assert health.detail["oldest"] == "2026-11-25T03:00:00Z"
    assert health.detail["newest"] == "2026-11-25T03:30:00Z"


def test_object_history_with_changed_paths_and_related_events(loaded: Store):
    history = object_history(loaded, ObjectKey("shop", "pods", "checkout-7d9f8b6c5-x2k4p"))
    assert history is not None
    assert [v["resourceVersion"] for v in history.versions] == ["100", "110", "120"]
    assert history.versions[0]["changedPaths"] == []
    assert "status.containerStatuses[app].restartCount" in history.versions[2]["changedPaths"]
    assert [(e["reason"], e["count"]) for e in history.events] == [("BackOff", 5)]
    node_history = object_history(loaded, ObjectKey("", "nodes", "worker-3"))
    assert node_history is not None
    assert [e["reason"] for e in node_history.events] == ["NodeNotReady"]
    assert object_history(loaded, ObjectKey("shop", "pods", "no-such-pod")) is None


@pytest.mark.parametrize(
    "fields",
    [
        ("timestamp", "verb", "resourceName", "signals", "message"),
        # left out of the OpenSearch index when empty, "" in the document
        ("namespace", "fieldManager", "involvedObject.namespace"),
        ("involvedObject",),
        ("objectChanges.metadata.labels.kubernetes.io/hostname", "kind"),
        ("objectChanges.spec.containers.image", "objectChanges.status.conditions.type"),
        ("objectChanges.data", "objectChanges.metadata.annotations"),
        ("objectChanges.spec.nothing",),
    ],
)
def test_sparse_fieldsets_are_the_documents_parts(loaded: Store, fields: tuple[str, ...]):
    full = loaded.search(EventQuery(limit=1000)).items
    sparse = loaded.search(EventQuery(limit=1000, fields=fields)).items
    assert sparse == [project(doc, fields) for doc in full]
    # paging is the same whatever the fields
    page = loaded.search(EventQuery(limit=5, fields=fields))
    assert page.next == loaded.search(EventQuery(limit=5)).next
