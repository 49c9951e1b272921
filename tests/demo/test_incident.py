"""The built-in incident: a realistic, deterministic watch recording whose
problems show up as the expected signals, and whose secret never leaks."""

from __future__ import annotations

import base64
import itertools
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from kubetrail.demo.incident import DEMO_SECRET_CANARY, generate_incident
from kubetrail.events.normalize import SNAPSHOT_TOLERANCE, normalize
from kubetrail.events.timing import parse_rfc3339
from kubetrail.ingest.documents import to_documents

ANCHOR = datetime(2026, 11, 25, 4, 0, 17, 250_000, tzinfo=UTC)
A0 = ANCHOR.replace(microsecond=0)
CANARY_B64 = base64.b64encode(DEMO_SECRET_CANARY.encode()).decode()
RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def ago(**delta: float) -> datetime:
    return A0 - timedelta(**delta)


@pytest.fixture(scope="module")
def events() -> list[dict[str, Any]]:
    return generate_incident(anchor=ANCHOR)


@pytest.fixture(scope="module")
def docs(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        normalize(e["type"], e["object"], observed_at=parse_rfc3339(e["timestamp"])) for e in events
    ]


def with_signal(docs: list[dict[str, Any]], signal: str) -> list[dict[str, Any]]:
    return [d for d in docs if signal in d["signals"]]


def first_seen(docs: list[dict[str, Any]]) -> datetime:
    assert docs, "no document carries the signal"
    return min(parse_rfc3339(d["timestamp"]) for d in docs)


def latest_by_uid(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["uid"]: d for d in docs}


# -- shape of the stream -------------------------------------------------------------


def test_same_anchor_gives_the_same_events(events):
    again = generate_incident(anchor=ANCHOR)
    assert orjson.dumps(again) == orjson.dumps(events)


def test_another_anchor_gives_other_identities_shifted_in_time(events):
    other = generate_incident(anchor=ANCHOR + timedelta(days=3, minutes=7))
    assert {e["object"]["metadata"]["uid"] for e in other}.isdisjoint(
        {e["object"]["metadata"]["uid"] for e in events}
    )
    shift = parse_rfc3339(other[0]["timestamp"]) - parse_rfc3339(events[0]["timestamp"])
    assert shift == timedelta(days=3, minutes=7)


def test_naive_anchor_is_refused():
    with pytest.raises(ValueError, match="aware"):
        generate_incident(anchor=datetime(2026, 11, 25, 4, 0))


def test_a_few_hundred_to_1500_events(events):
    assert 300 <= len(events) <= 1500


def test_events_are_watch_events_sorted_within_the_six_hours(events):
    stamps = []
    for e in events:
        assert list(e) == ["type", "object", "timestamp"]
        assert e["type"] in ("ADDED", "MODIFIED", "DELETED")
        assert RFC3339_Z.match(e["timestamp"]), e["timestamp"]
        stamps.append(parse_rfc3339(e["timestamp"]))
    assert stamps == sorted(stamps)
    assert ANCHOR - timedelta(hours=6) <= stamps[0]
    assert stamps[-1] <= ANCHOR
    # it really spans the window: starts at -6h, ends within the last minutes
    assert stamps[0] - (ANCHOR - timedelta(hours=6)) < timedelta(seconds=5)
    assert ANCHOR - stamps[-1] < timedelta(minutes=10)


def test_resource_versions_strictly_increase_across_the_stream(events):
    versions = [e["object"]["metadata"]["resourceVersion"] for e in events]
    assert all(isinstance(v, str) and v.isdigit() for v in versions)
    numbers = [int(v) for v in versions]
    assert all(a < b for a, b in itertools.pairwise(numbers))


def test_every_event_normalizes(events, docs):
    assert len(docs) == len(events)
    for event, doc in zip(events, docs, strict=True):
        assert doc["timestamp"] == event["timestamp"]
        assert doc["kind"] == event["object"]["kind"]
        assert doc["resourceVersion"] == event["object"]["metadata"]["resourceVersion"]
    assert len({d["id"] for d in docs}) == len(docs)


