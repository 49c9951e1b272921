"""Audit records in OpenSearch: the index ``<prefix>-audit`` and the joins to event documents.

One document per audited write (``_id``: its ``auditID``), created by ``kubetrail setup``
next to the event indices but outside ``<prefix>-0*``, so event searches, the index
template, ISM and the retention fallback never see it; retention deletes records by query
with their events. A record joined to a version carries that document's id (``eventId``)
and how it was joined (``userSource``); a pending one has no ``eventId``.

OpenSearch has no transaction, and a search sees a write only after the next refresh, so
the two ways in are ordered to never miss each other:

- **records arrive** (:meth:`AuditIndex.write`): they are created and made searchable
  before anything else (``refresh=wait_for``), then their versions are searched; when some
  are not found, the event indices are refreshed and searched once more, so a version
  whose bulk request was answered before the records became searchable is found;
- **versions arrive** (:meth:`AuditIndex.join_written`, after the bulk request that stored
  them was answered): the pending records of their objects are searched (records are
  searchable as soon as they are kept). Either this sees the records, or the records'
  search comes after this write and sees the versions.

Documents are updated by id in the index that holds them (a partial update: ``user``,
``userSource``, ``auditID``, ``impersonatedBy``), which needs no refresh. A join never costs
a document: the write path logs a failed join (once) and goes on. The rules of a join are
:func:`kubetrail.events.audit.plan_joins`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from opensearchpy import OpenSearch, helpers
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import ConnectionTimeout, NotFoundError, TransportError

from kubetrail.events.audit import (
    NEAREST_WINDOW,
    SUPERSEDED,
    AuditRecord,
    Candidate,
    Join,
    JoinPlan,
    candidate,
    first_of_each,
    joined_fields,
    plan_joins,
)
from kubetrail.events.model import EventDocument
from kubetrail.events.timing import to_micros
from kubetrail.store.base import AuditResult, StoreError, StoreUnavailable
from kubetrail.store.opensearch import audit_index, errors, index_pattern
from kubetrail.store.opensearch.queries import MAX_RESULT_WINDOW, terms_query

log = logging.getLogger("kubetrail.store")

_WINDOW_US = int(NEAREST_WINDOW.total_seconds() * 1_000_000)
#: records (or objects) per search: one clause each
_CHUNK = 200
_SIZE = MAX_RESULT_WINDOW - 1
#: what a join reads of a stored event document
_CANDIDATE_FIELDS = [
    "id",
    "timestamp",
    "verb",
    "resourceType",
    "namespace",
    "resourceName",
    "uid",
    "resourceVersion",
    "snapshot",
    "auditID",
    "userSource",
]


def object_key(resource_type: str, namespace: str, name: str) -> str:
    """One keyword for an object (no part of it may contain ``/``)."""
    return f"{resource_type}/{namespace}/{name}"


def record_source(record: AuditRecord) -> dict[str, Any]:
    """A record as the audit index keeps it."""
    return {
        **record.to_dict(),
        "timestampMicros": record.micros,
        "objectKey": object_key(*record.key),
    }


def pending_query(keys: Sequence[str]) -> dict[str, Any]:
    """The pending records of these objects."""
    return {
        "bool": {
            "filter": [{"terms": {"objectKey": list(keys)}}],
            "must_not": [{"exists": {"field": "eventId"}}],
        }
    }


def version_clause(record: AuditRecord) -> dict[str, Any]:
    """The stored versions a record may join: its own (exact), or its object's around its
    time (nearest)."""
    if record.uid and record.resource_version:
        ident = f"{record.uid}:{record.resource_version}"
        return {"terms": {"id": [ident, f"{ident}:delete"]}}
    conditions: list[dict[str, Any]] = [
        {"term": {"resourceType": record.resource_type}},
        terms_query("namespace", (record.namespace,)),
        {"term": {"resourceName": record.name}},
    ]
    if record.resource_version:
        conditions.append({"term": {"resourceVersion": record.resource_version}})
    else:
        at = record.micros
        conditions.append(
            {"range": {"timestampMicros": {"gte": at - _WINDOW_US, "lte": at + _WINDOW_US}}}
        )
    return {"bool": {"filter": conditions}}


#: a stored version: what the plan needs, and the index holding it ("" when unknown)
Stored = tuple[Candidate, str]


class AuditIndex:
    """One install's audit records (see the module docstring)."""

    def __init__(self, client: OpenSearch, *, prefix: str, name: str, refresh: bool | str) -> None:
        self.client = client
        self.index = audit_index(prefix)
        self.pattern = index_pattern(prefix)
        self.alias = prefix
        self.name = name
        self.refresh = refresh
        self._join_failed = False  # logged once
        self._exists = False  # the audit index was seen

    # -- records arrive ------------------------------------------------------------------

    def write(self, records: Sequence[AuditRecord]) -> AuditResult:
        unique = first_of_each(records)
        result = AuditResult(duplicates=len(records) - len(unique))
        if not unique:
            return result
        self._check_index()
        actions = [
            {
                "_op_type": "create",
                "_index": self.index,
                "_id": r.audit_id,
                "_source": record_source(r),
            }
            for r in unique
        ]
        # searchable before anything looks for them: see the module docstring
        refresh = self.refresh if self.refresh is True else "wait_for"
        failed = self._bulk(actions, refresh=refresh, what="keep audit records")
        conflicts = {ident for ident, status in failed.items() if status == 409}
        others = {ident: status for ident, status in failed.items() if status != 409}
        if others:
            ident, status = next(iter(others.items()))
            raise StoreError(
                f"OpenSearch at {self.name} refused {len(others)} audit records "
                f"(e.g. {ident}: HTTP {status})"
            )
        fresh = [r for r in unique if r.audit_id not in conflicts]
        result.duplicates += len(conflicts)
        result.stored = len(fresh)
        if fresh:
            result.merge(self._join(fresh, new=True))
        return result

    def _check_index(self) -> None:
        """The audit index exists (setup made it): creating a record would otherwise make
        one with guessed mappings, where no record is ever found again."""
        if self._exists:
            return
        try:
            self.client.search(index=self.index, body={"size": 0})
        except NotFoundError:
            raise StoreError(
                f"OpenSearch at {self.name} has no audit index {self.index}: run "
                f"`kubetrail setup --store {self.name}` (again) first"
            ) from None
        except (OSConnectionError, ConnectionTimeout) as exc:
            raise StoreUnavailable(errors.describe_error(exc, self.name)) from None
        except TransportError as exc:
            raise StoreError(f"OpenSearch at {self.name} failed: {errors.reason(exc)}") from None
        self._exists = True

    def join_pending(self, *, start: datetime, end: datetime) -> AuditResult:
        lo, hi = to_micros(start) - _WINDOW_US, to_micros(end) + _WINDOW_US
        body: dict[str, Any] = {
            "query": {
                "bool": {
                    "filter": [{"range": {"timestampMicros": {"gte": lo, "lte": hi}}}],
                    "must_not": [{"exists": {"field": "eventId"}}],
                }
            },
            "sort": [{"timestampMicros": "asc"}, {"auditID": "asc"}],
            "size": 1000,
        }
        result = AuditResult()
        while True:
            hits = self._search(self.index, body)
            records = [AuditRecord.from_dict(h["_source"]) for h in hits]
            if records:
                result.merge(self._join(records, new=False))
            if len(hits) < body["size"]:
                return result
            body["search_after"] = hits[-1]["sort"]

    def _join(self, records: Sequence[AuditRecord], *, new: bool) -> AuditResult:
        stored = self._stored_versions(records)
        plan = plan_joins(records, [c for c, _ in stored.values()])
        settled = {j.audit_id for j in plan.joins} | {aid for aid, _ in plan.settled}
        left = [r for r in records if r.audit_id not in settled]
        if left:
            # a version written just before may not be searchable yet
            self._refresh_events()
            stored.update(self._stored_versions(left))
            plan = plan_joins(records, [c for c, _ in stored.values()])
        by_id = {r.audit_id: r for r in records}
        done = self._apply(plan, by_id, stored)
        result = AuditResult(
            exact=sum(1 for j in done if j.source == "audit-exact"),
            nearest=sum(1 for j in done if j.source == "audit-nearest"),
        )
        if new:
            joined = {j.audit_id for j in done} | {aid for aid, _ in plan.settled}
            result.pending = len(by_id.keys() - joined)
        return result

    def _stored_versions(self, records: Sequence[AuditRecord]) -> dict[str, Stored]:
        found: dict[str, Stored] = {}
        for i in range(0, len(records), _CHUNK):
            chunk = records[i : i + _CHUNK]
            body = {
                "query": {
                    "bool": {
                        "should": [version_clause(r) for r in chunk],
                        "minimum_should_match": 1,
                    }
                },
                "_source": _CANDIDATE_FIELDS,
                "size": _SIZE,
            }
            for hit in self._search(self.pattern, body):
                found[hit["_id"]] = (candidate(hit["_source"]), hit["_index"])
        return found

    def _refresh_events(self) -> None:
        try:
            self.client.indices.refresh(index=self.pattern, ignore_unavailable=True)
        except (OSConnectionError, ConnectionTimeout) as exc:
            raise StoreUnavailable(errors.describe_error(exc, self.name)) from None
        except TransportError as exc:
            raise StoreError(
                f"OpenSearch at {self.name} failed to refresh: {errors.reason(exc)}"
            ) from None

    # -- versions arrive ------------------------------------------------------------------

    def join_written(self, docs: Sequence[EventDocument]) -> list[Join]:
        """Join the pending records of these just written documents' objects (best
        effort: a failure is logged once, the documents are stored); the joins made."""
        try:
            return self._join_written(docs)
        except (StoreError, TransportError, OSConnectionError, KeyError, ValueError) as exc:
            if not self._join_failed:
                self._join_failed = True
                reason = exc if isinstance(exc, StoreError) else errors.reason(exc)
                log.warning(
                    "could not join audit records to the events just stored (they stay "
                    "pending; said once): %s",
                    reason,
                )
            return []

    def _join_written(self, docs: Sequence[EventDocument]) -> list[Join]:
        keys = sorted(
            {
                object_key(d["resourceType"], d.get("namespace") or "", d["resourceName"])
                for d in docs
            }
        )
        pending: list[AuditRecord] = []
        for i in range(0, len(keys), _CHUNK):
            body = {"query": pending_query(keys[i : i + _CHUNK]), "size": _SIZE}
            pending.extend(
                AuditRecord.from_dict(h["_source"]) for h in self._search(self.index, body)
            )
        if not pending:
            return []
        wanted = {r.key for r in pending}
        arriving = {
            d["id"]: d
            for d in docs
            if (d["resourceType"], d.get("namespace") or "", d["resourceName"]) in wanted
        }
        # what is stored of them (a duplicate may be joined already); the ones just
        # created are not searchable yet, and not joined
        known: dict[str, Stored] = {}
        ids = sorted(arriving)
        for i in range(0, len(ids), _CHUNK):
            body = {
                "query": {"terms": {"id": ids[i : i + _CHUNK]}},
                "_source": _CANDIDATE_FIELDS,
                "size": _SIZE,
            }
            for hit in self._search(self.pattern, body):
                known[hit["_id"]] = (candidate(hit["_source"]), hit["_index"])
        stored = {
            ident: known.get(ident) or (candidate(doc), "") for ident, doc in arriving.items()
        }
        plan = plan_joins(pending, [c for c, _ in stored.values()])
        return self._apply(plan, {r.audit_id: r for r in pending}, stored)

    # -- applying a plan ------------------------------------------------------------------

    def _apply(
        self, plan: JoinPlan, records: Mapping[str, AuditRecord], stored: Mapping[str, Stored]
    ) -> list[Join]:
        """Update the documents, then mark the records of the updates that succeeded; the
        joins done."""
        updates = []
        for join in plan.joins:
            before, index = stored[join.doc_id]
            fields: dict[str, Any] = joined_fields(records[join.audit_id], join.source)
            if before.user_source and "impersonatedBy" not in fields:
                fields["impersonatedBy"] = None  # a join replaced: none of the old one stays
            updates.append(
                {
                    "_op_type": "update",
                    "_index": index or self.alias,  # just created: in the write index
                    "_id": join.doc_id,
                    "doc": fields,
                }
            )
        failed = self._bulk(updates, refresh=self.refresh, what="update joined events")
        done = [j for j in plan.joins if j.doc_id not in failed]
        marks = [self._mark(j.audit_id, j.doc_id, j.source) for j in done] + [
            self._mark(aid, doc_id, SUPERSEDED) for aid, doc_id in plan.settled
        ]
        marks += [self._mark(aid, None, None) for aid in plan.released]
        self._bulk(marks, refresh=self.refresh, what="mark joined audit records")
        return done

    def _mark(self, audit_id: str, doc_id: str | None, source: str | None) -> dict[str, Any]:
        return {
            "_op_type": "update",
            "_index": self.index,
            "_id": audit_id,
            "doc": {"eventId": doc_id, "userSource": source},
        }

    # -- requests -------------------------------------------------------------------------

    def _search(self, index: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            answer = self.client.search(index=index, body=body, ignore_unavailable=True)
        except NotFoundError:
            return []
        except (OSConnectionError, ConnectionTimeout) as exc:
            raise StoreUnavailable(errors.describe_error(exc, self.name)) from None
        except TransportError as exc:
            raise StoreError(f"OpenSearch at {self.name} failed: {errors.reason(exc)}") from None
        hits: list[dict[str, Any]] = answer["hits"]["hits"]
        return hits

    def _bulk(
        self, actions: Iterable[dict[str, Any]], *, refresh: bool | str, what: str
    ) -> dict[str, int]:
        """Send ``actions``; the ids that failed, with their HTTP status."""
        actions = list(actions)
        if not actions:
            return {}
        try:
            _, failures = helpers.bulk(
                self.client, actions, raise_on_error=False, refresh=refresh, max_retries=3
            )
        except (OSConnectionError, ConnectionTimeout) as exc:
            raise StoreUnavailable(errors.describe_error(exc, self.name)) from None
        except TransportError as exc:
            raise StoreError(
                f"OpenSearch at {self.name} failed to {what}: {errors.reason(exc)}"
            ) from None
        failed: dict[str, int] = {}
        for item in failures if isinstance(failures, list) else []:
            info = next(iter(item.values()))
            failed[str(info.get("_id"))] = int(info.get("status") or 0)
        return failed

    # -- retention ------------------------------------------------------------------------

    def delete_before(self, cutoff: datetime) -> None:
        try:
            self.client.delete_by_query(
                index=self.index,
                body={"query": {"range": {"timestampMicros": {"lt": to_micros(cutoff)}}}},
                conflicts="proceed",
                refresh=True,
                ignore_unavailable=True,
            )
        except NotFoundError:
            return
        except (OSConnectionError, ConnectionTimeout) as exc:
            raise StoreUnavailable(errors.describe_error(exc, self.name)) from None
        except TransportError as exc:
            raise StoreError(
                f"OpenSearch at {self.name} failed to delete audit records: {errors.reason(exc)}"
            ) from None


__all__ = ["AuditIndex", "object_key", "pending_query", "record_source"]
