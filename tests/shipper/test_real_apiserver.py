"""The shipper against a real kube-apiserver and etcd (``scripts/kube-apiserver``): what a user
does with kubectl is what the store ends up holding, every version exactly once.

Each case makes its own namespace on the shared server and checks only what happened there
(the server's own objects, RBAC bootstrap and the like, arrive as listing snapshots). No
controller runs beside the API server, so only the test writes to these objects (and the
server itself while deleting one): the versions kubectl prints are the versions there are.
"""

from __future__ import annotations

import base64
import json
import logging
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

from kubetrail.events.redact import LAST_APPLIED, RedactionPolicy
from kubetrail.queries.history import ObjectKey, object_history
from kubetrail.shipper.kube import Kube, load_client
from kubetrail.shipper.service import Shipper
from kubetrail.store.base import EventFilter, EventQuery
from kubetrail.store.sqlite import SQLiteStore, open_embedded
from tests.support.kube_apiservers import RealCluster
from tests.support.netfault import TcpProxy
from tests.support.plaintext import stored_bytes
from tests.support.shipping import config, wait_until

CANARY = "kubetrail-real-canary-7f3a9c"
CANARY_2 = "kubetrail-real-canary-second-51be"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = open_embedded(tmp_path / "ship.db")
    yield s
    s.close()


@contextmanager
def shipping(kubeconfig: Path, store: SQLiteStore, tmp_path: Path, **kw: Any) -> Iterator[Shipper]:
    cfg = config(tmp_path, **{"stall_timeout": 90.0, **kw})
    shipper = Shipper(
        kube=Kube(load_client(kubeconfig=str(kubeconfig))),
        store=store,
        config=cfg,
        policy=RedactionPolicy(),
    )
    shipper.start()
    try:
        assert shipper.wait_synced(60), "watchers did not finish their first list"
        yield shipper
    finally:
        shipper.stop()


def all_docs(store: SQLiteStore, **filters: Any) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    after = None
    while True:
        page = store.search(EventQuery(filter=EventFilter(**filters), limit=1000, after=after))
        docs.extend(page.items)
        if page.next is None:
            return docs
        after = page.next


def vid(obj: dict[str, Any]) -> str:
    """The document id of this version of ``obj`` (create or update)."""
    return f"{obj['metadata']['uid']}:{obj['metadata']['resourceVersion']}"