def test_every_event_is_accepted_by_the_ingest_records(events, docs):
    for event, doc in zip(events[::25], docs[::25], strict=True):
        (again,) = to_documents(event)
        assert again["id"] == doc["id"]


# -- snapshots ---------------------------------------------------------------------------


def test_the_watch_starts_with_a_snapshot_of_everything(events, docs):
    start = events[0]["timestamp"]
    initial = [(e, d) for e, d in zip(events, docs, strict=True) if e["timestamp"] == start]
    assert len(initial) > 60
    assert all(e["type"] == "ADDED" and d["snapshot"] for e, d in initial)
    kinds = {e["object"]["kind"] for e, _ in initial}
    assert {
        "Namespace",
        "Node",
        "Deployment",
        "ReplicaSet",
        "Pod",
        "Service",
        "ConfigMap",
        "Secret",
        "PersistentVolumeClaim",
        "StatefulSet",
        "CronJob",
        "Job",
        "Event",
    } <= kinds
    for e, _ in initial:
        created = parse_rfc3339(e["object"]["metadata"]["creationTimestamp"])
        assert parse_rfc3339(start) - created > SNAPSHOT_TOLERANCE
    names = {(e["object"]["kind"], e["object"]["metadata"]["name"]) for e, _ in initial}
    for node in ("control-plane-1", "worker-1", "worker-2", "worker-3"):
        assert ("Node", node) in names
    for ns in ("shop", "payments", "data", "monitoring", "kube-system"):
        assert ("Namespace", ns) in names
    for deploy in (
        "checkout",
        "frontend",
        "cart",
        "payment-api",
        "fraud-check",
        "etl-worker",
        "coredns",
    ):
        assert ("Deployment", deploy) in names
    assert ("StatefulSet", "prometheus") in names
    assert ("PersistentVolumeClaim", "postgres-data-old") in names


def test_later_additions_are_real_creations(events, docs):
    start = events[0]["timestamp"]
    later = [
        (e, d)
        for e, d in zip(events, docs, strict=True)
        if e["type"] == "ADDED" and e["timestamp"] != start
    ]
    assert len(later) > 50
    assert {"Pod", "ReplicaSet", "Event", "Job", "PersistentVolumeClaim", "StatefulSet"} <= {
        e["object"]["kind"] for e, _ in later
    }
    for e, d in later:
        created = parse_rfc3339(e["object"]["metadata"]["creationTimestamp"])
        assert timedelta(0) <= parse_rfc3339(e["timestamp"]) - created <= timedelta(seconds=5)
        assert d["snapshot"] is False


# -- realism ----------------------------------------------------------------------------


def test_objects_carry_full_metadata_and_managed_fields(events):
    managers = set()
    for e in events:
        meta = e["object"]["metadata"]
        assert meta["uid"] and meta["creationTimestamp"] and meta["resourceVersion"]
        assert meta["managedFields"], (e["object"]["kind"], meta["name"])
        for entry in meta["managedFields"]:
            assert entry["operation"] == "Update"
            assert entry["fieldsType"] == "FieldsV1"
            assert isinstance(entry["fieldsV1"], dict) and entry["fieldsV1"]
            assert RFC3339_Z.match(entry["time"])
            managers.add(entry["manager"])
    assert {
        "helm",
        "kubectl-client-side-apply",
        "kube-controller-manager",
        "kubelet",
        "kube-scheduler",
        "argocd-controller",
    } <= managers


