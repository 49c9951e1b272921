"""A three-node OpenSearch cluster loses a node while kubetrail writes, and gets it back.

The cluster is this module's own (``scripts/opensearch-node start --nodes 3``, HTTP ports
9260-9262, data under ``/var/tmp/kubetrail/test-cluster-9260``), stopped at the end. The
index has three shards with one replica each, so every node holds primaries. While
``kubetrail ingest`` (fed through a pipe) or ``kubetrail ship`` (watching the fake API
server) writes, one node is stopped with ``stop --node I`` and started again with
``start --node I``. Meanwhile ``/health`` reports the degraded (yellow) cluster, queries
keep answering and the count keeps growing; afterwards every event is stored exactly once.

The cases skip only when this machine cannot fetch OpenSearch (``scripts/opensearch-node``
exits 3: no ``mvn``, no Java, no Maven Central), or when ``KUBETRAIL_SKIP_OPENSEARCH_CLUSTER``
is set (the cluster takes a minute or more to start on a small machine).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from opensearchpy import OpenSearch

from kubetrail.config import OpenSearchSettings, Settings
from kubetrail.store import open_store
from kubetrail.store.base import Store
from kubetrail.store.opensearch.setup import setup
from kubetrail.store.opensearch.templates import TemplateParams
from tests.support.api_server import ServerThread
from tests.support.fake_apiserver import FakeApiServer
from tests.support.k8s_objects import pod
from tests.support.opensearch_servers import EXIT_CANNOT_FETCH, NODE_SCRIPT
from tests.support.servers import free_port
from tests.support.shipping import Cluster, stored_ids, wait_until
from tests.support.watch_lines import event

pytestmark = pytest.mark.e2e

PORT = 9260
NODES = 3
DATA_DIR = Path("/var/tmp/kubetrail/test-cluster-9260")
URLS = [f"http://127.0.0.1:{PORT + i}" for i in range(NODES)]
#: every node of the cluster: the client goes on with the others when one is gone
STORE_URL = "opensearch+http://" + ",".join(u.removeprefix("http://") for u in URLS)
HOW_TO_RUN = (
    "these cases start "
    f"`scripts/opensearch-node start --nodes {NODES} --port {PORT} --data-dir {DATA_DIR}` "
    "(needs mvn and Java 17 to fetch OpenSearch once; ~1 GB of RAM, a minute or more to start)"
)


def _node(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(NODE_SCRIPT), *args, "--data-dir", str(DATA_DIR)],
        capture_output=True,
        text=True,
        timeout=timeout,
        # three JVMs starting at once on a small, busy machine can take minutes
        env={"KUBETRAIL_OPENSEARCH_START_TIMEOUT": "600", **os.environ},
    )


def _checked(*args: str) -> str:
    proc = _node(*args)
    assert proc.returncode == 0, f"opensearch-node {' '.join(args)}:\n{proc.stderr[-3000:]}"
    return proc.stdout.strip()


@pytest.fixture(scope="module")
def admin() -> Iterator[OpenSearch]:
    """A client on the running three-node cluster (every node)."""
    if os.environ.get("KUBETRAIL_SKIP_OPENSEARCH_CLUSTER"):
        pytest.skip(
            f"KUBETRAIL_SKIP_OPENSEARCH_CLUSTER is set (unset it to run them); {HOW_TO_RUN}"
        )
    DATA_DIR.parent.mkdir(parents=True, exist_ok=True)
    try:
        started = _node("start", "--nodes", str(NODES), "--port", str(PORT), timeout=900)
        if started.returncode == EXIT_CANNOT_FETCH:
            lines = [ln for ln in started.stderr.splitlines() if ln.strip()]
            pytest.skip(
                "this machine cannot fetch OpenSearch "
                f"({lines[-1] if lines else 'no message'}); {HOW_TO_RUN}"
            )
        assert started.returncode == 0, f"cluster did not start:\n{started.stderr[-3000:]}"
        assert started.stdout.strip().splitlines()[-1] == URLS[0]
        client = OpenSearch(hosts=URLS, timeout=60)
        leftovers = sorted(client.indices.get(index="cluster-*-events-*"))  # an aborted run's
        if leftovers:
            client.indices.delete(index=",".join(leftovers), ignore_unavailable=True)
        try:
            yield client
        finally:
            client.close()
    finally:
        _node("stop", timeout=120)


@dataclass
class Index:
    prefix: str
    store: Store  # kubetrail's own store on STORE_URL, as the commands open it


@pytest.fixture
def index(admin: OpenSearch, request: pytest.FixtureRequest) -> Iterator[Index]:
    """A kubetrail install (3 shards, 1 replica) on the cluster, deleted afterwards."""
    prefix = f"cluster-{request.node.name.split('_')[1]}-{os.getpid()}-events"
    setup(admin, TemplateParams(prefix=prefix, shards=3, replicas=1), report=lambda line: None)
    wait_until(lambda: _green(admin, f"{prefix}-*"), 120, f"{prefix} to be green")
    store = open_store(STORE_URL, opensearch=OpenSearchSettings(prefix=prefix))
    try:
        yield Index(prefix, store)
    finally:
        store.close()
        names = sorted(admin.indices.get(index=f"{prefix}-*", ignore_unavailable=True))
        if names:
            admin.indices.delete(index=",".join(names), ignore_unavailable=True)
        admin.indices.delete_index_template(name=prefix, ignore=[404])
        for part in ("settings", "mappings"):
            admin.cluster.delete_component_template(name=f"{prefix}-{part}", ignore=[404])


def _green(admin: OpenSearch, index: str | None = None) -> bool:
    health = admin.cluster.health(index=index)
    return health["status"] == "green" and health["number_of_nodes"] == NODES


def _count(admin: OpenSearch, prefix: str) -> int:
    return int(admin.count(index=f"{prefix}-*")["count"])


def _primary_nodes(admin: OpenSearch, prefix: str) -> set[str]:
    rows = admin.cat.shards(index=f"{prefix}-*", format="json", h="prirep,state,node")
    return {r["node"] for r in rows if r["prirep"] == "p" and r["state"] == "STARTED"}


def _lose_and_regain(
    admin: OpenSearch, index: Index, node: int, *, while_down: Callable[[], None]
) -> dict[str, float]:
    """Stop ``node``, check the cluster is degraded and still takes writes (and whatever
    ``while_down`` checks), start it again and wait for green. Seconds of each step."""
    # every replica in sync first: a node lost before that can take a primary's only copy
    wait_until(lambda: _green(admin), 180, "a green cluster before a node is lost")
    times: dict[str, float] = {}
    t0 = time.monotonic()
    _checked("stop", "--node", str(node))
    times["stop"] = time.monotonic() - t0
    seen: list[dict[str, Any]] = []

    def degraded() -> bool:
        seen.append(admin.cluster.health())
        return seen[-1]["number_of_nodes"] == NODES - 1 and seen[-1]["status"] == "yellow"

    # its shard copies' replicas stay unassigned (delayed allocation, 1 minute): yellow
    try:
        wait_until(degraded, 60, f"a yellow cluster of {NODES - 1} nodes")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last health: {seen[-1:]}") from None
    before = _count(admin, index.prefix)
    while_down()
    wait_until(lambda: _count(admin, index.prefix) > before, 60, "writes to go on with a node down")
    t1 = time.monotonic()
    _checked("start", "--node", str(node))
    times["rejoin"] = time.monotonic() - t1
    t2 = time.monotonic()
    wait_until(lambda: _green(admin), 300, "a green cluster after the node came back")
    times["green"] = time.monotonic() - t2
    return times


def _assert_exactly_once(index: Index, expected: set[str]) -> None:
    ids = stored_ids(index.store)
    assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} duplicated documents"
    missing = expected - set(ids)
    assert not missing, f"{len(missing)} events missing, e.g. {sorted(missing)[:5]}"
    assert set(ids) == expected, f"unexpected documents: {sorted(set(ids) - expected)[:5]}"


def _health_and_queries_degraded(store: Store, prefix: str) -> None:
    """``kubetrail api`` on the store: /health says yellow, queries answer."""
    with ServerThread(store, Settings()) as api, httpx.Client(base_url=api.url, timeout=60) as c:
        resp = c.get("/health")
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["status"] == "ok"
        assert body["detail"]["status"] == "yellow", body
        assert body["detail"]["events"] > 0
        since = "start=2020-01-01T00:00:00Z"  # the test events' times need not be recent
        for path in (
            f"/api/v1/events?{since}&limit=50",
            f"/api/v1/events?{since}&namespace=default&resourceType=pods&limit=20",
            f"/api/v1/events?{since}&q=app&limit=20",
        ):
            page = c.get(path)
            assert page.status_code == 200, (path, page.text)
            assert page.json(), path  # a non-empty array of events


class _Feeder(threading.Thread):
    """Writes events at a steady pace until told to stop."""

    def __init__(self, write: Callable[[int], None], per_tick: int, tick: float) -> None:
        super().__init__(daemon=True)
        self.write, self.per_tick, self.tick = write, per_tick, tick
        self.sent = 0
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                for _ in range(self.per_tick):
                    self.write(self.sent)
                    self.sent += 1
                time.sleep(self.tick)
        except BaseException as exc:  # reported by finish()
            self.error = exc

    def finish(self) -> int:
        self.stopping.set()
        self.join(60)
        if self.error is not None:
            raise self.error
        return self.sent


def test_ingest_keeps_every_event_when_the_first_node_is_lost(
    admin: OpenSearch, index: Index, tmp_path: Path
) -> None:
    """Node 0 (the first host the client names) goes away mid-ingest and comes back."""
    command = ["kubetrail", "ingest", "--store", STORE_URL, "--batch-size", "200", "--quiet", "-"]
    proc = subprocess.Popen(
        [sys.executable, "-m", *command],
        stdin=subprocess.PIPE,
        stderr=(tmp_path / "ingest.err").open("wb"),
        env={**os.environ, "KUBETRAIL_OPENSEARCH_PREFIX": index.prefix, "CONFIG_PATH": ""},
    )
    assert proc.stdin is not None
    stdin = proc.stdin

    def write(i: int) -> None:
        stdin.write(json.dumps(event(i)).encode() + b"\n")
        if i % 50 == 49:
            stdin.flush()

    feeder = _Feeder(write, per_tick=20, tick=0.1)
    try:
        feeder.start()
        wait_until(lambda: _count(admin, index.prefix) > 500, 60, "ingest to store events")
        times = _lose_and_regain(
            admin,
            index,
            0,
            while_down=lambda: _health_and_queries_degraded(index.store, index.prefix),
        )
        sent = feeder.finish()
        stdin.close()
        code = proc.wait(120)
    finally:
        feeder.stopping.set()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    err = (tmp_path / "ingest.err").read_text()
    assert code == 0, err[-3000:]
    summary = re.search(r"read (\d+), stored (\d+), duplicates (\d+), rejected (\d+)", err)
    assert summary, err[-3000:]
    read, stored, duplicates, rejected = map(int, summary.groups())
    assert (read, rejected) == (sent, 0)
    assert stored + duplicates == sent  # a resent batch finds its documents already there
    assert "Traceback" not in err
    admin.indices.refresh(index=f"{index.prefix}-*")
    assert _count(admin, index.prefix) == sent
    _assert_exactly_once(
        index, {f"00000000-0000-0000-0000-{i:012d}:{1000 + i}" for i in range(sent)}
    )
    print(f"\ningest: {sent} events, {duplicates} duplicates, times {times}")


def _ship(kubeconfig: Path, spool: Path, metrics_port: int, prefix: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kubetrail",
            "ship",
            "--kubeconfig",
            str(kubeconfig),
            "--store",
            "opensearch+" + URLS[0],  # one host only: the lost node is another one
            "--spool-dir",
            str(spool),
            "--metrics-host",
            "127.0.0.1",
            "--metrics-port",
            str(metrics_port),
        ],
        env={**os.environ, "KUBETRAIL_OPENSEARCH_PREFIX": prefix, "CONFIG_PATH": ""},
        stdout=subprocess.DEVNULL,
        stderr=(spool.parent / "ship.err").open("wb"),
    )


def _metric(port: int, name: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    values = [float(m.group(1)) for m in re.finditer(rf"(?m)^{name}(?:{{[^}}]*}})? (\S+)$", text)]
    return sum(values)


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_ship_keeps_every_change_when_another_node_is_lost(
    admin: OpenSearch, index: Index, tmp_path: Path
) -> None:
    """The shipper talks to node 0 only; another node holding primaries goes away and
    comes back."""
    with FakeApiServer(bookmark_interval=0.2) as server:
        cluster = Cluster(server, server.write_kubeconfig(tmp_path / "kubeconfig"))
        cluster.apply("ADDED", pod(name="before-0", namespace="default", uid="u-before-0"))
        cluster.existing()
        port = free_port()
        proc = _ship(cluster.kubeconfig, tmp_path / "spool", port, index.prefix)

        def write(i: int) -> None:
            cluster.apply("ADDED", pod(name=f"web-{i}", namespace="default", uid=f"u-web-{i}"))

        feeder = _Feeder(write, per_tick=5, tick=0.1)
        try:
            wait_until(lambda: _ready(port) or proc.poll() is not None, 60, "the shipper")
            assert proc.poll() is None, (tmp_path / "ship.err").read_text()[-3000:]
            feeder.start()
            wait_until(lambda: _count(admin, index.prefix) > 50, 60, "the shipper to store")
            holding = _primary_nodes(admin, index.prefix)
            lost = next(i for i in (2, 1) if f"kubetrail-node-{i}" in holding)
            times = _lose_and_regain(
                admin,
                index,
                lost,
                while_down=lambda: _health_and_queries_degraded(index.store, index.prefix),
            )
            feeder.finish()
            wait_until(
                lambda: _count(admin, index.prefix) >= len(cluster.expected),
                120,
                "every change to be stored",
            )
            spool = tmp_path / "spool"
            wait_until(lambda: not any(spool.glob("segment-*.jsonl")), 60, "an empty spool")
            errors = _metric(port, "kubetrail_store_errors_total")
        finally:
            feeder.stopping.set()
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(60)
            err = (tmp_path / "ship.err").read_text()
    assert code == 0, err[-3000:]
    assert "Traceback" not in err
    admin.indices.refresh(index=f"{index.prefix}-*")
    _assert_exactly_once(index, cluster.expected)
    print(
        f"\nship: {len(cluster.expected)} changes, node {lost} lost, store errors {errors}, "
        f"times {times}"
    )
