"""`kubetrail setup`, `kubetrail ingest`, `kubetrail api` on an OpenSearch store serve
the REST contract exactly as the embedded store does.

Both stores get the same recording (the built-in incident with a fixed clock),
each through the commands a user runs, and two `kubetrail api` processes answer
the same requests; bodies, status codes and cursors must be identical.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pytest
from opensearchpy import OpenSearch

from kubetrail.demo.incident import generate_incident
from tests.support.opensearch_servers import delete_indices
from tests.support.osmem import running_osmem
from tests.support.servers import free_port

ANCHOR = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
RANGE = {"start": "2026-11-25T05:00:00Z", "end": "2026-11-25T12:00:00Z"}


def _kubetrail(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubetrail", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=env,
    )


class _Api:
    def __init__(self, store: str, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kubetrail", "api", "--store", store, "--port", str(self.port)],
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)
        deadline = time.monotonic() + 30
        while True:
            try:
                if self.client.get("/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read() if self.proc.stderr else ""
                raise RuntimeError(f"kubetrail api did not start: {err}")
            time.sleep(0.1)

    def close(self) -> None:
        self.client.close()
        self.proc.terminate()
        self.proc.wait(10)
        if self.proc.stderr:
            self.proc.stderr.close()


@contextmanager
def _server(kind: str, request: pytest.FixtureRequest) -> Iterator[str]:
    if kind == "osmem":
        with running_osmem() as url:
            yield url
    else:
        yield request.getfixturevalue("real_opensearch")


@pytest.fixture(scope="module", params=["osmem", "opensearch"])
def apis(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[_Api, _Api, str]]:
    work = tmp_path_factory.mktemp("os-e2e")
    recording = work / "incident.jsonl"
    recording.write_bytes(
        b"".join(orjson.dumps(e) + b"\n" for e in generate_incident(anchor=ANCHOR))
    )
    prefix = f"e2e-{os.getpid()}-events"
    env = {**os.environ, "KUBETRAIL_OPENSEARCH_PREFIX": prefix}
    with _server(request.param, request) as url:
        store = "opensearch+" + url
        setup = _kubetrail("setup", "--store", store, "--replicas", "0", cwd=work, env=env)
        assert setup.returncode == 0, setup.stderr
        assert "created" in setup.stdout
        sqlite = f"sqlite:///{work / 'ref.db'}"
        for target in (store, sqlite):
            r = _kubetrail("ingest", "--store", target, str(recording), cwd=work, env=env)
            assert r.returncode == 0, r.stderr
            assert ", rejected 0" in r.stderr.strip().splitlines()[-1]
        reference, opensearch = _Api(sqlite, work), _Api(store, work, env)
        client = OpenSearch(hosts=[url], timeout=60)
        try:
            yield reference, opensearch, store
        finally:
            reference.close()
            opensearch.close()
            delete_indices(client, f"{prefix}-*")
            client.indices.delete_index_template(name=prefix, ignore=[404])
            client.close()


REQUESTS = [
    ("/api/v1/events", {**RANGE, "limit": "50"}),
    ("/api/v1/events", {**RANGE, "namespace": "shop", "resourceType": "pods", "verb": "update"}),
    ("/api/v1/events", {**RANGE, "signal": "pod.waiting:CrashLoopBackOff"}),
    ("/api/v1/events", {**RANGE, "signal": "node.*", "namespace": "_"}),
    ("/api/v1/events", {**RANGE, "q": "fast-ssd", "kind": "Event"}),
    ("/api/v1/events", {**RANGE, "q": '"unbalanced (query AND'}),
    ("/api/v1/events", {**RANGE, "snapshot": "false", "resourceType": ["configmaps", "secrets"]}),
    ("/api/v1/events/_/nodes/worker-3", {}),
    ("/api/v1/events/data/persistentvolumeclaims/postgres-data", {}),
    ("/api/v1/events/shop/pods/no-such-pod", {}),
    ("/api/v1/events", {"start": "yesterday"}),
    ("/api/v1/events", {**RANGE, "cursor": "not-a-cursor"}),
    # sparse fieldsets, the history's two views, the summary
    ("/api/v1/events", {**RANGE, "signal": "pod.*", "fields": "timestamp,verb,signals,message"}),
    ("/api/v1/events", {**RANGE, "kind": "Node", "fields": "namespace,objectChanges.metadata"}),
    ("/api/v1/events", {**RANGE, "kind": "Event", "fields": "reason,involvedObject.namespace"}),
    ("/api/v1/events", {**RANGE, "fields": "verbb"}),
    ("/api/v1/events/_/nodes/worker-3", {"full": "true"}),
    ("/api/v1/events/shop/deployments/checkout", {}),
    ("/api/v1/summary", {**RANGE, "namespace": "shop", "newest": "10"}),
    ("/api/v1/summary", {**RANGE, "by": "namespace,signal", "top": "5"}),
]


@pytest.mark.parametrize(("path", "params"), REQUESTS, ids=[f"{p}?{q}" for p, q in REQUESTS])
def test_same_answers_over_http(apis: tuple[_Api, _Api, str], path: str, params: dict) -> None:
    reference, opensearch, _ = apis
    expected = reference.client.get(path, params=params)
    got = opensearch.client.get(path, params=params)
    assert got.status_code == expected.status_code
    assert got.json() == expected.json()
    assert got.headers.get("X-Next-Cursor") == expected.headers.get("X-Next-Cursor")


def test_following_cursors_pages_through_the_same_events(apis: tuple[_Api, _Api, str]) -> None:
    reference, opensearch, _ = apis

    def ids(api: _Api) -> list[str]:
        out: list[str] = []
        params: dict[str, str] = {**RANGE, "limit": "200"}
        while True:
            resp = api.client.get("/api/v1/events", params=params)
            assert resp.status_code == 200
            out.extend(d["id"] for d in resp.json())
            cursor = resp.headers.get("X-Next-Cursor")
            if not cursor:
                return out
            params["cursor"] = cursor

    expected = ids(reference)
    assert len(expected) > 1000
    assert ids(opensearch) == expected


def test_health_names_the_store(apis: tuple[_Api, _Api, str]) -> None:
    _, opensearch, _ = apis
    body = opensearch.client.get("/health").json()
    assert body["status"] == "ok"
    assert body["store"] == "opensearch"
    assert body["detail"]["events"] > 1000


def test_ingest_before_setup_says_what_to_do(tmp_path: Path) -> None:
    with running_osmem() as url:
        r = _kubetrail("ingest", "--store", "opensearch+" + url, "-", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0
    assert "run `kubetrail setup --store" in r.stderr
