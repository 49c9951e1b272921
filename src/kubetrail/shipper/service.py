"""The shipper as a running service: discovery, one watcher per resource, delivery,
CRDs followed at runtime, metrics and health endpoints, clean shutdown.

Readiness (``/readyz``) means: discovery done and every watcher through its
first list. Liveness (``/healthz``) means the delivery thread runs.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from pathlib import Path

from kubetrail.events.redact import RedactionPolicy
from kubetrail.events.timing import utcnow
from kubetrail.gc_tuning import FULL_EVERY, few_collections
from kubetrail.shipper.checkpoint import Checkpoints
from kubetrail.shipper.cluster import identify
from kubetrail.shipper.config import ResourceSpec, ShipperConfig
from kubetrail.shipper.delivery import Delivery
from kubetrail.shipper.discovery import BUILTIN_GROUPS, discover, select
from kubetrail.shipper.endpoints import Endpoints, Health
from kubetrail.shipper.kube import Kube, KubeError
from kubetrail.shipper.metrics import Metrics
from kubetrail.shipper.spool import Spool
from kubetrail.shipper.stored import StoredState
from kubetrail.shipper.watcher import Watcher
from kubetrail.store.base import Store, StoreError
from kubetrail.store.retention import enforce_retention

log = logging.getLogger("kubetrail.shipper")

REDISCOVERY_INTERVAL = 300.0
RETENTION_INTERVAL = 3600.0
_CRD_KEY = "customresourcedefinitions.apiextensions.k8s.io"


class Shipper:
    def __init__(
        self, *, kube: Kube, store: Store, config: ShipperConfig, policy: RedactionPolicy
    ) -> None:
        self.kube = kube
        self.store = store
        self.config = config
        self.policy = policy
        self.metrics = Metrics()
        spool_dir = Path(config.spool_dir)
        self.spool = Spool(spool_dir)
        self.checkpoints = Checkpoints(spool_dir / "checkpoints.json")
        previous_run = self.spool.segments()
        self.stored = StoredState(
            store, spool_pending=lambda: any(p.exists() for p in previous_run)
        )
        self.delivery = Delivery(
            store,
            spool=self.spool,
            checkpoints=self.checkpoints,
            metrics=self.metrics,
            batch_size=config.batch_size,
            flush_interval=config.flush_interval,
            queue_size=config.queue_size,
        )
        self.watchers: dict[str, Watcher] = {}
        self._lock = threading.Lock()
        self._identity_lock = threading.Lock()
        self._rediscover = threading.Event()
        self._stop = threading.Event()
        self._discovered = False
        self._endpoint: Endpoints | None = None
        self._gc = contextlib.ExitStack()

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        self._bind_cluster()
        self._gc.enter_context(few_collections(full_every=FULL_EVERY))
        if len(self.spool):
            log.info("replaying %d spooled segments from a previous run", len(self.spool))
        self.delivery.start()
        self._sync_watchers()
        self._discovered = True
        threading.Thread(target=self._discovery_loop, name="discovery", daemon=True).start()
        threading.Thread(target=self._retention_loop, name="retention", daemon=True).start()

    def stop(self) -> None:
        """Stop watching and deliver (or spool) everything received."""
        self._stop.set()
        self._rediscover.set()
        with self._lock:
            watchers = list(self.watchers.values())
        for w in watchers:
            w.stop()
        # one deadline for all: a watch blocked on a quiet stream (a real API server sends a
        # bookmark about once a minute) ends at its next line, its thread is a daemon
        deadline = time.monotonic() + 2
        for w in watchers:
            w.join(timeout=max(0.0, deadline - time.monotonic()))
        self.delivery.close()
        if self._endpoint is not None:
            self._endpoint.close()
        self._gc.close()

    def wait_synced(self, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._lock:
            watchers = list(self.watchers.values())
        return all(w.synced.wait(max(0.0, deadline - time.monotonic())) for w in watchers)

    @property
    def ready(self) -> bool:
        with self._lock:
            watchers = list(self.watchers.values())
        return self._discovered and all(w.synced.is_set() for w in watchers)

    def _bind_cluster(self) -> None:
        """Checkpoints resume only against the cluster they came from (see
        :mod:`kubetrail.shipper.cluster`)."""
        identity = identify(self.kube)
        other = self.checkpoints.bind(identity)
        if other is not None:
            log.warning(
                "the spool directory %s was last used with another cluster, %s; this is %s "
                "(rebuilt at the same address, or another context): its checkpoints are "
                "dropped and every resource is listed afresh; %d spooled segments from it "
                "are still delivered to the store. Give each cluster its own --spool-dir",
                self.spool.dir,
                other.describe(),
                identity.describe(),
                len(self.spool),
            )

    def _cluster_moved_back(self) -> None:
        """A watcher found the server behind its resourceVersion: if the cluster was rebuilt
        under the running shipper, the checkpoints are bound to the new one (its watchers
        relist on their own)."""
        with self._identity_lock:
            try:
                identity = identify(self.kube)
            except KubeError as exc:
                log.info("cannot read the cluster's identity now: %s", exc)
                return
            other = self.checkpoints.bind(identity)
        if other is not None:
            log.warning(
                "the cluster changed under the running shipper: it was %s, it is %s "
                "(rebuilt at the same address?); every resource is listed again",
                other.describe(),
                identity.describe(),
            )

    # -- discovery and watchers ------------------------------------------------------

    def wanted(self) -> list[ResourceSpec]:
        found = discover(self.kube)
        if found.failed_groups:
            log.warning("discovery failed for %s; kept as before", ", ".join(found.failed_groups))
        chosen = select(
            found.resources,
            include=self.config.include,
            exclude=self.config.exclude,
            explicit=self.config.resources,
            discover_crds=self.config.discover_crds,
            builtin_groups=BUILTIN_GROUPS,
        )
        failed = set(found.failed_groups)
        with self._lock:
            kept = [
                w.resource
                for w in self.watchers.values()
                if (
                    f"{w.resource.group}/{w.resource.version}"
                    if w.resource.group
                    else w.resource.version
                )
                in failed
            ]
        return chosen + [r for r in kept if r.key not in {c.key for c in chosen}]

    def _sync_watchers(self) -> None:
        wanted = {r.key: r for r in self.wanted()}
        with self._lock:
            for key in [k for k in self.watchers if k not in wanted]:
                log.info("resource %s is gone; stopping its watcher", key)
                self.watchers.pop(key).stop()
                self.checkpoints.forget(key)
            for key, res in wanted.items():
                current = self.watchers.get(key)
                if current is not None and current.resource == res:
                    continue
                if current is not None:
                    current.stop()
                watcher = Watcher(
                    res,
                    kube=self.kube,
                    emit=self.delivery.put,
                    policy=self.policy,
                    metrics=self.metrics,
                    resume_rv=self.checkpoints.get(key),
                    namespaces=self.config.namespaces if res.namespaced else (),
                    suppress_heartbeats=self.config.suppress_heartbeats,
                    watch_timeout=self.config.watch_timeout,
                    stall_timeout=self.config.stall_timeout,
                    on_crd_change=self._rediscover.set if key == _CRD_KEY else None,
                    stored=self.stored,
                    on_too_large=self._cluster_moved_back,
                )
                self.watchers[key] = watcher
                log.info("watching %s", key, extra={"resource": key})
                watcher.start()
            self.metrics.watchers.set(len(self.watchers))

    def _discovery_loop(self) -> None:
        while not self._stop.is_set():
            triggered = self._rediscover.wait(REDISCOVERY_INTERVAL)
            if self._stop.is_set():
                return
            if triggered:
                time.sleep(0.5)  # a CRD becomes served shortly after it is created
            self._rediscover.clear()
            try:
                self._sync_watchers()
            except KubeError as exc:
                log.warning("re-discovery failed: %s", exc)

    def _retention_loop(self) -> None:
        """``retentionDays`` enforced by the shipper itself (the original tool's
        automatic retention): hourly, first a minute after start."""
        delay = min(60.0, self.config.retention_interval)
        while not self._stop.wait(delay):
            delay = self.config.retention_interval
            try:
                result = enforce_retention(
                    self.store, days=self.config.retention_days, now=utcnow()
                )
            except (StoreError, OSError) as exc:
                log.warning("retention run failed (next try in %.0fs): %s", delay, exc)
                continue
            for warning in result.warnings:
                log.warning("retention: %s", warning)
            for index in result.rolled_over:
                log.info("retention: rolled the write index over to %s", index)
            if result.deleted_events or result.deleted_indices:
                log.info(
                    "retention: deleted %d events and %d indices older than %d days",
                    result.deleted_events,
                    len(result.deleted_indices),
                    self.config.retention_days,
                )

    # -- endpoints ---------------------------------------------------------------------

    def health(self) -> Health:
        """What the ``/healthz``, ``/readyz`` and ``/metrics`` endpoints report."""
        return Health(
            alive=lambda: self.delivery.alive,
            ready=lambda: self.ready,
            registry=self.metrics.registry,
        )

    def serve_endpoints(self, host: str, port: int) -> int:
        """``/metrics``, ``/healthz``, ``/readyz`` on ``host:port``; returns the port.
        (``kubetrail ship`` starts :class:`Endpoints` itself, before the store is opened,
        and attaches :meth:`health` once the shipper runs.)"""
        self._endpoint = Endpoints(host, port)
        self._endpoint.attach(self.health())
        return self._endpoint.port
