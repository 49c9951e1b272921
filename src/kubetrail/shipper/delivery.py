"""Delivery: a bounded queue between the watchers and the store, batches, and the spool.

Watchers put :class:`~kubetrail.shipper.watcher.Change` s on a bounded queue
(when it is full they wait: back-pressure, never a drop). One delivery thread
takes them in order and writes batches, flushed at ``batch_size`` documents or
after ``flush_interval`` seconds:

- store healthy and spool empty → ``store.write`` (idempotent on ids);
- store failing, or spool not yet drained → the batch goes to the disk spool
  (fsync-ed), so order is kept and nothing waits in memory;
- while the spool holds batches, the oldest segment is replayed into the store
  every few seconds (backing off up to 30 s while the store stays down).

After a batch is durable (stored or spooled) each resource's checkpoint moves
to the newest resourceVersion in it. ``close()`` flushes everything it holds
(SIGTERM): into the store, or into the spool when the store cannot take it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter

from kubetrail.events.timing import parse_rfc3339, utcnow
from kubetrail.shipper.checkpoint import Checkpoints
from kubetrail.shipper.metrics import Metrics
from kubetrail.shipper.spool import Spool
from kubetrail.shipper.watcher import Change
from kubetrail.store.base import Store, StoreError

log = logging.getLogger("kubetrail.shipper")

_STOP = object()
_REPLAY_CHUNK = 2000


class Delivery:
    def __init__(
        self,
        store: Store,
        *,
        spool: Spool,
        checkpoints: Checkpoints,
        metrics: Metrics,
        batch_size: int = 500,
        flush_interval: float = 1.0,
        queue_size: int = 10_000,
        retry_max: float = 30.0,
    ) -> None:
        self.store = store
        self.spool = spool
        self.checkpoints = checkpoints
        self.metrics = metrics
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.queue: queue.Queue[Change | object] = queue.Queue(maxsize=queue_size)
        self.retry_max = retry_max
        self._retry_delay = 1.0
        self._next_replay = 0.0
        self.store_ok = True
        self._thread = threading.Thread(target=self._run, name="delivery", daemon=True)
        self.delivered = 0

    def start(self) -> None:
        self._thread.start()

    def put(self, change: Change) -> None:
        """Block while the queue is full (back-pressure); never drop."""
        while True:
            try:
                self.queue.put(change, timeout=1.0)
                return
            except queue.Full:
                if not self._thread.is_alive():
                    raise RuntimeError("delivery stopped") from None

    def close(self, timeout: float = 60.0) -> None:
        self.queue.put(_STOP)
        self._thread.join(timeout)
        self.checkpoints.save()
        self.spool.close()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # -- the loop -----------------------------------------------------------------

    def _run(self) -> None:
        batch: list[Change] = []
        docs = 0  # documents in the batch (markers carry none)
        deadline = time.monotonic() + self.flush_interval
        while True:
            timeout = max(0.0, deadline - time.monotonic())
            try:
                item = self.queue.get(timeout=timeout if batch else min(timeout or 1.0, 1.0))
            except queue.Empty:
                item = None
            if item is _STOP:
                self._deliver(batch)
                self._drain_spool(final=True)
                return
            if isinstance(item, Change):
                batch.append(item)
                docs += item.doc is not None
            self.metrics.queue_depth.set(self.queue.qsize())
            if docs >= self.batch_size or (batch and time.monotonic() >= deadline):
                self._deliver(batch)
                batch, docs = [], 0
                deadline = time.monotonic() + self.flush_interval
            elif not batch:
                deadline = time.monotonic() + self.flush_interval
            self._drain_spool()

    def _deliver(self, batch: list[Change]) -> None:
        if not batch:
            return
        docs = [c.doc for c in batch if c.doc is not None]
        per_resource = Counter(c.resource for c in batch if c.doc is not None)
        if docs:
            if len(self.spool) == 0 and self.store_ok:
                try:
                    result = self.store.write(docs)  # type: ignore[arg-type]
                except StoreError as exc:
                    self._store_failed(exc)
                else:
                    self._count(per_resource, result.stored, result.duplicates, len(result.errors))
                    for err in result.errors:
                        log.error("document %s refused by the store: %s", err.id, err.reason)
                    self._done(batch, docs)
                    return
            self.spool.append(docs)  # type: ignore[arg-type]
            for resource, n in per_resource.items():
                self.metrics.delivered.labels(resource, "spooled").inc(n)
            self.metrics.spool_bytes.set(self.spool.bytes())
        self._done(batch, docs)

    def _done(self, batch: list[Change], docs: list) -> None:
        positions: dict[str, str] = {}
        for c in batch:
            positions[c.resource] = c.rv
        self.checkpoints.advance(positions)
        self.delivered += len(docs)
        if docs:
            newest = max(d["timestamp"] for d in docs)
            self.metrics.lag.set(max(0.0, (utcnow() - parse_rfc3339(newest)).total_seconds()))

    def _count(self, per_resource: Counter[str], stored: int, duplicates: int, errors: int) -> None:
        total = sum(per_resource.values()) or 1
        for resource, n in per_resource.items():
            share = n / total
            self.metrics.delivered.labels(resource, "stored").inc(round(stored * share))
            if duplicates:
                self.metrics.delivered.labels(resource, "duplicate").inc(round(duplicates * share))
            if errors:
                self.metrics.delivered.labels(resource, "error").inc(round(errors * share))

    def _store_failed(self, exc: Exception) -> None:
        self.metrics.store_errors.inc()
        if self.store_ok:
            log.warning("store unavailable, spooling to %s: %s", self.spool.dir, exc)
        self.store_ok = False
        self._next_replay = time.monotonic() + self._retry_delay
        self._retry_delay = min(self._retry_delay * 2, self.retry_max)

    def _drain_spool(self, *, final: bool = False) -> None:
        """Replay spooled segments, oldest first, while the store takes them."""
        while len(self.spool) and (final or time.monotonic() >= self._next_replay):
            oldest = self.spool.oldest()
            if oldest is None:
                break
            path, docs = oldest
            try:
                for i in range(0, len(docs), _REPLAY_CHUNK):
                    result = self.store.write(docs[i : i + _REPLAY_CHUNK])
                    for err in result.errors:
                        log.error(
                            "spooled document %s refused by the store: %s", err.id, err.reason
                        )
            except StoreError as exc:
                self._store_failed(exc)
                if final:
                    log.warning(
                        "store still unavailable at shutdown; %d spool segments kept",
                        len(self.spool),
                    )
                return
            self.spool.remove(path)
            self.metrics.spool_bytes.set(self.spool.bytes())
            if not self.store_ok:
                log.info("store is back; spool replayed")
            self.store_ok = True
            self._retry_delay = 1.0
            if not final:
                break  # one segment per turn keeps the queue moving
