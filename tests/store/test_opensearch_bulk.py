"""The OpenSearch store's bulk writes: several chunks in flight at once, each document
counted once whatever a chunk meets; and the client's orjson serializer."""

from __future__ import annotations

import gzip
import itertools
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import SerializationError, TransportError

from kubetrail.ingest.documents import to_documents
from kubetrail.store.base import StoreError
from kubetrail.store.opensearch import OpenSearchStore
from kubetrail.store.opensearch.client import FastGzipConnection, OrjsonSerializer, make_client
from kubetrail.store.url import parse_store_url
from tests.support.opensearch_servers import opensearch_store
from tests.support.watch_lines import event

DOCS = [doc for i in range(95) for doc in to_documents(event(i))]


_prefixes = itertools.count(1)


@pytest.fixture
def store(osmem_url: str) -> Iterator[OpenSearchStore]:
    s = opensearch_store(osmem_url, prefix=f"bulk{next(_prefixes)}-{os.getpid()}-events")
    s.chunk_docs = 10
    s.retry_backoff = 0.01
    yield s
    s.close()


def _instrument(
    store: OpenSearchStore, before: Callable[[int], None] = lambda n: None
) -> dict[str, int]:
    """Wraps the client's ``bulk``: counts the calls and the most in flight at once;
    ``before(n)`` runs first in the n-th call (1-based) and may raise."""
    original = store.client.bulk
    seen = {"calls": 0, "in_flight": 0, "peak": 0}
    lock = threading.Lock()

    def bulk(*args: Any, **kwargs: Any) -> Any:
        with lock:
            seen["calls"] += 1
            n = seen["calls"]
            seen["in_flight"] += 1
            seen["peak"] = max(seen["peak"], seen["in_flight"])
        try:
            before(n)
            time.sleep(0.05)  # long enough for the other chunks to be sent meanwhile
            return original(*args, **kwargs)
        finally:
            with lock:
                seen["in_flight"] -= 1

    store.client.bulk = bulk  # type: ignore[method-assign]
    return seen


def _stored_ids(store: OpenSearchStore) -> list[str]:
    hits = store.client.search(index=store.pattern, body={"size": 1000, "_source": ["id"]})
    return sorted(h["_source"]["id"] for h in hits["hits"]["hits"])


def test_a_large_write_keeps_several_chunks_in_flight(store: OpenSearchStore) -> None:
    store.concurrency = 3
    assert store.write(DOCS[:20]).stored == 20
    seen = _instrument(store)
    result = store.write(DOCS)
    assert (result.stored, result.duplicates, result.errors) == (75, 20, [])
    assert seen["calls"] == 10  # 95 documents in chunks of 10
    assert seen["peak"] == 3
    assert _stored_ids(store) == sorted(d["id"] for d in DOCS)


def test_one_request_at_a_time_when_concurrency_is_one(store: OpenSearchStore) -> None:
    store.concurrency = 1
    seen = _instrument(store)
    assert store.write(DOCS).stored == 95
    assert (seen["calls"], seen["peak"]) == (10, 1)


def test_a_chunk_that_loses_its_connection_is_sent_again_and_counted_once(
    store: OpenSearchStore,
) -> None:
    store.concurrency = 4

    def cut_the_third(n: int) -> None:
        if n == 3:
            raise OSConnectionError("N/A", "connection reset", Exception("reset"))

    seen = _instrument(store, cut_the_third)
    result = store.write(DOCS)
    assert (result.stored, result.duplicates, result.errors) == (95, 0, [])
    assert seen["calls"] == 11  # the lost chunk once more, nothing else
    assert _stored_ids(store) == sorted(d["id"] for d in DOCS)


def test_a_refused_chunk_fails_the_write(store: OpenSearchStore) -> None:
    store.concurrency = 4

    def refuse_the_second(n: int) -> None:
        if n == 2:
            raise TransportError(500, "internal_server_error", {"error": "boom"})

    _instrument(store, refuse_the_second)
    with pytest.raises(StoreError, match="refused the bulk write"):
        store.write(DOCS)


# -- the serializer --------------------------------------------------------------------


def test_the_store_client_serializes_with_orjson() -> None:
    client = make_client(parse_store_url("opensearch+http://127.0.0.1:9200"))
    assert isinstance(client.transport.serializer, OrjsonSerializer)


@pytest.mark.parametrize(
    "body",
    [
        DOCS[0],
        {"message": "naïve café ✓ 日本", "n": [1, 2.5, None, True], "nested": {"a": {"b": []}}},
        {"at": datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=UTC)},
        {"huge": 2**70},  # beyond orjson's 64 bits: encoded the standard way
    ],
    ids=["event-document", "unicode-and-types", "datetime", "big-integer"],
)
def test_bodies_encode_to_the_same_json_as_the_standard_serializer(body: dict) -> None:
    from opensearchpy.serializer import JSONSerializer

    ours = OrjsonSerializer().dumps(body)
    assert isinstance(ours, str)
    assert json.loads(ours) == json.loads(JSONSerializer().dumps(body))
    assert OrjsonSerializer().loads(ours) == json.loads(ours)


def test_a_string_body_is_sent_as_it_is_and_bad_json_is_a_serialization_error() -> None:
    assert OrjsonSerializer().dumps('{"already": "json"}') == '{"already": "json"}'
    with pytest.raises(SerializationError):
        OrjsonSerializer().loads("{not json")


def test_requests_are_gzipped_at_level_one(osmem_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    client = make_client(parse_store_url(f"opensearch+{osmem_url}"))
    conn = client.transport.get_connection()
    assert isinstance(conn, FastGzipConnection) and conn.http_compress
    body = json.dumps(DOCS[:50]).encode()
    packed = conn._gzip_compress(body)
    assert gzip.decompress(packed) == body
    assert len(gzip.compress(body, compresslevel=9)) < len(packed) < len(body) // 5
    # opensearch-py still compresses through this hook: a request goes through it
    calls = []
    original = FastGzipConnection._gzip_compress

    def spy(self: FastGzipConnection, data: Any) -> bytes:
        calls.append(len(data))
        return original(self, data)

    monkeypatch.setattr(FastGzipConnection, "_gzip_compress", spy)
    client.indices.create(index=f"gzip-{os.getpid()}", body={"settings": {}})
    client.indices.delete(index=f"gzip-{os.getpid()}")
    assert calls
    client.close()
