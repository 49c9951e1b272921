"""Store outages and crashes: the OpenSearch store (a real osmem-server) sits behind a TCP
proxy that can cut the line; the shipper runs as the real `kubetrail ship` process."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kubetrail.store.base import EventFilter, EventQuery
from kubetrail.store.opensearch import OpenSearchStore
from tests.support.k8s_objects import pod
from tests.support.netfault import TcpProxy
from tests.support.opensearch_servers import opensearch_store
from tests.support.osmem import running_osmem
from tests.support.servers import free_port
from tests.support.shipping import (
    Cluster,
    assert_exactly,
    config,
    fake_cluster,
    running,
    wait_until,
)

PREFIX = "ship-events"


@pytest.fixture
def proxied_store() -> Iterator[tuple[OpenSearchStore, TcpProxy]]:
    """A store reached through a proxy (for the shipper) and the same cluster reached directly
    (for the assertions)."""
    with running_osmem() as url:
        direct = opensearch_store(url, prefix=PREFIX)
        host, port = url.removeprefix("http://").split(":")
        proxy = TcpProxy(host, int(port))
        try:
            yield direct, proxy
        finally:
            proxy.close()
            direct.close()


def _through(proxy: TcpProxy) -> OpenSearchStore:
    from opensearchpy import OpenSearch

    client = OpenSearch(hosts=[proxy.url], timeout=5, max_retries=0)
    return OpenSearchStore(
        client, prefix=PREFIX, name=proxy.url, connection_retries=1, retry_backoff=0.1
    )


def test_store_outage_spools_then_catches_up(
    cluster: Cluster, proxied_store, tmp_path: Path
) -> None:
    direct, proxy = proxied_store
    shipper_store = _through(proxy)
    with running(cluster, shipper_store, config(tmp_path)) as shipper:
        cluster.apply("ADDED", pod(name="before", uid="u-before"))
        assert_exactly(direct, cluster.expected)
        proxy.cut()
        for i in range(30):
            cluster.apply("ADDED", pod(name=f"during-{i}", uid=f"u-during-{i}"))
        wait_until(lambda: len(shipper.spool) > 0, 15, "batches in the spool")
        assert shipper.metrics.store_errors._value.get() >= 1
        proxy.restore()
        cluster.apply("ADDED", pod(name="after", uid="u-after"))
        assert_exactly(direct, cluster.expected, timeout=60)
        wait_until(lambda: len(shipper.spool) == 0, 30, "the spool to drain")


def _ship(cluster: Cluster, proxy: TcpProxy, spool: Path, metrics_port: int) -> subprocess.Popen:
    env = {**os.environ, "KUBETRAIL_OPENSEARCH_PREFIX": PREFIX, "CONFIG_PATH": ""}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kubetrail",
            "ship",
            "--kubeconfig",
            str(cluster.kubeconfig),
            "--store",
            "opensearch+" + proxy.url,
            "--spool-dir",
            str(spool),
            "--metrics-host",
            "127.0.0.1",
            "--metrics-port",
            str(metrics_port),
            "--log-format",
            "json",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_kill_9_with_a_full_spool_then_restart_loses_nothing(
    cluster: Cluster, proxied_store, tmp_path: Path
) -> None:
    direct, proxy = proxied_store
    spool = tmp_path / "spool"
    cluster.server.apply("ADDED", pod(name="existing", uid="u-existing"))
    cluster.existing()
    port = free_port()
    first = _ship(cluster, proxy, spool, port)
    try:
        wait_until(lambda: _ready(port) or first.poll() is not None, 30, "the shipper to be ready")
        assert first.poll() is None, first.stderr.read().decode() if first.stderr else ""
        assert_exactly(direct, cluster.expected)
        proxy.cut()
        for i in range(40):
            cluster.apply("ADDED", pod(name=f"spooled-{i}", uid=f"u-spooled-{i}"))
        wait_until(lambda: any(spool.glob("segment-*.jsonl")), 20, "a spool segment")
        time.sleep(0.5)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        if first.stderr:
            first.stderr.close()
    # while nothing runs, the cluster keeps changing
    for i in range(10):
        cluster.apply("ADDED", pod(name=f"while-down-{i}", uid=f"u-down-{i}"))
    proxy.restore()
    port = free_port()
    second = _ship(cluster, proxy, spool, port)
    try:
        assert_exactly(direct, cluster.expected, timeout=60)
        wait_until(lambda: not any(spool.glob("segment-*.jsonl")), 30, "the spool to drain")
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0
        err = second.stderr.read().decode() if second.stderr else ""
        if second.stderr:
            second.stderr.close()
    assert "Traceback" not in err


def test_sigterm_flushes_what_was_received(cluster: Cluster, tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "t.db"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kubetrail",
            "ship",
            "--kubeconfig",
            str(cluster.kubeconfig),
            "--store",
            f"sqlite:///{db}",
            "--spool-dir",
            str(tmp_path / "spool"),
            "--metrics-host",
            "127.0.0.1",
            "--metrics-port",
            str(port),
        ],
        env={**os.environ, "CONFIG_PATH": ""},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(lambda: _ready(port) or proc.poll() is not None, 30, "the shipper to be ready")
        for i in range(25):
            cluster.apply("ADDED", pod(name=f"t{i}", uid=f"u-t{i}"))
        wait_until(lambda: cluster.server.watch_count("pods") >= 1, 5, "a pods watch")
        time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
        if proc.stderr:
            proc.stderr.close()
    assert code == 0
    from kubetrail.store.sqlite import open_embedded

    store = open_embedded(db)
    try:
        assert_exactly(store, cluster.expected, timeout=5)
    finally:
        store.close()


def test_a_rebuilt_cluster_gets_a_fresh_listing_and_the_old_ones_spool_is_delivered(
    proxied_store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """One spool directory, two clusters at one address (rebuilt, or a second context): the
    first run ends with batches spooled (the store was down); the second run, against the
    other cluster, drops the checkpoints (a watch from them would wait for ever on a server
    that has not reached them), lists everything afresh, and still delivers the spooled
    batches: they are real events of the first cluster."""
    direct, proxy = proxied_store
    cfg = config(tmp_path)
    caplog.set_level(logging.WARNING, logger="kubetrail.shipper")
    with fake_cluster(tmp_path / "old", initial_rv=1000, kube_system="ks-old") as old:
        old.apply("ADDED", pod(name="listed", uid="u-listed"))
        with running(old, _through(proxy), cfg) as shipper:
            assert_exactly(direct, old.expected)
            proxy.cut()
            for i in range(5):
                old.apply("ADDED", pod(name=f"spooled-{i}", uid=f"u-spooled-{i}"))
            wait_until(lambda: len(shipper.spool) > 0, 15, "batches in the spool")
        port = old.server.port
    assert len(list((tmp_path / "spool").glob("segment-*"))) > 0
    proxy.restore()
    with fake_cluster(tmp_path / "new", port=port, kube_system="ks-new") as new:
        new.apply("ADDED", pod(name="listed", uid="u-listed-new"))
        with running(new, _through(proxy), cfg) as shipper:
            new.apply("ADDED", pod(name="live", uid="u-live"))
            assert_exactly(direct, old.expected | new.expected, timeout=30)
            wait_until(lambda: len(shipper.spool) == 0, 30, "the spool to drain")
            assert shipper.checkpoints.cluster is not None
            assert shipper.checkpoints.cluster.uid == "ks-new"
    said = [r.getMessage() for r in caplog.records if "another cluster" in r.getMessage()]
    assert len(said) == 1 and "ks-old" in said[0] and "ks-new" in said[0]
    new_listed = direct.search(
        EventQuery(filter=EventFilter(uid=("u-listed-new", "ks-new")), limit=10)
    ).items
    assert len(new_listed) == 2 and all(d["snapshot"] for d in new_listed)
