"""Who made each change, end to end on a real API server started with ``--audit``.

The module starts its own kube-apiserver and etcd (``scripts/kube-apiserver start --audit
--audit-webhook URL``: the audit log on disk, the same events POSTed to ``kubetrail api
--accept-audit`` on a loopback port, over HTTPS with a test CA and a bearer token: the API
server sends a webhook's token over TLS only). Two users, the ServiceAccounts ``alice`` and ``bob`` with a Role that lets
them edit Deployments and ConfigMaps, each with a token of their own (``kubectl create
token``), change the same Deployment and the same ConfigMap in turns, with kubectl. Two
shippers store every version: one into the store the webhook writes to, one into a store
the audit log file is then ingested into with ``kubetrail ingest``. In both, each version's
``user`` is the ServiceAccount that made it: ``audit-exact`` for the Deployment (the
recommended policy logs workload writes at RequestResponse level: the response names the
version), ``audit-nearest`` for the ConfigMap (Metadata level: by object, verb and time).

Port and data directory: ``KUBETRAIL_TEST_AUDIT_PORT`` / ``KUBETRAIL_TEST_AUDIT_DATA_DIR``,
else a free port and a temporary directory. Skips, saying why, where the real API server
cases do (``KUBETRAIL_TEST_KUBECONFIG=skip``, or a machine that cannot build it).
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from kubetrail.events.redact import RedactionPolicy
from kubetrail.shipper.kube import Kube, load_client
from kubetrail.shipper.service import Shipper
from kubetrail.store.base import EventFilter, EventQuery
from kubetrail.store.sqlite import SQLiteStore, open_embedded
from tests.support.kube_apiservers import RealCluster, audited_kube_cluster
from tests.support.servers import free_port
from tests.support.shipping import config, wait_until

TOKEN = "kubetrail-audit-webhook-token-3b9d"
ALICE = "system:serviceaccount:{ns}:alice"
BOB = "system:serviceaccount:{ns}:bob"


@dataclass
class Scenario:
    cluster: RealCluster
    ns: str
    audit_log: Path
    webhook_store: SQLiteStore  # the webhook writes here; a shipper too
    log_store_path: Path  # a shipper writes here; the audit log is ingested into it
    api_url: str  # the API taking the webhook (https), over webhook_store's file
    api_ca: Path
    #: document id → (user, userSource) every version must end up with
    expected: dict[str, tuple[str, str]] = field(default_factory=dict)
    deployment_uid: str = ""
    configmap_uid: str = ""


def _user_kubeconfig(cluster: RealCluster, token: str, path: Path) -> Path:
    """A kubeconfig with the admin's server and CA and only this bearer token."""
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    server = admin["clusters"][0]["cluster"]
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": server}],
        "users": [{"name": "u", "user": {"token": token}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
    }
    path.write_text(yaml.safe_dump(cfg))
    path.chmod(0o600)
    return path


def _shipper(cluster: RealCluster, store: SQLiteStore, tmp: Path, ns: str) -> Shipper:
    cfg = config(
        tmp,
        include=("deployments.apps", "configmaps"),
        namespaces=(ns,),
        stall_timeout=90.0,
    )
    return Shipper(
        kube=Kube(load_client(kubeconfig=str(cluster.kubeconfig))),
        store=store,
        config=cfg,
        policy=RedactionPolicy(),
    )


def _deployment(ns: str, image: str) -> dict[str, Any]:
    labels = {"app": "web"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": ns, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
        },
    }


def _trusting(ca: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca))


