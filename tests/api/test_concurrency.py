"""50 concurrent API clients while an ingest writes: WAL readers never block the writer,
nobody sees "database is locked", every answer is a 200 with a valid page."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from kubetrail.config import Settings
from kubetrail.events.normalize import normalize
from kubetrail.events.timing import parse_rfc3339
from kubetrail.store.sqlite import open_embedded
from tests.support.api_server import ServerThread
from tests.support.k8s_objects import pod

CLIENTS = 50
REQUESTS_PER_CLIENT = 8
BATCHES = 40


def _batch(n: int) -> list[dict]:
    return [
        normalize(
            "MODIFIED",
            pod(name=f"p{n}-{i}", uid=f"u{n}-{i}", rv=str(n * 1000 + i)),
            observed_at=parse_rfc3339(f"2026-11-25T03:{n % 60:02d}:{i % 60:02d}Z"),
        )
        for i in range(100)
    ]


def test_readers_and_a_writer_at_once(tmp_path: Path) -> None:
    store = open_embedded(tmp_path / "c.db")
    store.write(_batch(0))
    errors: list[str] = []
    writer_done = threading.Event()

    def writer() -> None:
        try:
            for n in range(1, BATCHES + 1):
                store.write(_batch(n))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(f"writer: {exc}")
        finally:
            writer_done.set()

    def client(url: str) -> list[int]:
        codes = []
        with httpx.Client(base_url=url, timeout=30) as c:
            for i in range(REQUESTS_PER_CLIENT):
                params = {
                    "start": "2026-11-25T00:00:00Z",
                    "end": "2026-11-26T00:00:00Z",
                    "limit": 50,
                }
                if i % 2:
                    params["q"] = "checkout"
                r = c.get("/api/v1/events", params=params)
                codes.append(r.status_code)
                if r.status_code != 200:
                    errors.append(r.text[:200])
                elif not isinstance(r.json(), list):
                    errors.append("not a list")
        return codes

    try:
        with ServerThread(store, Settings()) as server:
            t = threading.Thread(target=writer)
            t.start()
            with ThreadPoolExecutor(CLIENTS) as pool:
                results = list(pool.map(client, [server.url] * CLIENTS))
            t.join(60)
        assert writer_done.is_set()
        assert errors == []
        assert all(code == 200 for codes in results for code in codes)
        assert store.health().detail["events"] == 100 * (BATCHES + 1)
    finally:
        store.close()
