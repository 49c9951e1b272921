"""The embedded store's faster search paths (one exact signal walked in its own
index; a common word read in time slices) page exactly like a plain model of the
contract: every match once, ordered by (timestamp, id), both directions."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kubetrail.events.normalize import normalize
from kubetrail.events.timing import parse_rfc3339
from kubetrail.store.base import AggregateQuery, Cursor, EventFilter, EventQuery
from kubetrail.store.sqlite import SQLiteStore
from kubetrail.store.sqlite import store as sqlite_store
from tests.support.k8s_objects import crashlooping_status, pod

T0 = parse_rfc3339("2026-11-25T00:00:00Z")


def _docs() -> list[dict[str, Any]]:
    docs = []
    for i in range(400):
        crashing = i % 3 == 0
        obj = pod(
            name=f"api-{i % 25}",
            namespace=f"ns-{i % 4}",
            uid=f"5f1c2d3e-0000-4000-8000-{i % 25:012d}",
            rv=str(5000 + i),
            status=crashlooping_status(restarts=i % 5) if crashing else None,
        )
        # spread over ~20 hours, several events sharing a timestamp (id breaks ties)
        when = T0 + timedelta(minutes=3 * (i // 2))
        docs.append(normalize("MODIFIED", obj, observed_at=when))
    return docs


def _model(docs: list[dict[str, Any]], flt: EventFilter, order: str) -> list[str]:
    def ok(d: dict[str, Any]) -> bool:
        ts = parse_rfc3339(d["timestamp"])
        if (flt.start and ts < flt.start) or (flt.end and ts > flt.end):
            return False
        if flt.namespace and d["namespace"] not in flt.namespace:
            return False
        if flt.signal and not any(
            s == want or (want.endswith("*") and s.startswith(want[:-1]))
            for s in d["signals"]
            for want in flt.signal
        ):
            return False
        return not flt.text or flt.text in str(d["objectChanges"])

    hits = sorted((parse_rfc3339(d["timestamp"]), d["id"]) for d in docs if ok(d))
    ids = [i for _, i in hits]
    return ids[::-1] if order == "desc" else ids


def _pages(store: SQLiteStore, flt: EventFilter, order: str, limit: int) -> list[str]:
    out: list[str] = []
    after: Cursor | None = None
    for _ in range(1000):
        page = store.search(EventQuery(filter=flt, order=order, limit=limit, after=after))
        out.extend(d["id"] for d in page.items)
        if page.next is None:
            return out
        after = page.next
    raise AssertionError("paging did not end")


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[SQLiteStore, list[dict[str, Any]]]:
    docs = _docs()
    store = SQLiteStore(Path(tmp_path_factory.mktemp("paths")) / "k.db")
    store.write(docs)
    yield store, docs
    store.close()


def _window(h1: float, h2: float) -> dict[str, datetime]:
    return {"start": T0 + timedelta(hours=h1), "end": T0 + timedelta(hours=h2)}


FILTERS = [
    EventFilter(signal=("pod.waiting:CrashLoopBackOff",)),
    EventFilter(signal=("pod.waiting:CrashLoopBackOff",), namespace=("ns-1",)),
    EventFilter(signal=("pod.waiting:CrashLoopBackOff",), **_window(2, 9.5)),
    EventFilter(signal=("pod.waiting:*",), **_window(1, 12)),
    EventFilter(signal=("pod.*",), namespace=("ns-3",)),
    EventFilter(text="CrashLoopBackOff"),
    EventFilter(text="CrashLoopBackOff", namespace=("ns-2",), **_window(1, 17)),
    EventFilter(text="api-3"),
]


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("limit", [1, 7, 1000])
@pytest.mark.parametrize("flt", FILTERS, ids=range(len(FILTERS)))
def test_fast_paths_page_like_the_model(
    loaded: tuple[SQLiteStore, list[dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
    flt: EventFilter,
    order: str,
    limit: int,
) -> None:
    store, docs = loaded
    # every text query takes the sliced path, with slices of 20 minutes and up
    monkeypatch.setattr(sqlite_store, "_TEXT_SLICE_AT", 1)
    monkeypatch.setattr(sqlite_store, "_FIRST_SLICE_MICROS", 20 * 60 * 1_000_000)
    expected = _model(docs, flt, order)
    assert expected, "the filter matches something"
    assert _pages(store, flt, order, limit) == expected


def test_a_rare_word_takes_the_plain_path_and_the_same_answer(
    loaded: tuple[SQLiteStore, list[dict[str, Any]]],
) -> None:
    store, docs = loaded
    flt = EventFilter(text="api-7")
    assert store._text_matches("api-7") < sqlite_store._TEXT_SLICE_AT
    assert _pages(store, flt, "asc", 5) == _model(docs, flt, "asc")


def _bucket_model(
    docs: list[dict[str, Any]], flt: EventFilter, prefix: str
) -> dict[tuple[str, str, str], tuple[int, str, str, str]]:
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for d in docs:
        ts = parse_rfc3339(d["timestamp"])
        if (flt.start and ts < flt.start) or (flt.end and ts > flt.end):
            continue
        for sig in d["signals"]:
            if sig.startswith(prefix):
                groups.setdefault((d["namespace"], d["resourceName"], sig), []).append(d)
    out = {}
    for key, members in groups.items():
        members.sort(key=lambda d: (parse_rfc3339(d["timestamp"]), d["id"]))
        out[key] = (
            len(members),
            members[0]["timestamp"],
            members[-1]["timestamp"],
            members[-1]["id"],
        )
    return out


@pytest.mark.parametrize(
    "window",
    [{}, _window(0, 19), _window(3, 4.5)],  # everything, most of it (group index), a short range
    ids=["all", "long", "short"],
)
def test_signal_prefix_aggregations_on_either_index_match_the_model(
    loaded: tuple[SQLiteStore, list[dict[str, Any]]], window: dict[str, datetime]
) -> None:
    store, docs = loaded
    flt = EventFilter(resource_type=("pods",), signal=("pod.*",), **window)
    result = store.aggregate(
        AggregateQuery(
            filter=flt, group_by=("namespace", "resourceName", "signal"), latest=True, limit=5000
        )
    )
    got = {
        (b.key["namespace"], b.key["resourceName"], b.key["signal"]): (
            b.count,
            b.first_seen,
            b.last_seen,
            (b.latest or {}).get("id"),
        )
        for b in result.buckets
    }
    expected = _bucket_model(docs, flt, "pod.")
    assert expected
    assert got == expected


def test_a_prefix_covering_no_stored_signal_matches_nothing(
    loaded: tuple[SQLiteStore, list[dict[str, Any]]],
) -> None:
    store, _ = loaded
    flt = EventFilter(signal=("nosuch.*",))
    assert store.search(EventQuery(filter=flt, limit=10)).items == []
    assert store.aggregate(AggregateQuery(filter=flt, group_by=("signal",))).buckets == []
