"""Rollover and retention on a real OpenSearch node without ISM, observed, not forced.

The node ``scripts/opensearch-node`` starts has no ISM plugin (Maven Central does not
publish it), so ``kubetrail setup`` records ``retention: fallback`` and kubetrail's own
retention run does ISM's job: ``POST <alias>/_rollover`` at the recorded conditions,
then whole indices older than the recorded retention are deleted. Here the
conditions are small (a few hundred documents, two minutes), so a test sees it all:

- ``kubetrail ingest`` keeps writing while the write index rolls over several times:
  every event is stored once, none lost;
- a batch replayed after a rollover is not stored a second time in the new index;
- reads and cursors span the rolled indices;
- the old index is deleted once its newest event is past the retention, the write
  index never.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from opensearchpy import OpenSearch

from kubetrail.events.timing import format_rfc3339, utcnow
from kubetrail.ingest.documents import to_documents
from kubetrail.store.base import EventQuery
from kubetrail.store.opensearch import OpenSearchStore
from kubetrail.store.opensearch.retention import retention_mode
from kubetrail.store.opensearch.setup import setup
from kubetrail.store.opensearch.templates import TemplateParams
from tests.support.k8s_objects import pod
from tests.support.opensearch_servers import delete_indices


def _recording(n: int, *, start_rv: int, first_seconds_ago: float) -> list[dict]:
    """``n`` pod updates, one a few milliseconds after the other, ending near now."""
    now = utcnow()
    step = first_seconds_ago / n
    return [
        {
            "type": "MODIFIED",
            "object": pod(name=f"web-{i % 50}", uid=f"uid-{i % 50}", rv=str(start_rv + i)),
            "timestamp": format_rfc3339(now - timedelta(seconds=first_seconds_ago - i * step)),
        }
        for i in range(n)
    ]


def _ids(events: list[dict]) -> set[str]:
    return {doc["id"] for event in events for doc in to_documents(event)}


def _holders(client: OpenSearch, alias: str) -> dict[str, bool]:
    """Index -> is it the write index, for every index holding the alias."""
    answer = client.indices.get_alias(name=alias)
    return {index: bool(e["aliases"][alias].get("is_write_index")) for index, e in answer.items()}


def _stored_ids(client: OpenSearch, prefix: str) -> list[str]:
    client.indices.refresh(index=",".join(_holders(client, prefix)))
    ids: list[str] = []
    body: dict = {"size": 1000, "sort": [{"id": "asc"}], "_source": ["id"]}
    while True:
        hits = client.search(index=",".join(_holders(client, prefix)), body=body)["hits"]["hits"]
        if not hits:
            return ids
        ids.extend(h["_source"]["id"] for h in hits)
        body["search_after"] = hits[-1]["sort"]


@pytest.fixture
def lifecycle(real_opensearch: str) -> Iterator[tuple[OpenSearch, TemplateParams]]:
    client = OpenSearch(hosts=[real_opensearch], timeout=60)
    # a short refresh interval: _rollover's max_docs counts the documents a refresh has
    # made visible, and the default 5 s could let a fast ingest finish between two
    params = TemplateParams(
        prefix=f"roll{os.getpid()}-events",
        replicas=0,
        rollover_docs=400,
        retention="2m",
        refresh_interval="200ms",
    )
    setup(client, params, report=lambda line: None)
    try:
        yield client, params
    finally:
        delete_indices(client, f"{params.prefix}-*")
        client.indices.delete_index_template(name=params.prefix, ignore=[404])
        client.close()


def test_ingest_writes_through_rollovers_and_the_old_index_expires(
    lifecycle: tuple[OpenSearch, TemplateParams], real_opensearch: str, tmp_path: Path
) -> None:
    client, params = lifecycle
    if retention_mode(client, params.prefix) != "fallback":
        pytest.skip(
            f"{real_opensearch} has ISM: it rolls over by itself; see test_opensearch_real_ism.py"
        )
    store = OpenSearchStore(client, prefix=params.prefix, name=real_opensearch)

    # 1. `kubetrail ingest` writes 5,000 events (first 100 s old, last ~now) in batches
    # of 100 while the retention run keeps rolling the write index over at 400 documents
    events = _recording(5000, start_rv=1, first_seconds_ago=100)
    recording = tmp_path / "updates.jsonl"
    recording.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    rolled: list[str] = []
    done = threading.Event()

    def roll() -> None:
        while not done.is_set():
            rolled.extend(store.manage_indices(days=14, now=utcnow()).rolled_over)
            time.sleep(0.05)

    roller = threading.Thread(target=roll)
    roller.start()
    try:
        ingest = subprocess.run(
            [
                sys.executable,
                "-m",
                "kubetrail",
                "ingest",
                "--store",
                f"opensearch+{real_opensearch}",
                "--batch-size",
                "100",
                str(recording),
            ],
            env={**os.environ, "KUBETRAIL_OPENSEARCH_PREFIX": params.prefix},
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        done.set()
        roller.join()
    assert ingest.returncode == 0, ingest.stderr
    assert len(rolled) >= 2, f"expected several rollovers during the ingest, saw {rolled}"
    holders = _holders(client, params.prefix)
    assert sorted(holders) == sorted([params.bootstrap_index, *rolled])
    assert [i for i, write in holders.items() if write] == [rolled[-1]]
    stored = _stored_ids(client, params.prefix)
    assert len(stored) == len(set(stored)), "an event was stored twice"
    assert set(stored) == _ids(events), "an event is missing"

    # 2. the same batch again after those rollovers: nothing stored twice
    replay = store.write([doc for e in events[:500] for doc in to_documents(e)])
    assert (replay.stored, replay.duplicates, replay.errors) == (0, 500, [])
    assert len(_stored_ids(client, params.prefix)) == len(stored)

    # 3. reads and cursors span every index, in order, each event once
    client.indices.refresh(index=",".join(_holders(client, params.prefix)))
    query = EventQuery(limit=170)
    seen: list[str] = []
    while True:
        page = store.search(query)
        seen.extend(d["id"] for d in page.items)
        if page.next is None:
            break
        query = EventQuery(limit=170, after=page.next)
    assert len(seen) == len(set(seen)) == len(stored)

    # 4. later writes (timestamped now) go to the write index; once the first events
    # are two minutes old, the next retention run deletes the indices holding only
    # them, and never the write index
    fresh = _recording(50, start_rv=10_000, first_seconds_ago=1)
    assert store.write([d for e in fresh for d in to_documents(e)]).stored == 50
    deadline = time.monotonic() + 150
    deleted: list[str] = []
    while time.monotonic() < deadline and params.bootstrap_index not in deleted:
        time.sleep(5)
        changes = store.manage_indices(days=14, now=utcnow())
        deleted.extend(changes.deleted)
    assert params.bootstrap_index in deleted, "the first index was never deleted"
    assert not client.indices.exists(index=params.bootstrap_index)
    write_index = next(i for i, w in _holders(client, params.prefix).items() if w)
    assert write_index not in deleted
    remaining = set(_stored_ids(client, params.prefix))
    assert _ids(fresh) <= remaining
