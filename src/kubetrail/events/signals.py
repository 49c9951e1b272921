"""Signals: short keyword labels that say what is wrong with an object.

Detection happens once, at ingest. :func:`derive_signals` reads one object and
returns labels such as ``pod.waiting:CrashLoopBackOff`` or
``node.condition:Ready=Unknown``; stores index them as a keyword field, and
every diagnostic becomes an aggregation (filter by signal, group by object).

The vocabulary, by kind:

=========================  =====================================================
Pod                        ``pod.waiting:<Reason>`` (any container, init and
                           ephemeral included; the normal ``ContainerCreating``
                           and ``PodInitializing`` are not signals),
                           ``pod.terminated:<Reason>`` and
                           ``pod.lastTerminated:<Reason>`` (a non-zero exit or
                           ``OOMKilled``), ``pod.exitCode:<n>``,
                           ``pod.reason:<status.reason>`` (e.g. ``Evicted``),
                           ``pod.phase:Failed|Unknown``, ``pod.unschedulable``,
                           ``pod.notReady`` (Running, not being deleted, Ready
                           False)
Node                       ``node.condition:Ready=False|Unknown``,
                           ``node.condition:<Pressure>=True|Unknown`` for
                           MemoryPressure, DiskPressure, PIDPressure,
                           NetworkUnavailable; ``node.unschedulable``
PersistentVolumeClaim      ``pvc.phase:Pending|Lost``
PersistentVolume           ``pv.phase:Failed``
Event (v1, events.k8s.io)  ``event.reason:<reason>``, ``event.type:<type>``
Deployment                 ``deployment.condition:Available=False``,
                           ``deployment.condition:Progressing=False``,
                           ``deployment.condition:ReplicaFailure=True``, each
                           with ``deployment.reason:<reason>``
StatefulSet                ``statefulset.rollout:<Waiting>`` while its rollout
                           is not done, as ``kubectl rollout status`` judges it:
                           ``NotObserved`` (spec change not yet seen by the
                           controller), ``PodsNotReady`` (fewer ready pods than
                           replicas), ``Updating`` (pods on the old revision)
DaemonSet                  ``daemonset.rollout:<Waiting>``: ``NotObserved``,
                           ``Updating`` (nodes with an old pod),
                           ``PodsUnavailable`` (fewer available pods than nodes
                           that should run one)
Job                        ``job.condition:Failed=True`` (and
                           ``FailureTarget=True``, set first since 1.31),
                           ``job.reason:<reason>`` (``BackoffLimitExceeded``,
                           ``DeadlineExceeded``: past ``activeDeadlineSeconds``)
CronJob                    ``cronjob.lastRunFailed`` (its last scheduled run
                           ended and did not succeed)
=========================  =====================================================

A rollout signal says "not done yet", not "stuck": that takes time, which one
version cannot tell; the rollout check (:mod:`kubetrail.diagnostics.workloads`)
decides it from how long the signal lasts.

Signals describe the object *as it is in this version*: a pod that recovers
loses its ``pod.waiting`` signal in its next document, which is what lets a
diagnostic say when a problem was first and last seen.

The function never raises: an object of an unexpected shape yields fewer
signals, not an error, because it runs on everything a cluster holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from kubetrail.events.resources import EVENT_API_VERSIONS

# Waiting reasons every healthy pod passes through.
_NORMAL_WAITING = frozenset({"ContainerCreating", "PodInitializing"})
_NODE_PRESSURE = ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")


def derive_signals(obj: Mapping[str, Any]) -> list[str]:
    """The object's signals, sorted and unique (``[]`` for a healthy or unknown object)."""
    if not isinstance(obj, dict):
        return []
    kind = obj.get("kind")
    detector = _DETECTORS.get(kind) if isinstance(kind, str) else None
    if detector is None:
        return []
    if kind == "Event" and obj.get("apiVersion") not in EVENT_API_VERSIONS:
        return []
    try:
        found = list(detector(obj))
    except (AttributeError, TypeError, ValueError):
        # A malformed object (a list where a map belongs) loses its signals,
        # never the document.
        return []
    return sorted(set(found)) if found else found


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield item


