"""Each check finds every planted issue of its kind in the incident, flags no
healthy object, and answers the same in every store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from kubetrail.demo.incident import DEMO_SECRET_CANARY
from kubetrail.diagnostics import CHECKS, InvalidParams, TimeRange, run_check
from kubetrail.diagnostics.model import CheckParams
from kubetrail.events.normalize import normalize
from kubetrail.events.timing import format_rfc3339, parse_rfc3339
from kubetrail.store.base import Store
from kubetrail.store.sqlite import DailyStore, SQLiteStore
from tests.support.incident import ANCHOR, QUIET, params
from tests.support.k8s_objects import k8s_event, pod


def issues(report) -> set[tuple[str, str, str]]:
    """(namespace, name prefix before the pod hash, issue) of every finding."""
    out = set()
    for f in report.findings:
        name = f.object.name
        if f.object.kind == "Pod" and name.count("-") >= 2 and not name.endswith("-0"):
            name = name.rsplit("-", 2)[0]
        out.add((f.object.namespace, name, f.issue))
    return out


def test_pod_issues(incident: Store) -> None:
    report = run_check(incident, "check_pod_issues", params())
    found = issues(report)
    assert ("shop", "checkout", "CrashLoopBackOff") in found
    assert ("data", "etl-worker", "OOMKilled") in found
    assert ("payments", "payment-api", "ImagePullBackOff") in found
    assert ("data", "postgres-0", "Unschedulable") in found
    assert {(ns, name) for ns, name, _ in found} <= {
        ("shop", "checkout"),
        ("data", "etl-worker"),
        ("payments", "payment-api"),
        ("data", "postgres-0"),
    }
    crash = next(
        f for f in report.findings if f.issue == "CrashLoopBackOff" and f.object.namespace == "shop"
    )
    assert crash.evidence["lastTermination"]["exitCode"] == 1
    assert crash.related_events and {e.reason for e in crash.related_events} & {"BackOff", "Failed"}
    assert report.summary["CrashLoopBackOff"] >= 1


def test_a_pod_that_moved_to_the_next_failure_has_not_recovered(incident: Store) -> None:
    # payment-api's pod goes ErrImagePull → ImagePullBackOff → ErrImagePull... and ends
    # in ImagePullBackOff: its ErrImagePull finding is not "recovered"
    report = run_check(incident, "check_pod_issues", params(namespace="payments"))
    by_issue = {f.issue: f for f in report.findings}
    assert by_issue["ImagePullBackOff"].evidence["current"] == "still failing"
    assert by_issue["ErrImagePull"].evidence["current"] == "still failing, now ImagePullBackOff"


def rollouts(report) -> dict[tuple[str, str, str, str], Any]:
    return {(f.object.kind, f.object.namespace, f.object.name, f.issue): f for f in report.findings}


def test_workload_rollouts(incident: Store) -> None:
    report = run_check(incident, "check_workload_rollouts", params())
    found = rollouts(report)
    # the failed rollouts and the failed Job, nothing healthy (cart rolled out fine at -4h30m)
    assert {(kind, name) for kind, _, name, _ in found} == {
        ("Deployment", "checkout"),
        ("Deployment", "payment-api"),
        ("Deployment", "etl-worker"),
        ("StatefulSet", "postgres"),
        ("Job", "orders-migrate"),
    }
    checkout = found[("Deployment", "shop", "checkout", "ProgressDeadlineExceeded")]
    assert checkout.severity == "critical" and checkout.evidence["current"] == "still failing"
    started = checkout.evidence["startedBy"]
    assert (started["verb"], started["by"]) == ("update", "helm")
    assert started["highlights"] == [
        "spec.template.spec.containers[checkout].image: registry.example.com/shop/checkout:1.4.2"
        " → registry.example.com/shop/checkout:1.5.0"
    ]
    assert started["time"] < checkout.first_seen
    assert "has timed out progressing" in checkout.message and "1.4.2 → 1.5.0" in checkout.message
    pods = checkout.evidence["failingPods"]
    assert pods and all(p["name"].startswith("checkout-") for p in pods)
    assert all("waiting:CrashLoopBackOff" in p["signals"] for p in pods)

    payment = found[("Deployment", "payments", "payment-api", "ProgressDeadlineExceeded")]
    assert payment.evidence["startedBy"]["by"] == "argocd-controller"
    assert "v2.3.0 → v2.3.O" in payment.message
    assert all("waiting:ImagePullBackOff" in p["signals"] for p in payment.evidence["failingPods"])

    job = found[("Job", "shop", "orders-migrate", "JobFailed")]
    assert job.severity == "critical" and "BackoffLimitExceeded" in job.message
    assert job.evidence["condition"]["reason"] == "BackoffLimitExceeded"
    assert (job.evidence["failedPods"], job.evidence["backoffLimit"]) == (3, 2)
    created = job.evidence["startedBy"]
    assert (created["verb"], created["by"]) == ("create", "kubectl-client-side-apply")
    assert created["highlights"] == ["image registry.example.com/shop/checkout-migrate:1.5.0"]
    job_pods = job.evidence["failingPods"]
    assert len(job_pods) == 3 and all(p["name"].startswith("orders-migrate-") for p in job_pods)
    assert all(
        {"terminated:Error", "exitCode:1", "phase:Failed"} <= set(p["signals"]) for p in job_pods
    )
    assert any(e.reason == "BackoffLimitExceeded" for e in job.related_events)

    postgres = found[("StatefulSet", "data", "postgres", "RolloutStuck")]
    assert postgres.evidence["replicas"] == {"desired": 1, "ready": 0, "updated": 1}
    assert postgres.evidence["startedBy"]["verb"] == "create"
    assert [p["name"] for p in postgres.evidence["failingPods"]] == ["postgres-0"]

    etl = found[("Deployment", "data", "etl-worker", "Unavailable")]
    assert "note" in etl.evidence["startedBy"]  # its pods began failing without a rollout
    assert "no spec change before it" in etl.message
    assert any("StatefulSets and DaemonSets" in n for n in report.notes)


def test_a_stalled_rollout_counts_in_a_later_range(incident: Store) -> None:
    # checkout's deadline passed at -2h30m and nothing about it changed for 1h50m:
    # a range inside that silence still reports it, from where it began
    rng = TimeRange(start=ANCHOR - timedelta(hours=2), end=ANCHOR - timedelta(hours=1, minutes=15))
    found = rollouts(run_check(incident, "check_workload_rollouts", params(rng)))
    checkout = found[("Deployment", "shop", "checkout", "ProgressDeadlineExceeded")]
    assert checkout.first_seen < format_rfc3339(rng.start)
    assert checkout.evidence["current"] == "still failing"
    assert checkout.evidence["startedBy"]["by"] == "helm"
    # the Job failed before this range: not news in it
    assert not [key for key in found if key[0] == "Job"]


@pytest.mark.parametrize(
    ("minutes_after", "stuck"), [(5, False), (9, False), (11, True), (50, True)]
)
def test_a_statefulset_rollout_is_stuck_after_ten_minutes(
    sqlite_incident: Store, minutes_after: int, stuck: bool
) -> None:
    created = ANCHOR - timedelta(hours=1)  # postgres: created, its pod never scheduled
    rng = TimeRange(
        start=created - timedelta(hours=1), end=created + timedelta(minutes=minutes_after)
    )
    found = rollouts(run_check(sqlite_incident, "check_workload_rollouts", params(rng)))
    assert (("StatefulSet", "data", "postgres", "RolloutStuck") in found) is stuck


def test_recent_changes_say_how_the_rollout_stands(incident: Store) -> None:
    report = run_check(incident, "analyze_recent_changes", params())
    by_object = {(f.object.kind, f.object.namespace, f.object.name): f for f in report.findings}
    checkout = by_object[("Deployment", "shop", "checkout")]
    assert checkout.evidence["rolloutNow"] == ["ProgressDeadlineExceeded"]
    assert "rollout now: ProgressDeadlineExceeded" in checkout.message
    assert by_object[("StatefulSet", "data", "postgres")].evidence["rolloutNow"] == [
        "not done: PodsNotReady"
    ]
    assert "rolloutNow" not in by_object[("Deployment", "shop", "cart")].evidence


def test_node_health(incident: Store) -> None:
    report = run_check(incident, "check_node_health", params())
    nodes = {f.object.name for f in report.findings if f.severity == "critical"}
    assert nodes == {"worker-3"}
    unknown = next(f for f in report.findings if f.issue.startswith("Unknown"))
    assert unknown.evidence["current"] == "still present"
    assert any(t.startswith("node.kubernetes.io/unreachable") for t in unknown.evidence["taints"])
    assert "NodeNotReady" in report.summary


def test_volume_issues(incident: Store) -> None:
    report = run_check(incident, "check_volume_issues", params())
    found = issues(report)
    assert ("data", "postgres-data", "Pending") in found
    assert ("data", "postgres-data", "ProvisioningFailed") in found
    assert ("data", "postgres-0", "PodWaitingForClaim") in found
    assert {name for _, name, _ in found} == {"postgres-data", "postgres-0"}
    pending = next(f for f in report.findings if f.issue == "Pending")
    assert pending.evidence["missingStorageClass"] == "fast-ssd"


def test_recent_changes(incident: Store) -> None:
    report = run_check(incident, "analyze_recent_changes", params())
    by_object = {(f.object.kind, f.object.namespace, f.object.name): f for f in report.findings}
    rollout = by_object[("Deployment", "shop", "checkout")]
    assert "helm" in rollout.evidence["fieldManagers"]
    assert "1.4.2 → registry.example.com/shop/checkout:1.5.0" in rollout.message
    typo = by_object[("Deployment", "payments", "payment-api")]
    assert "argocd-controller" in typo.evidence["fieldManagers"] and "v2.3.O" in typo.message
    assert (
        "data.DATABASE_URL changed" in by_object[("ConfigMap", "shop", "checkout-config")].message
    )
    secret = by_object[("Secret", "payments", "payment-db-credentials")]
    assert "data.password changed" in secret.message
    assert not any(f.object.kind in ("Pod", "Node", "Event") for f in report.findings)
    text = orjson.dumps(report.to_dict()).decode()
    assert DEMO_SECRET_CANARY not in text


def test_startup_names_the_cause(incident: Store) -> None:
    crash_pod = next(
        f.object.name
        for f in run_check(incident, "check_pod_issues", params(namespace="shop")).findings
        if f.issue == "CrashLoopBackOff"
    )
    report = run_check(
        incident, "investigate_pod_startup", params(namespace="shop", pod_name=crash_pod)
    )
    assert "crashes" in report.conclusion and "code 1" in report.conclusion
    assert "Deployment/checkout by helm" in report.conclusion
    assert "ConfigMap checkout-config" in report.conclusion
    image_pod = next(
        f.object.name
        for f in run_check(incident, "check_pod_issues", params(namespace="payments")).findings
        if f.issue == "ImagePullBackOff"
    )
    report = run_check(
        incident, "investigate_pod_startup", params(namespace="payments", pod_name=image_pod)
    )
    assert "cannot be pulled" in report.conclusion and "v2.3.O" in report.conclusion
    report = run_check(
        incident, "investigate_pod_startup", params(namespace="data", pod_name="postgres-0")
    )
    assert (
        "cannot be scheduled" in report.conclusion
        and "postgres-data is Pending" in report.conclusion
    )
    timeline = next(f for f in report.findings if f.issue == "Investigation").evidence["timeline"]
    assert any("FailedScheduling" in entry["what"] for entry in timeline)


def test_startup_of_an_unknown_pod_says_so(incident: Store) -> None:
    report = run_check(
        incident, "investigate_pod_startup", params(namespace="shop", pod_name="nope")
    )
    assert report.findings == [] and "No pod shop/nope was recorded" in report.conclusion


def test_startup_needs_pod_and_namespace(sqlite_incident: Store) -> None:
    with pytest.raises(InvalidParams, match="pod_name is required"):
        run_check(sqlite_incident, "investigate_pod_startup", params(namespace="shop"))
    with pytest.raises(InvalidParams, match="namespace is required"):
        run_check(sqlite_incident, "investigate_pod_startup", params(pod_name="x"))


def test_resource_limits(incident: Store) -> None:
    report = run_check(incident, "check_resource_limits", params())
    assert ("data", "etl-worker", "OOMKilled") in issues(report)
    oom = next(f for f in report.findings if f.issue == "OOMKilled")
    assert oom.evidence["memoryLimit"] == "512Mi"
    assert any("CPU throttling" in note for note in report.notes)


@pytest.mark.parametrize(
    "check",
    ["check_pod_issues", "check_volume_issues", "check_resource_limits", "check_workload_rollouts"],
)
def test_quiet_hours_have_no_problems(incident: Store, check: str) -> None:
    assert run_check(incident, check, params(QUIET)).findings == []


def test_quiet_hours_have_healthy_nodes(incident: Store) -> None:
    report = run_check(incident, "check_node_health", params(QUIET))
    assert [f for f in report.findings if f.severity == "critical"] == []


def test_namespace_narrows(incident: Store) -> None:
    report = run_check(incident, "check_pod_issues", params(namespace="payments"))
    assert report.findings and {f.object.namespace for f in report.findings} == {"payments"}


def test_limit_truncates_and_counts(incident: Store) -> None:
    report = run_check(incident, "check_pod_issues", params(limit=2))
    assert len(report.findings) == 2 and report.truncated and report.total_findings > 2


@pytest.mark.parametrize("other", ["osmem_incident", "opensearch_incident"])
@pytest.mark.parametrize("check", sorted(set(CHECKS) - {"investigate_pod_startup"}))
def test_every_store_gives_the_same_report(
    check: str, other: str, sqlite_incident: Store, request: pytest.FixtureRequest
) -> None:
    expected = run_check(sqlite_incident, check, params()).to_dict()
    assert run_check(request.getfixturevalue(other), check, params()).to_dict() == expected


def test_a_capped_aggregation_says_its_counts_are_partial(incident: Store, monkeypatch) -> None:
    from kubetrail.diagnostics import common

    monkeypatch.setattr(common, "GROUP_CAP", 2)
    report = run_check(incident, "check_pod_issues", params())
    assert report.truncated
    assert any("summary counts only the first ones" in n for n in report.notes)


@pytest.mark.parametrize("layout", ["one-file", "day-files"])
def test_a_pod_seen_in_the_range_only_through_its_events_gets_its_current_state(
    tmp_path: Path, layout: str
) -> None:
    """check_pod_issues reads each shown pod's newest version in the range, and looks
    further back (every stored day) only for a pod whose Events alone are in it."""
    store = (SQLiteStore if layout == "one-file" else DailyStore)(tmp_path / "s.db")
    quiet = pod(name="api-5c4b9-q7x2z", uid="api-uid", rv="10", created="2026-11-20T00:00:00Z")
    probe = k8s_event(
        reason="Unhealthy",
        involved_name="api-5c4b9-q7x2z",
        rv="20",
        last="2026-11-25T03:10:00Z",
        message="Liveness probe failed: HTTP probe failed with statuscode: 500",
    )
    store.write(
        [
            normalize("ADDED", quiet, observed_at=parse_rfc3339("2026-11-23T08:00:00Z")),
            normalize("ADDED", probe, observed_at=parse_rfc3339("2026-11-25T03:10:00Z")),
        ]
    )
    window = TimeRange(
        start=parse_rfc3339("2026-11-25T03:00:00Z"), end=parse_rfc3339("2026-11-25T04:00:00Z")
    )
    report = run_check(store, "check_pod_issues", CheckParams(range=window))
    (finding,) = report.findings
    assert (finding.object.name, finding.issue) == ("api-5c4b9-q7x2z", "ProbeFailure")
    assert finding.evidence["current"] == "recovered by 2026-11-23T08:00:00Z"
    store.close()
