"""RestBackend's events-only fallback at its limits, in-process (httpx MockTransport
serving pages out of the incident store): the fetch cap and an API without cursors
whose page is all one instant. Both must end the fetch and say so in the report."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest

from kubetrail.events.timing import parse_rfc3339
from kubetrail.mcp.backends import RestBackend, fallback
from kubetrail.store.base import Cursor, EventFilter, EventQuery
from kubetrail.store.sqlite import open_embedded


def events_only(
    db: Path, *, cursors: bool, token: str | None = None, served: list[str] | None = None
) -> httpx.MockTransport:
    """``served``: collects the id of every event sent."""
    store = open_embedded(db)

    def handle(request: httpx.Request) -> httpx.Response:
        if token is not None:
            assert request.headers["authorization"] == f"Bearer {token}"
        if request.url.path != "/api/v1/events":
            return httpx.Response(404, text="404 page not found")
        q = request.url.params
        cursor = q.get("cursor")
        page = store.search(
            EventQuery(
                filter=EventFilter(start=parse_rfc3339(q["start"]), end=parse_rfc3339(q["end"])),
                limit=int(q["limit"]),
                after=Cursor.decode(cursor) if cursor else None,
            )
        )
        if served is not None:
            served.extend(d["id"] for d in page.items)
        headers = {"X-Next-Cursor": page.next.encode()} if cursors and page.next else {}
        return httpx.Response(200, content=orjson.dumps(page.items), headers=headers)

    return httpx.MockTransport(handle)


def test_the_fetch_cap_is_said(incident_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fallback, "FALLBACK_PAGE_SIZE", 200)
    monkeypatch.setattr(fallback, "FALLBACK_MAX_EVENTS", 600)
    api = RestBackend(
        "http://audit.example:8080",
        "tok",
        transport=events_only(incident_db, cursors=True, token="tok"),
    )
    report = api.run_check("check_pod_issues", {"time_window": "7d"})
    assert report["fetchedEvents"] == 600
    assert any(
        "stopped after fetching 600 events" in n and "namespace=" in n for n in report["notes"]
    )
    assert any("http://audit.example:8080/api/v1/events" in n for n in report["notes"])


def test_an_api_without_cursors_is_paged_by_time_and_a_stall_is_said(
    incident_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fallback, "FALLBACK_PAGE_SIZE", 300)
    served: list[str] = []
    api = RestBackend(
        "http://audit.example:8080",
        transport=events_only(incident_db, cursors=False, served=served),
    )
    report = api.run_check("check_volume_issues", {"time_window": "7d"})
    # more than one page, each next one from the last timestamp of the one before:
    # the events at the seams come twice, and every event of the window comes
    # (how many are in a "7d" window depends on when this runs: the incident is
    # dated relative to its creation)
    assert report["fetchedEvents"] == len(served) > len(set(served)) > 300
    store = open_embedded(incident_db)
    try:
        window = store.search(
            EventQuery(
                filter=EventFilter(start=parse_rfc3339(report["range"]["start"])), limit=5000
            )
        ).items
    finally:
        store.close()
    assert {d["id"] for d in window} <= set(served)
    assert any(f["object"]["name"] == "postgres-data" for f in report["findings"])

    def same_instant(request: httpx.Request) -> httpx.Response:
        if request.url.path != "/api/v1/events":
            return httpx.Response(404)
        start = request.url.params["start"]
        doc = {"timestamp": start, "verb": "update", "objectChanges": {}}
        return httpx.Response(200, content=orjson.dumps([doc] * 300))

    stuck = RestBackend("http://audit.example:8080", transport=httpx.MockTransport(same_instant))
    report = stuck.run_check("check_node_health", {"start_time": "2024-01-01T00:00:00Z"})
    assert any("share the timestamp" in n for n in report["notes"])
    assert any("300 fetched events could not be read" in n for n in report["notes"])
