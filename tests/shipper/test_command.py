"""`kubetrail ship` as a user runs it: one-line errors, JSON logs, no secrets in logs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.k8s_objects import pod
from tests.support.shipping import Cluster


def ship(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubetrail", "ship", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "CONFIG_PATH": ""},
    )


def test_missing_config_is_one_line(tmp_path: Path) -> None:
    r = ship("--config", str(tmp_path / "nope.yaml"))
    assert r.returncode == 2
    assert (
        r.stderr.strip() == f"kubetrail: error: config file {tmp_path / 'nope.yaml'} does not exist"
    )


def test_bad_kubeconfig_is_one_line(tmp_path: Path) -> None:
    r = ship("--kubeconfig", str(tmp_path / "kc"), "--metrics-port", "0")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot load Kubernetes config" in lines[0]


def test_store_password_never_reaches_the_logs(cluster: Cluster, tmp_path: Path) -> None:
    r = ship(
        "--kubeconfig",
        str(cluster.kubeconfig),
        "--metrics-port",
        "0",
        "--store",
        "opensearch+http://admin:hunter2-canary@127.0.0.1:1",
        "--spool-dir",
        str(tmp_path / "spool"),
    )
    assert r.returncode == 2
    assert "hunter2-canary" not in r.stderr and "hunter2-canary" not in r.stdout
    assert "cannot reach OpenSearch" in r.stderr


def test_json_logs_are_json(cluster: Cluster, tmp_path: Path) -> None:
    cluster.server.apply("ADDED", pod(name="x", uid="u-x"))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kubetrail",
            "ship",
            "--kubeconfig",
            str(cluster.kubeconfig),
            "--store",
            f"sqlite:///{tmp_path / 'j.db'}",
            "--spool-dir",
            str(tmp_path / "spool"),
            "--metrics-port",
            "0",
            "--log-format",
            "json",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "CONFIG_PATH": ""},
    )
    time.sleep(3)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    entries = [json.loads(line) for line in err.strip().splitlines()]
    assert entries and all({"time", "level", "logger", "message"} <= e.keys() for e in entries)
    assert any(e.get("resource") == "pods" for e in entries)


def test_api_port_without_a_number_uses_server_port(cluster: Cluster, tmp_path: Path) -> None:
    import socket

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "resources.yaml"
    config.write_text(f"serverPort: {port}\nmaxQueryLimit: 7\n")
    cluster.server.apply("ADDED", pod(name="x", uid="u-x"))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kubetrail",
            "ship",
            "--kubeconfig",
            str(cluster.kubeconfig),
            "--config",
            str(config),
            "--store",
            f"sqlite:///{tmp_path / 'w.db'}",
            "--spool-dir",
            str(tmp_path / "spool"),
            "--metrics-port",
            "0",
            "--api-port",
            "--api-host",
            "127.0.0.1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        body = None
        while time.monotonic() < deadline and body is None:
            try:
                r = httpx.get(
                    f"http://127.0.0.1:{port}/api/v1/events", params={"limit": 8}, timeout=2
                )
                body = r
            except httpx.HTTPError:
                time.sleep(0.2)
        assert body is not None, "the API did not come up on serverPort"
        assert (
            body.status_code == 400 and "between 1 and 7" in body.json()["error"]
        )  # maxQueryLimit applies
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
