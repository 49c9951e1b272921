"""The demo incident played into a real kube-apiserver and shipped by the real shipper:
the seven diagnostics find each planted failure in what the shipper stored.

The incident is the built-in demo's own recording (kubetrail.demo.play turns it into
writes, so demo and test cannot drift): its past is created first (the shipper starts
after it and lists it as snapshots), then the incident is played, objects created,
changed and deleted, statuses written through the status subresource as kubelets and
controllers would (none runs beside the server). The server assigns its own uids,
resourceVersions and times: the six hours of the recording pass in the seconds the
play takes, and the checks look at those seconds. The namespaces and nodes carry a
prefix of their own (the server is shared; a namespace cannot be deleted without a
controller), and each assertion looks at those only.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from kubetrail.cli.demo_play import api_transport
from kubetrail.demo.incident import DEMO_SECRET_CANARY, generate_incident
from kubetrail.demo.play import Plan, plan_writes
from kubetrail.demo.player import Played, Player
from kubetrail.diagnostics import CheckParams, Report, TimeRange, run_check
from kubetrail.events.redact import RedactionPolicy
from kubetrail.events.resources import plural_for_kind
from kubetrail.events.timing import utcnow
from kubetrail.shipper.kube import load_client
from kubetrail.shipper.service import Shipper
from kubetrail.store.base import EventFilter, EventQuery
from kubetrail.store.sqlite import SQLiteStore, open_embedded
from tests.support.kube_apiservers import RealCluster
from tests.support.plaintext import stored_bytes
from tests.support.shipping import config, wait_until

HEALTHY = ("frontend", "cart", "fraud-check", "coredns", "prometheus")


@dataclass
class PlayedIncident:
    store: SQLiteStore
    prefix: str
    plan: Plan
    played: Played
    events: list[dict[str, Any]]
    range: TimeRange
    spool: Path

    def ns(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def params(self, **kw: Any) -> CheckParams:
        return CheckParams(range=self.range, **{"limit": 500, **kw})

    def mine(self, report: Report) -> set[tuple[str, str, str]]:
        """(namespace, name before the pod hash, issue) of the findings about this play."""
        out = set()
        for f in report.findings:
            ns, name = f.object.namespace, f.object.name
            if not (ns.startswith(self.prefix + "-") or name.startswith(self.prefix + "-")):
                continue
            if f.object.kind == "Pod" and name.count("-") >= 2 and not name.endswith("-0"):
                name = name.rsplit("-", 2)[0]
            out.add((ns, name, f.issue))
        return out


def lagging(shipper: Shipper, played: Played) -> list[str]:
    """The resources the shipper has not stored up to the newest version the play wrote
    (resourceVersions are etcd revisions: comparable as numbers on this server)."""
    return [
        resource
        for resource, rv in sorted(played.last_versions.items())
        if int(shipper.checkpoints.get(resource) or 0) < int(rv)
    ]


@pytest.fixture(scope="module")
def incident(
    real_kube: RealCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PlayedIncident]:
    tmp = tmp_path_factory.mktemp("played")
    prefix = f"kt-play-{uuid.uuid4().hex[:6]}"
    events = generate_incident(anchor=utcnow())
    plan = plan_writes(events, prefix=prefix)
    api = load_client(kubeconfig=str(real_kube.kubeconfig))
    player = Player(api_transport(api))
    store = open_embedded(tmp / "played.db")
    try:
        player.play(plan.phase("setup"))
        start = utcnow()
        shipper = Shipper(
            kube=real_kube.kube(),
            store=store,
            config=config(tmp, stall_timeout=90.0),
            policy=RedactionPolicy(),
        )
        shipper.start()
        try:
            assert shipper.wait_synced(60), "watchers did not finish their first list"
            player.play(plan.phase("incident"))
            try:
                wait_until(lambda: not lagging(shipper, player.played), 90)
            except AssertionError:
                raise AssertionError(
                    f"not shipped in 90 s: {lagging(shipper, player.played)}"
                ) from None
        finally:
            shipper.stop()
        span = TimeRange(start=start - timedelta(seconds=1), end=utcnow() + timedelta(seconds=1))
        yield PlayedIncident(store, prefix, plan, player.played, events, span, tmp / "spool")
    finally:
        store.close()
        api.close()


def test_the_server_ends_holding_what_the_recording_ends_with(
    incident: PlayedIncident, real_kube: RealCluster
) -> None:
    alive: dict[str, tuple[str, str, str, str]] = {}
    for e in incident.events:
        obj = e["object"]
        meta = obj["metadata"]
        if e["type"] == "DELETED":
            del alive[meta["uid"]]
        else:
            alive[meta["uid"]] = (
                obj["apiVersion"],
                obj["kind"],
                meta.get("namespace"),
                meta["name"],
            )
    listed = {(v, k, ns) for v, k, ns, _ in alive.values() if ns and ns != "default"}
    reporters = {reporter(e["object"]) for e in incident.events if e["object"]["kind"] == "Event"}
    for api_version, kind, ns in sorted(listed):
        base = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
        path = f"{base}/namespaces/{incident.ns(ns)}/{plural_for_kind(kind)}"
        items = real_kube.request("GET", path)["items"]
        names = {item["metadata"]["name"] for item in items if not by_the_server(item, reporters)}
        expected = {n for v, k, n_s, n in alive.values() if (v, k, n_s) == (api_version, kind, ns)}
        assert names == expected, path
    nodes = real_kube.request("GET", "/api/v1/nodes")["items"]
    played = {
        n["metadata"]["name"]: n for n in nodes if n["metadata"]["name"] in incident.plan.nodes
    }
    assert set(played) == set(incident.plan.nodes)
    ready = {
        name: next(c["status"] for c in n["status"]["conditions"] if c["type"] == "Ready")
        for name, n in played.items()
    }
    assert {name for name, status in ready.items() if status != "True"} == {
        f"{incident.prefix}-worker-3"
    }


def reporter(event: dict[str, Any]) -> str:
    """Who reported an Event (core/v1 or events.k8s.io/v1)."""
    return str(
        event.get("reportingController")
        or event.get("reportingComponent")
        or (event.get("source") or {}).get("component")
        or ""
    )


def by_the_server(item: dict[str, Any], reporters: set[str]) -> bool:
    """An Event the kube-apiserver's own controllers wrote, not the play: its
    ``ipallocator-repair-controller`` reports ``ClusterIPNotAllocated`` on a new Service
    when its IPAddress informer lags behind the Service's (CI once found such a
    ``cart.<nanos>`` Event in the played shop namespace)."""
    is_event = "involvedObject" in item or "regarding" in item
    return is_event and reporter(item) not in reporters


def test_each_version_is_stored_once_and_the_past_as_snapshots(incident: PlayedIncident) -> None:
    mine = tuple(ns for ns in incident.plan.namespaces if ns != "default")
    docs = all_docs(incident.store, namespace=mine)
    ids = [d["id"] for d in docs]
    assert len(ids) == len(set(ids))
    checkout = [d for d in docs if d["kind"] == "Deployment" and d["resourceName"] == "checkout"]
    assert checkout[0]["snapshot"] and not any(d["snapshot"] for d in checkout[1:])
    assert {d["fieldManager"] for d in checkout[1:]} >= {"helm", "kube-controller-manager"}


def all_docs(store: SQLiteStore, **filters: Any) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    after = None
    while True:
        page = store.search(EventQuery(filter=EventFilter(**filters), limit=1000, after=after))
        docs.extend(page.items)
        if page.next is None:
            return docs
        after = page.next


def test_pod_issues(incident: PlayedIncident) -> None:
    report = run_check(incident.store, "check_pod_issues", incident.params())
    found = incident.mine(report)
    assert (incident.ns("shop"), "checkout", "CrashLoopBackOff") in found
    assert (incident.ns("data"), "etl-worker", "OOMKilled") in found
    assert (incident.ns("payments"), "payment-api", "ImagePullBackOff") in found
    assert (incident.ns("data"), "postgres-0", "Unschedulable") in found
    assert not {name for _, name, _ in found} & set(HEALTHY)
    crash = next(
        f
        for f in report.findings
        if f.issue == "CrashLoopBackOff" and f.object.namespace == incident.ns("shop")
    )
    assert crash.evidence["lastTermination"]["exitCode"] == 1
    assert {e.reason for e in crash.related_events} & {"BackOff", "Failed"}


def test_node_health(incident: PlayedIncident) -> None:
    report = run_check(incident.store, "check_node_health", incident.params())
    mine = [f for f in report.findings if f.object.name in incident.plan.nodes]
    assert {f.object.name for f in mine if f.severity == "critical"} == {
        f"{incident.prefix}-worker-3"
    }
    unknown = next(f for f in mine if f.issue.startswith("Unknown"))
    assert unknown.evidence["current"] == "still present"
    assert any(t.startswith("node.kubernetes.io/unreachable") for t in unknown.evidence["taints"])
    assert "NodeNotReady" in {f.issue for f in mine}


def test_volume_issues(incident: PlayedIncident) -> None:
    report = run_check(incident.store, "check_volume_issues", incident.params())
    found = incident.mine(report)
    data = incident.ns("data")
    assert {
        (data, "postgres-data", "Pending"),
        (data, "postgres-data", "ProvisioningFailed"),
        (data, "postgres-0", "PodWaitingForClaim"),
    } <= found
    assert {name for _, name, _ in found} == {"postgres-data", "postgres-0"}
    pending = next(
        f for f in report.findings if f.issue == "Pending" and f.object.namespace == data
    )
    assert pending.evidence["missingStorageClass"] == "fast-ssd"


def test_recent_changes(incident: PlayedIncident) -> None:
    report = run_check(incident.store, "analyze_recent_changes", incident.params())
    by_object = {(f.object.kind, f.object.namespace, f.object.name): f for f in report.findings}
    rollout = by_object[("Deployment", incident.ns("shop"), "checkout")]
    assert "helm" in rollout.evidence["fieldManagers"]
    assert "1.4.2 → registry.example.com/shop/checkout:1.5.0" in rollout.message
    typo = by_object[("Deployment", incident.ns("payments"), "payment-api")]
    assert "argocd-controller" in typo.evidence["fieldManagers"] and "v2.3.O" in typo.message
    config_map = by_object[("ConfigMap", incident.ns("shop"), "checkout-config")]
    assert "data.DATABASE_URL changed" in config_map.message
    secret = by_object[("Secret", incident.ns("payments"), "payment-db-credentials")]
    assert "data.password changed" in secret.message
    mine = [f for f in report.findings if f.object.namespace.startswith(incident.prefix)]
    assert not any(f.object.kind in ("Pod", "Node", "Event") for f in mine)
    # the cluster's past was listed, not changed: the healthy apps were not "created"
    assert ("Deployment", incident.ns("shop"), "frontend") not in by_object
    assert DEMO_SECRET_CANARY not in orjson.dumps(report.to_dict()).decode()


def test_startup_names_the_cause(incident: PlayedIncident) -> None:
    store, shop, payments = incident.store, incident.ns("shop"), incident.ns("payments")
    crash_pod = next(
        f.object.name
        for f in run_check(store, "check_pod_issues", incident.params(namespace=shop)).findings
        if f.issue == "CrashLoopBackOff"
    )
    report = run_check(
        store, "investigate_pod_startup", incident.params(namespace=shop, pod_name=crash_pod)
    )
    assert "crashes" in report.conclusion and "code 1" in report.conclusion
    assert "Deployment/checkout by helm" in report.conclusion
    assert "ConfigMap checkout-config" in report.conclusion
    image_pod = next(
        f.object.name
        for f in run_check(store, "check_pod_issues", incident.params(namespace=payments)).findings
        if f.issue == "ImagePullBackOff"
    )
    report = run_check(
        store, "investigate_pod_startup", incident.params(namespace=payments, pod_name=image_pod)
    )
    assert "cannot be pulled" in report.conclusion and "v2.3.O" in report.conclusion
    report = run_check(
        store,
        "investigate_pod_startup",
        incident.params(namespace=incident.ns("data"), pod_name="postgres-0"),
    )
    assert "cannot be scheduled" in report.conclusion
    assert "postgres-data is Pending" in report.conclusion


def test_resource_limits(incident: PlayedIncident) -> None:
    report = run_check(incident.store, "check_resource_limits", incident.params())
    assert (incident.ns("data"), "etl-worker", "OOMKilled") in incident.mine(report)
    oom = next(
        f
        for f in report.findings
        if f.issue == "OOMKilled" and f.object.namespace == incident.ns("data")
    )
    assert oom.evidence["memoryLimit"] == "512Mi"


def test_workload_rollouts(incident: PlayedIncident) -> None:
    """The failed rollouts and the failed Job. (The StatefulSet waiting for its claim is
    not "stuck" here: a rollout counts as stuck after ten minutes, and the play takes
    seconds.)"""
    report = run_check(incident.store, "check_workload_rollouts", incident.params())
    found = {
        (f.object.kind, f.object.namespace, f.object.name, f.issue): f
        for f in report.findings
        if f.object.namespace.startswith(incident.prefix + "-")
    }
    checkout = found[("Deployment", incident.ns("shop"), "checkout", "ProgressDeadlineExceeded")]
    assert checkout.evidence["startedBy"]["by"] == "helm"
    assert "1.4.2 → 1.5.0" in checkout.message
    assert all("waiting:CrashLoopBackOff" in p["signals"] for p in checkout.evidence["failingPods"])
    payment = found[
        ("Deployment", incident.ns("payments"), "payment-api", "ProgressDeadlineExceeded")
    ]
    assert payment.evidence["startedBy"]["by"] == "argocd-controller"
    jobs = [f for (kind, _, _, issue), f in found.items() if (kind, issue) == ("Job", "JobFailed")]
    assert jobs and all("BackoffLimitExceeded" in f.message for f in jobs)
    assert not {name for _, _, name, _ in found} & set(HEALTHY)


def test_the_rotated_password_never_reached_the_store(incident: PlayedIncident) -> None:
    raw = stored_bytes(incident.store.path) + b"".join(
        p.read_bytes() for p in incident.spool.rglob("*") if p.is_file()
    )
    assert DEMO_SECRET_CANARY.encode() not in raw
    assert base64.b64encode(DEMO_SECRET_CANARY.encode()) not in raw
