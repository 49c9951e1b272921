"""Large event pages are sent in pieces under a byte budget: the answers stay the bytes
a whole-body response had (headers included), a burst gets what a sequential run gets,
a small query does not wait behind large ones, and nothing stays held."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from kubetrail.api.app import create_app
from kubetrail.api.inflight import ROW_BYTES_ESTIMATE, ByteBudget, Reservation
from kubetrail.config import Settings
from kubetrail.events.model import EventDocument
from kubetrail.events.normalize import normalize
from kubetrail.events.timing import parse_rfc3339
from kubetrail.store.base import (
    AggregateQuery,
    AggregateResult,
    EventFilter,
    EventPage,
    EventQuery,
    Health,
    RawSearch,
    WriteResult,
)
from kubetrail.store.sqlite import SQLiteStore, open_embedded
from tests.support.k8s_objects import pod
from tests.support.servers import AppServer

EVENTS = 2300  # past the store's first compression dictionary: both stored forms
PAGE = 1000
WINDOW = {"start": "2026-11-25T00:00:00Z", "end": "2026-11-26T00:00:00Z"}
HEADERS = ("content-type", "content-length", "x-next-cursor", "link")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteStore]:
    s = open_embedded(tmp_path_factory.mktemp("pages") / "p.db")
    docs = [
        normalize(
            "MODIFIED",
            pod(name=f"web-{i}", namespace=f"ns-{i % 7}", uid=f"u-{i}", rv=str(1000 + i)),
            observed_at=parse_rfc3339(
                f"2026-11-25T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z"
            ),
        )
        for i in range(EVENTS)
    ]
    s.write(docs)
    yield s
    s.close()


class ParsedOnly:
    """The store without raw pages (as OpenSearch): the API renders parsed documents."""

    kind = "sqlite"

    def __init__(self, inner: SQLiteStore) -> None:
        self.inner = inner

    def write(self, docs: Sequence[EventDocument]) -> WriteResult:
        return self.inner.write(docs)

    def search(self, query: EventQuery) -> EventPage:
        return self.inner.search(query)

    def aggregate(self, query: AggregateQuery) -> AggregateResult:
        return self.inner.aggregate(query)

    def documents(self, ids: Sequence[str]) -> dict[str, EventDocument]:
        return self.inner.documents(ids)

    def delete_before(self, cutoff: datetime) -> int:
        return self.inner.delete_before(cutoff)

    def health(self) -> Health:
        return self.inner.health()

    def close(self) -> None:
        pass


def _app(store: Any, budget: ByteBudget) -> FastAPI:
    app = create_app(store, Settings(max_query_limit=5000))
    app.state.page_budget = budget
    return app


def _walk(client: httpx.Client, limit: int = PAGE) -> list[tuple[int, dict[str, str], bytes]]:
    """Every page of the window, following X-Next-Cursor: status, headers, body."""
    pages = []
    params: dict[str, Any] = {**WINDOW, "limit": limit}
    while True:
        r = client.get("/api/v1/events", params=params)
        pages.append((r.status_code, {h: r.headers.get(h, "") for h in HEADERS}, r.content))
        cursor = r.headers.get("x-next-cursor")
        if r.status_code != 200 or not cursor:
            return pages
        params["cursor"] = cursor


def _on_loop(server: AppServer, coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` on the server's event loop (where the budget lives)."""
    loop = server.server.servers[0].get_loop()
    return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=10)


def _wait_until(condition: Any) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.01)


