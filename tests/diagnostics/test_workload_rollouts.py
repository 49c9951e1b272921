"""check_workload_rollouts on what the demo incident lacks: a DaemonSet rollout that
stalls and one that finishes, a Job past its activeDeadlineSeconds, a CronJob whose run
failed and one that missed its schedule — the same answers in every store."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kubetrail.diagnostics import CheckParams, TimeRange, run_check
from kubetrail.ingest.documents import to_documents
from kubetrail.store.base import Store
from kubetrail.store.sqlite import open_embedded
from tests.support.k8s_objects import k8s_event
from tests.support.opensearch_servers import opensearch_store
from tests.support.osmem import running_osmem

DAY = "2026-11-25T"


def _t(hms: str) -> datetime:
    return datetime.fromisoformat(f"{DAY}{hms}+00:00").astimezone(UTC)


def _meta(
    kind: str,
    namespace: str,
    name: str,
    generation: int,
    *writers: tuple,
    created: str = "2026-11-01T08:00:00Z",
) -> dict:
    return {
        "name": name,
        "namespace": namespace,
        "uid": f"0000{kind.lower():0>8.8}-0000-4000-8000-{name.encode().hex()[:12]:0>12}",
        "generation": generation,
        "creationTimestamp": created,
        "managedFields": [
            {
                "manager": manager,
                "operation": "Update",
                "apiVersion": "apps/v1",
                "time": time,
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {}} if sub is None else {"f:status": {}},
                **({"subresource": sub} if sub else {}),
            }
            for manager, time, sub in writers
        ],
    }


def _daemonset(name: str, namespace: str, image: str, generation: int, status: dict, *w) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": _meta("DaemonSet", namespace, name, generation, *w),
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": image}]},
            },
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
        },
        "status": {"desiredNumberScheduled": 4, "currentNumberScheduled": 4, **status},
    }


def _ds_status(observed: int, updated: int, available: int) -> dict:
    return {
        "observedGeneration": observed,
        "updatedNumberScheduled": updated,
        "numberAvailable": available,
        "numberReady": available,
        **({"numberUnavailable": 4 - available} if available < 4 else {}),
    }


def _job(status: dict, *writers: tuple) -> dict:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _meta(
            "Job", "batch", "report-20261125", 1, *writers, created=f"{DAY}10:05:00Z"
        ),
        "spec": {
            "activeDeadlineSeconds": 600,
            "backoffLimit": 6,
            "completions": 1,
            "parallelism": 1,
            "template": {
                "spec": {
                    "containers": [{"name": "report", "image": "registry.example.com/report:4.2"}],
                    "restartPolicy": "Never",
                }
            },
        },
        "status": status,
    }


def _deadline(type_: str, at: str) -> dict:
    return {
        "type": type_,
        "status": "True",
        "reason": "DeadlineExceeded",
        "message": "Job was active longer than specified deadline",
        "lastProbeTime": at,
        "lastTransitionTime": at,
    }


def _cronjob(status: dict, *writers: tuple) -> dict:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": _meta("CronJob", "batch", "backup", 1, *writers),
        "spec": {
            "schedule": "0 * * * *",
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {"name": "backup", "image": "registry.example.com/backup:1.0"}
                            ],
                            "restartPolicy": "OnFailure",
                        }
                    }
                }
            },
        },
        "status": status,
    }


def _crashing_exporter_pod() -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "node-exporter-x7k2p",
            "namespace": "monitoring",
            "uid": "0000pod0-0000-4000-8000-000000000001",
            "creationTimestamp": "2026-11-25T10:00:05Z",
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "node-exporter"}
            ],
            "managedFields": [],
        },
        "spec": {
            "nodeName": "worker-2",
            "containers": [{"name": "node-exporter", "image": "prom/node-exporter:v1.8.0"}],
        },
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "node-exporter",
                    "ready": False,
                    "restartCount": 3,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"reason": "Error", "exitCode": 2}},
                }
            ],
        },
    }


def _events() -> list[dict[str, Any]]:
    kcm, kubectl = "kube-controller-manager", "kubectl-client-side-apply"
    old, new = "prom/node-exporter:v1.7.0", "prom/node-exporter:v1.8.0"
    proxy_old, proxy_new = (
        "registry.k8s.io/kube-proxy:v1.31.1",
        "registry.k8s.io/kube-proxy:v1.31.2",
    )
    exporter_before = (kubectl, "2026-11-01T08:00:00Z", None)
    exporter_change = (kubectl, f"{DAY}10:00:00Z", None)
    proxy_change = (kubectl, f"{DAY}10:05:00Z", None)
    backup_run = _cronjob(
        {
            "active": [{"kind": "Job", "name": "backup-29400600", "namespace": "batch"}],
            "lastScheduleTime": f"{DAY}10:00:00Z",
            "lastSuccessfulTime": f"{DAY}09:02:41Z",
        },
        (kcm, f"{DAY}10:00:01Z", "status"),
    )
    backup_failed = copy.deepcopy(backup_run)
    del backup_failed["status"]["active"]
    backup_failed["metadata"]["managedFields"][0]["time"] = f"{DAY}10:03:00Z"
    raw = [
        # the watch starts: what exists, healthy
        (
            "ADDED",
            "09:00:00",
            _daemonset("node-exporter", "monitoring", old, 1, _ds_status(1, 4, 4), exporter_before),
        ),
        (
            "ADDED",
            "09:00:00",
            _daemonset(
                "kube-proxy", "kube-system", proxy_old, 1, _ds_status(1, 4, 4), exporter_before
            ),
        ),
        # node-exporter v1.8.0 crashes on the first node it reaches: the rollout stops there
        (
            "MODIFIED",
            "10:00:00",
            _daemonset("node-exporter", "monitoring", new, 2, _ds_status(1, 4, 4), exporter_change),
        ),
        (
            "MODIFIED",
            "10:00:01",
            _daemonset(
                "node-exporter",
                "monitoring",
                new,
                2,
                _ds_status(2, 1, 3),
                exporter_change,
                (kcm, f"{DAY}10:00:01Z", "status"),
            ),
        ),
        ("MODIFIED", "10:02:00", _crashing_exporter_pod()),
        # kube-proxy's rollout takes two minutes and finishes
        (
            "MODIFIED",
            "10:05:00",
            _daemonset(
                "kube-proxy", "kube-system", proxy_new, 2, _ds_status(1, 4, 4), proxy_change
            ),
        ),
        (
            "MODIFIED",
            "10:05:01",
            _daemonset(
                "kube-proxy",
                "kube-system",
                proxy_new,
                2,
                _ds_status(2, 2, 3),
                proxy_change,
                (kcm, f"{DAY}10:05:01Z", "status"),
            ),
        ),
        (
            "MODIFIED",
            "10:07:00",
            _daemonset(
                "kube-proxy",
                "kube-system",
                proxy_new,
                2,
                _ds_status(2, 4, 4),
                proxy_change,
                (kcm, f"{DAY}10:07:00Z", "status"),
            ),
        ),
        # the backup run of 10:00 ends without succeeding
        ("MODIFIED", "10:00:01", backup_run),
        ("MODIFIED", "10:03:00", backup_failed),
        # a report Job runs past its 600 s deadline
        ("ADDED", "10:05:00", _job({}, ("kubectl-create", f"{DAY}10:05:00Z", None))),
        (
            "MODIFIED",
            "10:05:01",
            _job(
                {"active": 1, "startTime": f"{DAY}10:05:00Z"},
                ("kubectl-create", f"{DAY}10:05:00Z", None),
                (kcm, f"{DAY}10:05:01Z", "status"),
            ),
        ),
        (
            "MODIFIED",
            "10:15:01",
            _job(
                {
                    "active": 1,
                    "startTime": f"{DAY}10:05:00Z",
                    "conditions": [_deadline("FailureTarget", f"{DAY}10:15:01Z")],
                },
                ("kubectl-create", f"{DAY}10:05:00Z", None),
                (kcm, f"{DAY}10:15:01Z", "status"),
            ),
        ),
        (
            "MODIFIED",
            "10:15:05",
            _job(
                {
                    "failed": 1,
                    "startTime": f"{DAY}10:05:00Z",
                    "conditions": [
                        _deadline("FailureTarget", f"{DAY}10:15:01Z"),
                        _deadline("Failed", f"{DAY}10:15:05Z"),
                    ],
                },
                ("kubectl-create", f"{DAY}10:05:00Z", None),
                (kcm, f"{DAY}10:15:05Z", "status"),
            ),
        ),
        # the cleanup CronJob misses a start
        (
            "ADDED",
            "10:20:00",
            k8s_event(
                reason="MissSchedule",
                involved_kind="CronJob",
                involved_name="cleanup",
                namespace="batch",
                count=1,
                last=f"{DAY}10:20:00Z",
                message=f"Missed scheduled time to start a job: {DAY}10:20:00Z",
            ),
        ),
    ]
    out = []
    for rv, (type_, hms, obj) in enumerate(raw, start=100):
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(rv)
        out.append({"type": type_, "object": obj, "timestamp": f"{DAY}{hms}Z"})
    return out


@pytest.fixture(scope="module")
def docs() -> list[dict]:
    return [d for e in _events() for d in to_documents(e)]


@pytest.fixture(scope="module", params=["sqlite", "osmem", "opensearch"])
def store(
    request: pytest.FixtureRequest, docs: list[dict], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    if request.param == "sqlite":
        s: Store = open_embedded(tmp_path_factory.mktemp("rollouts") / "rollouts.db")
        s.write(docs)
        yield s
        s.close()
    elif request.param == "osmem":
        with running_osmem() as url:
            s = opensearch_store(url, prefix="rollouts-events")
            s.write(docs)
            yield s
            s.close()
    else:
        url = request.getfixturevalue("real_opensearch")
        s = opensearch_store(url, prefix=f"rollouts-{os.getpid()}-events")
        s.write(docs)
        yield s
        s.close()


def _report(store: Store, end: str) -> dict[tuple[str, str, str, str], dict]:
    params = CheckParams(range=TimeRange(start=_t("09:30:00"), end=_t(end)), limit=50)
    report = run_check(store, "check_workload_rollouts", params).to_dict()
    return {
        (f["object"]["kind"], f["object"]["namespace"], f["object"]["name"], f["issue"]): f
        for f in report["findings"]
    }


def test_rollouts_and_runs_that_failed(store: Store) -> None:
    found = _report(store, "10:30:00")
    assert set(found) == {
        ("DaemonSet", "monitoring", "node-exporter", "RolloutStuck"),
        ("Job", "batch", "report-20261125", "JobDeadlineExceeded"),
        ("CronJob", "batch", "backup", "CronJobRunFailed"),
        ("CronJob", "batch", "cleanup", "CronJobMissedRuns"),
    }
    exporter = found[("DaemonSet", "monitoring", "node-exporter", "RolloutStuck")]
    assert exporter["firstSeen"] == "2026-11-25T10:00:00Z"
    assert exporter["evidence"]["nodes"] == {"desired": 4, "updated": 1, "available": 3}
    started = exporter["evidence"]["startedBy"]
    assert (started["verb"], started["by"]) == ("update", "kubectl-client-side-apply")
    assert "prom/node-exporter:v1.7.0 → 1.8.0" not in exporter["message"]
    assert "image prom/node-exporter:v1.7.0 → v1.8.0" in exporter["message"]
    assert [p["name"] for p in exporter["evidence"]["failingPods"]] == ["node-exporter-x7k2p"]
    job = found[("Job", "batch", "report-20261125", "JobDeadlineExceeded")]
    assert job["evidence"]["activeDeadlineSeconds"] == 600
    assert "activeDeadlineSeconds 600" in job["message"] and "DeadlineExceeded" in job["message"]
    assert job["evidence"]["startedBy"]["verb"] == "create"
    assert job["evidence"]["startedBy"]["by"] == "kubectl-create"
    backup = found[("CronJob", "batch", "backup", "CronJobRunFailed")]
    assert backup["severity"] == "warning"
    assert backup["evidence"]["lastScheduleTime"] == "2026-11-25T10:00:00Z"
    cleanup = found[("CronJob", "batch", "cleanup", "CronJobMissedRuns")]
    assert cleanup["evidence"]["eventReasons"] == ["MissSchedule"]
    assert "Missed scheduled time" in cleanup["message"]


def test_a_daemonset_rollout_is_not_stuck_before_ten_minutes(store: Store) -> None:
    found = _report(store, "10:08:00")
    assert not [key for key in found if key[0] == "DaemonSet"]


def test_every_store_gives_the_same_answer(store: Store, docs: list[dict], tmp_path: Path) -> None:
    reference = open_embedded(tmp_path / "reference.db")
    reference.write(docs)
    for end in ("10:08:00", "10:30:00"):
        assert _report(store, end) == _report(reference, end)
    reference.close()