def _serving_certificate(tmp: Path) -> tuple[Path, Path, Path]:
    """A CA and a certificate for 127.0.0.1 signed by it (the webhook sends its token over
    TLS only): CA, certificate, key."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=tmp, check=True, capture_output=True)

    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca-key.pem",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=kubetrail-test-webhook-ca",
    )
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "key.pem",
        "-out",
        "req.csr",
        "-subj",
        "/CN=127.0.0.1",
    )
    (tmp / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl(
        "x509",
        "-req",
        "-in",
        "req.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca-key.pem",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "cert.pem",
    )
    return tmp / "ca.pem", tmp / "cert.pem", tmp / "key.pem"


@contextmanager
def _webhook_api(tmp: Path, db: Path) -> Iterator[tuple[str, Path]]:
    """``kubetrail api --accept-audit`` over HTTPS with a bearer token: its URL and CA."""
    ca, cert, key = _serving_certificate(tmp)
    port = free_port()
    env = {**os.environ, "KUBETRAIL_API_TOKEN": TOKEN}
    log = (tmp / "api.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kubetrail",
            "api",
            "--accept-audit",
            "--store",
            f"sqlite:///{db}",
            "--port",
            str(port),
            "--tls-cert",
            str(cert),
            "--tls-key",
            str(key),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"https://127.0.0.1:{port}"
    try:

        def up() -> bool:
            try:
                return (
                    httpx.get(f"{url}/health", verify=_trusting(ca), timeout=2).status_code == 200
                )
            except httpx.HTTPError:
                assert proc.poll() is None, (tmp / "api.log").read_text()
                return False

        wait_until(up, 30, "kubetrail api --accept-audit to listen")
        yield url, ca
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    tmp = tmp_path_factory.mktemp("audit")
    data_dir = Path(os.environ.get("KUBETRAIL_TEST_AUDIT_DATA_DIR") or tmp / "kube")
    token_file = tmp / "webhook-token"
    token_file.write_text(TOKEN)
    with ExitStack() as stack:
        api_url, ca = stack.enter_context(_webhook_api(tmp, tmp / "webhook.db"))
        webhook_store = open_embedded(tmp / "webhook.db")  # the shipper's, the API's too
        stack.callback(webhook_store.close)
        cluster = stack.enter_context(
            audited_kube_cluster(
                data_dir,
                webhook=f"{api_url}/api/v1/audit",
                token_file=token_file,
                ca_file=ca,
            )
        )
        state = json.loads((cluster.kubeconfig.parent / "state.json").read_text())
        ns = cluster.namespace("audit")
        # two users who may edit Deployments and ConfigMaps there, with a token each
        role = "deployments.apps,deployments.apps/scale,configmaps"
        verbs = "get,list,watch,create,update,patch,delete"
        cluster.kubectl(
            "-n", ns, "create", "role", "editor", f"--verb={verbs}", f"--resource={role}"
        )
        users = {}
        for name in ("alice", "bob"):
            cluster.kubectl("-n", ns, "create", "serviceaccount", name)
            cluster.kubectl(
                "-n",
                ns,
                "create",
                "rolebinding",
                f"{name}-edits",
                "--role=editor",
                f"--serviceaccount={ns}:{name}",
            )
            token = cluster.kubectl("-n", ns, "create", "token", name).stdout.strip()
            users[name] = _user_kubeconfig(cluster, token, tmp / f"{name}.kubeconfig")
        log_store = open_embedded(tmp / "ship.db")
        stack.callback(log_store.close)
        for i, store in enumerate((webhook_store, log_store)):
            shipper = _shipper(cluster, store, tmp / f"shipper-{i}", ns)
            shipper.start()
            stack.callback(shipper.stop)
            assert shipper.wait_synced(60), "watchers did not finish their first list"
        s = Scenario(
            cluster=cluster,
            ns=ns,
            audit_log=Path(state["audit_log"]),
            webhook_store=webhook_store,
            log_store_path=tmp / "ship.db",
            api_url=api_url,
            api_ca=ca,
        )
        _change_things(s, users)
        for store in (webhook_store, log_store):
            wait_until(
                lambda store=store: set(s.expected) <= {d["id"] for d in _docs(store)},
                60,
                "both shippers to store every version",
            )
        yield s


def _change_things(s: Scenario, users: dict[str, Path]) -> None:
    """alice and bob take turns changing one Deployment and one ConfigMap."""
    alice, bob = ALICE.format(ns=s.ns), BOB.format(ns=s.ns)

    def as_user(who: str, obj: str, *args: str, input: str | None = None) -> dict[str, Any]:
        """Run kubectl as ``who``; the object as stored now. Not what kubectl printed:
        ``kubectl scale`` prints the version it read before scaling. Nothing else writes
        these objects (no controllers run), so the version now is the one just made."""
        s.cluster.kubectl(*args, input=input, kubeconfig=users[who])
        return s.cluster.kubectl_json("-n", s.ns, "get", obj)

    def version(obj: dict[str, Any], who: str, source: str) -> None:
        meta = obj["metadata"]
        s.expected[f"{meta['uid']}:{meta['resourceVersion']}"] = (who, source)

    exact, nearest = "audit-exact", "audit-nearest"
    web, settings = "deployment/web", "configmap/settings"
    dep = as_user(
        "alice", web, "-n", s.ns, "create", "-f", "-", input=json.dumps(_deployment(s.ns, "web:1"))
    )
    s.deployment_uid = dep["metadata"]["uid"]
    version(dep, alice, exact)
    version(
        as_user("bob", web, "-n", s.ns, "set", "image", "deployment/web", "web=web:2"), bob, exact
    )
    version(
        as_user("alice", web, "-n", s.ns, "scale", "deployment/web", "--replicas=3"), alice, exact
    )
    version(
        as_user("bob", web, "-n", s.ns, "label", "deployment/web", "changed-by=bob"), bob, exact
    )
    cm = as_user(
        "alice", settings, "-n", s.ns, "create", "configmap", "settings", "--from-literal=mode=a"
    )
    s.configmap_uid = cm["metadata"]["uid"]
    version(cm, alice, nearest)
    time.sleep(0.3)
    patch = json.dumps({"data": {"mode": "b"}})
    version(
        as_user("bob", settings, "-n", s.ns, "patch", "configmap", "settings", "-p", patch),
        bob,
        nearest,
    )
    time.sleep(0.3)
    patch = json.dumps({"data": {"mode": "c"}})
    version(
        as_user("alice", settings, "-n", s.ns, "patch", "configmap", "settings", "-p", patch),
        alice,
        nearest,
    )
    # a deletion names no version (its response is a Status): bob's, joined by time
    gone = s.cluster.kubectl("-n", s.ns, "delete", "configmap", "settings", kubeconfig=users["bob"])
    assert gone.returncode == 0
    s.expected[f"{s.configmap_uid}:delete"] = (bob, nearest)


def _docs(store: SQLiteStore) -> list[dict[str, Any]]:
    page = store.search(EventQuery(filter=EventFilter(), limit=5000))
    docs = []
    for d in page.items:
        ident = d["id"]
        if d["verb"] == "delete":  # its id's version is the deletion's: compare by uid
            ident = f"{d['uid']}:delete"
        docs.append({**d, "id": ident})
    return docs


def _who(store: SQLiteStore, ns: str) -> dict[str, tuple[str, str]]:
    return {
        d["id"]: (d["user"], d.get("userSource", ""))
        for d in _docs(store)
        if d["namespace"] == ns and not d["snapshot"]
    }


def test_the_webhook_names_who_made_each_version(scenario: Scenario) -> None:
    """The API server POSTs its audit events to kubetrail's webhook (a second after each
    write); each version the shipper stored becomes its user's, and the REST API finds
    them by user and shows who made each version of the Deployment."""

    def joined() -> bool:
        got = _who(scenario.webhook_store, scenario.ns)
        return all(got.get(i) == want for i, want in scenario.expected.items())

    try:
        wait_until(joined, 60, "the webhook's audit events to be joined")
    except AssertionError:
        got = _who(scenario.webhook_store, scenario.ns)
        wrong = {i: (got.get(i), w) for i, w in scenario.expected.items() if got.get(i) != w}
        raise AssertionError(f"versions not joined as expected (got, wanted): {wrong}") from None
    assert _who(scenario.webhook_store, scenario.ns) == scenario.expected

    alice, bob = ALICE.format(ns=scenario.ns), BOB.format(ns=scenario.ns)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    client = httpx.Client(
        base_url=scenario.api_url, headers=auth, timeout=30, verify=_trusting(scenario.api_ca)
    )
    with client as http:
        found = http.get("/api/v1/events", params={"namespace": scenario.ns, "user": alice}).json()
        assert {(d["user"], d["kind"]) for d in found} == {
            (alice, "Deployment"),
            (alice, "ConfigMap"),
        }
        assert len(found) == sum(1 for who, _ in scenario.expected.values() if who == alice)
        history = http.get(f"/api/v1/events/{scenario.ns}/deployments/web").json()
        who = [(v.get("user"), v.get("userSource")) for v in history["history"]]
        assert who == [
            (alice, "audit-exact"),
            (bob, "audit-exact"),
            (alice, "audit-exact"),
            (bob, "audit-exact"),
        ]


def test_the_ingested_audit_log_names_who_made_each_version(scenario: Scenario) -> None:
    """``kubetrail ingest`` of the API server's audit log file, while the shipper writes to
    the same store; a second ingest changes nothing."""
    store_url = f"sqlite:///{scenario.log_store_path}"
    ingest = [sys.executable, "-m", "kubetrail", "ingest", "--store", store_url, "--quiet"]
    first = subprocess.run(
        [*ingest, str(scenario.audit_log)], capture_output=True, text=True, timeout=300
    )
    assert first.returncode == 0, first.stderr
    summary = first.stderr.strip().splitlines()[-1]
    assert "audit events" in summary and "0 kept before" in summary, summary
    with _read_only(scenario.log_store_path) as store:
        assert _who(store, scenario.ns) == scenario.expected
    again = subprocess.run(
        [*ingest, str(scenario.audit_log)], capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stderr
    assert ": 0 writes kept" in again.stderr, again.stderr
    with _read_only(scenario.log_store_path) as store:
        assert _who(store, scenario.ns) == scenario.expected


@contextmanager
def _read_only(path: Path) -> Iterator[SQLiteStore]:
    store = open_embedded(path, read_only=True)
    try:
        yield store
    finally:
        store.close()