class Expected:
    """The versions a namespace must end up with: these ids, plus for each deleted uid exactly
    one delete, and the writes the deletion itself made (a pod's graceful deletion first sets
    ``deletionTimestamp``): kubectl prints none of these versions, the server decides them."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.deleted: set[str] = set()

    def add(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.ids.add(vid(obj))
        return obj

    def _split(self, docs: list[dict[str, Any]]) -> tuple[list[str], set[str], list[str]]:
        changes = [d for d in docs if not d.get("snapshot")]
        kept = {
            d["id"]
            for d in changes
            if d["verb"] != "delete"
            and not (
                d["uid"] in self.deleted and d["objectChanges"]["metadata"].get("deletionTimestamp")
            )
        }
        deletes = [d["uid"] for d in changes if d["verb"] == "delete"]
        return [d["id"] for d in changes], kept, deletes

    def matches(self, docs: list[dict[str, Any]]) -> bool:
        _, kept, deletes = self._split(docs)
        return kept >= self.ids and set(deletes) >= self.deleted

    def check_exactly(self, docs: list[dict[str, Any]]) -> None:
        ids, kept, deletes = self._split(docs)
        assert len(ids) == len(set(ids)), "a version was stored twice"
        assert kept == self.ids, (
            f"missing {sorted(self.ids - kept)[:5]}, unexpected {sorted(kept - self.ids)[:5]}"
        )
        assert sorted(deletes) == sorted(self.deleted), "not exactly one delete per deleted object"


def wait_for(store: SQLiteStore, expected: Expected, what: str, **filters: Any) -> list[dict]:
    wait_until(lambda: expected.matches(all_docs(store, **filters)), 30, what)
    time.sleep(0.5)  # anything stored twice would show up now
    docs = all_docs(store, **filters)
    expected.check_exactly(docs)
    return docs


def deployment(ns: str, name: str, image: str) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name, "image": image}]},
            },
        },
    }


def secret(ns: str, value: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db-credentials", "namespace": ns},
        "type": "Opaque",
        "stringData": {"password": value},
    }


def test_what_a_user_does_is_shipped_once_per_version(
    real_kube: RealCluster, store: SQLiteStore, tmp_path: Path
) -> None:
    ns = real_kube.namespace("kt-user")
    exp = Expected()
    with shipping(real_kube.kubeconfig, store, tmp_path):
        # a Deployment applied, then its image changed, then scaled
        exp.add(real_kube.apply(deployment(ns, "web", "nginx:1.25")))
        exp.add(
            real_kube.kubectl_json("set", "image", "deployment/web", "web=nginx:1.27", "-n", ns)
        )
        real_kube.kubectl("scale", "deployment/web", "--replicas=3", "-n", ns)
        # (scale -o json prints the object as it was before; nothing else writes to it)
        exp.add(real_kube.kubectl_json("get", "deployment/web", "-n", ns))
        # a ConfigMap created, changed and deleted
        exp.add(
            real_kube.kubectl_json(
                "create", "configmap", "settings", "-n", ns, "--from-literal=mode=blue"
            )
        )
        exp.add(
            real_kube.kubectl_json(
                "patch",
                "configmap",
                "settings",
                "-n",
                ns,
                "--type=merge",
                "-p",
                '{"data": {"mode": "green"}}',
            )
        )
        cm_uid = real_kube.kubectl_json("get", "configmap", "settings", "-n", ns)["metadata"]["uid"]
        real_kube.kubectl("delete", "configmap", "settings", "-n", ns)
        exp.deleted.add(cm_uid)
        # a Secret applied (its value also lands in last-applied-configuration), then changed
        exp.add(real_kube.apply(secret(ns, CANARY)))
        applied = exp.add(real_kube.apply(secret(ns, CANARY_2)))
        # (the server really holds the plain value in kubectl's annotation)
        assert CANARY_2 in applied["metadata"]["annotations"][LAST_APPLIED]
        # a Pod (no kubelet: Pending) whose status is written as a kubelet would: crash loop
        pod = exp.add(
            real_kube.kubectl_json(
                "run", "worker", "-n", ns, "--image=busybox:1.36", "--restart=Always"
            )
        )
        exp.add(
            real_kube.request(
                "PATCH",
                f"/api/v1/namespaces/{ns}/pods/worker/status",
                {
                    "status": {
                        "phase": "Running",
                        "containerStatuses": [
                            {
                                "name": "worker",
                                "image": "busybox:1.36",
                                "imageID": "",
                                "ready": False,
                                "restartCount": 4,
                                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                                "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
                            }
                        ],
                    }
                },
                content_type="application/merge-patch+json",
            )
        )
        # a core Event about it, as the kubelet would record it
        event = exp.add(
            real_kube.kubectl_json(
                "create",
                "-f",
                "-",
                input=json.dumps(
                    {
                        "apiVersion": "v1",
                        "kind": "Event",
                        "metadata": {"name": "worker.back-off", "namespace": ns},
                        "involvedObject": {
                            "apiVersion": "v1",
                            "kind": "Pod",
                            "name": "worker",
                            "namespace": ns,
                            "uid": pod["metadata"]["uid"],
                        },
                        "reason": "BackOff",
                        "message": "Back-off restarting failed container worker",
                        "type": "Warning",
                        "count": 1,
                        "source": {"component": "kubelet"},
                    }
                ),
            )
        )
        # the kubelet counts the Event up, as it does on each back-off
        exp.add(
            real_kube.kubectl_json(
                "patch",
                "event",
                "worker.back-off",
                "-n",
                ns,
                "--type=merge",
                "-p",
                '{"count": 2}',
            )
        )
        # the Secret deleted: its DELETED event carries the values one last time
        real_kube.kubectl("delete", "secret", "db-credentials", "-n", ns)
        exp.deleted.add(applied["metadata"]["uid"])
        # the pod deleted (not scheduled: it goes at once, no grace period to wait for)
        real_kube.kubectl("delete", "pod", "worker", "-n", ns, "--wait=false")
        exp.deleted.add(pod["metadata"]["uid"])
        docs = wait_for(store, exp, f"every version in {ns}", namespace=(ns,))

    # the image change reads as a changed path in the object's history
    history = object_history(
        store, ObjectKey(namespace=ns, resource_type="deployments", name="web")
    )
    assert history is not None
    assert [v["verb"] for v in history.versions] == ["create", "update", "update"]
    assert "spec.template.spec.containers[web].image" in history.versions[1]["changedPaths"]
    assert "spec.replicas" in history.versions[2]["changedPaths"]
    assert history.versions[0]["fieldManager"] == "kubectl-client-side-apply"
    # signals derived from the real objects
    pod_docs = [d for d in docs if d["kind"] == "Pod" and d["verb"] == "update"]
    assert "pod.waiting:CrashLoopBackOff" in pod_docs[0]["signals"]
    ev, counted = [d for d in docs if d["kind"] == "Event"]
    assert ev["id"] == vid(event)
    assert (ev["reason"], ev["eventType"]) == ("BackOff", "Warning")
    assert ev["involvedObject"]["uid"] == pod["metadata"]["uid"]
    assert (counted["verb"], counted["count"]) == ("update", 2)
    # Secret values never stored, in any form (data, kubectl's last-applied annotation, the
    # deletion's last snapshot), but the change is visible
    secrets = [d for d in docs if d["kind"] == "Secret"]
    assert [d["verb"] for d in secrets] == ["create", "update", "delete"]
    annotations = [d["objectChanges"]["metadata"]["annotations"][LAST_APPLIED] for d in secrets]
    assert all(a.startswith("[REDACTED hmac-sha256:") for a in annotations)
    assert annotations[0] != annotations[1]
    raw = stored_bytes(store.path) + b"".join(
        p.read_bytes() for p in (tmp_path / "spool").rglob("*") if p.is_file()
    )
    for value in (CANARY, CANARY_2):
        assert value.encode() not in raw
        assert base64.b64encode(value.encode()) not in raw
    s_history = object_history(
        store, ObjectKey(namespace=ns, resource_type="secrets", name="db-credentials")
    )
    assert s_history is not None
    assert "data.password" in s_history.versions[1]["changedPaths"]


def test_kubetrail_ship_with_the_admin_kubeconfig(real_kube: RealCluster, tmp_path: Path) -> None:
    """The command as a user runs it (a client-certificate kubeconfig), ready, shipping, and
    stopped by SIGTERM in seconds (watches on a quiet real server see a line a minute)."""
    ns = real_kube.namespace("kt-cli")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    db = tmp_path / "cli.db"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kubetrail",
            "ship",
            "--kubeconfig",
            str(real_kube.kubeconfig),
            "--store",
            f"sqlite:///{db}",
            "--spool-dir",
            str(tmp_path / "spool"),
            "--metrics-host",
            "127.0.0.1",
            "--metrics-port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "CONFIG_PATH": ""},
    )
    try:

        def ready() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, 60, "the shipper's /readyz")
        cm = real_kube.kubectl_json("create", "configmap", "hello", "-n", ns, "--from-literal=a=1")
        reader = open_embedded(db)
        try:
            wait_until(
                lambda: vid(cm) in {d["id"] for d in all_docs(reader, namespace=(ns,))},
                30,
                "the ConfigMap in the store",
            )
        finally:
            reader.close()
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-2000:]
    assert time.monotonic() - started < 15
    assert "Traceback" not in err


def crd(group: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "names": {
                "kind": "Widget",
                "plural": "widgets",
                "singular": "widget",
                "listKind": "WidgetList",
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {"size": {"type": "integer"}},
                                }
                            },
                        }
                    },
                }
            ],
        },
    }


def widget(group: str, ns: str, name: str, size: int) -> dict[str, Any]:
    return {
        "apiVersion": f"{group}/v1",
        "kind": "Widget",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"size": size},
    }


def test_a_crd_created_at_runtime_and_its_custom_resources(
    real_kube: RealCluster, store: SQLiteStore, tmp_path: Path
) -> None:
    ns = real_kube.namespace("kt-crd")
    group = f"t{uuid.uuid4().hex[:8]}.kubetrail.example"
    key = f"widgets.{group}"
    exp = Expected()
    with shipping(real_kube.kubeconfig, store, tmp_path) as shipper:
        created = real_kube.apply(crd(group))
        real_kube.kubectl("wait", "--for=condition=Established", f"crd/{key}", "--timeout=60s")
        wait_until(lambda: key in shipper.watchers, 30, "a watcher for the new CRD")
        assert shipper.watchers[key].synced.wait(30)
        exp.add(real_kube.apply(widget(group, ns, "w1", 1)))
        exp.add(real_kube.apply(widget(group, ns, "w2", 2)))
        exp.add(real_kube.apply(widget(group, ns, "w1", 5)))
        w2_uid = real_kube.kubectl_json("get", key, "w2", "-n", ns)["metadata"]["uid"]
        real_kube.kubectl("delete", key, "w2", "-n", ns)
        exp.deleted.add(w2_uid)
        docs = wait_for(store, exp, "every Widget version", namespace=(ns,))
        # the CRD itself: created by us, then its status written by the API server
        latest = real_kube.kubectl_json("get", "crd", key)
        wait_until(
            lambda: vid(latest) in {d["id"] for d in all_docs(store, name=(key,))},
            30,
            "the CRD's current version",
        )
        real_kube.kubectl("delete", "crd", key, "--wait=true", "--timeout=60s")
        wait_until(lambda: key not in shipper.watchers, 30, "the CRD's watcher to stop")
    assert {(d["resourceType"], d["apiVersion"]) for d in docs} == {("widgets", f"{group}/v1")}
    crd_docs = all_docs(store, name=(key,))
    ids = [d["id"] for d in crd_docs]
    assert len(ids) == len(set(ids))
    assert crd_docs[0]["verb"] == "create" and crd_docs[0]["uid"] == created["metadata"]["uid"]
    assert not crd_docs[0]["snapshot"]
    w1 = object_history(store, ObjectKey(namespace=ns, resource_type="widgets", name="w1"))
    assert w1 is not None
    assert [v["verb"] for v in w1.versions] == ["create", "update", "delete"]
    assert "spec.size" in w1.versions[1]["changedPaths"]
    # w1 was left for the CRD's deletion to remove: its watcher saw that before it stopped


def _proxied_kubeconfig(real_kube: RealCluster, proxy: TcpProxy, path: Path) -> Path:
    text = real_kube.kubeconfig.read_text()
    server = next(
        ln.split("server:", 1)[1].strip()
        for ln in text.splitlines()
        if ln.strip().startswith("server:")
    )
    path.write_text(text.replace(server, f"https://127.0.0.1:{proxy.port}"))
    return path


def _server_port(kubeconfig: Path) -> int:
    server = next(
        ln.split("server:", 1)[1].strip()
        for ln in kubeconfig.read_text().splitlines()
        if ln.strip().startswith("server:")
    )
    return int(server.rsplit(":", 1)[1].rstrip("/"))


def pod_template(ns: str, name: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PodTemplate",
        "metadata": {"name": name, "namespace": ns},
        "template": {"spec": {"containers": [{"name": "app", "image": image}]}},
    }


def test_a_real_410_after_compaction_relists_and_marks_the_gap(
    real_kube: RealCluster, store: SQLiteStore, tmp_path: Path
) -> None:
    """The line to the API server is cut while objects change and etcd is compacted: the
    watch resumes from a resourceVersion etcd no longer has, the server answers 410, the
    relist catches up. Nothing missing, nothing twice, the gap marked.

    PodTemplates: the one resource ``scripts/kube-apiserver`` serves from etcd rather than
    from the watch cache (whose window a compaction does not shorten)."""
    ns = real_kube.namespace("kt-gap")
    keep = real_kube.apply(pod_template(ns, "keep", "app:1"))
    real_kube.apply(pod_template(ns, "change", "app:1"))
    doomed = real_kube.apply(pod_template(ns, "doomed", "app:1"))
    proxy = TcpProxy("127.0.0.1", _server_port(real_kube.kubeconfig))
    try:
        kubeconfig = _proxied_kubeconfig(real_kube, proxy, tmp_path / "proxied.kubeconfig")
        with shipping(kubeconfig, store, tmp_path) as shipper:
            relists = shipper.metrics.relists.labels("podtemplates")
            before = relists._value.get()
            proxy.cut()  # every watch of the shipper ends; reconnects are refused
            changed = real_kube.apply(pod_template(ns, "change", "app:2"))
            born = real_kube.apply(pod_template(ns, "born-in-gap", "app:1"))
            real_kube.kubectl("delete", "podtemplate", "doomed", "-n", ns)
            real_kube.compact()
            # etcd no longer has the older revisions: a watch from one is answered 410
            answer = real_kube.request(
                "GET",
                f"/api/v1/namespaces/{ns}/podtemplates?watch=1&timeoutSeconds=2"
                f"&resourceVersion={keep['metadata']['resourceVersion']}",
            )
            assert (answer["type"], answer["object"]["code"]) == ("ERROR", 410), answer
            proxy.restore()
            exp = Expected()
            exp.ids |= {vid(changed), vid(born)}
            exp.deleted.add(doomed["metadata"]["uid"])
            wait_until(lambda: relists._value.get() > before, 90, "a relist after the 410")
            docs = wait_for(store, exp, "the gap's changes", namespace=(ns,))
    finally:
        proxy.close()
    gap = [d for d in docs if not d["snapshot"]]
    assert {(d["resourceName"], d["verb"]) for d in gap} == {
        ("change", "update"),
        ("born-in-gap", "create"),
        ("doomed", "delete"),
    }
    assert all(d.get("gap") is True for d in gap)
    assert {d["resourceName"] for d in docs if d["snapshot"]} == {"keep", "change", "doomed"}


def test_changes_while_the_shipper_was_down_survive_a_compaction(
    real_kube: RealCluster, store: SQLiteStore, tmp_path: Path
) -> None:
    """A restarted shipper whose checkpoint etcd has compacted away: its silent listing
    knows nothing of what changed while it was down, so the relist after the 410 is
    compared with what the store holds. Each change shows once, with its verb, as a gap."""
    ns = real_kube.namespace("kt-down")
    real_kube.apply(pod_template(ns, "a", "app:1"))
    b = real_kube.apply(pod_template(ns, "b", "app:1"))
    with shipping(real_kube.kubeconfig, store, tmp_path):
        pass  # the listing stored, the checkpoints saved
    changed = real_kube.apply(pod_template(ns, "a", "app:2"))
    born = real_kube.apply(pod_template(ns, "c", "app:1"))
    real_kube.kubectl("delete", "podtemplate", "b", "-n", ns)
    real_kube.compact()
    exp = Expected()
    exp.ids |= {vid(changed), vid(born)}
    exp.deleted.add(b["metadata"]["uid"])
    with shipping(real_kube.kubeconfig, store, tmp_path) as shipper:  # same spool directory
        relists = shipper.metrics.relists.labels("podtemplates")
        wait_until(lambda: relists._value.get() >= 1, 30, "the 410 and its relist")
        docs = wait_for(store, exp, "the changes made while the shipper was down", namespace=(ns,))
    gap = [d for d in docs if not d["snapshot"]]
    assert {(d["resourceName"], d["verb"]) for d in gap} == {
        ("a", "update"),
        ("c", "create"),
        ("b", "delete"),
    }
    assert all(d.get("gap") is True for d in gap)


def test_a_cluster_rebuilt_at_the_same_address_is_listed_afresh(
    real_kube: RealCluster, store: SQLiteStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The shipper run again with its spool directory after the cluster was rebuilt at the
    same address (etcd wiped: new UIDs, resourceVersions from the start again). A watch
    resumed from the old cluster's checkpoint would wait without a word for a revision the
    new etcd has not reached; the checkpoints are dropped instead, said at warning level,
    and the new cluster is listed and shipped. (Rebuilds the server the tests share.)"""
    ns = real_kube.namespace("kt-old")
    many = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i}"}}
            for i in range(300)
        ],
    }
    real_kube.kubectl("create", "-n", ns, "-f", "-", input=json.dumps(many))
    old = real_kube.kubectl_json("get", "configmap", "cm-299", "-n", ns)
    with shipping(real_kube.kubeconfig, store, tmp_path) as shipper:
        wait_until(
            lambda: vid(old) in {d["id"] for d in all_docs(store, namespace=(ns,))},
            30,
            "the old cluster's objects in the store",
        )
        wait_until(lambda: shipper.checkpoints.get("configmaps") is not None, 10, "a checkpoint")
    checkpoint = shipper.checkpoints.get("configmaps")
    assert checkpoint is not None

    real_kube.rebuild()
    new_ns = real_kube.namespace("kt-new")
    existing = real_kube.kubectl_json(
        "create", "configmap", "existing", "-n", new_ns, "--from-literal=a=1"
    )
    # what makes the old checkpoint harmful: the new etcd has not reached it
    assert int(existing["metadata"]["resourceVersion"]) < int(checkpoint)
    caplog.set_level(logging.WARNING, logger="kubetrail.shipper")
    with shipping(real_kube.kubeconfig, store, tmp_path) as shipper:  # same spool directory
        created = real_kube.kubectl_json(
            "create", "configmap", "after", "-n", new_ns, "--from-literal=b=2"
        )
        wait_until(
            lambda: (
                {vid(existing), vid(created)}
                <= {d["id"] for d in all_docs(store, namespace=(new_ns,))}
            ),
            30,
            "the new cluster's objects in the store",
        )
        assert shipper.checkpoints.cluster is not None
        assert (
            shipper.checkpoints.cluster.uid
            == real_kube.request("GET", "/api/v1/namespaces/kube-system")["metadata"]["uid"]
        )
    new_docs = {d["resourceName"]: d for d in all_docs(store, namespace=(new_ns,))}
    assert new_docs["existing"]["snapshot"] is True  # there before the shipper: a listing
    assert new_docs["after"]["snapshot"] is False and new_docs["after"]["verb"] == "create"
    said = [r for r in caplog.records if "last used with another cluster" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.WARNING
    # the old cluster's documents are kept as they were, none added
    assert len(all_docs(store, namespace=(ns,), snapshot=False)) == 0
    assert vid(old) in {d["id"] for d in all_docs(store, namespace=(ns,))}
