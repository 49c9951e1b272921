"""The built-in incident behind ``kubetrail demo``: the story, told in one file.

:func:`generate_incident` returns six hours of watch events from a small
kubeadm cluster (``control-plane-1`` and three workers), shaped as a watch
recording: one ``{"type", "object", "timestamp"}`` per event, each object as
``kubectl get -o json`` prints it (keys sorted, full metadata with
``managedFields``, defaulted spec, status). The stream starts with the initial
list of the watch (objects created days or weeks earlier, so they read as
snapshots); after that the cluster lives: kubelets heartbeat, an hourly CronJob
runs, ``shop/cart`` rolls out cleanly. Then, relative to the anchor:

========  ====================================================================
-3h       ``shop/checkout-config`` DATABASE_URL edited; ``payments/
          payment-db-credentials`` password rotated (to :data:`DEMO_SECRET_CANARY`)
-2h50m    helm upgrades ``shop/checkout`` 1.4.2 → 1.5.0: the new pods crash-loop
-2h40m    the 1.5.0 schema migration, ``shop/orders-migrate`` (a Job applied by
          hand), cannot reach the database either: three pods exit 1, the Job fails
          (BackoffLimitExceeded)
-2h30m    the checkout rollout exceeds its progress deadline
-2h       ``data/etl-worker`` starts getting OOMKilled (512Mi limit)
-1h30m    argocd rolls ``payments/payment-api`` to ``v2.3.O`` (letter O): ImagePullBackOff
-1h       ``data/postgres-data`` asks for StorageClass ``fast-ssd``, which does not
          exist; ``data/postgres-0`` cannot be scheduled
-40m      ``worker-3`` stops posting status; its pods are evicted at -35m and
          replaced on the other workers
========  ====================================================================

Nothing is fixed by the end.

The story reads top to bottom: the cluster and its applications, the timeline
(:func:`_scenario`), how the cluster came to be before the watch starts, then each
step of the incident. What happens *because* of a step (pods crash-looping, a
rollout timing out, evictions, Events) is not written here: the simulation
works it out, as a cluster would.

How it is built: a tiny discrete-event simulation (:mod:`kubetrail.demo.simulation`).
Builders (:mod:`kubetrail.demo.objects`) make objects of each kind; small
controllers (:mod:`kubetrail.demo.controllers`: deployment, replica set, scheduler,
kubelet, jobs, nodes) change them as processes scheduled in time order, so every
object stays consistent with the others (a Deployment's status counts its pods'
readiness, an evicted pod is replaced by its ReplicaSet, ...). Applications are
installed and upgraded the way their owners do it (:mod:`kubetrail.demo.releases`).
History before the watch starts is simulated too, silently; the watch then lists
whatever is alive.

Deterministic: the same anchor gives the same events. Uids are uuid5 of the
anchor and the object's identity, names and jitter come from hashes, and
resourceVersions are assigned in stream order. No randomness.

This recording is also the diagnostics' test dataset: tests assert the signals
each step leaves, so a change here is a change to those tests' expectations.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from kubetrail.demo.behaviours import Completes, Crashes, MissingImage
from kubetrail.demo.controllers.jobs import run_cronjob, run_job
from kubetrail.demo.controllers.kubelet import crash_loop, kubelet_alive
from kubetrail.demo.controllers.nodes import heartbeats, node_lost
from kubetrail.demo.controllers.statefulset import start_statefulset_pod
from kubetrail.demo.controllers.volumes import provisioning_fails
from kubetrail.demo.objects.apps import App
from kubetrail.demo.objects.core import (
    new_applied_secret,
    new_config_map,
    new_helm_release,
    new_namespace,
    new_pvc,
    new_service,
    set_applied_config_map,
    set_applied_secret,
)
from kubetrail.demo.objects.jobs import new_applied_job, new_cronjob
from kubetrail.demo.objects.nodes import NodeInfo, new_node
from kubetrail.demo.objects.workloads import new_statefulset
from kubetrail.demo.primitives import KCM, Obj, Process
from kubetrail.demo.releases import install, upgrade
from kubetrail.demo.simulation import Sim

__all__ = ["DEMO_SECRET_CANARY", "generate_incident"]

#: The rotated database password of ``payments/payment-db-credentials``. It is in
#: the raw events (base64 in ``data``, plain in the last-applied annotation) and
#: must never reach a stored document.
DEMO_SECRET_CANARY = "s3cr3t-canary-rotated"


def generate_incident(*, anchor: datetime) -> list[Obj]:
    """Six hours of watch events ending at ``anchor`` (aware), sorted by timestamp."""
    sim = Sim(anchor)
    _scenario(sim)
    sim.run()
    return sim.watch_events()


# -- the cluster and its applications ----------------------------------------------

_NODES = (
    NodeInfo("control-plane-1", "10.0.0.10", "10.244.0.0/24", control_plane=True),
    NodeInfo("worker-1", "10.0.1.11", "10.244.1.0/24"),
    NodeInfo("worker-2", "10.0.1.12", "10.244.2.0/24", pool="batch"),
    NodeInfo("worker-3", "10.0.1.13", "10.244.3.0/24"),
)


_OLD_DATABASE_URL = (
    "postgres://checkout@orders-db.data.svc.cluster.local:5432/orders?sslmode=require"
)
_NEW_DATABASE_URL = (
    "postgres://checkout@postgres.data.svc.cluster.local:5432/orders?sslmode=require"
)
_MIGRATE_IMAGE = "registry.example.com/shop/checkout-migrate:1.5.0"
_MIGRATE_PANIC = (
    "Error: connect to database: dial tcp: lookup postgres.data.svc.cluster.local on "
    "10.96.0.10:53: no such host\nmigration 1.5.0 not applied\n"
)
_CHECKOUT_PANIC = (
    "panic: connect to database: dial tcp: lookup postgres.data.svc.cluster.local "
    "on 10.96.0.10:53: no such host\n\ngoroutine 1 [running]:\nmain.main()\n"
    "\t/src/cmd/checkout/main.go:57 +0x2a5\n"
)

COREDNS = App(
    "kube-system",
    "coredns",
    "registry.k8s.io/coredns/coredns",
    2,
    "kubeadm",
    history=((62.99, "v1.11.1"),),
    port=53,
    cpu="100m",
    memory="70Mi",
    memory_limit="170Mi",
    max_unavailable=1,
    probes=(("/health", 8080), ("/ready", 8181)),
    labels=(("k8s-app", "kube-dns"),),
    service_account="coredns",
    args=("-conf", "/etc/coredns/Corefile"),
    ports=(("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")),
    config_volume=("coredns", "/etc/coredns"),
    priority_class="system-cluster-critical",
    service=False,  # kube-dns is made at bootstrap
)
CHECKOUT = App(
    "shop",
    "checkout",
    "registry.example.com/shop/checkout",
    3,
    "helm",
    history=((41, "1.4.1"), (6, "1.4.2")),
    cpu="200m",
    memory="256Mi",
    memory_limit="512Mi",
    max_surge=1,
    max_unavailable=1,
    progress_deadline=1200,
    config="checkout-config",
    config_data=(("DATABASE_URL", _OLD_DATABASE_URL), ("LOG_LEVEL", "info")),
)
FRONTEND = App(
    "shop",
    "frontend",
    "registry.example.com/shop/frontend",
    2,
    "helm",
    history=((41, "2.8.0"), (3, "2.8.1")),
    port=3000,
    memory_limit="384Mi",
    load_balancer_ip="10.0.2.50",
)
CART = App(
    "shop",
    "cart",
    "registry.example.com/shop/cart",
    2,
    "helm",
    history=((41, "1.11.4"), (9, "1.12.0")),
    env=(("LOG_LEVEL", "info"), ("REDIS_ADDR", "cart-redis:6379")),
)
PAYMENT_API = App(
    "payments",
    "payment-api",
    "registry.example.com/payments/payment-api",
    2,
    "argocd-controller",
    history=((34, "v2.2.4"), (2, "v2.3.0")),
    cpu="250m",
    memory="256Mi",
    memory_limit="512Mi",
    db_secret="payment-db-credentials",
    db_credentials=(("password", "pw-initial-7f3b9c"), ("username", "payments")),
    env=(("FRAUD_CHECK_URL", "http://fraud-check.payments:8080"),),
)
FRAUD_CHECK = App(
    "payments",
    "fraud-check",
    "registry.example.com/payments/fraud-check",
    1,
    "argocd-controller",
    history=((34, "0.9.3"), (12, "0.9.4")),
)
ETL_WORKER = App(
    "data",
    "etl-worker",
    "registry.example.com/data/etl-worker",
    1,
    "kubectl-client-side-apply",
    history=((20, "3.0.2"), (5, "3.1.0")),
    cpu="250m",
    memory="256Mi",
    memory_limit="512Mi",
    probes=(),
    node_pool="batch",
    env=(("BATCH_SIZE", "5000"), ("SOURCE", "s3://events-raw/")),
    service=False,
)
PROMETHEUS = App(
    "monitoring",
    "prometheus",
    "quay.io/prometheus/prometheus",
    1,
    "helm",
    history=((40, "v2.51.2"),),
    port=9090,
    cpu="500m",
    memory="2Gi",
    memory_limit="4Gi",
    probes=(("/-/healthy", "http"), ("/-/ready", "http")),
    service_account="prometheus",
    args=("--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.retention.time=15d"),
)
POSTGRES = App(
    "data",
    "postgres",
    "docker.io/library/postgres",
    1,
    "kubectl-client-side-apply",
    history=((0, "16.2"),),
    port=5432,
    cpu="500m",
    memory="1Gi",
    memory_limit="2Gi",
    probes=(),
    ports=(("postgres", 5432, "TCP"),),
    env=(("PGDATA", "/var/lib/postgresql/data/pgdata"),),
)

_DEPLOYMENTS = (COREDNS, CHECKOUT, FRONTEND, CART, PAYMENT_API, FRAUD_CHECK, ETL_WORKER)


# -- the timeline --------------------------------------------------------------------


def _scenario(sim: Sim) -> None:
    """Everything that happens, in the order it happens."""
    ago = sim.ago
    # Weeks before the watch (not recorded, but alive when it starts): the cluster is
    # built, the apps installed and upgraded; the report CronJob runs hourly.
    sim.spawn(ago(days=63), _bootstrap_cluster(sim))
    for app in _DEPLOYMENTS:
        days, version = app.history[0]
        sim.spawn(ago(days=days), install(sim, app, version))
        for days, version in app.history[1:]:
            sim.spawn(ago(days=days), upgrade(sim, app, version))
    sim.spawn(ago(days=40), _install_prometheus(sim))
    sim.spawn(ago(days=20), _install_report_cron(sim))
    sim.spawn(ago(days=19), _create_old_postgres_volume(sim))
    schedule_minute = (sim.anchor.minute + 30) % 60
    first = (sim.watch_start - timedelta(hours=4)).replace(minute=schedule_minute, second=0)
    for hour in range(12):
        scheduled = first + timedelta(hours=hour)
        cron_run = run_cronjob(sim, namespace="data", name="report-export", scheduled=scheduled)
        sim.spawn(scheduled, cron_run)

    # -6h: the watch starts with a list of everything; kubelets keep heartbeating.
    sim.spawn(sim.watch_start, sim.list_everything())
    for info in _NODES:
        sim.spawn(sim.watch_start, heartbeats(sim, info.name))

    # -4h30m: a routine, successful helm upgrade of shop/cart.
    sim.spawn(ago(hours=4, minutes=30), upgrade(sim, CART, "1.12.1"))

    # -3h: config and credentials change.
    sim.spawn(ago(hours=3), _edit_checkout_config(sim))
    sim.spawn(ago(hours=3) + timedelta(seconds=41), _rotate_payment_db_password(sim))

    # -2h50m: checkout 1.5.0 cannot resolve its new database host and exits 1.
    sim.behaviour[CHECKOUT.image("1.5.0")] = Crashes(
        runtime=2, exit_code=1, reason="Error", message=_CHECKOUT_PANIC
    )
    sim.spawn(ago(hours=2, minutes=50), upgrade(sim, CHECKOUT, "1.5.0"))

    # -2h40m: its schema migration, applied by hand, fails the same way.
    sim.behaviour[_MIGRATE_IMAGE] = Crashes(
        runtime=3, exit_code=1, reason="Error", message=_MIGRATE_PANIC
    )
    sim.spawn(ago(hours=2, minutes=40), _run_checkout_migration(sim))

    # -2h: etl-worker outgrows its 512Mi limit.
    sim.spawn(ago(hours=2), _etl_worker_oom(sim))

    # -1h30m: argocd syncs payment-api to a tag with a letter O.
    sim.behaviour[PAYMENT_API.image("v2.3.O")] = MissingImage()
    sim.spawn(ago(hours=1, minutes=30), upgrade(sim, PAYMENT_API, "v2.3.O"))

    # -1h: postgres asks for a StorageClass that does not exist.
    sim.spawn(ago(hours=1), _deploy_postgres(sim))

    # -41m: worker-3's kubelet dies; -40m the node controller notices; -35m evictions.
    sim.spawn(ago(minutes=41), _kubelet_dies(sim, "worker-3"))
    sim.spawn(ago(minutes=40), node_lost(sim, "worker-3"))


# -- before the watch: how the cluster came to be ---------------------------------


def _bootstrap_cluster(sim: Sim) -> Process:
    for info in _NODES:
        sim.nodes[info.name] = sim.create(new_node(sim, info, sim.now))
        yield 60
    sim.create(new_namespace(sim, "kube-system", sim.now, "kube-apiserver"))
    corefile = (
        ".:53 {\n    errors\n    health {\n       lameduck 5s\n    }\n    ready\n"
        "    kubernetes cluster.local in-addr.arpa ip6.arpa {\n       pods insecure\n"
        "       fallthrough in-addr.arpa ip6.arpa\n       ttl 30\n    }\n"
        "    prometheus :9153\n    forward . /etc/resolv.conf {\n       max_concurrent 1000\n"
        "    }\n    cache 30\n    loop\n    reload\n    loadbalance\n}\n"
    )
    sim.create(
        new_config_map(sim, "kube-system", "coredns", {"Corefile": corefile}, sim.now, "kubeadm")
    )
    sim.create(
        new_service(
            sim,
            "kube-system",
            "kube-dns",
            selector={"k8s-app": "kube-dns"},
            ports=[
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153},
            ],
            created=sim.now,
            manager="kubeadm",
            labels={
                "k8s-app": "kube-dns",
                "kubernetes.io/cluster-service": "true",
                "kubernetes.io/name": "CoreDNS",
            },
            cluster_ip="10.96.0.10",
        )
    )
    for name, days, manager in (
        ("shop", 41, "kubectl-create"),
        ("payments", 34, "argocd-controller"),
        ("data", 20, "kubectl-client-side-apply"),
        ("monitoring", 40, "helm"),
    ):
        sim.spawn(sim.ago(days=days) - timedelta(minutes=5), _create_namespace(sim, name, manager))


def _create_namespace(sim: Sim, name: str, manager: str) -> Process:
    sim.create(new_namespace(sim, name, sim.now, manager))
    yield from ()


def _install_prometheus(sim: Sim) -> Process:
    app = PROMETHEUS
    version = app.history[0][1]
    sim.create(
        new_config_map(
            sim,
            app.namespace,
            "prometheus-server",
            {
                "prometheus.yml": "global:\n  scrape_interval: 30s\nscrape_configs:\n"
                "  - job_name: kubernetes-pods\n    kubernetes_sd_configs:\n      - role: pod\n"
            },
            sim.now,
            "helm",
        )
    )
    sim.create(new_helm_release(sim, app.name, app.namespace, 1, "deployed", sim.now))
    sim.create(
        new_service(
            sim,
            app.namespace,
            app.name,
            selector=app.selector(),
            ports=[{"name": "http", "port": 9090, "protocol": "TCP", "targetPort": "http"}],
            created=sim.now,
            manager="helm",
            labels=app.object_labels(version),
        )
    )
    sts = new_statefulset(
        sim,
        app,
        version,
        claim={
            "volume": "storage",
            "template": True,
            "size": "50Gi",
            "class": "longhorn",
            "mountPath": "/prometheus",
        },
    )
    sts["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/hostname": "worker-1"}
    sim.create(sts)
    yield 1
    sim.create(
        new_pvc(
            sim,
            app.namespace,
            "storage-prometheus-0",
            size="50Gi",
            storage_class="longhorn",
            created=sim.now,
            manager=KCM,
            bound=True,
            labels=app.selector(),
        )
    )
    yield from start_statefulset_pod(sim, sts, claim_name="storage-prometheus-0")


def _create_old_postgres_volume(sim: Sim) -> Process:
    """The volume of an earlier postgres, still bound (on the ``longhorn`` class)."""
    sim.create(
        new_pvc(
            sim,
            "data",
            "postgres-data-old",
            size="50Gi",
            storage_class="longhorn",
            created=sim.now,
            manager="kubectl-client-side-apply",
            bound=True,
            labels={"app": "postgres"},
        )
    )
    yield from ()


def _install_report_cron(sim: Sim) -> Process:
    minute = (sim.anchor.minute + 30) % 60
    image = "registry.example.com/data/report-export:1.0.3"
    sim.behaviour[image] = Completes(runtime=45)
    sim.create(new_cronjob(sim, "report-export", "data", image, f"{minute} * * * *"))
    yield from ()


# -- the incident, step by step --------------------------------------------------------


def _edit_checkout_config(sim: Sim) -> Process:
    config = sim.find("ConfigMap", "shop", "checkout-config")
    assert config is not None
    set_applied_config_map(sim, config, {"DATABASE_URL": _NEW_DATABASE_URL, "LOG_LEVEL": "debug"})
    sim.update(config)
    yield from ()


def _rotate_payment_db_password(sim: Sim) -> Process:
    secret = sim.find("Secret", "payments", "payment-db-credentials")
    assert secret is not None
    set_applied_secret(
        sim, secret, {"password": DEMO_SECRET_CANARY, "username": "payments"}, sim.now
    )
    sim.update(secret)
    yield from ()


def _run_checkout_migration(sim: Sim) -> Process:
    """``kubectl apply -f migrate-1.5.0.yaml``: a Job running the schema migration
    with the new config; the job controller retries it twice, then gives up."""
    job = sim.create(
        new_applied_job(
            sim,
            "orders-migrate",
            "shop",
            {
                "args": ["migrate", "--to=1.5.0"],
                "envFrom": [{"configMapRef": {"name": "checkout-config"}}],
                "image": _MIGRATE_IMAGE,
                "name": "migrate",
                "resources": {
                    "limits": {"memory": "256Mi"},
                    "requests": {"cpu": "100m", "memory": "128Mi"},
                },
                "terminationMessagePolicy": "FallbackToLogsOnError",
            },
            backoff_limit=2,
        )
    )
    yield from run_job(sim, job)


def _etl_worker_oom(sim: Sim) -> Process:
    deploy = sim.find("Deployment", "data", "etl-worker")
    assert deploy is not None
    oom = Crashes(runtime=200, exit_code=137, reason="OOMKilled", oom_process="python3", jitter=120)
    for rs in sim.owned(deploy, "ReplicaSet"):
        for pod in sim.owned(rs, "Pod"):
            if kubelet_alive(sim, pod):
                sim.spawn(sim.now, crash_loop(sim, pod, oom, first_in=0))
    sim.behaviour[deploy["spec"]["template"]["spec"]["containers"][0]["image"]] = oom
    yield from ()


def _deploy_postgres(sim: Sim) -> Process:
    """``kubectl apply -f postgres/``: credentials, a headless Service, a PVC on a
    StorageClass that does not exist, and the StatefulSet that needs it."""
    app = POSTGRES
    sim.create(
        new_applied_secret(
            sim,
            "data",
            "postgres-credentials",
            {"POSTGRES_PASSWORD": "pg-bootstrap-2f8e1a", "POSTGRES_USER": "orders"},
            sim.now,
        )
    )
    sim.create(
        new_service(
            sim,
            "data",
            "postgres",
            selector=app.selector(),
            ports=[{"name": "postgres", "port": 5432, "protocol": "TCP", "targetPort": 5432}],
            created=sim.now,
            manager=app.manager,
            labels=app.selector(),
            cluster_ip="None",
        )
    )
    pvc = sim.create(
        new_pvc(
            sim,
            "data",
            "postgres-data",
            size="100Gi",
            storage_class="fast-ssd",
            created=sim.now,
            manager=app.manager,
            bound=False,
            labels=app.selector(),
        )
    )
    sim.spawn(sim.now, provisioning_fails(sim, pvc))
    sts = new_statefulset(
        sim,
        app,
        app.history[0][1],
        claim={"volume": "data", "name": "postgres-data", "mountPath": "/var/lib/postgresql/data"},
    )
    container = sts["spec"]["template"]["spec"]["containers"][0]
    container.setdefault("env", []).append(
        {
            "name": "POSTGRES_PASSWORD",
            "valueFrom": {
                "secretKeyRef": {"key": "POSTGRES_PASSWORD", "name": "postgres-credentials"}
            },
        }
    )
    sim.create(sts)
    yield 1
    yield from start_statefulset_pod(sim, sts)


def _kubelet_dies(sim: Sim, node: str) -> Process:
    sim.down.add(node)
    yield from ()
