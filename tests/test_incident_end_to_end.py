"""A recorded incident, loaded with `kubetrail ingest`, answers an SRE's questions.

The recording is the built-in demo written out by `kubetrail demo --write-events`
(plain watch-event JSON lines, as kubectl with a timestamp prints them); it is
loaded by the `kubetrail ingest` command and queried over the REST API on a
real socket.
"""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kubetrail.cli.demo import _try_next
from kubetrail.config import Settings
from kubetrail.demo.incident import DEMO_SECRET_CANARY
from kubetrail.store.sqlite import open_embedded
from tests.support.api_server import ServerThread
from tests.support.plaintext import stored_bytes

WIDE = {"start": "2000-01-01T00:00:00Z"}  # the incident ends "now"; look at all of it


def _kubetrail(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "kubetrail", *args], capture_output=True, timeout=300, cwd=cwd
    )


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("incident")
    recording = work / "incident.jsonl"
    r = _kubetrail(
        "demo",
        "--no-serve",
        "--store",
        f"sqlite:///{work / 'demo.db'}",
        "--write-events",
        str(recording),
        cwd=work,
    )
    assert r.returncode == 0, r.stderr.decode()
    db = work / "ingested.db"
    r = _kubetrail("ingest", "--store", f"sqlite:///{db}", str(recording), cwd=work)
    assert r.returncode == 0, r.stderr.decode()
    summary = r.stderr.decode().strip().splitlines()[-1]
    lines = sum(1 for line in recording.read_bytes().splitlines() if line.strip())
    assert summary == f"kubetrail: read {lines}, stored {lines}, duplicates 0, rejected 0"
    return recording, db


@pytest.fixture(scope="module")
def api(recorded: tuple[Path, Path]) -> Iterator[httpx.Client]:
    store = open_embedded(recorded[1])
    with (
        ServerThread(store, Settings()) as server,
        httpx.Client(base_url=server.url, timeout=30) as c,
    ):
        yield c
    store.close()


def events(api: httpx.Client, **params: object) -> list[dict]:
    resp = api.get("/api/v1/events", params={**WIDE, "limit": 5000, **params})
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_crashlooping_checkout_after_a_helm_rollout(api: httpx.Client) -> None:
    crashing = events(api, signal="pod.waiting:CrashLoopBackOff", namespace="shop")
    assert crashing
    assert all(d["resourceName"].startswith("checkout-") for d in crashing)
    # the OOMKilled etl-worker crash-loops too; nothing else does
    everywhere = events(api, signal="pod.waiting:CrashLoopBackOff")
    assert {(d["namespace"], d["resourceName"].split("-")[0]) for d in everywhere} == {
        ("shop", "checkout"),
        ("data", "etl"),
    }
    assert any(
        "pod.lastTerminated:Error" in d["signals"] and "pod.exitCode:1" in d["signals"]
        for d in crashing
    )

    rollout = [
        d
        for d in events(
            api, namespace="shop", resourceType="deployments", name="checkout", snapshot="false"
        )
        if d["verb"] == "update"
    ]
    images = [
        d["objectChanges"]["spec"]["template"]["spec"]["containers"][0]["image"] for d in rollout
    ]
    assert any(i.endswith(":1.5.0") for i in images)
    assert "helm" in {d["fieldManager"] for d in rollout}
    assert events(api, signal="deployment.reason:ProgressDeadlineExceeded", namespace="shop")


def test_oomkilled_etl_worker(api: httpx.Client) -> None:
    oom = events(api, signal="pod.lastTerminated:OOMKilled")
    assert oom and {d["namespace"] for d in oom} == {"data"}
    assert all("etl-worker" in d["resourceName"] for d in oom)
    assert any("pod.exitCode:137" in d["signals"] for d in oom)


def test_image_pull_failure_in_payments(api: httpx.Client) -> None:
    pulls = events(api, signal=["pod.waiting:ImagePullBackOff", "pod.waiting:ErrImagePull"])
    assert pulls and {d["namespace"] for d in pulls} == {"payments"}
    assert any(
        c["image"].endswith("v2.3.O")
        for d in pulls
        for c in d["objectChanges"]["spec"]["containers"]
    )
    assert events(api, q="v2.3.O", kind="Event")  # the Failed pull events mention the tag