def _label(value: Any) -> str | None:
    """A reason usable in a keyword: non-empty, one token."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value.replace(" ", "_") if value else None


def _conditions(status: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {
        c["type"]: c for c in _items(status.get("conditions")) if isinstance(c.get("type"), str)
    }


# -- pods ------------------------------------------------------------------------
# Every pod update passes here: plain loops appending to a list, no generators.


def _pod(obj: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    status = obj.get("status")
    if not isinstance(status, dict):
        status = {}
    for key in ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"):
        statuses = status.get(key)
        if isinstance(statuses, list):
            for cs in statuses:
                if isinstance(cs, dict):
                    _container(cs, out)

    reason = _label(status.get("reason"))
    if reason:
        out.append(f"pod.reason:{reason}")
    phase = status.get("phase")
    if phase in ("Failed", "Unknown"):
        out.append(f"pod.phase:{phase}")

    scheduled = ready = None
    conditions = status.get("conditions")
    if isinstance(conditions, list):
        for cond in conditions:
            if isinstance(cond, dict):
                cond_type = cond.get("type")
                if cond_type == "PodScheduled":
                    scheduled = cond
                elif cond_type == "Ready":
                    ready = cond
    if (
        scheduled
        and scheduled.get("status") == "False"
        and scheduled.get("reason") == "Unschedulable"
    ):
        out.append("pod.unschedulable")
    if phase == "Running" and ready and ready.get("status") == "False":
        meta = obj.get("metadata")
        if not (isinstance(meta, dict) and meta.get("deletionTimestamp")):
            out.append("pod.notReady")
    return out


def _container(cs: Mapping[str, Any], out: list[str]) -> None:
    state = cs.get("state")
    if isinstance(state, dict):
        waiting = state.get("waiting")
        if isinstance(waiting, dict):
            reason = _label(waiting.get("reason"))
            if reason and reason not in _NORMAL_WAITING:
                out.append(f"pod.waiting:{reason}")
        terminated = state.get("terminated")
        if isinstance(terminated, dict) and terminated:
            _termination(terminated, "pod.terminated", out)
    last = cs.get("lastState")
    if isinstance(last, dict):
        terminated = last.get("terminated")
        if isinstance(terminated, dict) and terminated:
            _termination(terminated, "pod.lastTerminated", out)


def _termination(terminated: Mapping[str, Any], prefix: str, out: list[str]) -> None:
    code = terminated.get("exitCode")
    reason = _label(terminated.get("reason"))
    nonzero = isinstance(code, int) and code != 0
    if not (nonzero or reason == "OOMKilled"):
        return
    out.append(f"{prefix}:{reason or 'Error'}")
    if nonzero:
        out.append(f"pod.exitCode:{code}")


# -- nodes and volumes -------------------------------------------------------------


def _node(obj: Mapping[str, Any]) -> Iterator[str]:
    conditions = _conditions(_mapping(obj.get("status")))
    ready = conditions.get("Ready")
    if ready and ready.get("status") in ("False", "Unknown"):
        yield f"node.condition:Ready={ready['status']}"
    for kind in _NODE_PRESSURE:
        cond = conditions.get(kind)
        if cond and cond.get("status") in ("True", "Unknown"):
            yield f"node.condition:{kind}={cond['status']}"
    if _mapping(obj.get("spec")).get("unschedulable") is True:
        yield "node.unschedulable"


def _pvc(obj: Mapping[str, Any]) -> Iterator[str]:
    phase = _mapping(obj.get("status")).get("phase")
    if phase in ("Pending", "Lost"):
        yield f"pvc.phase:{phase}"


def _pv(obj: Mapping[str, Any]) -> Iterator[str]:
    if _mapping(obj.get("status")).get("phase") == "Failed":
        yield "pv.phase:Failed"


# -- events and workloads ------------------------------------------------------------


def _event(obj: Mapping[str, Any]) -> Iterator[str]:
    reason = _label(obj.get("reason"))
    if reason:
        yield f"event.reason:{reason}"
    event_type = _label(obj.get("type"))
    if event_type:
        yield f"event.type:{event_type}"


def _workload_conditions(
    prefix: str, bad: Mapping[str, str]
) -> Callable[[Mapping[str, Any]], Iterator[str]]:
    """Detector for conditions whose ``status`` equal to ``bad[type]`` is a problem."""

    def detect(obj: Mapping[str, Any]) -> Iterator[str]:
        for cond_type, cond in _conditions(_mapping(obj.get("status"))).items():
            if bad.get(cond_type) == cond.get("status"):
                yield f"{prefix}.condition:{cond_type}={cond['status']}"
                reason = _label(cond.get("reason"))
                if reason:
                    yield f"{prefix}.reason:{reason}"

    return detect


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _observed(obj: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    observed = _int(status.get("observedGeneration"))
    return observed > 0 and observed >= _int(_mapping(obj.get("metadata")).get("generation"))


def _statefulset(obj: Mapping[str, Any]) -> Iterator[str]:
    """kubectl's StatefulSet rollout status, one signal per reason it would wait."""
    spec, status = _mapping(obj.get("spec")), _mapping(obj.get("status"))
    if not _observed(obj, status):
        yield "statefulset.rollout:NotObserved"
        return
    replicas = _int(spec.get("replicas", 1))
    if _int(status.get("readyReplicas")) < replicas:
        yield "statefulset.rollout:PodsNotReady"
    strategy = _mapping(spec.get("updateStrategy"))
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return
    partition = _int(_mapping(strategy.get("rollingUpdate")).get("partition"))
    if partition > 0:
        if _int(status.get("updatedReplicas")) < replicas - partition:
            yield "statefulset.rollout:Updating"
    elif status.get("updateRevision") != status.get("currentRevision"):
        yield "statefulset.rollout:Updating"


