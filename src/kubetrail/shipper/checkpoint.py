"""Where each watch may resume: the newest resourceVersion whose events are durable.

A resource's checkpoint advances only after every event up to it has been
stored or fsync-ed into the spool (events that changed nothing, such as
bookmarks and suppressed heartbeats, count as delivered once everything queued
before them is). After a crash the watcher resumes from here, so the API server
replays whatever was still only in memory. Saved atomically (write, fsync,
rename) at most every :data:`SAVE_INTERVAL` seconds and at shutdown.

The file also names the cluster the positions (and the spooled batches beside them)
came from (:mod:`kubetrail.shipper.cluster`): ``{"cluster": {"uid", "server"},
"resourceVersions": {resource: rv}}``. Positions of another cluster are dropped, never
resumed (:meth:`Checkpoints.bind`). A file of an older release (the positions alone)
is taken as the current cluster's.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

import orjson

from kubetrail.shipper.cluster import ClusterIdentity

SAVE_INTERVAL = 1.0


class Checkpoints:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._rv: dict[str, str] = {}
        self._cluster: ClusterIdentity | None = None
        self._dirty = False
        self._saved_at = 0.0
        if self.path.exists():
            with contextlib.suppress(OSError, orjson.JSONDecodeError):
                loaded = orjson.loads(self.path.read_bytes())
                if isinstance(loaded, dict) and isinstance(loaded.get("resourceVersions"), dict):
                    self._cluster = ClusterIdentity.from_json(loaded.get("cluster"))
                    loaded = loaded["resourceVersions"]
                if isinstance(loaded, dict):
                    self._rv = {str(k): str(v) for k, v in loaded.items()}

    @property
    def cluster(self) -> ClusterIdentity | None:
        """The cluster the positions belong to (``None``: not recorded yet)."""
        with self._lock:
            return self._cluster

    def bind(self, identity: ClusterIdentity) -> ClusterIdentity | None:
        """Tie the positions to ``identity`` and save. When they were another cluster's,
        they are dropped (every watch starts with a fresh listing) and that cluster is
        returned; otherwise ``None``."""
        with self._lock:
            previous = self._cluster
            other = previous is not None and not previous.same_cluster(identity)
            if other:
                self._rv = {}
            elif previous is not None and previous.uid and not identity.uid:
                # the UID could not be read this time: keep the one recorded
                identity = ClusterIdentity(uid=previous.uid, server=identity.server)
            self._cluster = identity
            self._dirty = True
        self.save()
        return previous if other else None

    def get(self, resource: str) -> str | None:
        with self._lock:
            return self._rv.get(resource)

    def advance(self, positions: dict[str, str]) -> None:
        if not positions:
            return
        with self._lock:
            self._rv.update(positions)
            self._dirty = True
        if time.monotonic() - self._saved_at >= SAVE_INTERVAL:
            self.save()

    def forget(self, resource: str) -> None:
        with self._lock:
            if self._rv.pop(resource, None) is not None:
                self._dirty = True

    def save(self) -> None:
        with self._lock:
            if not self._dirty:
                return
            data = orjson.dumps(
                {
                    "cluster": self._cluster.as_json() if self._cluster is not None else None,
                    "resourceVersions": self._rv,
                }
            )
            self._dirty = False
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        self._saved_at = time.monotonic()
