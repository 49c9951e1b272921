"""From a watch event to an event document.

:func:`normalize` is the one place a Kubernetes object becomes a kubetrail
document (see :mod:`kubetrail.events.model`). It is pure: the caller says when
the event was observed (the shipper's clock, a recorded line's ``timestamp``)
and whether it came from a listing; everything else is read off the object.

**Snapshots.** A watch starts with a list: every object that already exists
arrives as ``ADDED`` although nothing happened to it. Those documents get
``snapshot: true`` so that "recent changes" never reports thousands of
creations when a shipper starts. The shipper knows which events came from a
list and says so. For a recording, where nobody said so, an ``ADDED`` is a
snapshot when the object was created more than :data:`SNAPSHOT_TOLERANCE`
before the event's time: a real creation is observed within moments of its
``creationTimestamp``.

**Identity.** ``id`` is ``<uid>:<resourceVersion>``, with ``:delete`` appended
for deletions: one id per observed *version* of an object, however it was seen.
Seeing the same version twice (a relist, a replayed spool, a second replica
whose startup listing shows as a snapshot what the first stored as an update)
yields the same id, and stores write idempotently on it. A deletion gets its
own id because a delete synthesised after a watch gap carries the last known
version, not a new one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import orjson

from kubetrail.events.model import (
    MAX_NESTING,
    WATCHER_USER,
    EventDocument,
    InvolvedObject,
    Verb,
)
from kubetrail.events.redact import DEFAULT_POLICY, RedactionPolicy, redact
from kubetrail.events.resources import (
    EVENT_API_VERSIONS,
    plural_for_kind,
    request_uri,
    split_api_version,
)
from kubetrail.events.signals import derive_signals
from kubetrail.events.timing import (
    creation_time,
    derive_object_time,
    format_rfc3339,
    utcnow,
)

SNAPSHOT_TOLERANCE = timedelta(minutes=2)

_VERBS: dict[str, Verb] = {"ADDED": "create", "MODIFIED": "update", "DELETED": "delete"}


class NormalizeError(ValueError):
    """The input cannot become a document; the message says what is missing."""


def verb_for(event_type: str) -> Verb:
    try:
        return _VERBS[event_type]
    except KeyError:
        raise NormalizeError(
            f"unknown watch event type {event_type!r} (expected ADDED, MODIFIED or DELETED)"
        ) from None


def _check_nesting(obj: Mapping[str, Any], kind: str) -> None:
    # orjson counts nesting in C (about 1 µs for a typical pod) and refuses past 254
    # levels; one list around the object stands for the document's level.
    try:
        orjson.dumps([obj], option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError as exc:
        if "ecursion" in str(exc):  # "Recursion limit reached"
            raise NormalizeError(
                f"{kind} nests deeper than {MAX_NESTING} levels (the most kubetrail stores)"
            ) from None
        # anything else orjson refuses (only Python callers can build it) is the stores' call


def normalize(
    event_type: str,
    obj: Mapping[str, Any],
    *,
    observed_at: datetime | None = None,
    snapshot: bool | None = None,
    plural: str | None = None,
    user: str = WATCHER_USER,
    policy: RedactionPolicy = DEFAULT_POLICY,
) -> EventDocument:
    """Turn one watch event (``type`` + ``object``) into an event document.

    ``observed_at``: when the event was seen; derived from the object if ``None``.
    ``snapshot``: whether it came from a list; inferred for ``ADDED`` if ``None``.
    ``plural``: the resource name from discovery; guessed from the kind if ``None``.
    """
    verb = verb_for(event_type)
    if not isinstance(obj, dict):
        raise NormalizeError(f"watch event object must be a JSON object, got {type(obj).__name__}")
    kind = obj.get("kind")
    api_version = obj.get("apiVersion")
    meta = obj.get("metadata")
    if not isinstance(kind, str) or not kind:
        raise NormalizeError("object has no kind")
    if not isinstance(api_version, str) or not api_version:
        raise NormalizeError(f"{kind} has no apiVersion")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        raise NormalizeError(f"{kind} has no metadata.name")
    _check_nesting(obj, kind)

    name: str = meta["name"]
    namespace = meta.get("namespace") or ""
    uid = meta.get("uid") or ""
    raw_version = meta.get("resourceVersion") or ""
    if not isinstance(namespace, str) or not isinstance(uid, str):
        raise NormalizeError(f"{kind} {name}: metadata.namespace and metadata.uid must be strings")
    if isinstance(raw_version, bool) or not isinstance(raw_version, str | int):
        raise NormalizeError(f"{kind} {name}: metadata.resourceVersion must be a string")
    resource_version = str(raw_version)
    api_group, version = split_api_version(api_version)
    resource_type = plural or plural_for_kind(kind)

    when = observed_at or derive_object_time(obj) or utcnow()
    if snapshot is None:
        created = creation_time(obj) if verb == "create" else None
        snapshot = created is not None and when - created > SNAPSHOT_TOLERANCE

    redacted = redact(obj, policy)
    doc: dict[str, Any] = {
        "timestamp": format_rfc3339(when),
        "verb": verb,
        "user": user,
        "namespace": namespace,
        "resourceType": resource_type,
        "resourceName": name,
        "responseStatus": 200,
        "message": f"{verb.capitalize()} {resource_type} {name}"
        + (" (snapshot)" if snapshot else ""),
        "objectChanges": redacted,
        "stage": "ResponseComplete",
        "requestURI": request_uri(
            api_group=api_group,
            api_version=version,
            namespace=namespace,
            plural=resource_type,
            name=name,
        ),
        "id": document_id(uid, resource_version, verb, redacted, kind, namespace, name),
        "uid": uid,
        "resourceVersion": resource_version,
        "apiGroup": api_group,
        "apiVersion": api_version,
        "kind": kind,
        "signals": derive_signals(obj),
        "fieldManager": newest_field_manager(meta),
        "snapshot": snapshot,
    }
    if kind == "Event" and api_version in EVENT_API_VERSIONS:
        doc.update(_event_fields(obj))
    return doc  # type: ignore[return-value]


def document_id(
    uid: str,
    resource_version: str,
    verb: str,
    redacted: Mapping[str, Any],
    kind: str,
    namespace: str,
    name: str,
) -> str:
    """``uid:resourceVersion`` (``:delete`` for deletions); objects lacking either
    (hand-written files) fall back to their identity and a hash of their content,
    still stable."""
    suffix = ":delete" if verb == "delete" else ""
    if uid and resource_version:
        return f"{uid}:{resource_version}{suffix}"
    ident = uid or f"{kind}/{namespace}/{name}"
    digest = hashlib.sha256(orjson.dumps(redacted, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"{ident}:{resource_version or 'h' + digest[:16]}{suffix}"


def newest_field_manager(meta: Mapping[str, Any]) -> str:
    """The manager of the most recent ``managedFields`` entry: who changed it last."""
    fields = meta.get("managedFields")
    if not isinstance(fields, list):
        return ""
    best_time = ""
    best = ""
    for entry in fields:
        if not isinstance(entry, dict):
            continue
        manager = entry.get("manager")
        time = entry.get("time") or ""
        if isinstance(manager, str) and isinstance(time, str) and time >= best_time:
            best_time, best = time, manager
    return best


def _event_fields(obj: Mapping[str, Any]) -> dict[str, Any]:
    """involvedObject / reason / eventType / count of a core/v1 or events.k8s.io Event."""
    target = obj.get("involvedObject") or obj.get("regarding") or {}
    if not isinstance(target, dict):
        target = {}
    involved: InvolvedObject = {
        "kind": str(target.get("kind") or ""),
        "namespace": str(target.get("namespace") or ""),
        "name": str(target.get("name") or ""),
        "uid": str(target.get("uid") or ""),
    }
    series = obj.get("series")
    count = obj.get("count") or obj.get("deprecatedCount")
    if isinstance(series, dict) and isinstance(series.get("count"), int):
        count = max(int(count or 0), series["count"])
    return {
        "involvedObject": involved,
        "reason": str(obj.get("reason") or ""),
        "eventType": str(obj.get("type") or ""),
        "count": int(count) if isinstance(count, int) and count > 0 else 1,
    }
