"""Where each watch may resume: the newest resourceVersion whose events are durable.

A resource's checkpoint advances only after every event up to it has been
stored or fsync-ed into the spool (events that changed nothing, such as
bookmarks and suppressed heartbeats, count as delivered once everything queued
before them is). After a crash the watcher resumes from here, so the API server
replays whatever was still only in memory. Saved atomically (write, fsync,
rename) at most every :data:`SAVE_INTERVAL` seconds and at shutdown.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

import orjson

SAVE_INTERVAL = 1.0


class Checkpoints:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._rv: dict[str, str] = {}
        self._dirty = False
        self._saved_at = 0.0
        if self.path.exists():
            with contextlib.suppress(OSError, orjson.JSONDecodeError):
                loaded = orjson.loads(self.path.read_bytes())
                if isinstance(loaded, dict):
                    self._rv = {str(k): str(v) for k, v in loaded.items()}

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
            data = orjson.dumps(self._rv)
            self._dirty = False
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        self._saved_at = time.monotonic()
