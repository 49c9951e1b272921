"""`kubetrail ship` as a user runs it: one-line errors, JSON logs, no secrets in logs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
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


def test_a_missing_kubeconfig_is_one_line_naming_it(tmp_path: Path) -> None:
    r = ship("--kubeconfig", str(tmp_path / "kc"), "--metrics-port", "0")
    assert r.returncode == 2
    assert r.stderr.strip() == f"kubetrail: error: kubeconfig {tmp_path / 'kc'} does not exist"
    r = ship("--kubeconfig", str(tmp_path), "--metrics-port", "0")
    assert r.returncode == 2
    assert r.stderr.strip() == (
        f"kubetrail: error: kubeconfig {tmp_path} is a directory, not a kubeconfig file"
    )


def test_no_kubeconfig_at_all_says_where_it_looked(tmp_path: Path) -> None:
    env = {**os.environ, "CONFIG_PATH": "", "HOME": str(tmp_path)}
    env.pop("KUBECONFIG", None)
    env.pop("KUBERNETES_SERVICE_HOST", None)
    r = subprocess.run(
        [sys.executable, "-m", "kubetrail", "ship", "--metrics-port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert r.returncode == 2
    assert r.stderr.strip() == (
        "kubetrail: error: no Kubernetes config: not running in a pod (no service account), "
        "and kubeconfig ~/.kube/config does not exist; pass --kubeconfig FILE"
    )


def test_an_invalid_kubeconfig_is_one_line(tmp_path: Path) -> None:
    kc = tmp_path / "kc.yaml"
    kc.write_text("apiVersion: v1\nkind: Config\n")
    r = ship("--kubeconfig", str(kc), "--metrics-port", "0")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and f"cannot load Kubernetes config from {kc}" in lines[0]


def test_an_unreachable_api_server_is_one_line_saying_which_and_what_to_check(
    tmp_path: Path,
) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    kc = tmp_path / "kc.yaml"
    kc.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: x\n"
        f"clusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:{port}'}}}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
    )
    r = ship("--kubeconfig", str(kc), "--metrics-port", "0", "--store", "sqlite:///x.db")
    assert r.returncode == 2
    # no urllib3 "Retrying (Retry(total=2 …" warnings, no MaxRetryError(HTTPSConnectionPool(…))
    assert r.stderr.strip() == (
        f"kubetrail: error: cannot reach the Kubernetes API server https://127.0.0.1:{port}: "
        "connection refused; check that the API server is running and the server address "
        "is right"
    )


def test_an_api_server_address_that_does_not_speak_tls_says_check_the_ca(
    tmp_path: Path,
) -> None:
    import http.server
    import threading

    plain = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=plain.serve_forever, daemon=True).start()
    port = plain.server_address[1]
    kc = tmp_path / "kc.yaml"
    kc.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: x\n"
        f"clusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:{port}'}}}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
    )
    try:
        r = ship("--kubeconfig", str(kc), "--metrics-port", "0", "--store", "sqlite:///x.db")
    finally:
        plain.shutdown()
        plain.server_close()
    assert r.returncode == 2
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith(
        f"kubetrail: error: cannot reach the Kubernetes API server https://127.0.0.1:{port}: TLS: "
    )
    assert err.endswith(
        "check the server address and the kubeconfig's certificate-authority "
        "(or the service account's CA in a pod)"
    )


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
    assert proc.stderr is not None
    lines: list[str] = []
    seen_pods = threading.Event()

    def read() -> None:  # until the shipper has logged about pods, however loaded the machine
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if '"resource": "pods"' in line or '"resource":"pods"' in line:
                seen_pods.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    seen_pods.wait(timeout=60)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    reader.join(timeout=10)
    assert proc.returncode == 0
    entries = [json.loads(line) for line in lines if line.strip()]
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


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _probe(port: int, path: str) -> tuple[int, str] | None:
    import httpx

    try:
        r = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2)
    except httpx.HTTPError:
        return None
    return r.status_code, r.text


def test_probes_answer_while_the_store_is_still_being_opened(
    cluster: Cluster, tmp_path: Path
) -> None:
    """The startup and liveness probes (/healthz) get 200 "starting" while the store cannot be
    opened yet (here: another connection holds SQLite's exclusive lock, as a long migration
    would hold the store), /readyz 503; once the store opens the shipper gets ready. A pod
    whose endpoints came up only after the migration would be killed by its startup probe."""
    import sqlite3

    cluster.server.apply("ADDED", pod(name="x", uid="u-x"))
    db = tmp_path / "locked.db"
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("CREATE TABLE held (x)")
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "kubetrail", "ship",
            "--kubeconfig", str(cluster.kubeconfig),
            "--store", f"sqlite:///{db}",
            "--spool-dir", str(tmp_path / "spool"),
            "--metrics-host", "127.0.0.1", "--metrics-port", str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "CONFIG_PATH": "", "KUBETRAIL_REDACTION_KEY": "test-key"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while _probe(port, "/healthz") is None and time.monotonic() < deadline:
            time.sleep(0.1)
        for _ in range(3):  # the store stays locked: still starting, still alive
            assert _probe(port, "/healthz") == (200, "starting")
            assert _probe(port, "/readyz") == (503, "starting")
            assert _probe(port, "/metrics") == (503, "starting")
            time.sleep(0.5)
        assert proc.poll() is None
        holder.execute("COMMIT")
        holder.close()
        deadline = time.monotonic() + 30
        while _probe(port, "/readyz") != (200, "ready") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _probe(port, "/readyz") == (200, "ready")
        assert _probe(port, "/healthz") == (200, "ok")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err


def test_without_a_redaction_key_the_shipper_warns_once(cluster: Cluster, tmp_path: Path) -> None:
    from kubetrail.cli.ship import DEFAULT_KEY_WARNING

    def run(env: dict[str, str]) -> str:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "kubetrail", "ship",
                "--kubeconfig", str(cluster.kubeconfig),
                "--store", f"sqlite:///{tmp_path / 'k.db'}",
                "--spool-dir", str(tmp_path / "spool"),
                "--metrics-port", "0",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**env, "CONFIG_PATH": ""},
        )  # fmt: skip
        time.sleep(4)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        return err

    env = {k: v for k, v in os.environ.items() if k != "KUBETRAIL_REDACTION_KEY"}
    assert run(env).count(DEFAULT_KEY_WARNING) == 1
    assert "KUBETRAIL_REDACTION_KEY" not in run({**env, "KUBETRAIL_REDACTION_KEY": "k"})
