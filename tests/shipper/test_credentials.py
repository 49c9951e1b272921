"""Credentials that expire, on a real kube-apiserver: the shipper keeps shipping.

A token has to stop working on demand, but the server will not issue one that lives less than
10 minutes. So each token here is bound to a Secret of its own
(``kubectl create token --bound-object-kind Secret``): deleting the Secret invalidates it at once.
The server's token cache may still accept a token it has already seen for up to 10 seconds, so
each test waits until the server answers 401 to the old token and only then changes objects.
Watches are renewed every 2 seconds (``watchTimeout``), so the next renewal meets the 401.

- an exec plugin (``kubetrail ship`` as a user runs it, its kubeconfig's ``exec``): a 401 runs
  the plugin again, once, and the watch resumes from where it was;
- the plugin's ``expirationTimestamp``: the client runs the plugin again before that moment,
  once for all the watch threads, and no 401 ever happens;
- fresh credentials rejected too: said once, retried with backoff, and shipping resumes once
  they work;
- in cluster: the rotated service-account token file is read again on a 401.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from kubetrail.events.redact import RedactionPolicy
from kubetrail.shipper.kube import Kube, connect
from kubetrail.shipper.service import Shipper
from kubetrail.store.sqlite import SQLiteStore, open_embedded
from tests.support.kube_apiservers import RealCluster
from tests.support.shipping import config, stored_ids, wait_until

#: an exec credential plugin: the token in argv[1], and the expirationTimestamp in
#: argv[1] + ".expiry" when that file exists; each run appends a line to argv[2]
PLUGIN = """\
import json, os, sys
token_file, runs_file = sys.argv[1], sys.argv[2]
with open(runs_file, "a") as f:
    f.write("run\\n")
status = {"token": open(token_file).read().strip()}
if os.path.exists(token_file + ".expiry"):
    status["expirationTimestamp"] = open(token_file + ".expiry").read().strip()
print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": status}))
"""

REJECTED = "rejected the credentials"
#: the Python client runs the plugin again this long before the expirationTimestamp
CLIENT_EXPIRY_SKEW = timedelta(minutes=5)


def write_atomically(path: Path, text: str) -> None:
    """As the kubelet rotates a projected token: never a half-written file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


class Tokens:
    """Tokens of one ServiceAccount that may read ConfigMaps and Namespaces, each bound to its
    own Secret in a namespace of its own (not the one shipped)."""

    def __init__(self, cluster: RealCluster, tmp_path: Path) -> None:
        self.cluster = cluster
        admin = yaml.safe_load(cluster.kubeconfig.read_text())
        entry = admin["clusters"][0]["cluster"]
        self.server: str = entry["server"]
        self.ca_data: str = entry["certificate-authority-data"]
        self.ca_file = tmp_path / "ca.crt"
        self.ca_file.write_bytes(base64.b64decode(self.ca_data))
        self.ns = cluster.namespace("kt-cred-auth")
        self.role = f"{self.ns}-reader"
        cluster.kubectl("create", "serviceaccount", "shipper", "-n", self.ns)
        cluster.kubectl(
            "create", "clusterrole", self.role,
            "--verb=get,list,watch", "--resource=configmaps,namespaces",
        )  # fmt: skip
        cluster.kubectl(
            "create", "clusterrolebinding", self.role,
            f"--clusterrole={self.role}", f"--serviceaccount={self.ns}:shipper",
        )  # fmt: skip

    def mint(self, name: str) -> str:
        self.cluster.kubectl("create", "secret", "generic", name, "-n", self.ns)
        return self.cluster.kubectl(
            "create", "token", "shipper", "-n", self.ns, "--duration=10m",
            "--bound-object-kind=Secret", f"--bound-object-name={name}",
        ).stdout.strip()  # fmt: skip

    def status(self, token: str) -> int:
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        return httpx.get(
            f"{self.server}/api/v1/namespaces/{self.ns}/configmaps",
            headers={"Authorization": f"Bearer {token}"},
            verify=ctx,
            timeout=10,
        ).status_code

    def revoke(self, name: str, token: str) -> None:
        """Delete the token's Secret and wait until the server rejects the token."""
        assert self.status(token) == 200
        self.cluster.kubectl("delete", "secret", name, "-n", self.ns)
        wait_until(lambda: self.status(token) == 401, 30, "the server to reject the old token")

    def exec_kubeconfig(self, path: Path, token_file: Path, runs_file: Path) -> Path:
        plugin = path.with_name("plugin.py")
        plugin.write_text(PLUGIN)
        user = {
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1",
                "command": sys.executable,
                "args": [str(plugin), str(token_file), str(runs_file)],
                "interactiveMode": "Never",
            }
        }
        kubeconfig = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "c",
                    "cluster": {"server": self.server, "certificate-authority-data": self.ca_data},
                }
            ],
            "users": [{"name": "plugin", "user": user}],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": "plugin"}}],
            "current-context": "c",
        }
        path.write_text(yaml.safe_dump(kubeconfig))
        return path

    def close(self) -> None:
        for kind in ("clusterrolebinding", "clusterrole"):
            self.cluster.kubectl("delete", kind, self.role, check=False)


