"""Each check finds every planted issue of its kind in the incident, flags no
healthy object, and answers the same in every store."""

from __future__ import annotations

import orjson
import pytest

from kubetrail.demo.incident import DEMO_SECRET_CANARY
from kubetrail.diagnostics import CHECKS, InvalidParams, run_check
from kubetrail.store.base import Store
from tests.support.incident import QUIET, params


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
    "check", ["check_pod_issues", "check_volume_issues", "check_resource_limits"]
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
