"""Kube.stream_lines over the fake API server's real chunked watch streams."""

from __future__ import annotations

import contextlib
import logging
import threading
import time

import orjson
import pytest

from kubetrail.shipper.kube import Kube, KubeError, load_client
from tests.support.shipping import Cluster


def configmap(name: str, value: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default"},
        "data": {"value": value},
    }


def watch(kube: Kube, *, timeout: int = 1) -> list[dict[str, object]]:
    query = [("watch", "1"), ("resourceVersion", "0"), ("timeoutSeconds", timeout)]
    return [
        orjson.loads(line)
        for line in kube.stream_lines("/api/v1/configmaps", query, read_timeout=10)
    ]


def test_every_event_arrives_whole_and_the_connection_serves_the_next_request(
    cluster: Cluster,
) -> None:
    # values of many sizes: events share socket reads, and big ones span several reads
    for i in range(60):
        cluster.apply("ADDED", configmap(f"cm-{i}", "x" * (i * 2000)))
    kube = Kube(load_client(kubeconfig=str(cluster.kubeconfig)))
    for _ in range(3):  # a watch ended by the server, then a list on the pooled connection
        events = watch(kube)
        sizes = {
            e["object"]["metadata"]["name"]: len(e["object"]["data"]["value"])
            for e in events
            if e["type"] == "ADDED"
        }
        assert sizes == {f"cm-{i}": i * 2000 for i in range(60)}
        assert len(kube.get("/api/v1/configmaps")["items"]) == 60


def test_a_stream_cut_mid_way_is_an_error_not_an_end(cluster: Cluster) -> None:
    cluster.apply("ADDED", configmap("cm-0", "v"))
    kube = Kube(load_client(kubeconfig=str(cluster.kubeconfig)))
    got: list[bytes] = []
    query = [("watch", "1"), ("resourceVersion", "0"), ("timeoutSeconds", 60)]
    lines = kube.stream_lines("/api/v1/configmaps", query, read_timeout=10)
    got.append(next(lines))  # the stream is open
    threading.Timer(0.2, cluster.server.drop_watches).start()
    started = time.monotonic()
    with pytest.raises(KubeError, match="interrupted"):
        got.extend(lines)
    assert time.monotonic() - started < 10
    assert len(got) == 1


def test_a_watch_left_at_its_error_event_does_not_spoil_the_next_request(
    cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    """A watcher stops reading at an ERROR event (here a 410); the server ends the stream
    only afterwards. The stream's end must not be read as the answer to the next request on
    that connection (urllib3 would log a BadStatusLine and send the request again)."""
    cluster.server.error_end_delay = 0.5
    cluster.apply("ADDED", configmap("cm-0", "v"))
    cluster.server.compact()
    kube = Kube(load_client(kubeconfig=str(cluster.kubeconfig)))
    query = [("watch", "1"), ("resourceVersion", "1"), ("timeoutSeconds", 60)]
    with contextlib.closing(
        kube.stream_lines("/api/v1/configmaps", query, read_timeout=10)
    ) as lines:
        assert orjson.loads(next(lines))["type"] == "ERROR"
    cluster.server.clear_requests()
    caplog.set_level(logging.WARNING, logger="urllib3")
    assert len(kube.get("/api/v1/configmaps")["items"]) == 1
    assert not [r.getMessage() for r in caplog.records if "BadStatusLine" in r.getMessage()]
    assert [r.path for r in cluster.server.requests] == ["/api/v1/configmaps"]
