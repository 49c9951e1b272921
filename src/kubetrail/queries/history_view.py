"""An object's history as what changed: the default answer of the history endpoint.

The stored history of an object is every version, whole (a pod's history is
hundreds of kilobytes). What a person or a model reads is what changed: for each
version, who made it and each changed path with its value before and after
(:mod:`kubetrail.events.diff`), plus the Kubernetes Events about the object, one
line each. ``?full=true`` still answers the whole versions.

Two kinds of version are not listed one by one: a node's (or a lease's) status
posts that only move heartbeat times, counted in ``heartbeatOnlyVersions``, and
they would otherwise push the real transitions out of sight. The first version
stored of an incarnation (a uid) has nothing to compare with: it says ``first``
and lists no changes.

Pure: it reads the history as :meth:`~kubetrail.queries.history.ObjectHistory.to_dict`
(or the REST API with ``full=true``) serves it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubetrail.events.changes import MAX_PATHS
from kubetrail.events.diff import PREVIEW_CHARS, Change, diff
from kubetrail.events.model import WATCHER_USER

#: Changes listed per version (the rest are counted in ``moreChanges``).
CHANGES_PER_VERSION = 50
_VERSION_FIELDS = (
    "timestamp",
    "verb",
    "resourceVersion",
    "user",
    "userSource",  # how the user is known: from the API server's audit log
    "impersonatedBy",
    "fieldManager",
    "snapshot",
    "gap",
    "signals",
)
_HEARTBEAT_SUFFIXES = (".lastHeartbeatTime", ".lastProbeTime", ".lastUpdateTime", ".renewTime")


def change_view(
    full: Mapping[str, Any],
    *,
    changes_per_version: int = CHANGES_PER_VERSION,
    value_chars: int = PREVIEW_CHARS,
    diffs: Sequence[Sequence[Change] | None] | None = None,
) -> dict[str, Any]:
    """The change view of a full history (``namespace``, ``resourceType``, ``name``,
    ``history`` of whole documents oldest first, ``relatedEvents``, ``truncated``);
    ``diffs`` as in :func:`version_changes`."""
    docs = list(full.get("history") or [])
    versions = version_changes(
        docs, changes_per_version=changes_per_version, value_chars=value_chars, diffs=diffs
    )
    shown = [v for v in versions if not heartbeat_only(v)]
    latest = docs[-1] if docs else {}
    return {
        "namespace": full.get("namespace"),
        "resourceType": full.get("resourceType"),
        "name": full.get("name"),
        "kind": latest.get("kind"),
        "view": "changes",
        "history": shown,
        "heartbeatOnlyVersions": len(versions) - len(shown),
        "relatedEvents": [related_event(e) for e in full.get("relatedEvents") or []],
        "truncated": bool(full.get("truncated")),
    }


def version_changes(
    docs: Sequence[Mapping[str, Any]],
    *,
    changes_per_version: int = CHANGES_PER_VERSION,
    value_chars: int = PREVIEW_CHARS,
    diffs: Sequence[Sequence[Change] | None] | None = None,
) -> list[dict[str, Any]]:
    """Each version (oldest first) without its object: who, when, signals, and the
    changes since the previous version of the same uid. ``diffs``, when given, are
    those changes already computed
    (:func:`~kubetrail.queries.history.version_diffs`, more of them than
    ``changes_per_version``): the versions are not diffed again."""
    previous: dict[str, Mapping[str, Any]] = {}
    out = []
    for i, doc in enumerate(docs):
        v = {k: doc[k] for k in _VERSION_FIELDS if doc.get(k) not in (None, "", [], False)}
        if v.get("user") == WATCHER_USER:  # the shipper's identity: says nothing about who
            del v["user"]
        uid = str(doc.get("uid") or "")
        prev = previous.get(uid)
        if prev is None:
            v["first"] = True
            if uid:
                v["uid"] = uid
        else:
            known = diffs[i] if diffs is not None else None
            # the known changes stop at MAX_PATHS: a prefix of any longer diff
            usable = known is not None and (
                changes_per_version < MAX_PATHS or len(known) < MAX_PATHS
            )
            changes = (
                list(known[: changes_per_version + 1])
                if known is not None and usable
                else diff(
                    prev.get("objectChanges"),
                    doc.get("objectChanges"),
                    limit=changes_per_version + 1,
                )
            )
            v["changes"] = [c.to_dict(max_chars=value_chars) for c in changes]
            if len(changes) > changes_per_version:
                v["changes"] = v["changes"][:changes_per_version]
                # how many more: the paths, which cost no values
                total = len(doc.get("changedPaths") or []) or len(
                    diff(prev.get("objectChanges"), doc.get("objectChanges"))
                )
                v["moreChanges"] = max(1, total - changes_per_version)
        previous[uid] = doc
        out.append(v)
    return out


def heartbeat_only(version: Mapping[str, Any]) -> bool:
    """A version whose every change is a heartbeat or probe time (a node's status post)."""
    changes = version.get("changes") or []
    return (
        version.get("verb") == "update"
        and bool(changes)
        and not version.get("moreChanges")
        and all(str(c.get("path", "")).endswith(_HEARTBEAT_SUFFIXES) for c in changes)
    )


def related_event(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A Kubernetes Event in one line's worth of fields (its newest version)."""
    obj = doc.get("objectChanges") or {}
    out = {
        "lastSeen": doc.get("timestamp"),
        "type": doc.get("eventType") or obj.get("type"),
        "reason": doc.get("reason") or obj.get("reason"),
        "count": doc.get("count") or obj.get("count") or 1,
        "message": obj.get("message") or obj.get("note") or doc.get("message"),
    }
    return {k: v for k, v in out.items() if v not in (None, "")}
