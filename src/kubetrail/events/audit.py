"""Who made a change: the API server's audit events, joined to the versions kubetrail stored.

A watch event says *what* an object became, never *who* asked for it: the shipper's
documents carry the watcher's identity (``system:k8s-watcher``) and the field manager
(``kubectl``, ``helm``). The API server's audit log has the authenticated user of every
request. This module turns one ``audit.k8s.io/v1`` ``Event`` (a line of
``--audit-log-path``, an item of the webhook backend's ``EventList``) into an
:class:`AuditRecord` — the few fields a join needs, nothing of the request or response
bodies — and decides, purely, which stored version each record belongs to
(:func:`plan_joins`). Stores keep the records and apply the plan
(:class:`~kubetrail.store.base.AuditJoin`).

**Which events.** Completed (``ResponseComplete``), successful (2xx) writes of one named
object: ``create``, ``update``, ``patch`` (→ ``update``) and ``delete``. A write to a
subresource that changes its object (``status``, ``scale``, ``binding``, …) is an
``update`` of that object; other subresources (``exec``, ``token``, ``eviction``…), reads,
``deletecollection`` (no name) and failed requests are skipped: no version of theirs is
stored.

**Who.** ``user`` is the identity the request was authorised as: the impersonated user when
the request impersonated one (a proxy such as Rancher or Teleport acting for a person,
``kubectl --as``), else the authenticated user; ``impersonatedBy`` then names who
authenticated. Source addresses and user agents are left in the audit log (``auditID`` says
where to look): they are personal data, and the field manager already names the program.

**The join.**

- *exact* (``audit-exact``): the response body (``RequestResponse`` level) is the written
  object, so its ``metadata.resourceVersion`` (and ``uid``) name the stored version itself.
  ``objectRef.resourceVersion`` is not used: on a real API server it is the version an
  ``update`` *replaced* (the request's precondition), never the one written.
- *nearest* (``audit-nearest``): without a written version (``Metadata`` level, e.g. Secrets
  and ConfigMaps, and deletes, whose response is a ``Status``) the record goes to a stored
  version of the same object (resource, namespace, name; and uid when both know it), with
  the same verb, not a listing snapshot, not joined yet, within :data:`NEAREST_WINDOW` of
  the request's completion. Pairs are taken closest in time first, so two users changing
  one object a second apart each get their own version, and a write that changed nothing
  (no new version) is left over rather than stealing a neighbour's.

An exact join wins over a nearest one (the nearest record is released, pending again); an
exact one is never replaced (a later record naming the same version, a write that changed
nothing, is *settled*: :data:`SUPERSEDED`). A record without its version yet stays
*pending* in the store until the version arrives: the join works whichever comes first.

**Bodies.** ``requestObject`` and ``responseObject`` are read for four identifiers
(name, namespace, uid, resourceVersion) and dropped: no value of them is kept, so a Secret
logged at ``RequestResponse`` level reaches no store, log or error message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final, Literal

from kubetrail.events.model import EventDocument, Verb
from kubetrail.events.timing import InvalidTime, format_rfc3339, parse_rfc3339, to_micros

AUDIT_API_VERSION = "audit.k8s.io/v1"
UserSource = Literal["audit-exact", "audit-nearest"]
EXACT: Final = "audit-exact"
NEAREST: Final = "audit-nearest"

#: How far apart (either way) a request's completion and the stored version's time may be
#: for a nearest join: the shipper stamps a version when its watch event arrives, which on a
#: healthy cluster is milliseconds after the write.
NEAREST_WINDOW = timedelta(seconds=5)

_VERBS: dict[str, Verb] = {
    "create": "create",
    "update": "update",
    "patch": "update",
    "delete": "delete",
}
#: Subresources whose writes change the object they belong to (a new version of it).
WRITING_SUBRESOURCES = frozenset(
    {"status", "scale", "binding", "ephemeralcontainers", "resize", "finalize", "approval"}
)


class AuditError(ValueError):
    """An audit event is malformed; the message names what is missing, never a value."""


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """What kubetrail keeps of one audited write."""

    audit_id: str
    timestamp: str  # RFC3339 UTC: when the request completed (stageTimestamp)
    verb: Verb
    resource_type: str  # plural, e.g. deployments
    api_group: str
    namespace: str  # "" for cluster-scoped objects
    name: str
    uid: str  # "" when the event does not say
    resource_version: str  # the version written, from the response; "" when not known
    user: str
    impersonated_by: str = ""  # the authenticated user, when it impersonated ``user``

    @property
    def micros(self) -> int:
        return to_micros(parse_rfc3339(self.timestamp))

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.resource_type, self.namespace, self.name)

    def to_dict(self) -> dict[str, str]:
        return {
            "auditID": self.audit_id,
            "timestamp": self.timestamp,
            "verb": self.verb,
            "resourceType": self.resource_type,
            "apiGroup": self.api_group,
            "namespace": self.namespace,
            "resourceName": self.name,
            "uid": self.uid,
            "resourceVersion": self.resource_version,
            "user": self.user,
            "impersonatedBy": self.impersonated_by,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AuditRecord:
        """The inverse of :meth:`to_dict` (what a store kept)."""
        verb = _VERBS.get(str(d.get("verb")), "update")
        return cls(
            audit_id=str(d["auditID"]),
            timestamp=str(d["timestamp"]),
            verb=verb,
            resource_type=str(d.get("resourceType") or ""),
            api_group=str(d.get("apiGroup") or ""),
            namespace=str(d.get("namespace") or ""),
            name=str(d.get("resourceName") or ""),
            uid=str(d.get("uid") or ""),
            resource_version=str(d.get("resourceVersion") or ""),
            user=str(d.get("user") or ""),
            impersonated_by=str(d.get("impersonatedBy") or ""),
        )


def is_audit_event(value: Mapping[str, Any]) -> bool:
    """An ``audit.k8s.io/v1`` ``Event`` (one line of an audit log)."""
    return value.get("kind") == "Event" and value.get("apiVersion") == AUDIT_API_VERSION


def is_audit_list(value: Mapping[str, Any]) -> bool:
    """An ``audit.k8s.io/v1`` ``EventList`` (what the webhook backend POSTs)."""
    return value.get("kind") == "EventList" and value.get("apiVersion") == AUDIT_API_VERSION


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def audit_record(event: Mapping[str, Any], *, in_list: bool = False) -> AuditRecord | None:
    """The record of one audit ``Event``; ``None`` for an event that wrote no version
    kubetrail stores (see the module docstring). :class:`AuditError` when it is malformed.
    ``in_list``: an item of an ``EventList``, which the API server sends without its own
    ``kind`` and ``apiVersion`` (the list's say it)."""
    untyped = in_list and "kind" not in event and "apiVersion" not in event
    if not untyped and not is_audit_event(event):
        raise AuditError(f"not an {AUDIT_API_VERSION} Event")
    audit_id = _text(event.get("auditID"))
    if not audit_id:
        raise AuditError("audit event has no auditID")
    if event.get("stage") != "ResponseComplete":
        return None
    verb = _VERBS.get(_text(event.get("verb")))
    ref = _mapping(event.get("objectRef"))
    status = _mapping(event.get("responseStatus"))
    code = status.get("code")
    if verb is None or not ref or not isinstance(code, int) or not 200 <= code < 300:
        return None
    subresource = _text(ref.get("subresource"))
    if subresource:
        if subresource not in WRITING_SUBRESOURCES:
            return None
        verb = "update"  # the object it belongs to changed
    response = _mapping(event.get("responseObject"))
    written = _mapping(response.get("metadata")) if response.get("kind") != "Status" else {}
    details = _mapping(status.get("details")) or _mapping(response.get("details"))
    resource = _text(ref.get("resource"))
    name = _text(ref.get("name")) or _text(written.get("name"))
    if not resource or not name:
        return None  # a generated name at Metadata level: nothing to join on
    user = _mapping(event.get("user"))
    username = _text(user.get("username"))
    if not username:
        raise AuditError("audit event has no user.username")
    impersonated = _text(_mapping(event.get("impersonatedUser")).get("username"))
    raw_time = event.get("stageTimestamp") or event.get("requestReceivedTimestamp")
    if not isinstance(raw_time, str):
        raise AuditError("audit event has no stageTimestamp")
    try:
        when = format_rfc3339(parse_rfc3339(raw_time))
    except InvalidTime:
        raise AuditError("audit event has a stageTimestamp that is not RFC3339") from None
    version = written.get("resourceVersion")
    return AuditRecord(
        audit_id=audit_id,
        timestamp=when,
        verb=verb,
        resource_type=resource,
        api_group=_text(ref.get("apiGroup")),
        namespace=_text(ref.get("namespace")),
        name=name,
        uid=_text(written.get("uid")) or _text(details.get("uid")) or _text(ref.get("uid")),
        resource_version=str(version) if isinstance(version, str | int) and version else "",
        user=impersonated or username,
        impersonated_by=username if impersonated else "",
    )


def first_of_each(records: Iterable[AuditRecord]) -> list[AuditRecord]:
    """``records`` without repeats of an auditID: the first one stays, as a store keeps
    the first it was given."""
    seen: dict[str, AuditRecord] = {}
    for r in records:
        seen.setdefault(r.audit_id, r)
    return list(seen.values())


def audit_items(value: Mapping[str, Any]) -> list[Any]:
    """The items of an ``EventList``; :class:`AuditError` when it has none to give."""
    if not is_audit_list(value):
        raise AuditError(f"expected an {AUDIT_API_VERSION} EventList")
    items = value.get("items")
    if items is None:
        return []
    if not isinstance(items, list):
        raise AuditError("EventList items must be a list")
    return items


# -- the join ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    """What a join needs to know of a stored (or arriving) version."""

    id: str
    micros: int
    verb: str
    resource_type: str
    namespace: str
    name: str
    uid: str
    resource_version: str
    snapshot: bool = False
    audit_id: str = ""  # the record it is joined to, "" when none
    user_source: str = ""  # EXACT, NEAREST or ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.resource_type, self.namespace, self.name)


def candidate(doc: Mapping[str, Any]) -> Candidate:
    """The :class:`Candidate` of an event document."""
    return Candidate(
        id=str(doc["id"]),
        micros=to_micros(parse_rfc3339(doc["timestamp"])),
        verb=str(doc.get("verb") or ""),
        resource_type=str(doc.get("resourceType") or ""),
        namespace=str(doc.get("namespace") or ""),
        name=str(doc.get("resourceName") or ""),
        uid=str(doc.get("uid") or ""),
        resource_version=str(doc.get("resourceVersion") or ""),
        snapshot=bool(doc.get("snapshot")),
        audit_id=str(doc.get("auditID") or ""),
        user_source=str(doc.get("userSource") or ""),
    )


@dataclass(frozen=True, slots=True)
class Join:
    audit_id: str
    doc_id: str
    source: UserSource


#: How a store marks a record that names a version another record was joined to first
#: (a write that changed nothing answers with the version it found): settled, never joined.
SUPERSEDED = "superseded"


@dataclass(slots=True)
class JoinPlan:
    """Which record goes to which version. ``released``: records whose nearest join an
    exact one took over; they are pending again. ``settled``: (record, version) pairs of
    exact records whose version an earlier record holds (see :data:`SUPERSEDED`)."""

    joins: list[Join] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    settled: list[tuple[str, str]] = field(default_factory=list)


def plan_joins(
    records: Iterable[AuditRecord],
    candidates: Iterable[Candidate],
    *,
    window: timedelta = NEAREST_WINDOW,
) -> JoinPlan:
    """Join pending ``records`` to ``candidates`` (stored or arriving versions of their
    objects, joined or not): exact ones first, in request order, then nearest ones,
    closest pairs first (see the module docstring)."""
    by_key: dict[tuple[str, str, str], list[Candidate]] = {}
    for c in candidates:
        by_key.setdefault(c.key, []).append(c)
    # the join each version has: as stored, then as planned here
    current: dict[str, tuple[str, str]] = {
        c.id: (c.user_source, c.audit_id)
        for cs in by_key.values()
        for c in cs
        if c.user_source in (EXACT, NEAREST) and c.audit_id
    }
    planned: dict[str, Join] = {}
    released: list[str] = []
    settled: list[tuple[str, str]] = []
    ordered = sorted(records, key=lambda r: (r.micros, r.audit_id))
    for r in ordered:
        if not r.resource_version:
            continue
        target = _exact_target(r, by_key.get(r.key, ()))
        if target is None:
            continue
        source, holder = current.get(target.id, ("", ""))
        if source == EXACT and holder != r.audit_id:
            settled.append((r.audit_id, target.id))  # the first writer keeps it
            continue
        if source == NEAREST and holder != r.audit_id:
            released.append(holder)
        planned[target.id] = Join(r.audit_id, target.id, EXACT)
        current[target.id] = (EXACT, r.audit_id)
    window_us = int(window.total_seconds() * 1_000_000)
    pairs: list[tuple[int, int, str, str]] = []
    for r in ordered:
        if r.resource_version:
            continue  # it knows its version: only that one is it
        at = r.micros
        for c in by_key.get(r.key, ()):
            if c.verb != r.verb or c.snapshot or (r.uid and c.uid and r.uid != c.uid):
                continue
            source, holder = current.get(c.id, ("", ""))
            if source and holder != r.audit_id:
                continue
            gap = abs(c.micros - at)
            if gap <= window_us:
                pairs.append((gap, c.micros, c.id, r.audit_id))
    pairs.sort()
    joined: set[str] = set()
    for _gap, _at, doc_id, audit_id in pairs:
        if audit_id in joined or (doc_id in planned and planned[doc_id].audit_id != audit_id):
            continue
        if current.get(doc_id, ("", ""))[0] == EXACT:
            continue
        planned[doc_id] = Join(audit_id, doc_id, NEAREST)
        joined.add(audit_id)
    return JoinPlan(joins=list(planned.values()), released=released, settled=settled)


def _exact_target(r: AuditRecord, candidates: Sequence[Candidate]) -> Candidate | None:
    """The stored version an exact record names (a deletion and the last update of an
    object may share a resourceVersion: the record's verb decides)."""
    matches = [
        c
        for c in candidates
        if c.resource_version == r.resource_version and (not r.uid or not c.uid or c.uid == r.uid)
    ]
    if not matches:
        return None
    matches.sort(key=lambda c: (c.verb != r.verb, c.id))
    return matches[0]


def joined_fields(record: AuditRecord, source: UserSource) -> dict[str, str]:
    """The document fields a join sets (``impersonatedBy`` only when there was one)."""
    out = {"user": record.user, "userSource": source, "auditID": record.audit_id}
    if record.impersonated_by:
        out["impersonatedBy"] = record.impersonated_by
    return out


#: The document fields a join sets; a join replacing another rewrites all of them.
JOINED_FIELDS = ("user", "userSource", "auditID", "impersonatedBy")


def with_join(doc: EventDocument, record: AuditRecord, source: UserSource) -> EventDocument:
    """A copy of ``doc`` saying who made this version."""
    out: dict[str, Any] = {k: v for k, v in doc.items() if k != "impersonatedBy"}
    out.update(joined_fields(record, source))
    return out  # type: ignore[return-value]
