"""What one parsed JSON value of an input file means, as event documents.

Accepted, in this order of recognition:

1. a **watch event** ``{"type": "ADDED|MODIFIED|DELETED", "object": {...}}``,
   optionally with a top-level ``"timestamp"`` (RFC3339): the observation time;
   ``BOOKMARK`` events carry no change and are skipped; ``ERROR`` events (a
   watch that expired) are rejected with the API server's message;
2. a **kubetrail document** (an element of ``GET /api/v1/events``, or the
   original toolkit's): re-normalised from its ``objectChanges``, keeping its
   ``timestamp``, ``verb``, ``user`` (and who said so: ``userSource``, ``auditID``,
   ``impersonatedBy``) and ``snapshot``, so the same id comes out;
3. a **list** (``kind: PodList``/``List`` with ``items``, as ``kubectl get -o
   json`` prints): every item is a snapshot;
4. a **plain object** (``apiVersion``, ``kind``, ``metadata``): a snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubetrail.events.audit import EXACT, JOINED_FIELDS, NEAREST
from kubetrail.events.model import WATCHER_USER, EventDocument
from kubetrail.events.normalize import NormalizeError, normalize
from kubetrail.events.redact import DEFAULT_POLICY, RedactionPolicy
from kubetrail.events.timing import InvalidTime, parse_rfc3339
from kubetrail.ingest.reader import Record, Rejected

_TYPE_FOR_VERB = {"create": "ADDED", "update": "MODIFIED", "delete": "DELETED"}


class RecordError(ValueError):
    """The value cannot become documents; the message is one line without object content."""


def to_documents(
    value: Mapping[str, Any], *, policy: RedactionPolicy = DEFAULT_POLICY
) -> list[EventDocument]:
    """The documents one input value stands for (``[]`` for a bookmark)."""
    try:
        if "type" in value and "object" in value:
            return _from_watch_event(value, policy)
        if "objectChanges" in value and "verb" in value:
            return [_from_document(value, policy)]
        items = value.get("items")
        if isinstance(items, list) and str(value.get("kind", "")).endswith("List"):
            return [_snapshot(item, policy) for item in items]
        if "kind" in value and "metadata" in value:
            return [_snapshot(value, policy)]
    except NormalizeError as exc:
        raise RecordError(str(exc)) from None
    raise RecordError(
        "not a watch event, kubetrail document or Kubernetes object "
        '(expected {"type": ..., "object": {...}})'
    )


def documents_of(
    rec: Record | Rejected, *, policy: RedactionPolicy = DEFAULT_POLICY
) -> list[EventDocument] | str:
    """A record's documents, or the one-line rejection (``file:line: reason``)."""
    if isinstance(rec, Rejected):
        return f"{rec.location}: {rec.reason}"
    try:
        return to_documents(rec.value, policy=policy)
    except RecordError as exc:
        return f"{rec.location}: {exc}"
    except Exception as exc:  # a bug of ours must cost this value, not the rest of the file
        # the type only: an exception's text may quote a value of the object (a Secret's)
        return f"{rec.location}: cannot be normalised ({type(exc).__name__}; please report it)"


def _observed_at(value: Mapping[str, Any]) -> Any:
    raw = value.get("timestamp")
    if raw is None:
        return None
    try:
        return parse_rfc3339(raw)
    except InvalidTime as exc:
        raise RecordError(f"bad timestamp: {exc}") from None


def _from_watch_event(value: Mapping[str, Any], policy: RedactionPolicy) -> list[EventDocument]:
    event_type = value["type"]
    if event_type == "BOOKMARK":
        return []
    if event_type == "ERROR":
        obj = value.get("object")
        message = obj.get("message") if isinstance(obj, Mapping) else None
        raise RecordError(f"watch ERROR event: {message or 'no message'}")
    obj = value["object"]
    if not isinstance(obj, Mapping):
        raise RecordError(f"watch event object must be a JSON object, got {type(obj).__name__}")
    return [normalize(str(event_type), obj, observed_at=_observed_at(value), policy=policy)]


def _from_document(value: Mapping[str, Any], policy: RedactionPolicy) -> EventDocument:
    verb = value.get("verb")
    event_type = _TYPE_FOR_VERB.get(verb) if isinstance(verb, str) else None
    if event_type is None:
        raise RecordError(f"document has unknown verb {verb!r} (expected create, update or delete)")
    obj = value["objectChanges"]
    if not isinstance(obj, Mapping):
        raise RecordError("document objectChanges must be a JSON object")
    snapshot = value.get("snapshot")
    plural = value.get("resourceType")
    doc = normalize(
        event_type,
        obj,
        observed_at=_observed_at(value),
        snapshot=snapshot if isinstance(snapshot, bool) else None,
        plural=plural if isinstance(plural, str) and plural else None,
        user=value.get("user") or WATCHER_USER,
        policy=policy,
    )
    # who made it, when an audit event said so: kept, so an export reads back the same
    if value.get("userSource") in (EXACT, NEAREST) and isinstance(value.get("auditID"), str):
        for key in JOINED_FIELDS:
            if isinstance(value.get(key), str) and value[key]:
                doc[key] = value[key]  # type: ignore[literal-required]
    return doc


def _snapshot(obj: Any, policy: RedactionPolicy) -> EventDocument:
    if not isinstance(obj, Mapping):
        raise RecordError(f"list item must be a JSON object, got {type(obj).__name__}")
    return normalize("ADDED", obj, snapshot=True, policy=policy)