def _daemonset(obj: Mapping[str, Any]) -> Iterator[str]:
    """kubectl's DaemonSet rollout status, one signal per reason it would wait."""
    spec, status = _mapping(obj.get("spec")), _mapping(obj.get("status"))
    if not _observed(obj, status):
        yield "daemonset.rollout:NotObserved"
        return
    desired = _int(status.get("desiredNumberScheduled"))
    rolling = _mapping(spec.get("updateStrategy")).get("type", "RollingUpdate") == "RollingUpdate"
    if rolling and _int(status.get("updatedNumberScheduled")) < desired:
        yield "daemonset.rollout:Updating"
    if _int(status.get("numberAvailable")) < desired:
        yield "daemonset.rollout:PodsUnavailable"


def _cronjob(obj: Mapping[str, Any]) -> Iterator[str]:
    # The controller drops a finished Job from ``active`` and, in the same write, moves
    # ``lastSuccessfulTime`` if it succeeded: a last schedule after the last success
    # with nothing running is a run that failed (or was deleted before it finished).
    status = _mapping(obj.get("status"))
    scheduled, succeeded = status.get("lastScheduleTime"), status.get("lastSuccessfulTime")
    if not isinstance(scheduled, str) or status.get("active"):
        return
    if not isinstance(succeeded, str) or succeeded < scheduled:
        yield "cronjob.lastRunFailed"


_DETECTORS: dict[str, Callable[[Mapping[str, Any]], Iterable[str]]] = {
    "Pod": _pod,
    "Node": _node,
    "PersistentVolumeClaim": _pvc,
    "PersistentVolume": _pv,
    "Event": _event,
    "Deployment": _workload_conditions(
        "deployment", {"Available": "False", "Progressing": "False", "ReplicaFailure": "True"}
    ),
    "StatefulSet": _statefulset,
    "DaemonSet": _daemonset,
    "Job": _workload_conditions("job", {"Failed": "True", "FailureTarget": "True"}),
    "CronJob": _cronjob,
}
