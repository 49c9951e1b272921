"""The manifests on a real API server (``scripts/kube-apiserver``: kube-apiserver and etcd
with RBAC and Pod Security admission; no kubelet, no controllers, so nothing runs a Pod).

- Every variant passes ``kubectl apply --dry-run=server``: the server's own validation and
  admission (the namespace enforces the *restricted* Pod Security Standard) accept every
  object, without a warning.
- The ClusterRole, ServiceAccount and binding are applied for real, and the shipper runs as
  a process with a token of that ServiceAccount (``kubectl create token``): it may not exec,
  attach or proxy (``kubectl auth can-i`` answers no), gets no 403 for anything it watches,
  and ships what is there. With ``components/no-secrets`` it logs once that Secrets are not
  readable, never asks again, and ships everything else.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from kubetrail.store.base import EventFilter, EventQuery
from kubetrail.store.sqlite import open_embedded
from tests.support.kube_apiservers import RealCluster
from tests.support.manifests import VARIANTS, find, render
from tests.support.plaintext import stored_bytes
from tests.support.shipping import wait_until

CANARY = "kubetrail-deploy-canary-3e81d0"
RBAC_KINDS = ("Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding")
SERVICE_ACCOUNT = "system:serviceaccount:kubetrail:kubetrail"


def as_yaml(docs: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(list(docs), sort_keys=False)


@pytest.fixture(scope="module")
def cluster(real_kube: RealCluster) -> Iterator[RealCluster]:
    """The real server with the namespace kubetrail (dry runs of namespaced objects need it to
    exist); the role and binding applied by the tests are removed afterwards."""
    real_kube.kubectl("apply", "-f", "-", input=as_yaml(find(render("embedded"), "Namespace")))
    yield real_kube
    real_kube.kubectl(
        "delete", "clusterrolebinding,clusterrole", "kubetrail", "--ignore-not-found", check=False
    )


# -- every variant, as the server admits it ---------------------------------------------


def test_pod_security_admission_warns_here(cluster: RealCluster) -> None:
    """What makes the next test's "no warning" mean something: a Deployment the restricted
    standard forbids is answered with a warning in this namespace."""
    bad = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "too-privileged", "namespace": "kubetrail"},
        "spec": {
            "selector": {"matchLabels": {"app": "x"}},
            "template": {
                "metadata": {"labels": {"app": "x"}},
                "spec": {
                    "containers": [
                        {"name": "x", "image": "x", "securityContext": {"privileged": True}}
                    ]
                },
            },
        },
    }
    proc = cluster.kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(bad))
    assert "would violate PodSecurity" in proc.stderr


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_passes_a_server_side_dry_run(cluster: RealCluster, variant: str) -> None:
    proc = cluster.kubectl(
        "apply", "--dry-run=server", "-f", "-", input=as_yaml(render(variant)), check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert not proc.stderr.strip(), f"the server warned:\n{proc.stderr}"
    applied = [ln for ln in proc.stdout.splitlines() if ln.endswith("(server dry run)")]
    assert len(applied) == len(render(variant)), proc.stdout


# -- the shipper's identity, for real -----------------------------------------------------


def use_role(cluster: RealCluster, variant: str, work: Path) -> Path:
    """Apply the variant's Namespace, ServiceAccounts, ClusterRole and binding for real; a
    kubeconfig with a fresh token of the ServiceAccount kubetrail (as its pod would have)."""
    rbac = [d for d in render(variant) if d["kind"] in RBAC_KINDS]
    cluster.kubectl("apply", "-f", "-", input=as_yaml(rbac))
    token = cluster.kubectl(
        "-n", "kubetrail", "create", "token", "kubetrail", "--duration=1h"
    ).stdout.strip()
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": admin["clusters"][:1],
        "users": [{"name": "kubetrail", "user": {"token": token}}],
        "contexts": [
            {
                "name": "kubetrail",
                "context": {"cluster": admin["clusters"][0]["name"], "user": "kubetrail"},
            }
        ],
        "current-context": "kubetrail",
    }
    path = work / f"shipper-{variant}.kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig))
    # the authorizer follows RBAC objects through a watch: wait until the role is in force
    secrets = "no" if "no-secrets" in variant else "yes"
    wait_until(lambda: can_i(cluster, path, "list", "secrets") == secrets, 30, "the role in force")
    return path


def can_i(cluster: RealCluster, kubeconfig: Path, verb: str, what: str) -> str:
    proc = cluster.kubectl(
        "auth", "can-i", verb, what, "--all-namespaces", kubeconfig=kubeconfig, check=False
    )
    answer = proc.stdout.strip()
    assert answer in ("yes", "no"), proc.stderr
    return answer


@pytest.mark.parametrize("variant", ["embedded", "embedded+no-secrets"])
def test_the_shipper_account_may_not_exec_attach_or_proxy(
    cluster: RealCluster, variant: str, tmp_path: Path
) -> None:
    kubeconfig = use_role(cluster, variant, tmp_path)
    whoami = cluster.kubectl("auth", "whoami", "-o", "json", kubeconfig=kubeconfig).stdout
    assert json.loads(whoami)["status"]["userInfo"]["username"] == SERVICE_ACCOUNT
    for verb, what in [
        ("create", "pods/exec"),
        ("get", "pods/exec"),  # an exec over WebSocket is authorized as get
        ("get", "nodes/proxy"),  # the kubelet's API, exec included
        ("create", "nodes/proxy"),
        ("get", "pods/attach"),
        ("create", "pods/attach"),
        ("create", "pods/portforward"),
        ("get", "pods/proxy"),
        ("get", "services/proxy"),
        ("get", "pods/log"),
        ("get", "pods"),  # list and watch only; get where the shipper reads one object
        ("get", "secrets"),
        ("create", "pods"),
        ("delete", "pods"),
    ]:
        assert can_i(cluster, kubeconfig, verb, what) == "no", (verb, what)
    for verb, what in [
        ("list", "pods"),
        ("watch", "pods"),
        ("watch", "deployments.apps"),
        ("watch", "customresourcedefinitions.apiextensions.k8s.io"),
        ("get", "namespaces/kube-system"),  # the cluster's identity: its uid
    ]:
        assert can_i(cluster, kubeconfig, verb, what) == "yes", (verb, what)
    full = variant == "embedded"
    assert can_i(cluster, kubeconfig, "watch", "secrets") == ("yes" if full else "no")
    assert can_i(cluster, kubeconfig, "watch", "widgets.example.com") == ("yes" if full else "no")


# -- the shipper with that token ----------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ShipperProcess:
    """``kubetrail ship`` as the pod runs it (the rendered resources.yaml, JSON logs), with
    the ServiceAccount's kubeconfig, into an embedded store."""

    def __init__(self, kubeconfig: Path, variant: str, work: Path) -> None:
        (cm,) = find(render(variant), "ConfigMap")
        config = work / "resources.yaml"
        config.write_text(cm["data"]["resources.yaml"])
        self.db = work / "kubetrail.db"
        self.log = work / "ship.log"
        self.port = _free_port()
        env = {k: v for k, v in os.environ.items() if k != "CONFIG_PATH"}
        env["KUBETRAIL_REDACTION_KEY"] = "deploy-test-key"
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "kubetrail", "ship",
                "--kubeconfig", str(kubeconfig),
                "--config", str(config),
                "--store", f"sqlite:///{self.db}",
                "--spool-dir", str(work / "spool"),
                "--metrics-host", "127.0.0.1", "--metrics-port", str(self.port),
                "--log-format", "json",
            ],
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("wb"),
            env=env,
        )  # fmt: skip

    def get(self, path: str) -> httpx.Response | None:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=5)
        except httpx.HTTPError:
            return None

    def wait_ready(self) -> None:
        def ready() -> bool:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            r = self.get("/readyz")
            return r is not None and r.status_code == 200

        wait_until(ready, 90, "the shipper's /readyz")

    def records(self) -> list[dict[str, Any]]:
        lines = self.log.read_text().splitlines()
        return [json.loads(ln) for ln in lines if ln.startswith("{")]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)
        assert self.proc.returncode == 0, self.log.read_text()[-3000:]

    def docs(self, **filters: Any) -> list[dict[str, Any]]:
        store = open_embedded(self.db, read_only=True)
        try:
            page = store.search(EventQuery(filter=EventFilter(**filters), limit=10_000))
            return page.items
        finally:
            store.close()