@pytest.fixture
def tokens(real_kube: RealCluster, tmp_path: Path) -> Iterator[Tokens]:
    t = Tokens(real_kube, tmp_path)
    yield t
    t.close()


def vid(obj: dict[str, Any]) -> str:
    """The document id of this version of ``obj`` (create or update)."""
    return f"{obj['metadata']['uid']}:{obj['metadata']['resourceVersion']}"


def assert_shipped(
    store: SQLiteStore, ids: set[str], deleted: set[str] = frozenset(), *, timeout: float = 30
) -> None:
    """These versions and one delete per uid in ``deleted`` (a ConfigMap's DELETE does not
    say its resourceVersion), each stored once, nothing else."""

    def stored() -> tuple[list[str], list[str]]:
        got = stored_ids(store)
        return got, [i.split(":")[0] for i in got if i.endswith(":delete")]

    def done() -> bool:
        got, deletes = stored()
        return ids <= set(got) and deleted <= set(deletes)

    wait_until(done, timeout, "the store to hold every change")
    time.sleep(0.5)  # anything stored twice would show up now
    got, deletes = stored()
    assert len(got) == len(set(got)), "a version was stored twice"
    assert {i for i in got if not i.endswith(":delete")} == ids
    assert sorted(deletes) == sorted(deleted)


def changes_after_the_token_died(cluster: RealCluster, ns: str, before: dict[str, Any]) -> set[str]:
    """A create, an update and the delete of ``before``; the ids of the versions written."""
    created = cluster.kubectl_json("create", "configmap", "after", "-n", ns, "--from-literal=a=1")
    patch = json.dumps({"data": {"a": "2"}})
    updated = cluster.kubectl_json(
        "patch", "configmap", "after", "-n", ns, "--type=merge", "-p", patch
    )
    cluster.delete(f"/api/v1/namespaces/{ns}/configmaps/{before['metadata']['name']}")
    return {vid(created), vid(updated)}


@contextmanager
def shipping(kube: Kube, store: SQLiteStore, tmp_path: Path, *ns: str) -> Iterator[Shipper]:
    """ConfigMaps of these namespaces: one watch thread each."""
    cfg = config(
        tmp_path,
        include=("configmaps",),
        namespaces=ns,
        discover_crds=False,
        watch_timeout=2,
        stall_timeout=90.0,
    )
    shipper = Shipper(kube=kube, store=store, config=cfg, policy=RedactionPolicy())
    shipper.start()
    try:
        assert shipper.wait_synced(60), "watchers did not finish their first list"
        yield shipper
    finally:
        shipper.stop()


def metric(shipper: Shipper, name: str) -> float:
    return sum(
        s.value for m in shipper.metrics.registry.collect() for s in m.samples if s.name == name
    )


def runs(runs_file: Path) -> int:
    return len(runs_file.read_text().splitlines()) if runs_file.exists() else 0


