"""The event document: the one contract every store, the API and the MCP server share.

An *event document* is what kubetrail stores for one observed change of one
Kubernetes object. Its first eleven fields are exactly those of the original
Go toolkit's REST contract, so existing clients keep working; the rest are
kubetrail's additions (identity, signals, who changed it, Event details).

A document is a plain ``dict`` (it is serialised with orjson on every hop, and a
dataclass round trip per event would cost more than the rest of the pipeline);
:data:`DOCUMENT_FIELDS` names every key it may carry and :class:`EventDocument`
types it for readers.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

Verb = Literal["create", "update", "delete"]

#: How deeply an object may nest (maps and lists along its deepest path). Its document adds
#: one level, and every store serialises documents with orjson, whose limit is 254 levels;
#: :func:`~kubetrail.events.normalize.normalize` rejects deeper objects before anything walks
#: them. Real Kubernetes objects nest a few dozen levels at most.
MAX_NESTING = 253

#: The watch identity used as ``user`` when the real requester is not known (no audit
#: event joined, see :mod:`kubetrail.events.audit`).
WATCHER_USER = "system:k8s-watcher"

#: Fields of the original toolkit, with exactly these names.
ORIGINAL_FIELDS: tuple[str, ...] = (
    "timestamp",
    "verb",
    "user",
    "namespace",
    "resourceType",
    "resourceName",
    "responseStatus",
    "message",
    "objectChanges",
    "stage",
    "requestURI",
)

#: Fields kubetrail adds.
ADDED_FIELDS: tuple[str, ...] = (
    "id",
    "uid",
    "resourceVersion",
    "apiGroup",
    "apiVersion",
    "kind",
    "signals",
    "fieldManager",
    "snapshot",
    "gap",
    "involvedObject",
    "reason",
    "eventType",
    "count",
    "userSource",
    "auditID",
    "impersonatedBy",
)

DOCUMENT_FIELDS: tuple[str, ...] = ORIGINAL_FIELDS + ADDED_FIELDS


class InvolvedObject(TypedDict):
    kind: str
    namespace: str
    name: str
    uid: str


class EventDocument(TypedDict):
    timestamp: str  # RFC3339 UTC, "2024-01-01T12:00:00Z"
    verb: Verb
    user: str
    namespace: str  # "" for cluster-scoped objects
    resourceType: str  # plural, e.g. "pods"
    resourceName: str
    responseStatus: int  # always 200
    message: str  # "Update pods my-pod"
    objectChanges: dict[str, Any]  # the redacted object snapshot
    stage: str  # always "ResponseComplete"
    requestURI: str  # "/api/v1/namespaces/default/pods/my-pod"
    id: str  # "<uid>:<resourceVersion>:<verb>": writes are idempotent on it
    uid: str
    resourceVersion: str
    apiGroup: str  # "" for the core group
    apiVersion: str  # "v1", "apps/v1"
    kind: str
    signals: list[str]
    fieldManager: str  # manager of the newest managedFields entry, "" if unknown
    # True when the object was listed (already existed) rather than seen changing:
    # the initial list of a watch or a relist after a gap. Not a change.
    snapshot: bool
    # True on a change the shipper inferred after a watch gap (a relist showed an object
    # created or deleted while it was not watching): real, but its time is approximate.
    gap: NotRequired[bool]
    # Only on Kubernetes Events (core/v1 and events.k8s.io/v1):
    involvedObject: NotRequired[InvolvedObject]
    reason: NotRequired[str]
    eventType: NotRequired[str]  # "Normal" | "Warning"
    count: NotRequired[int]
    # Only where the API server's audit log said who made this version
    # (:mod:`kubetrail.events.audit`); ``user`` is then that user:
    userSource: NotRequired[str]  # "audit-exact" | "audit-nearest"
    auditID: NotRequired[str]  # the audit event's auditID
    impersonatedBy: NotRequired[str]  # who authenticated, when ``user`` was impersonated
