"""Prometheus metrics of the shipper, in their own registry (tests run several shippers)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.received = Counter(
            "kubetrail_events_received", "Watch events received", ["resource"], registry=r
        )
        self.suppressed = Counter(
            "kubetrail_events_suppressed",
            "Updates that changed only heartbeat times and resourceVersion",
            ["resource"],
            registry=r,
        )
        self.delivered = Counter(
            "kubetrail_events_delivered",
            "Documents handed to the store or spool, by outcome "
            "(stored, duplicate, spooled, error)",
            ["resource", "outcome"],
            registry=r,
        )
        self.watch_restarts = Counter(
            "kubetrail_watch_restarts",
            "Watches restarted (drop, stall, error)",
            ["resource"],
            registry=r,
        )
        self.relists = Counter(
            "kubetrail_relists_410", "Relists after 410 Gone", ["resource"], registry=r
        )
        self.store_errors = Counter("kubetrail_store_errors", "Failed store writes", registry=r)
        self.spool_bytes = Gauge("kubetrail_spool_bytes", "Bytes waiting in the spool", registry=r)
        self.queue_depth = Gauge("kubetrail_queue_depth", "Events waiting for delivery", registry=r)
        self.lag = Gauge(
            "kubetrail_lag_seconds",
            "Age of the newest delivered event when it was delivered",
            registry=r,
        )
        self.watchers = Gauge("kubetrail_watchers", "Resources being watched", registry=r)