def test_pods_are_owned_by_replica_sets_owned_by_deployments(events):
    by_uid = {e["object"]["metadata"]["uid"]: e["object"] for e in events}
    checked = 0
    for e in events:
        obj = e["object"]
        if obj["kind"] != "Pod" or not obj["metadata"]["name"].startswith("checkout-"):
            continue
        (ref,) = obj["metadata"]["ownerReferences"]
        assert ref["kind"] == "ReplicaSet" and ref["controller"] is True
        rs = by_uid[ref["uid"]]
        assert rs["metadata"]["name"] == ref["name"]
        (deploy_ref,) = rs["metadata"]["ownerReferences"]
        assert deploy_ref["kind"] == "Deployment" and deploy_ref["name"] == "checkout"
        assert (
            obj["metadata"]["labels"]["pod-template-hash"]
            == rs["metadata"]["labels"]["pod-template-hash"]
        )
        checked += 1
    assert checked > 10


def test_nodes_heartbeat_every_ten_to_fifteen_minutes(events):
    beats = defaultdict(list)
    for e in events[1:]:
        obj = e["object"]
        if obj["kind"] == "Node" and e["type"] == "MODIFIED":
            ready = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
            if ready["status"] == "True":
                beats[obj["metadata"]["name"]].append(parse_rfc3339(ready["lastHeartbeatTime"]))
    for node in ("control-plane-1", "worker-1", "worker-2"):
        times = sorted(set(beats[node]))
        assert len(times) >= 20, node
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(timedelta(minutes=10) <= g <= timedelta(minutes=15) for g in gaps), node
    assert max(beats["worker-3"]) < ago(minutes=40)


def test_background_cron_jobs_complete_through_the_window(events):
    completed = {
        e["object"]["metadata"]["name"]
        for e in events
        if e["object"]["kind"] == "Job"
        and e["type"] == "MODIFIED"
        and any(
            c["type"] == "Complete" and c["status"] == "True"
            for c in e["object"]["status"].get("conditions", ())
        )
    }
    assert len(completed) >= 5
    normal = [
        e
        for e in events
        if e["object"]["kind"] == "Event"
        and e["object"]["type"] == "Normal"
        and parse_rfc3339(e["timestamp"]) < ago(hours=3)
    ]
    assert {"Scheduled", "Pulled", "Created", "Started", "Completed"} <= {
        e["object"]["reason"] for e in normal
    }


def test_nothing_is_wrong_before_the_incident(docs):
    bad_prefixes = (
        "pod.waiting:",
        "pod.lastTerminated:",
        "node.condition:",
        "pvc.phase:",
        "deployment.",
        "event.type:Warning",
    )
    early = [d for d in docs if parse_rfc3339(d["timestamp"]) < ago(hours=3)]
    assert early
    assert [
        d["signals"] for d in early if any(s.startswith(bad_prefixes) for s in d["signals"])
    ] == []


# -- the incident ------------------------------------------------------------------------


def test_checkout_config_and_payment_credentials_change_at_minus_3h(events, docs):
    changes = [
        (e, d)
        for e, d in zip(events, docs, strict=True)
        if e["type"] == "MODIFIED"
        and e["object"]["kind"] in ("ConfigMap", "Secret")
        and e["object"]["metadata"]["name"] in ("checkout-config", "payment-db-credentials")
    ]
    assert [e["object"]["metadata"]["name"] for e, _ in changes] == [
        "checkout-config",
        "payment-db-credentials",
    ]
    for e, d in changes:
        assert ago(hours=3) <= parse_rfc3339(e["timestamp"]) < ago(hours=2, minutes=58)
        assert d["fieldManager"] == "kubectl-client-side-apply"
    config = changes[0][0]["object"]
    assert "postgres.data.svc" in config["data"]["DATABASE_URL"]
    assert set(config["data"]) == {"DATABASE_URL", "LOG_LEVEL"}


