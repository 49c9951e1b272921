"""``analyze_recent_changes``: who changed which workloads, configuration,
network and access objects, and what changed.

One aggregation finds the changed objects (creates, updates, deletes; listing
snapshots excluded) grouped by object, verb, field manager and user (who made the change,
where the API server's audit log said so: :mod:`kubetrail.events.audit`); a note groups
the changed objects by user. Updates whose
newest writer is a controller updating status (``kube-controller-manager``,
``kubelet``…) are status churn, not changes a person made, and are dropped
unless the object was also changed by someone else. For the objects shown (at
most ``limit``) a bounded history read gives the changed paths and highlights
(an image tag, replicas, a ConfigMap key; Secret values stay redacted).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from kubetrail.diagnostics.common import aggregate, base_filter, report
from kubetrail.diagnostics.model import CheckParams, Finding, ObjectRef, Report
from kubetrail.diagnostics.rollout_state import SIGNALS, WORKLOAD_TYPES, describe, showing_at
from kubetrail.events.changes import changed_paths
from kubetrail.events.model import WATCHER_USER
from kubetrail.events.resources import plural_for_kind
from kubetrail.store.base import EventFilter, EventQuery, Store

CHANGE_TYPES = (
    "deployments",
    "statefulsets",
    "daemonsets",
    "replicasets",
    "cronjobs",
    "configmaps",
    "secrets",
    "networkpolicies",
    "services",
    "ingresses",
    "roles",
    "rolebindings",
    "clusterroles",
    "clusterrolebindings",
    "serviceaccounts",
    "customresourcedefinitions",
    "horizontalpodautoscalers",
    "poddisruptionbudgets",
    "persistentvolumeclaims",
    "storageclasses",
)
#: Writers whose updates are status bookkeeping, not a change somebody made.
STATUS_WRITERS = frozenset(
    {"kube-controller-manager", "kubelet", "kube-scheduler", "node-controller", ""}
)
_NOISE = re.compile(
    r"^(status(\.|$)|metadata\.(resourceVersion|generation|managedFields|annotations\.deployment\.kubernetes\.io/revision)$)"
)
_HISTORY_CAP = 200


@dataclass(slots=True)
class _Changed:
    kind: str
    namespace: str
    name: str
    resource_type: str = ""
    uid: str = ""
    verbs: set[str] = field(default_factory=set)
    managers: set[str] = field(default_factory=set)
    users: set[str] = field(default_factory=set)  # from the audit log; the watcher's left out
    count: int = 0
    first_seen: str = "~"
    last_seen: str = ""


def analyze_recent_changes(store: Store, params: CheckParams) -> Report:
    flt = base_filter(params, snapshot=False, resource_type=CHANGE_TYPES)
    buckets, truncated = aggregate(
        store,
        flt,
        ("kind", "resourceType", "namespace", "resourceName", "verb", "fieldManager", "user"),
        latest=False,
    )
    objects: dict[tuple[str, str, str], _Changed] = {}
    for b in buckets:
        verb, manager = b.key["verb"], b.key["fieldManager"]
        if verb == "update" and manager in STATUS_WRITERS:
            continue
        key = (b.key["kind"], b.key["namespace"], b.key["resourceName"])
        c = objects.setdefault(key, _Changed(*key, resource_type=b.key["resourceType"]))
        c.verbs.add(verb)
        c.managers.add(manager or "unknown")
        if b.key["user"] not in ("", WATCHER_USER):
            c.users.add(b.key["user"])
        c.count += b.count
        c.first_seen = min(c.first_seen, b.first_seen)
        c.last_seen = max(c.last_seen, b.last_seen)
    ordered = sorted(objects.values(), key=lambda c: c.last_seen, reverse=True)
    findings = []
    for i, c in enumerate(ordered):
        detail = _details(store, params, c) if i < params.limit else {}
        verb = (
            "deleted" if "delete" in c.verbs else "created" if c.verbs == {"create"} else "updated"
        )
        highlights = detail.get("highlights") or []
        managers = ", ".join(sorted(c.managers))
        who = f"{', '.join(sorted(c.users))} ({managers})" if c.users else managers
        message = f"{c.kind} {verb} by {who}"
        if highlights:
            message += ": " + "; ".join(highlights[:3])
        elif detail.get("paths"):
            message += ": " + ", ".join(detail["paths"][:5])
        findings.append(
            Finding(
                object=ObjectRef(
                    kind=c.kind, namespace=c.namespace, name=c.name, uid=detail.get("uid", "")
                ),
                issue=f"{c.kind} {verb}",
                severity="info",
                count=c.count,
                first_seen=c.first_seen,
                last_seen=c.last_seen,
                message=message,
                evidence={
                    **({"users": sorted(c.users)} if c.users else {}),
                    "fieldManagers": sorted(c.managers),
                    "verbs": sorted(c.verbs),
                    **({"changes": detail["changes"]} if detail.get("changes") else {}),
                },
            )
        )
    _add_rollout_state(store, params, findings[: params.limit])
    notes = [
        "listing snapshots (objects that existed when watching began) are not changes; "
        "status-only updates by controllers are left out",
    ]
    if any(c.kind == "Secret" for c in ordered):
        notes.append("Secret values are redacted: a change shows as a changed key, never its value")
    notes.append(by_user(ordered))
    return report("analyze_recent_changes", params, findings, truncated=truncated, notes=notes)


def by_user(changed: list[_Changed]) -> str:
    """The changed objects grouped by who changed them (the audit log's users)."""
    counts: Counter[str] = Counter()
    unknown = 0
    for c in changed:
        counts.update(c.users)
        unknown += not c.users
    parts = [f"{user} {n}" for user, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    text = "objects changed by user: " + (", ".join(parts) if parts else "none known")
    if unknown:
        text += (
            f"; {unknown} by a user no audit event names (only the field manager is known: "
            "feed the API server's audit log to kubetrail, see README)"
        )
    return text


def _add_rollout_state(store: Store, params: CheckParams, shown: list[Finding]) -> None:
    """How each changed workload's rollout stands at the end of the range, when it
    is failing or not done (``ProgressDeadlineExceeded``, ``not done: PodsNotReady``)."""
    objs = {
        (f.object.kind, f.object.namespace, f.object.name)
        for f in shown
        if f.object.kind in WORKLOAD_TYPES and not f.issue.endswith(" deleted")
    }
    state = showing_at(store, objs, SIGNALS, at=params.range.end)
    for f in shown:
        said = describe(state.get((f.object.kind, f.object.namespace, f.object.name), []))
        if said:
            f.evidence["rolloutNow"] = said
            f.message += f"; rollout now: {', '.join(said)} (see check_workload_rollouts)"


def _details(store: Store, params: CheckParams, c: _Changed) -> dict[str, Any]:
    """Changed paths and highlights of one object's versions in the range."""
    ident = EventFilter(
        namespace=(c.namespace,),
        resource_type=(c.resource_type or plural_for_kind(c.kind),),
        kind=(c.kind,),
        name=(c.name,),
        end=params.range.end,
    )
    before = store.search(
        EventQuery(filter=replace(ident, end=params.range.start), order="desc", limit=1)
    ).items
    versions = store.search(
        EventQuery(filter=replace(ident, start=params.range.start), limit=_HISTORY_CAP)
    ).items
    previous = before[0] if before else None
    changes = []
    all_paths: list[str] = []
    highlights: list[str] = []
    uid = ""
    for doc in versions:
        uid = doc.get("uid") or uid
        if doc.get("snapshot"):
            previous = doc
            continue
        old = (
            previous["objectChanges"]
            if previous and previous.get("uid") == doc.get("uid")
            else None
        )
        new = doc["objectChanges"]
        paths = (
            [p for p in changed_paths(old, new) if not _NOISE.match(p)] if old is not None else []
        )
        if doc["verb"] == "update" and old is not None and not paths:
            previous = doc
            continue
        for p in paths:
            if p not in all_paths:
                all_paths.append(p)
        doc_highlights = _highlights(old, new, paths) if old is not None else []
        highlights.extend(h for h in doc_highlights if h not in highlights)
        changes.append(
            {
                "time": doc["timestamp"],
                "verb": doc["verb"],
                "by": doc.get("fieldManager") or "unknown",
                **({"user": doc["user"]} if doc.get("user") not in (None, WATCHER_USER) else {}),
                "changedPaths": paths[:20],
                **({"highlights": doc_highlights} if doc_highlights else {}),
            }
        )
        previous = doc
    return {"uid": uid, "changes": changes[-10:], "paths": all_paths, "highlights": highlights}


def spec_change(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """What changed between two versions, status and bookkeeping left out: the changed
    paths and their highlights (an image tag, replicas, a ConfigMap key)."""
    paths = [p for p in changed_paths(old, new) if not _NOISE.match(p)]
    return paths, _highlights(old, new, paths)


def _highlights(old: Mapping[str, Any], new: Mapping[str, Any], paths: list[str]) -> list[str]:
    out = []
    for path in paths:
        if path.endswith(".image") or path.endswith("].image"):
            out.append(f"{path}: {_get(old, path)} → {_get(new, path)}")
        elif path.endswith(".replicas") and path.startswith("spec"):
            out.append(f"replicas: {_get(old, path)} → {_get(new, path)}")
        elif path.startswith(("data.", "stringData.", "binaryData.")):
            out.append(f"{path} changed")
    return out


_SEGMENT = re.compile(r"([^.\[\]]+)|\[([^\]]+)\]")


def _get(obj: Any, path: str) -> Any:
    """Value at a changed path (``spec.template.spec.containers[app].image``); lists
    are addressed by the item's name, as :func:`changed_paths` writes them."""
    node = obj
    for key, item in _SEGMENT.findall(path):
        if isinstance(node, Mapping) and key:
            node = node.get(key)
        elif isinstance(node, list) and item:
            node = next(
                (
                    x
                    for x in node
                    if isinstance(x, Mapping) and item in (x.get("name"), x.get("type"))
                ),
                node[int(item)] if item.isdigit() and int(item) < len(node) else None,
            )
        else:
            return None
    return node