def test_exec_plugin_token_revoked_the_command_reloads_once_and_resumes(
    real_kube: RealCluster, tokens: Tokens, tmp_path: Path
) -> None:
    """``kubetrail ship`` with a kubeconfig whose exec plugin hands out tokens that expire
    without saying when (as aws-iam-authenticator used to): the first one stops working, the
    next watch renewal gets a 401, the plugin runs once more, the watch resumes from its
    resourceVersion (no relist, no restart), and the log says so once."""
    ns = real_kube.namespace("kt-cred-exec")
    token_file, runs_file = tmp_path / "token", tmp_path / "runs"
    first = tokens.mint("token-1")
    write_atomically(token_file, first)
    kubeconfig = tokens.exec_kubeconfig(tmp_path / "kubeconfig", token_file, runs_file)
    cfg = tmp_path / "resources.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "include": ["configmaps"],
                "namespaces": [ns],
                "discoverCRDs": False,
                "watchTimeout": 2,
            }
        )
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    db = tmp_path / "ship.db"
    log_file = tmp_path / "ship.log"
    with log_file.open("w") as err:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "kubetrail", "ship",
                "--kubeconfig", str(kubeconfig), "--config", str(cfg),
                "--store", f"sqlite:///{db}", "--spool-dir", str(tmp_path / "spool"),
                "--metrics-host", "127.0.0.1", "--metrics-port", str(port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, "KUBETRAIL_REDACTION_KEY": uuid.uuid4().hex},
        )  # fmt: skip
    reader: SQLiteStore | None = None
    try:

        def ready() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, 60, "the shipper's /readyz")
        reader = open_embedded(db)
        before = real_kube.kubectl_json("create", "configmap", "before", "-n", ns)
        assert_shipped(reader, {vid(before)})
        assert runs(runs_file) == 1

        second = tokens.mint("token-2")
        write_atomically(token_file, second)
        tokens.revoke("token-1", first)
        expected = {vid(before)} | changes_after_the_token_died(real_kube, ns, before)
        assert_shipped(reader, expected, {before["metadata"]["uid"]})
        time.sleep(3)  # another watch renewal or two with the fresh token
        assert runs(runs_file) == 2, "the plugin runs once at start and once after the 401"
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        counted = {  # a labelled counter shows once it has a label: none is no restart
            s.name: s.value
            for family in text_string_to_metric_families(metrics)
            for s in family.samples
            if s.name in ("kubetrail_relists_410_total", "kubetrail_watch_restarts_total")
        }
        assert not any(counted.values()), counted
        assert "kubetrail_events_received_total" in metrics
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if reader is not None:
            reader.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = log_file.read_text()
    assert proc.returncode == 0, log[-2000:]
    said = [line for line in log.splitlines() if REJECTED in line]
    assert len(said) == 1, log[-3000:]
    assert "WARNING" in said[0] and str(kubeconfig) in said[0]
    assert "Traceback" not in log and " ERROR " not in log, log[-3000:]
    assert first not in log and second not in log, "a token reached the log"