def test_checkout_rollout_to_1_5_0_by_helm(events, docs):
    upgrade = next(
        (e, d)
        for e, d in zip(events, docs, strict=True)
        if e["object"]["kind"] == "Deployment"
        and e["object"]["metadata"]["name"] == "checkout"
        and e["type"] == "MODIFIED"
        and e["object"]["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":1.5.0")
    )
    event, doc = upgrade
    assert doc["fieldManager"] == "helm"
    assert ago(hours=2, minutes=50) <= parse_rfc3339(event["timestamp"]) < ago(hours=2, minutes=49)
    snapshot = next(
        e["object"]
        for e in events
        if e["object"]["kind"] == "Deployment" and e["object"]["metadata"]["name"] == "checkout"
    )
    assert snapshot["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "registry.example.com/shop/checkout:1.4.2"
    )
    assert snapshot["spec"]["replicas"] == 3
    assert event["object"]["metadata"]["generation"] == snapshot["metadata"]["generation"] + 1
    new_rs = [
        e
        for e in events
        if e["type"] == "ADDED"
        and e["object"]["kind"] == "ReplicaSet"
        and e["object"]["metadata"]["name"].startswith("checkout-")
        and parse_rfc3339(e["timestamp"]) > ago(hours=3)
    ]
    assert len(new_rs) == 1
    old_scaled = [
        e["object"]["spec"]["replicas"]
        for e in events
        if e["object"]["kind"] == "ReplicaSet"
        and e["object"]["metadata"]["name"].startswith("checkout-")
        and e["object"]["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":1.4.2")
    ]
    assert 3 in old_scaled and old_scaled[-1] == 2


def test_checkout_pods_crash_loop(docs):
    crashing = [
        d for d in with_signal(docs, "pod.waiting:CrashLoopBackOff") if d["namespace"] == "shop"
    ]
    assert all(d["resourceName"].startswith("checkout-") for d in crashing)
    assert ago(hours=2, minutes=50) < first_seen(crashing) < ago(hours=2, minutes=45)
    restarts = defaultdict(list)
    for d in crashing:
        cs = d["objectChanges"]["status"]["containerStatuses"][0]
        assert cs["lastState"]["terminated"]["reason"] == "Error"
        assert cs["lastState"]["terminated"]["exitCode"] == 1
        assert "pod.exitCode:1" in d["signals"] and "pod.lastTerminated:Error" in d["signals"]
        restarts[d["uid"]].append(cs["restartCount"])
    assert max(len(r) for r in restarts.values()) >= 20
    for counts in restarts.values():
        assert counts == sorted(counts)


def test_backoff_event_counts_grow_on_the_same_event_object(docs):
    backoffs = [
        d
        for d in with_signal(docs, "event.reason:BackOff")
        if d["involvedObject"]["name"].startswith("checkout-") and d["eventType"] == "Warning"
    ]
    per_event = defaultdict(list)
    for d in backoffs:
        per_event[d["uid"]].append((d["verb"], d["count"]))
    longest = max(per_event.values(), key=len)
    assert longest[0] == ("create", 1)
    assert all(verb == "update" for verb, _ in longest[1:])
    counts = [c for _, c in longest]
    assert counts == sorted(counts) and counts[-1] >= 20


def test_checkout_rollout_exceeds_its_progress_deadline(docs):
    exceeded = with_signal(docs, "deployment.reason:ProgressDeadlineExceeded")
    checkout = [d for d in exceeded if d["resourceName"] == "checkout"]
    assert ago(hours=2, minutes=32) <= first_seen(checkout) <= ago(hours=2, minutes=28)
    assert all("deployment.condition:Progressing=False" in d["signals"] for d in exceeded)
    available = next(
        c for c in checkout[0]["objectChanges"]["status"]["conditions"] if c["type"] == "Available"
    )
    assert available["status"] == "True"


def test_the_migration_job_fails_at_its_backoff_limit(docs):
    job_docs = [d for d in docs if d["kind"] == "Job" and d["resourceName"] == "orders-migrate"]
    assert job_docs[0]["verb"] == "create" and not job_docs[0]["snapshot"]
    assert job_docs[0]["fieldManager"] == "kubectl-client-side-apply"
    failed = with_signal(job_docs, "job.condition:Failed=True")
    assert ago(hours=2, minutes=40) < first_seen(failed) < ago(hours=2, minutes=35)
    assert all("job.reason:BackoffLimitExceeded" in d["signals"] for d in failed)
    status = failed[-1]["objectChanges"]["status"]
    assert status["failed"] == 3 == failed[-1]["objectChanges"]["spec"]["backoffLimit"] + 1
    assert [c["type"] for c in status["conditions"]] == ["FailureTarget", "Failed"]
    pods = [d for d in docs if d["kind"] == "Pod" and d["resourceName"].startswith("orders-")]
    failed_pods = {d["resourceName"] for d in with_signal(pods, "pod.phase:Failed")}
    assert len(failed_pods) == 3
    for d in with_signal(pods, "pod.phase:Failed"):
        (ref,) = d["objectChanges"]["metadata"]["ownerReferences"]
        assert (ref["kind"], ref["name"]) == ("Job", "orders-migrate")
        assert d["objectChanges"]["spec"]["restartPolicy"] == "Never"
        terminated = d["objectChanges"]["status"]["containerStatuses"][0]["state"]["terminated"]
        assert terminated["exitCode"] == 1 and "no such host" in terminated["message"]
        assert {"pod.terminated:Error", "pod.exitCode:1"} <= set(d["signals"])
    # pods that fail and are not restarted are not crash loops
    assert not with_signal(pods, "pod.waiting:CrashLoopBackOff")
    events = [d for d in docs if d["kind"] == "Event" and d["reason"] == "BackoffLimitExceeded"]
    assert [(e["involvedObject"]["name"], e["eventType"]) for e in events] == [
        ("orders-migrate", "Warning")
    ]


def test_etl_worker_is_oom_killed(docs):
    oom = with_signal(docs, "pod.lastTerminated:OOMKilled")
    assert oom and all(d["namespace"] == "data" for d in oom)
    assert all(d["resourceName"].startswith("etl-worker-") for d in oom)
    assert ago(hours=2) <= first_seen(oom) < ago(hours=1, minutes=59)
    pod = oom[-1]["objectChanges"]
    assert pod["spec"]["containers"][0]["resources"]["limits"]["memory"] == "512Mi"
    terminated = pod["status"]["containerStatuses"][0]["lastState"]["terminated"]
    assert terminated["reason"] == "OOMKilled" and terminated["exitCode"] == 137
    assert "pod.exitCode:137" in oom[-1]["signals"]
    assert pod["status"]["containerStatuses"][0]["restartCount"] >= 8
    etl_backoff = [
        d
        for d in with_signal(docs, "event.reason:BackOff")
        if d["involvedObject"]["name"].startswith("etl-worker-")
    ]
    assert etl_backoff and etl_backoff[-1]["eventType"] == "Warning"
    assert with_signal(docs, "event.reason:SystemOOM")


def test_payment_api_cannot_pull_its_typo_tag(docs):
    pulls = [
        d for d in with_signal(docs, "pod.waiting:ImagePullBackOff") if d["namespace"] == "payments"
    ]
    assert pulls and all(d["resourceName"].startswith("payment-api-") for d in pulls)
    assert ago(hours=1, minutes=30) < first_seen(pulls) < ago(hours=1, minutes=29)
    assert with_signal(docs, "pod.waiting:ErrImagePull")
    image = pulls[0]["objectChanges"]["spec"]["containers"][0]["image"]
    assert image == "registry.example.com/payments/payment-api:v2.3.O"
    rollout = [
        d
        for d in docs
        if d["kind"] == "Deployment"
        and d["resourceName"] == "payment-api"
        and d["fieldManager"] == "argocd-controller"
        and not d["snapshot"]
    ]
    assert rollout and first_seen(rollout) == ago(hours=1, minutes=30)
    failed = [
        d
        for d in with_signal(docs, "event.reason:Failed")
        if "not found" in d["objectChanges"]["message"]
    ]
    assert failed and failed[0]["eventType"] == "Warning"
    assert failed[0]["objectChanges"]["message"].startswith(f'Failed to pull image "{image}"')
    back_off = [
        d
        for d in with_signal(docs, "event.reason:BackOff")
        if d["objectChanges"]["message"] == f'Back-off pulling image "{image}"'
    ]
    assert back_off
    deadline = [
        d
        for d in with_signal(docs, "deployment.reason:ProgressDeadlineExceeded")
        if d["resourceName"] == "payment-api"
    ]
    assert deadline


def test_postgres_volume_is_never_provisioned(docs):
    pending = with_signal(docs, "pvc.phase:Pending")
    assert {(d["namespace"], d["resourceName"]) for d in pending} == {("data", "postgres-data")}
    assert ago(hours=1, minutes=1) < first_seen(pending) <= ago(hours=1) + timedelta(seconds=5)
    assert pending[0]["objectChanges"]["spec"]["storageClassName"] == "fast-ssd"
    provisioning = with_signal(docs, "event.reason:ProvisioningFailed")
    assert provisioning
    assert all(d["involvedObject"]["name"] == "postgres-data" for d in provisioning)
    assert provisioning[0]["objectChanges"]["message"] == (
        'storageclass.storage.k8s.io "fast-ssd" not found'
    )
    scheduling = with_signal(docs, "event.reason:FailedScheduling")
    assert scheduling and all(d["involvedObject"]["name"] == "postgres-0" for d in scheduling)
    assert (
        "pod has unbound immediate PersistentVolumeClaims"
        in scheduling[0]["objectChanges"]["message"]
    )
    unschedulable = with_signal(docs, "pod.unschedulable")
    assert {d["resourceName"] for d in unschedulable} == {"postgres-0"}


def test_worker_3_is_lost_and_its_pods_move(events, docs):
    unknown = with_signal(docs, "node.condition:Ready=Unknown")
    assert {d["resourceName"] for d in unknown} == {"worker-3"}
    assert ago(minutes=41) < first_seen(unknown) <= ago(minutes=40)
    node = unknown[-1]["objectChanges"]
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "NodeStatusUnknown"
    assert ready["message"] == "Kubelet stopped posting node status."
    assert {(t["key"], t["effect"]) for t in node["spec"]["taints"]} == {
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoSchedule"),
    }
    not_ready = [
        d
        for d in with_signal(docs, "event.reason:NodeNotReady")
        if d["involvedObject"]["kind"] == "Node"
    ]
    assert not_ready and not_ready[0]["involvedObject"]["name"] == "worker-3"

    evicted = [
        e["object"]
        for e in events
        if e["type"] == "DELETED"
        and e["object"]["kind"] == "Pod"
        and e["object"]["spec"].get("nodeName") == "worker-3"
        and parse_rfc3339(e["timestamp"]) > ago(minutes=40)
    ]
    assert len(evicted) >= 2
    for pod in evicted:
        assert pod["metadata"]["deletionTimestamp"]
        assert any(c["type"] == "DisruptionTarget" for c in pod["status"]["conditions"])
    owners = {pod["metadata"]["ownerReferences"][0]["uid"] for pod in evicted}
    replacements = [
        e
        for e in events
        if e["type"] == "ADDED"
        and e["object"]["kind"] == "Pod"
        and e["object"]["metadata"]["ownerReferences"][0]["uid"] in owners
        and parse_rfc3339(e["timestamp"]) > ago(minutes=36)
    ]
    assert len(replacements) == len(evicted)
    moved_to = {
        e["object"]["spec"]["nodeName"]
        for e in events
        if e["object"]["kind"] == "Pod"
        and e["type"] == "MODIFIED"
        and e["object"]["metadata"]["uid"] in {r["object"]["metadata"]["uid"] for r in replacements}
        and e["object"]["spec"].get("nodeName")
    }
    assert moved_to and "worker-3" not in moved_to


def test_nothing_is_fixed_at_the_end(docs):
    latest = latest_by_uid(d for d in docs if d["verb"] != "delete")
    last = {
        (d["kind"], d["namespace"], d["resourceName"]): d
        for d in sorted(latest.values(), key=lambda d: d["timestamp"])
    }
    assert "node.condition:Ready=Unknown" in last[("Node", "", "worker-3")]["signals"]
    assert (
        "pvc.phase:Pending" in last[("PersistentVolumeClaim", "data", "postgres-data")]["signals"]
    )
    assert "pod.unschedulable" in last[("Pod", "data", "postgres-0")]["signals"]
    live = {k: d for k, d in last.items() if d["uid"] in latest}
    checkout_pods = [d for (kind, ns, _), d in live.items() if kind == "Pod" and ns == "shop"]
    assert any(
        s in ("pod.waiting:CrashLoopBackOff", "pod.lastTerminated:Error")
        for d in checkout_pods
        for s in d["signals"]
    )
    payment_pods = [
        d
        for (kind, ns, name), d in live.items()
        if kind == "Pod" and name.startswith("payment-api-")
    ]
    assert any(s.startswith("pod.waiting:") for d in payment_pods for s in d["signals"])
    assert (
        "deployment.reason:ProgressDeadlineExceeded"
        in last[("Deployment", "shop", "checkout")]["signals"]
    )


# -- the secret ----------------------------------------------------------------------------


def test_canary_is_in_the_raw_events(events):
    raw = orjson.dumps(events)
    assert DEMO_SECRET_CANARY.encode() in raw
    assert CANARY_B64.encode() in raw
    rotated = [
        e["object"]
        for e in events
        if e["object"]["kind"] == "Secret"
        and e["object"]["metadata"]["name"] == "payment-db-credentials"
    ][-1]
    assert rotated["data"]["password"] == CANARY_B64
    assert (
        DEMO_SECRET_CANARY
        in rotated["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    )


def test_canary_never_reaches_a_document(docs):
    for doc in docs:
        body = orjson.dumps(doc)
        assert DEMO_SECRET_CANARY.encode() not in body, doc["id"]
        assert CANARY_B64.encode() not in body, doc["id"]
    secrets = [
        d for d in docs if d["kind"] == "Secret" and d["resourceName"] == "payment-db-credentials"
    ]
    assert len(secrets) >= 2
    assert secrets[-1]["objectChanges"]["data"]["password"].startswith("[REDACTED hmac-sha256:")
    assert (
        secrets[-1]["objectChanges"]["data"]["password"]
        != secrets[0]["objectChanges"]["data"]["password"]
    )


# -- other anchors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "anchor",
    [
        datetime(2024, 1, 1, 0, 0, 0, tzinfo=UTC),
        datetime(2025, 6, 30, 23, 59, 59, 999_999, tzinfo=UTC),
    ],
)
def test_the_incident_does_not_depend_on_the_anchor(anchor):
    events = generate_incident(anchor=anchor)
    assert 300 <= len(events) <= 1500
    signals = set()
    for e in events:
        doc = normalize(e["type"], e["object"], observed_at=parse_rfc3339(e["timestamp"]))
        signals.update(f"{doc['namespace']}/{s}" for s in doc["signals"])
        assert anchor - timedelta(hours=6) <= parse_rfc3339(e["timestamp"]) <= anchor
    assert {
        "shop/pod.waiting:CrashLoopBackOff",
        "data/pod.lastTerminated:OOMKilled",
        "payments/pod.waiting:ImagePullBackOff",
        "data/pvc.phase:Pending",
        "/node.condition:Ready=Unknown",
        "data/event.reason:ProvisioningFailed",
        "data/event.reason:FailedScheduling",
        "shop/deployment.reason:ProgressDeadlineExceeded",
        "shop/job.reason:BackoffLimitExceeded",
        "data/statefulset.rollout:PodsNotReady",
    } <= signals