@contextmanager
def shipper(kubeconfig: Path, variant: str, work: Path) -> Iterator[ShipperProcess]:
    proc = ShipperProcess(kubeconfig, variant, work)
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


def crd(group: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }


@contextmanager
def widget_crd(cluster: RealCluster) -> Iterator[str]:
    """A CRD of a group of its own (tests share the server); its API group."""
    group = f"d{uuid.uuid4().hex[:8]}.kubetrail.example"
    cluster.apply(crd(group))
    try:
        cluster.kubectl(
            "wait", "--for=condition=Established", f"crd/widgets.{group}", "--timeout=60s"
        )
        yield group
    finally:
        cluster.kubectl("delete", "crd", f"widgets.{group}", "--wait=false", check=False)


def objects(ns: str, group: str | None) -> list[dict[str, Any]]:
    """A ConfigMap, a Secret, a Deployment and (given a group) a custom resource."""
    labels = {"app": "web"}
    found: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": ns},
            "data": {"mode": "blue"},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "db-credentials", "namespace": ns},
            "stringData": {"password": CANARY},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": ns, "labels": labels},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
                },
            },
        },
    ]
    if group:
        found.append(widget(group, ns, "w1"))
    return found


def widget(group: str, ns: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{group}/v1",
        "kind": "Widget",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"size": 1},
    }


