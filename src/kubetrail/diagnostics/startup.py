"""``investigate_pod_startup``: why one pod does not start.

Reads, all bounded: the pod's versions in the range, the Events about it, its
owners (ReplicaSet → Deployment/StatefulSet) and their changes shortly before,
the ConfigMaps, Secrets and PVCs it references (did they exist?), and its
node's state. Ends with the most likely cause in one plain sentence, ranked:
image, configuration, scheduling/volumes, memory, crash after a change, node.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from kubetrail.diagnostics.changes import CHANGE_TYPES, STATUS_WRITERS, _Changed, _details
from kubetrail.diagnostics.common import one_line, report
from kubetrail.diagnostics.model import (
    CheckParams,
    Finding,
    InvalidParams,
    ObjectRef,
    Report,
    TimeRange,
)
from kubetrail.diagnostics.pods import container_evidence, containers
from kubetrail.events.resources import plural_for_kind
from kubetrail.store.base import EventFilter, EventQuery, Store

_TIMELINE_CAP = 60
_OWNER_LOOKBACK = timedelta(hours=2)
_IMAGE = ("ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull")
_CONFIG = ("CreateContainerConfigError", "CreateContainerError")


def investigate_pod_startup(store: Store, params: CheckParams) -> Report:
    if not params.pod_name:
        raise InvalidParams("pod_name is required (the pod's name, e.g. checkout-7d9f8b6c5-x2k4p)")
    if not params.namespace:
        raise InvalidParams("namespace is required for investigate_pod_startup")
    ns, name = params.namespace, params.pod_name
    ident = EventFilter(
        namespace=(ns,), resource_type=("pods",), name=(name,), end=params.range.end
    )
    versions = store.search(
        EventQuery(filter=replace(ident, start=params.range.start), limit=500)
    ).items
    if not versions:
        versions = store.search(EventQuery(filter=ident, order="desc", limit=1)).items
    if not versions:
        return report(
            "investigate_pod_startup",
            params,
            [],
            conclusion=f"No pod {ns}/{name} was recorded up to {params.range.to_dict()['end']}: "
            "check the name and namespace (search_events with q= helps).",
        )
    events = _pod_events(store, params, ns, name)
    current = versions[-1]
    pod = current["objectChanges"]
    findings: list[Finding] = []
    signals = set(current.get("signals") or [])
    waiting = {s.partition(":")[2] for s in signals if s.startswith("pod.waiting:")}

    owners = _owner_chain(store, params, pod)
    owner_changes = _owner_changes(store, params, owners)
    refs = _references(store, params, pod)
    node = _node_state(store, params, (pod.get("spec") or {}).get("nodeName"))

    for issue in sorted(waiting):
        message, evidence = container_evidence(pod, issue)
        findings.append(_finding(current, versions, issue, "critical", message, evidence))
    if signals & {"pod.lastTerminated:OOMKilled", "pod.terminated:OOMKilled"}:
        message, evidence = container_evidence(pod, "OOMKilled")
        findings.append(_finding(current, versions, "OOMKilled", "critical", message, evidence))
    if "pod.unschedulable" in signals:
        message, evidence = container_evidence(pod, "Unschedulable")
        findings.append(_finding(current, versions, "Unschedulable", "warning", message, evidence))
    if "pod.reason:Evicted" in signals:
        findings.append(
            _finding(
                current,
                versions,
                "Evicted",
                "warning",
                one_line((pod.get("status") or {}).get("message")),
                {},
            )
        )

    conclusion = _conclusion(
        pod=pod,
        waiting=waiting,
        signals=signals,
        events=events,
        refs=refs,
        node=node,
        owner_changes=owner_changes,
    )
    timeline = _timeline(versions, events)
    node_name = (pod.get("spec") or {}).get("nodeName")
    for f in findings:
        if node_name:  # an unscheduled pod has none
            f.evidence.setdefault("node", node_name)
    summary_finding = Finding(
        object=ObjectRef(kind="Pod", namespace=ns, name=name, uid=str(current.get("uid") or "")),
        issue="Investigation",
        severity="info",
        count=len(versions),
        first_seen=versions[0]["timestamp"],
        last_seen=current["timestamp"],
        message=conclusion,
        evidence={
            "phase": (pod.get("status") or {}).get("phase"),
            "currentSignals": sorted(signals),
            "timeline": timeline,
            "owners": owners,
            "ownerChanges": owner_changes,
            "references": refs,
            "node": node,
        },
    )
    return report(
        "investigate_pod_startup", params, [*findings, summary_finding], conclusion=conclusion
    )


def _finding(
    current: Mapping[str, Any],
    versions: Sequence[Mapping[str, Any]],
    issue: str,
    severity: Any,
    message: str,
    evidence: dict[str, Any],
) -> Finding:
    key = {
        "OOMKilled": ("pod.lastTerminated:OOMKilled", "pod.terminated:OOMKilled"),
        "Unschedulable": ("pod.unschedulable",),
        "Evicted": ("pod.reason:Evicted",),
    }.get(issue, (f"pod.waiting:{issue}",))
    showing = [v for v in versions if set(v.get("signals") or []) & set(key)]
    obj = current["objectChanges"].get("metadata") or {}
    return Finding(
        object=ObjectRef(
            kind="Pod",
            namespace=str(obj.get("namespace") or ""),
            name=str(obj.get("name") or ""),
            uid=str(current.get("uid") or ""),
        ),
        issue=issue,
        severity=severity,
        count=len(showing) or 1,
        first_seen=(showing or [current])[0]["timestamp"],
        last_seen=(showing or [current])[-1]["timestamp"],
        message=message,
        evidence=evidence,
    )


def _pod_events(store: Store, params: CheckParams, ns: str, name: str) -> list[Mapping[str, Any]]:
    """The newest version of each Event about the pod in the range, oldest first."""
    docs = store.search(
        EventQuery(
            filter=EventFilter(
                start=params.range.start,
                end=params.range.end,
                resource_type=("events",),
                involved_namespace=(ns,),
                involved_name=(name,),
                involved_kind=("Pod",),
            ),
            limit=1000,
        )
    ).items
    newest: dict[str, Mapping[str, Any]] = {}
    for d in docs:
        newest[d.get("uid") or d["id"]] = d
    return sorted(newest.values(), key=lambda d: (d["timestamp"], d["id"]))


def _timeline(
    versions: Sequence[Mapping[str, Any]], events: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    entries = []
    for v in versions:
        status = v["objectChanges"].get("status") or {}
        states = []
        for spec, cs in containers(v["objectChanges"]):
            state = cs.get("state") or {}
            if state:
                which = next(iter(state))
                reason = (state[which] or {}).get("reason")
                states.append(
                    f"{spec.get('name')}: {which}{f' ({reason})' if reason else ''}, "
                    f"restarts {cs.get('restartCount', 0)}"
                )
        entries.append(
            {
                "time": v["timestamp"],
                "what": f"pod {v['verb']}" + (" (snapshot)" if v.get("snapshot") else ""),
                "detail": one_line(f"phase {status.get('phase')}; " + "; ".join(states)),
            }
        )
    for e in events:
        obj = e["objectChanges"]
        entries.append(
            {
                "time": e["timestamp"],
                "what": f"{e.get('eventType') or 'Event'} {e.get('reason')}"
                + (f" x{e.get('count')}" if (e.get("count") or 1) > 1 else ""),
                "detail": one_line(obj.get("message") or obj.get("note")),
            }
        )
    entries.sort(key=lambda x: x["time"])
    return entries[-_TIMELINE_CAP:]


def _latest(
    store: Store, params: CheckParams, *, kind: str, namespace: str, name: str
) -> Mapping[str, Any] | None:
    found = store.search(
        EventQuery(
            filter=EventFilter(
                end=params.range.end,
                namespace=(namespace,),
                resource_type=(plural_for_kind(kind),),
                name=(name,),
            ),
            order="desc",
            limit=1,
        )
    ).items
    return found[0] if found else None


def _owner_chain(store: Store, params: CheckParams, pod: Mapping[str, Any]) -> list[dict[str, str]]:
    chain = []
    obj = pod
    ns = str((pod.get("metadata") or {}).get("namespace") or "")
    for _ in range(3):
        refs = (obj.get("metadata") or {}).get("ownerReferences") or []
        owner = next(
            (r for r in refs if isinstance(r, Mapping) and r.get("controller")),
            refs[0] if refs else None,
        )
        if not isinstance(owner, Mapping):
            break
        chain.append({"kind": str(owner.get("kind")), "name": str(owner.get("name"))})
        doc = _latest(
            store, params, kind=str(owner.get("kind")), namespace=ns, name=str(owner.get("name"))
        )
        if doc is None:
            break
        obj = doc["objectChanges"]
    return chain


def _owner_changes(
    store: Store, params: CheckParams, owners: list[dict[str, str]]
) -> list[dict[str, Any]]:
    """Changes of the workload owners from a while before the range to its end."""
    out = []
    wider = replace(
        params, range=TimeRange(start=params.range.start - _OWNER_LOOKBACK, end=params.range.end)
    )
    for owner in owners:
        if plural_for_kind(owner["kind"]) not in CHANGE_TYPES or owner["kind"] == "ReplicaSet":
            continue
        ns = params.namespace or ""
        detail = _details(store, wider, _Changed(owner["kind"], ns, owner["name"]))
        for change in detail.get("changes") or []:
            if change["verb"] == "update" and change["by"] in STATUS_WRITERS:
                continue
            out.append({"owner": f"{owner['kind']}/{owner['name']}", **change})
    return out[-10:]


def _references(store: Store, params: CheckParams, pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    spec = pod.get("spec") or {}
    ns = str((pod.get("metadata") or {}).get("namespace") or "")
    wanted: dict[tuple[str, str], bool] = {}  # (kind, name) -> optional
    for vol in spec.get("volumes") or []:
        if not isinstance(vol, Mapping):
            continue
        if vol.get("configMap"):
            wanted[("ConfigMap", vol["configMap"].get("name"))] = bool(
                vol["configMap"].get("optional")
            )
        if vol.get("secret"):
            wanted[("Secret", vol["secret"].get("secretName"))] = bool(
                vol["secret"].get("optional")
            )
        if vol.get("persistentVolumeClaim"):
            wanted[("PersistentVolumeClaim", vol["persistentVolumeClaim"].get("claimName"))] = False
    for c, _ in containers(pod):
        for env in c.get("env") or []:
            src = (env or {}).get("valueFrom") or {}
            for key, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                if src.get(key):
                    wanted[(kind, src[key].get("name"))] = bool(src[key].get("optional"))
        for env_from in c.get("envFrom") or []:
            for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                if (env_from or {}).get(key):
                    wanted[(kind, env_from[key].get("name"))] = bool(env_from[key].get("optional"))
    out = []
    for (kind, name), optional in sorted(wanted.items()):
        if not name:
            continue
        doc = _latest(store, params, kind=kind, namespace=ns, name=name)
        entry: dict[str, Any] = {"kind": kind, "name": name, "optional": optional}
        if doc is None:
            entry["state"] = "never recorded (missing?)"
        elif doc["verb"] == "delete":
            entry["state"] = f"deleted at {doc['timestamp']}"
        else:
            entry["state"] = "exists"
            entry["lastChange"] = doc["timestamp"] if not doc.get("snapshot") else None
            if kind == "PersistentVolumeClaim":
                entry["phase"] = (doc["objectChanges"].get("status") or {}).get("phase")
                entry["storageClassName"] = (doc["objectChanges"].get("spec") or {}).get(
                    "storageClassName"
                )
        out.append(entry)
    return out


def _node_state(store: Store, params: CheckParams, node_name: Any) -> dict[str, Any] | None:
    if not node_name:
        return None
    doc = _latest(store, params, kind="Node", namespace="", name=str(node_name))
    if doc is None:
        return {"name": node_name, "state": "not recorded"}
    node_signals = [s for s in doc.get("signals") or [] if s.startswith("node.")]
    return {
        "name": node_name,
        "signals": node_signals,
        "ready": not any(s.startswith("node.condition:Ready=") for s in node_signals),
    }


def _event_message(
    events: Sequence[Mapping[str, Any]], reasons: tuple[str, ...], *, prefer: str = ""
) -> str | None:
    """The newest message of an Event with one of ``reasons`` (one containing
    ``prefer`` if any), without its final period."""
    found = [
        one_line(e["objectChanges"].get("message") or e["objectChanges"].get("note"))
        for e in events
        if e.get("reason") in reasons
    ]
    preferred = [m for m in found if prefer and prefer.lower() in m.lower()]
    chosen = (preferred or found or [""])[-1]
    return chosen.rstrip(". ") if chosen else None


def _conclusion(
    *,
    pod: Mapping[str, Any],
    waiting: set[str],
    signals: set[str],
    events: Sequence[Mapping[str, Any]],
    refs: list[dict[str, Any]],
    node: dict[str, Any] | None,
    owner_changes: list[dict[str, Any]],
) -> str:
    name = (pod.get("metadata") or {}).get("name")
    change = next(
        (c for c in reversed(owner_changes) if c.get("highlights") or c.get("changedPaths")), None
    )
    after_change = ""
    if change:
        what = "; ".join(change.get("highlights") or change.get("changedPaths")[:3])
        after_change = (
            f" This follows a change of {change['owner']} by {change['by']}"
            f" at {change['time']} ({what})."
        )
    changed_refs = [r for r in refs if r.get("lastChange")]
    if changed_refs:
        after_change += (
            " Changed configuration it uses: "
            + ", ".join(f"{r['kind']} {r['name']} at {r['lastChange']}" for r in changed_refs)
            + "."
        )
    if waiting & set(_IMAGE):
        image = next(
            (
                c.get("image")
                for c, s in containers(pod)
                if ((s.get("state") or {}).get("waiting") or {}).get("reason") in _IMAGE
            ),
            None,
        )
        detail = (
            _event_message(events, ("Failed",), prefer="pull image") or "the registry refused it"
        )
        return (
            f"Pod {name} cannot start because image {image} cannot be pulled: "
            f"{detail}.{after_change}"
        )
    if waiting & set(_CONFIG):
        missing = [
            f"{r['kind']} {r['name']}"
            for r in refs
            if r.get("state") != "exists" and not r.get("optional")
        ]
        detail = (
            _event_message(events, ("Failed",))
            or "a referenced ConfigMap, Secret or key is missing"
        )
        more = f" Not found: {', '.join(missing)}." if missing else ""
        return f"Pod {name} cannot create its container: {detail}.{more}"
    if "pod.unschedulable" in signals:
        detail = _event_message(events, ("FailedScheduling",)) or "no node fits"
        claims = [
            r for r in refs if r["kind"] == "PersistentVolumeClaim" and r.get("phase") != "Bound"
        ]
        more = "".join(
            f" Its claim {r['name']} is {r.get('phase') or r['state']}"
            + (f" (storageClassName {r['storageClassName']})" if r.get("storageClassName") else "")
            + "."
            for r in claims
        )
        return f"Pod {name} cannot be scheduled: {detail}.{more}"
    if signals & {"pod.lastTerminated:OOMKilled", "pod.terminated:OOMKilled"}:
        limit = next(
            (
                (c.get("resources") or {}).get("limits", {}).get("memory")
                for c, _ in containers(pod)
            ),
            None,
        )
        return (
            f"Pod {name} is killed for using more memory than its limit "
            f"({limit or 'none set'}): OOMKilled, exit 137.{after_change}"
        )
    if "CrashLoopBackOff" in waiting or "RunContainerError" in waiting:
        last: dict[str, Any] = next(
            (t for _, s in containers(pod) if (t := (s.get("lastState") or {}).get("terminated"))),
            {},
        )
        restarts = max((s.get("restartCount", 0) for _, s in containers(pod)), default=0)
        why = (
            f"last exit {last.get('reason')} with code {last.get('exitCode')}"
            if last
            else "it keeps exiting"
        )
        extra = f" Its last message: {one_line(last['message'])}." if last.get("message") else ""
        return (
            f"Pod {name} starts but its container crashes ({why}, {restarts} restarts)."
            f"{extra}{after_change}"
        )
    if node and node.get("ready") is False:
        state = ", ".join(node.get("signals") or ())
        return f"Pod {name} is on node {node['name']}, which is not ready ({state})."
    if "pod.reason:Evicted" in signals:
        return f"Pod {name} was evicted: {one_line((pod.get('status') or {}).get('message'))}."
    if "pod.notReady" in signals:
        unhealthy = _event_message(events, ("Unhealthy",))
        return f"Pod {name} runs but is not ready" + (f": {unhealthy}." if unhealthy else ".")
    return f"No startup problem was recorded for pod {name} in this range."