def test_pending_pvc_and_its_events(api: httpx.Client) -> None:
    pending = events(api, signal="pvc.phase:Pending")
    assert {(d["namespace"], d["resourceName"]) for d in pending} == {("data", "postgres-data")}
    history = api.get("/api/v1/events/data/persistentvolumeclaims/postgres-data?full=true")
    assert history.status_code == 200
    body = history.json()
    assert body["history"][-1]["objectChanges"]["spec"]["storageClassName"] == "fast-ssd"
    assert "ProvisioningFailed" in {e["reason"] for e in body["relatedEvents"]}
    scheduling = events(api, signal="event.reason:FailedScheduling", namespace="data")
    assert any(d["involvedObject"]["name"] == "postgres-0" for d in scheduling)


def test_worker_3_not_ready(api: httpx.Client) -> None:
    unknown = events(api, signal="node.condition:Ready=Unknown")
    assert {d["resourceName"] for d in unknown} == {"worker-3"}
    assert all(d["namespace"] == "" for d in unknown)
    node = api.get("/api/v1/events/_/nodes/worker-3").json()
    assert "NodeNotReady" in {e["reason"] for e in node["relatedEvents"]}
    changes = {c["path"]: c for v in node["history"] for c in v.get("changes", [])}
    assert changes["status.conditions[Ready].status"] == {
        "path": "status.conditions[Ready].status",
        "before": "True",
        "after": "Unknown",
    }
    # the kubelet's status posts that only move heartbeat times are counted, not listed
    assert node["heartbeatOnlyVersions"] > 0
    # its pods were deleted and recreated elsewhere
    deleted = events(api, verb="delete", resourceType="pods")
    assert any(d["objectChanges"]["spec"].get("nodeName") == "worker-3" for d in deleted)


def test_config_and_secret_changes_are_changes_not_snapshots(api: httpx.Client) -> None:
    changes = events(api, resourceType=["configmaps", "secrets"], verb="update", snapshot="false")
    assert {(d["kind"], d["namespace"], d["resourceName"]) for d in changes} >= {
        ("ConfigMap", "shop", "checkout-config"),
        ("Secret", "payments", "payment-db-credentials"),
    }
    startup = events(api, snapshot="true")
    assert startup and all(d["verb"] == "create" for d in startup)
    assert not any(d["snapshot"] for d in changes)


def test_the_rotated_secret_never_reaches_the_store_or_the_api(
    recorded: tuple[Path, Path], api: httpx.Client
) -> None:
    recording, db = recorded
    plain = DEMO_SECRET_CANARY.encode()
    encoded = base64.b64encode(plain)
    raw = recording.read_bytes()
    assert plain in raw and encoded in raw  # the input really holds it, both ways
    stored = stored_bytes(db)
    assert plain not in stored and encoded not in stored
    path = "/api/v1/events/payments/secrets/payment-db-credentials"
    for secret in (api.get(path), api.get(path, params={"full": "true"})):
        assert secret.status_code == 200
        assert DEMO_SECRET_CANARY not in secret.text and encoded.decode() not in secret.text
    full = api.get(path, params={"full": "true"}).json()["history"]
    assert any("data.password" in v["changedPaths"] for v in full)  # the rotation still shows
    # the change view shows the rotation as one redacted marker replaced by another
    rotation = [
        c
        for v in api.get(path).json()["history"]
        for c in v.get("changes", [])
        if c["path"] == "data.password"
    ]
    assert len(rotation) == 1
    assert rotation[0]["before"].startswith("[REDACTED hmac-sha256:")
    assert rotation[0]["after"].startswith("[REDACTED hmac-sha256:")
    assert rotation[0]["before"] != rotation[0]["after"]
    assert not events(api, q=DEMO_SECRET_CANARY)
    for fields in ("objectChanges.data", "objectChanges.metadata.annotations"):
        sparse = api.get("/api/v1/events", params={**WIDE, "kind": "Secret", "fields": fields})
        assert DEMO_SECRET_CANARY not in sparse.text and encoded.decode() not in sparse.text


def test_the_demos_printed_curls_answer_briefly(api: httpx.Client) -> None:
    """Every curl `kubetrail demo` prints answers 200 with a page a terminal can show."""
    printed = _try_next("127.0.0.1", 8080, "sqlite:///./kubetrail-demo.db")
    urls = re.findall(r"curl -s '(http://[^']+)'", printed)
    assert len(urls) >= 8
    for url in urls:
        # the incident ends "now" and the store here was ingested from it: look at all of it
        path = httpx.URL(url.removeprefix("http://127.0.0.1:8080"))
        if path.query:  # a search: over the whole incident, as printed otherwise
            path = path.copy_merge_params(WIDE)
        resp = api.get(path)
        assert resp.status_code == 200, (path, resp.text)
        assert resp.json(), path
        assert len(resp.content) < 10_000, (path, len(resp.content))