def test_exec_plugin_expiration_timestamp_runs_it_again_before_any_401(
    real_kube: RealCluster, tokens: Tokens, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A plugin that says when its token expires (``aws eks get-token`` does) is run again by
    the client shortly before that moment, once for all the watch threads; the old token can
    then die without a single 401."""
    ns = real_kube.namespace("kt-cred-expiry")
    quiet = real_kube.namespace("kt-cred-expiry")  # a second watch thread, renewing too
    token_file, runs_file = tmp_path / "token", tmp_path / "runs"
    first = tokens.mint("token-1")
    write_atomically(token_file, first)
    # as the client sees it, this token expires in 8 seconds: it runs the plugin again then
    soon = datetime.now(UTC) + CLIENT_EXPIRY_SKEW + timedelta(seconds=8)
    write_atomically(tmp_path / "token.expiry", soon.strftime("%Y-%m-%dT%H:%M:%SZ"))
    kube = connect(kubeconfig=str(tokens.exec_kubeconfig(tmp_path / "kc", token_file, runs_file)))
    store = open_embedded(tmp_path / "ship.db")
    caplog.set_level(logging.INFO, logger="kubetrail")
    try:
        with shipping(kube, store, tmp_path, ns, quiet) as shipper:
            assert runs(runs_file) == 1
            second = tokens.mint("token-2")
            write_atomically(token_file, second)
            later = datetime.now(UTC) + timedelta(hours=1)
            write_atomically(tmp_path / "token.expiry", later.strftime("%Y-%m-%dT%H:%M:%SZ"))
            wait_until(lambda: runs(runs_file) >= 2, 30, "the client to run the plugin again")
            tokens.revoke("token-1", first)
            before = real_kube.kubectl_json("create", "configmap", "before", "-n", ns)
            expected = {vid(before)} | changes_after_the_token_died(real_kube, ns, before)
            assert_shipped(store, expected, {before["metadata"]["uid"]})
            time.sleep(3)
            assert runs(runs_file) == 2, "once for all the threads, then not until 1h from now"
            assert metric(shipper, "kubetrail_watch_restarts_total") == 0
            assert metric(shipper, "kubetrail_relists_410_total") == 0
    finally:
        store.close()
    assert not [r for r in caplog.records if REJECTED in r.getMessage()], "a 401 happened"


def test_fresh_credentials_rejected_too_said_once_and_shipping_resumes_when_they_work(
    real_kube: RealCluster, tokens: Tokens, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The token dies before the plugin hands out a new one: the reload gets the dead token
    again. That is said once (an error), the watch keeps retrying with backoff (no relist,
    no crash), and once the plugin hands out a working token the changes made meanwhile are
    stored and the log says the credentials work again."""
    ns = real_kube.namespace("kt-cred-late")
    token_file, runs_file = tmp_path / "token", tmp_path / "runs"
    first = tokens.mint("token-1")
    write_atomically(token_file, first)
    kube = connect(kubeconfig=str(tokens.exec_kubeconfig(tmp_path / "kc", token_file, runs_file)))
    store = open_embedded(tmp_path / "ship.db")
    caplog.set_level(logging.INFO, logger="kubetrail")

    def said(text: str) -> list[logging.LogRecord]:
        return [r for r in caplog.records if text in r.getMessage()]

    try:
        with shipping(kube, store, tmp_path, ns) as shipper:
            before = real_kube.kubectl_json("create", "configmap", "before", "-n", ns)
            assert_shipped(store, {vid(before)})
            tokens.revoke("token-1", first)
            expected = {vid(before)} | changes_after_the_token_died(real_kube, ns, before)
            wait_until(lambda: said("rejects the credentials"), 30, "the error")
            write_atomically(token_file, tokens.mint("token-2"))
            assert_shipped(store, expected, {before["metadata"]["uid"]}, timeout=60)
            assert metric(shipper, "kubetrail_relists_410_total") == 0
    finally:
        store.close()
    assert [r.levelno for r in said(REJECTED)] == [logging.WARNING]
    assert [r.levelno for r in said("rejects the credentials")] == [logging.ERROR]
    assert [r.levelno for r in said("accepts the credentials")] == [logging.WARNING]


def test_in_cluster_token_file_rotated_is_read_again_after_a_401(
    real_kube: RealCluster,
    tokens: Tokens,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """In a pod: the kubelet rotates the projected token file. The client reads the file
    again at most once a minute, so a token that dies before then gets a 401, and the file is
    read again right away; the watch resumes."""
    ns = real_kube.namespace("kt-cred-pod")
    sa_dir = tmp_path / "serviceaccount"
    sa_dir.mkdir()
    (sa_dir / "ca.crt").write_bytes(tokens.ca_file.read_bytes())
    first = tokens.mint("token-1")
    write_atomically(sa_dir / "token", first)
    host, _, port = tokens.server.removeprefix("https://").rpartition(":")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", host)
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", port)
    kube = connect(service_account_dir=str(sa_dir))
    assert kube.credentials.source == f"the token file {sa_dir / 'token'}"
    store = open_embedded(tmp_path / "ship.db")
    caplog.set_level(logging.INFO, logger="kubetrail")
    try:
        with shipping(kube, store, tmp_path, ns) as shipper:
            before = real_kube.kubectl_json("create", "configmap", "before", "-n", ns)
            assert_shipped(store, {vid(before)})
            second = tokens.mint("token-2")
            write_atomically(sa_dir / "token", second)
            tokens.revoke("token-1", first)
            expected = {vid(before)} | changes_after_the_token_died(real_kube, ns, before)
            assert_shipped(store, expected, {before["metadata"]["uid"]})
            assert metric(shipper, "kubetrail_watch_restarts_total") == 0
            assert metric(shipper, "kubetrail_relists_410_total") == 0
    finally:
        store.close()
    said = [r for r in caplog.records if REJECTED in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.WARNING
    assert str(sa_dir / "token") in said[0].getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert all(first not in r.getMessage() and second not in r.getMessage() for r in caplog.records)
