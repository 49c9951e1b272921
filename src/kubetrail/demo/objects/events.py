"""Kubernetes Events, and the recorder that writes them.

Components report what they do through :func:`record` (a core/v1 Event, as
client-go's ``EventRecorder`` writes it) and the scheduler through
:func:`record_scheduler` (an events.k8s.io/v1 Event seen through the core/v1 API).
Repeated occurrences update one Event instead of creating new ones, as the real
recorders do, so the recording has the same ``count``/``series`` shapes a cluster has.
"""

from __future__ import annotations

from datetime import timedelta

from kubetrail.demo.fields import touch
from kubetrail.demo.objects.meta import object_meta, object_ref
from kubetrail.demo.primitives import KCM, Obj, pick, ts, ts_micro
from kubetrail.demo.simulation import Sim


def record(
    sim: Sim,
    involved: Obj,
    reason: str,
    message: str,
    *,
    type_: str = "Normal",
    component: str = "kubelet",
    host: str | None = None,
    field_path: str | None = None,
) -> None:
    """A core/v1 Event as client-go's recorder writes it: identical occurrences
    bump ``count``; a spam filter (burst 25, then one per 5 minutes) drops floods."""
    key = (component, host or "", involved["metadata"]["uid"], type_, reason, message)
    tokens, last = sim.event_budget.get(key, (25.0, sim.now))
    tokens = min(25.0, tokens + (sim.now - last).total_seconds() / 300)
    if tokens < 1:
        sim.event_budget[key] = (tokens, sim.now)
        return
    sim.event_budget[key] = (tokens - 1, sim.now)
    event = sim.recorded_events.get(key)
    if event is not None and sim.alive(event):
        event["count"] += 1
        event["lastTimestamp"] = ts(sim.now)
        touch(event, _event_manager(component), sim.now, ("count",), ("lastTimestamp",))
        sim.update(event)
        return
    event = _core_event(sim, involved, reason, message, type_, component, host, field_path)
    sim.recorded_events[key] = event
    sim.create(event)


def record_scheduler(
    sim: Sim, pod: Obj, reason: str, message: str, *, type_: str, action: str
) -> None:
    """An events.k8s.io/v1 Event from the scheduler (``eventTime``, ``series``)."""
    key = ("default-scheduler", pod["metadata"]["uid"], reason, message)
    event = sim.recorded_events.get(key)
    if event is not None and sim.alive(event):
        series = event.setdefault("series", {"count": 1})
        series["count"] += 1
        series["lastObservedTime"] = ts_micro(
            sim.now + timedelta(microseconds=pick(999_999, key, sim.now))
        )
        touch(event, "kube-scheduler", sim.now, ("series",), api_version="events.k8s.io/v1")
        sim.update(event)
        return
    event = _scheduler_event(sim, pod, reason, message, type_, action)
    sim.recorded_events[key] = event
    sim.create(event)


def _event_manager(component: str) -> str:
    return {"kubelet": "kubelet", "default-scheduler": "kube-scheduler"}.get(component, KCM)


def _event_name(sim: Sim, involved: Obj, *salt: object) -> str:
    nanos = int(sim.now.timestamp()) * 1_000_000_000 + pick(999_999_999, sim.seed, *salt)
    return f"{involved['metadata']['name']}.{nanos:x}"


def _core_event(
    sim: Sim,
    involved: Obj,
    reason: str,
    message: str,
    type_: str,
    component: str,
    host: str | None,
    field_path: str | None,
) -> Obj:
    namespace = involved["metadata"].get("namespace") or "default"
    name = _event_name(sim, involved, involved["metadata"]["uid"], reason, message, sim.now)
    source = {"component": component}
    if host:
        source["host"] = host
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": object_meta(sim, "Event", name, namespace, sim.now),
        "count": 1,
        "eventTime": None,
        "firstTimestamp": ts(sim.now),
        "involvedObject": object_ref(involved, field_path),
        "lastTimestamp": ts(sim.now),
        "message": message,
        "reason": reason,
        "reportingComponent": component,
        "reportingInstance": host or "",
        "source": source,
        "type": type_,
    }
    touch(
        obj,
        _event_manager(component),
        sim.now,
        *[(key,) for key in ("count", "firstTimestamp", "involvedObject", "lastTimestamp")],
        *[(key,) for key in ("message", "reason", "reportingComponent", "reportingInstance")],
        ("source",),
        ("type",),
    )
    return obj


def _scheduler_event(sim: Sim, pod: Obj, reason: str, message: str, type_: str, action: str) -> Obj:
    """How an events.k8s.io/v1 Event looks through the core/v1 API."""
    emitted = sim.now - timedelta(microseconds=1 + pick(900_000, pod["metadata"]["uid"], reason))
    name = _event_name(sim, pod, pod["metadata"]["uid"], reason, message)
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": object_meta(
            sim, "Event", name, pod["metadata"]["namespace"], emitted.replace(microsecond=0)
        ),
        "action": action,
        "eventTime": ts_micro(emitted),
        "firstTimestamp": None,
        "involvedObject": object_ref(pod),
        "lastTimestamp": None,
        "message": message,
        "reason": reason,
        "reportingComponent": "default-scheduler",
        "reportingInstance": "default-scheduler-control-plane-1",
        "source": {},
        "type": type_,
    }
    touch(
        obj,
        "kube-scheduler",
        sim.now,
        ("action",),
        ("eventTime",),
        ("note",),
        ("reason",),
        ("regarding",),
        ("reportingController",),
        ("reportingInstance",),
        ("type",),
        api_version="events.k8s.io/v1",
    )
    return obj