def forbidden(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        r
        for r in records
        if "403" in r["message"] or "forbidden" in r["message"] or "cannot watch" in r["message"]
    ]


def test_the_shipper_with_its_token_ships_everything_it_watches(
    cluster: RealCluster, tmp_path: Path
) -> None:
    kubeconfig = use_role(cluster, "embedded", tmp_path)
    ns = cluster.namespace("kt-deploy")
    with widget_crd(cluster) as group:
        before = objects(ns, group)
        for obj in before:
            cluster.apply(obj)
        with shipper(kubeconfig, "embedded", tmp_path) as proc:
            # a change after the first lists, and a CRD created at runtime (re-discovery)
            cluster.kubectl(
                "-n", ns, "patch", "configmap", "settings", "-p", '{"data":{"mode":"green"}}'
            )
            with widget_crd(cluster) as late_group:
                cluster.apply(widget(late_group, ns, "w2"))

                def shipped() -> bool:
                    docs = proc.docs(namespace=(ns,))
                    names = {(d["kind"], d["resourceName"]) for d in docs}
                    updated = any(
                        d["resourceName"] == "settings" and d["verb"] == "update" for d in docs
                    )
                    wanted = {(o["kind"], o["metadata"]["name"]) for o in before}
                    return wanted | {("Widget", "w2")} <= names and updated

                wait_until(shipped, 60, "every object of the namespace in the store")
            watched = [r["resource"] for r in proc.records() if r["message"].startswith("watching")]
    records = proc.records()
    assert not forbidden(records), forbidden(records)
    assert not [r for r in records if r["level"] in ("warning", "error")], records
    assert {"secrets", "pods", "deployments.apps", f"widgets.{group}"} <= set(watched)
    assert f"widgets.{late_group}" in watched
    assert CANARY.encode() not in stored_bytes(proc.db)


def test_without_secrets_it_says_so_once_and_ships_the_rest(
    cluster: RealCluster, tmp_path: Path
) -> None:
    """components/no-secrets: the first list of Secrets answers 403; the shipper logs it once,
    never asks again (not when a CRD appears and discovery runs again either), and ships the
    rest. A custom resource of a group the role does not list is refused the same way."""
    kubeconfig = use_role(cluster, "embedded+no-secrets", tmp_path)
    ns = cluster.namespace("kt-nosecrets")
    for obj in objects(ns, None):
        cluster.apply(obj)
    # a CRD created once the shipper runs: re-discovery syncs every watcher again
    with shipper(kubeconfig, "embedded+no-secrets", tmp_path) as proc, widget_crd(cluster) as group:
        wait_until(
            lambda: any(f"widgets.{group}" in r["message"] for r in forbidden(proc.records())),
            60,
            "the refused custom resource to be logged",
        )
        cluster.kubectl(
            "-n", ns, "patch", "configmap", "settings", "-p", '{"data":{"mode":"green"}}'
        )
        wait_until(
            lambda: any(d["verb"] == "update" for d in proc.docs(namespace=(ns,))),
            30,
            "the ConfigMap's change",
        )
        time.sleep(3)  # a retry loop (backoff from 0.5 s) would have logged again by now
        metrics = proc.get("/metrics")
        assert metrics is not None and metrics.status_code == 200
    refused = forbidden(proc.records())
    about_secrets = [r for r in refused if r.get("resource") == "secrets"]
    assert len(about_secrets) == 1, about_secrets
    assert about_secrets[0]["level"] == "warning"
    assert "secrets is forbidden" in about_secrets[0]["message"]
    assert {r.get("resource") for r in refused} == {"secrets", f"widgets.{group}"}, refused
    restarts = [
        ln
        for ln in metrics.text.splitlines()
        if ln.startswith("kubetrail_watch_restarts") and '"secrets"' in ln
    ]
    assert all(float(ln.rsplit(" ", 1)[1]) == 0 for ln in restarts), restarts
    docs = proc.docs(namespace=(ns,))
    assert {d["kind"] for d in docs} == {"ConfigMap", "Deployment"}
    assert CANARY.encode() not in stored_bytes(proc.db)