def test_pages_are_the_bytes_of_the_parsed_documents(store: SQLiteStore) -> None:
    assert isinstance(store, RawSearch)
    budget = ByteBudget(PAGE * ROW_BYTES_ESTIMATE)
    with AppServer(_app(store, budget)) as server, httpx.Client(base_url=server.url) as c:
        pages = _walk(c)
    assert [status for status, _, _ in pages] == [200, 200, 200]
    docs: list[Any] = []
    for _, headers, body in pages:
        assert headers["content-type"] == "application/json"
        assert headers["content-length"] == str(len(body))
        docs += orjson.loads(body)
    assert len(docs) == EVENTS
    # what the store's parsed page renders to, byte for byte (the answer before streaming)
    query = EventQuery(
        filter=EventFilter(start=parse_rfc3339(WINDOW["start"]), end=parse_rfc3339(WINDOW["end"])),
        limit=PAGE,
    )
    assert pages[0][2] == orjson.dumps(store.search(query).items)
    assert budget.in_use == 0


def test_a_store_without_raw_pages_answers_the_same(store: SQLiteStore) -> None:
    answers = []
    for s in (store, ParsedOnly(store)):
        budget = ByteBudget(PAGE * ROW_BYTES_ESTIMATE)
        with AppServer(_app(s, budget)) as server, httpx.Client(base_url=server.url) as c:
            answers.append(
                [(st, {**h, "link": h["link"].replace(server.url, "")}, b) for st, h, b in _walk(c)]
            )
        assert budget.in_use == 0
    assert answers[0] == answers[1]


def test_a_burst_answers_what_a_sequential_run_answers(store: SQLiteStore) -> None:
    # room for about one page at a time: most of the burst waits its turn
    budget = ByteBudget(PAGE * ROW_BYTES_ESTIMATE)
    with AppServer(_app(store, budget)) as server:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            sequential = _walk(c)

        def walker(_: int) -> list[tuple[int, dict[str, str], bytes]]:
            with httpx.Client(base_url=server.url, timeout=60) as c:
                return _walk(c)

        with ThreadPoolExecutor(24) as pool:
            burst = list(pool.map(walker, range(24)))
    assert all(answer == sequential for answer in burst)
    assert budget.in_use == 0 and budget.waiting == 0


def test_a_small_query_does_not_wait_behind_large_ones(store: SQLiteStore) -> None:
    budget = ByteBudget(PAGE * ROW_BYTES_ESTIMATE, never_wait=10 * ROW_BYTES_ESTIMATE)
    with AppServer(_app(store, budget)) as server:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            expected = _walk(c)[0]
        held: Reservation = _on_loop(server, budget.reserve(PAGE * ROW_BYTES_ESTIMATE))
        large: list[tuple[int, dict[str, str], bytes]] = []

        def large_page() -> None:
            with httpx.Client(base_url=server.url, timeout=60) as c:
                large.extend(_walk(c)[:1])

        waiting = threading.Thread(target=large_page)
        waiting.start()
        _wait_until(lambda: budget.waiting == 1)
        with httpx.Client(base_url=server.url, timeout=60) as c:
            small = c.get("/api/v1/events", params={**WINDOW, "limit": 10})
        assert small.status_code == 200
        assert small.content == orjson.dumps(orjson.loads(expected[2])[:10])
        assert budget.waiting == 1 and large == []  # the large one still waits

        async def release() -> None:
            held.release()

        _on_loop(server, release())
        waiting.join(timeout=60)
        assert large == [expected]
    assert budget.in_use == 0


def test_a_client_that_leaves_mid_page_gives_its_bytes_back(store: SQLiteStore) -> None:
    budget = ByteBudget(EVENTS * ROW_BYTES_ESTIMATE)  # one page at a time
    with AppServer(_app(store, budget)) as server:
        with (
            httpx.Client(base_url=server.url, timeout=30) as c,
            c.stream("GET", "/api/v1/events", params={**WINDOW, "limit": EVENTS}) as r,
        ):
            assert r.status_code == 200
            next(r.iter_raw())  # one piece, then the connection is closed
        # a leaked reservation would make this wait forever (the client's timeout fails it)
        with httpx.Client(base_url=server.url, timeout=30) as c:
            assert [status for status, _, _ in _walk(c, limit=EVENTS)] == [200]
        _wait_until(lambda: budget.in_use == 0)
