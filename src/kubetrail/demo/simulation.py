"""The discrete-event simulation the demo incident runs on.

:class:`Sim` is the clock, a queue of processes (generators that yield how long
to wait), and a minimal API server: the objects alive in the cluster and the log
of watch events. Processes are run in time order; every create, update and
delete after the watch starts is logged as ADDED/MODIFIED/DELETED with a sorted
copy of the object, and :meth:`Sim.watch_events` assigns resourceVersions in
stream order. The simulation knows nothing about the incident: the scenario
(:mod:`kubetrail.demo.incident`) schedules processes, the controllers
(:mod:`kubetrail.demo.controllers`) react.
"""

from __future__ import annotations

import heapq
import itertools
from datetime import UTC, datetime, timedelta
from uuid import uuid5

from kubetrail.demo.behaviours import Behaviour
from kubetrail.demo.primitives import (
    UID_ROOT,
    Obj,
    Process,
    parse_ts,
    pick,
    sorted_copy,
    ts,
)

WINDOW = timedelta(hours=6)  # how much of the anchor's past the watch sees
_EVENT_TTL = timedelta(hours=1)
_RV_BASE = 48_213_077
_KIND_ORDER = (
    "Namespace",
    "Node",
    "ConfigMap",
    "Secret",
    "Service",
    "PersistentVolumeClaim",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "CronJob",
    "Job",
    "Pod",
    "Event",
)


class Sim:
    """Clock, process queue, the objects alive in the cluster, and the watch log."""

    def __init__(self, anchor: datetime) -> None:
        if anchor.tzinfo is None or anchor.utcoffset() is None:
            raise ValueError("anchor must be an aware datetime (UTC)")
        self.anchor = anchor.astimezone(UTC).replace(microsecond=0)
        self.watch_start = self.anchor - WINDOW + timedelta(seconds=1)
        self.end = self.anchor - timedelta(minutes=2)
        self.seed = ts(self.anchor)
        self.now = self.anchor - timedelta(days=400)
        self.live: dict[str, Obj] = {}  # uid → object, in creation order
        self.nodes: dict[str, Obj] = {}
        self.down: set[str] = set()  # nodes whose kubelet is gone
        self.images: dict[str, set[str]] = {}  # node → images already pulled
        self.behaviour: dict[str, Behaviour] = {}  # image → what its container does
        self._queue: list[tuple[datetime, int, Process]] = []
        self._seq = itertools.count()
        self._log: list[tuple[datetime, int, str, Obj]] = []
        # The Event recorder's state (kubetrail.demo.objects.events): the last Event of
        # each kind of occurrence, and the spam filter's tokens and last refill.
        self.recorded_events: dict[tuple[str, ...], Obj] = {}
        self.event_budget: dict[tuple[str, ...], tuple[float, datetime]] = {}
        self._counters: dict[str, int] = {}

    # -- time and identity --

    def ago(self, *, days: float = 0, hours: float = 0, minutes: float = 0) -> datetime:
        return self.anchor - timedelta(days=days, hours=hours, minutes=minutes)

    def uid(self, kind: str, namespace: str, name: str) -> str:
        return str(uuid5(UID_ROOT, f"{self.seed}/{kind}/{namespace}/{name}"))

    def next_number(self, key: str) -> int:
        self._counters[key] = self._counters.get(key, 0) + 1
        return self._counters[key]

    # -- processes --

    def spawn(self, when: datetime, process: Process) -> None:
        if when < self.now:
            raise ValueError(f"cannot schedule in the past ({when} < {self.now})")
        heapq.heappush(self._queue, (when, next(self._seq), process))

    def later(self, seconds: int, process: Process) -> None:
        self.spawn(self.now + timedelta(seconds=seconds), process)

    def run(self) -> None:
        while self._queue:
            when, _, process = heapq.heappop(self._queue)
            if when > self.end:
                continue
            self.now = when
            try:
                delay = next(process)
            except StopIteration:
                continue
            step = delay if isinstance(delay, timedelta) else timedelta(seconds=delay)
            heapq.heappush(self._queue, (when + step, next(self._seq), process))

    # -- the API server --

    def create(self, obj: Obj) -> Obj:
        uid = obj["metadata"]["uid"]
        if uid in self.live:
            raise AssertionError(f"duplicate uid for {obj['kind']} {obj['metadata']['name']}")
        self.live[uid] = obj
        self._emit("ADDED", obj)
        return obj

    def update(self, obj: Obj) -> None:
        if obj["metadata"]["uid"] in self.live:
            self._emit("MODIFIED", obj)

    def delete(self, obj: Obj) -> None:
        if self.live.pop(obj["metadata"]["uid"], None) is not None:
            self._emit("DELETED", obj)

    def alive(self, obj: Obj) -> bool:
        return obj["metadata"]["uid"] in self.live

    def find(self, kind: str, namespace: str, name: str) -> Obj | None:
        return self.live.get(self.uid(kind, namespace, name))

    def owned(self, owner: Obj, kind: str) -> list[Obj]:
        uid = owner["metadata"]["uid"]
        return [
            o
            for o in self.live.values()
            if o["kind"] == kind
            and any(r["uid"] == uid for r in o["metadata"].get("ownerReferences", ()))
        ]

    def pods_on(self, node: str) -> list[Obj]:
        return [
            o
            for o in self.live.values()
            if o["kind"] == "Pod" and o["spec"].get("nodeName") == node
        ]

    def _emit(self, type_: str, obj: Obj) -> None:
        if self.now >= self.watch_start:
            self._log.append((self.now, next(self._seq), type_, sorted_copy(obj)))

    def list_everything(self) -> Process:
        """The watch starts: every object alive arrives as ADDED (Events within their TTL)."""
        cutoff = self.now - _EVENT_TTL
        for uid, obj in list(self.live.items()):
            if obj["kind"] == "Event" and _event_last_seen(obj) < cutoff:
                del self.live[uid]  # expired
        order = {kind: i for i, kind in enumerate(_KIND_ORDER)}
        for obj in sorted(
            self.live.values(),
            key=lambda o: (
                order[o["kind"]],
                o["metadata"].get("namespace", ""),
                o["metadata"]["name"],
            ),
        ):
            self._emit("ADDED", obj)
        yield from ()

    def watch_events(self) -> list[Obj]:
        self._log.sort(key=lambda entry: (entry[0], entry[1]))
        rv = _RV_BASE
        events = []
        for i, (when, _, type_, obj) in enumerate(self._log):
            rv += 1 + pick(29, self.seed, "rv", i)
            obj["metadata"]["resourceVersion"] = str(rv)
            events.append({"type": type_, "object": obj, "timestamp": ts(when)})
        return events


def _event_last_seen(event: Obj) -> datetime:
    stamps = [event.get("lastTimestamp"), event.get("firstTimestamp")]
    stamps.append((event.get("series") or {}).get("lastObservedTime"))
    stamps.append(event.get("eventTime"))
    seconds = [s[:19] + "Z" for s in stamps if isinstance(s, str)]
    return max(parse_ts(s) for s in seconds)
