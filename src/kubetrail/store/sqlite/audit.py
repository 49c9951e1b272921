"""Audit records in the embedded store: kept in ``audit``, joined to ``events``.

The rules of a join are :func:`kubetrail.events.audit.plan_joins`; this module finds what
they need and writes what they decide, on the writer connection, inside the caller's
transaction (so a write and its joins commit or roll back together, and two processes
writing one file are serialised by SQLite: a record and its version can never miss each
other). Two ways in:

- :func:`store_records` (audit records arrive): keep the new ones, then look up their
  versions: by id for an exact record (``uid:resourceVersion``, ``…:delete``), and the
  object's versions within the nearest-join window; the documents joined are rewritten
  (``user`` column and document).
- :func:`join_arriving` (documents arrive): the pending records of the batch's objects
  (one range of the partial index ``audit_pending`` per object, and nothing at all to do
  when no record is pending) are joined to the prepared rows before they are inserted.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from kubetrail.events.audit import (
    NEAREST_WINDOW,
    SUPERSEDED,
    AuditRecord,
    JoinPlan,
    candidate,
    first_of_each,
    plan_joins,
    with_join,
)
from kubetrail.events.model import EventDocument
from kubetrail.store.base import AuditResult
from kubetrail.store.sqlite.rows import PreparedRow

_CHUNK = 500
_WINDOW_US = int(NEAREST_WINDOW.total_seconds() * 1_000_000)
#: the ``events`` row tuple of a prepared row: where the user and the document are
_USER, _DOC = 3, 18

_INSERT = (
    "INSERT INTO audit (audit_id, ts, verb, resource_type, namespace, name, uid,"
    " resource_version, record) VALUES (?,?,?,?,?,?,?,?,?)"
)
_MARK = "UPDATE audit SET event_id = ?, source = ? WHERE audit_id = ?"
_RELEASE = "UPDATE audit SET event_id = NULL, source = NULL WHERE audit_id = ?"
#: the pending records of the objects in a JSON array of [type, namespace, name]
_PENDING_FOR = (
    "SELECT a.record FROM json_each(?) k CROSS JOIN audit a INDEXED BY audit_pending"
    " ON a.resource_type = json_extract(k.value, '$[0]')"
    " AND a.namespace = json_extract(k.value, '$[1]')"
    " AND a.name = json_extract(k.value, '$[2]')"
    " WHERE a.event_id IS NULL"
)

Decode = Callable[[bytes], Any]
Encode = Callable[[list[bytes]], list[bytes]]


def _record(blob: bytes) -> AuditRecord:
    return AuditRecord.from_dict(orjson.loads(blob))


def has_pending(conn: sqlite3.Connection) -> bool:
    """Whether any record waits for its version (one seek in ``audit_pending``)."""
    return conn.execute("SELECT 1 FROM audit WHERE event_id IS NULL LIMIT 1").fetchone() is not None


def store_records(
    conn: sqlite3.Connection,
    records: Sequence[AuditRecord],
    *,
    decode: Decode,
    encode: Encode,
) -> AuditResult:
    """Keep the records not kept yet and join them to the stored versions they name."""
    result = AuditResult()
    unique = list(first_of_each(records))
    result.duplicates = len(records) - len(unique)
    known: set[str] = set()
    for i in range(0, len(unique), _CHUNK):
        chunk = [r.audit_id for r in unique[i : i + _CHUNK]]
        marks = ",".join("?" * len(chunk))
        known.update(
            row[0]
            for row in conn.execute(
                f"SELECT audit_id FROM audit WHERE audit_id IN ({marks})", chunk
            )
        )
    fresh = [r for r in unique if r.audit_id not in known]
    result.duplicates += len(unique) - len(fresh)
    conn.executemany(
        _INSERT,
        [
            (
                r.audit_id,
                r.micros,
                r.verb,
                r.resource_type,
                r.namespace,
                r.name,
                r.uid,
                r.resource_version,
                orjson.dumps(r.to_dict()),
            )
            for r in fresh
        ],
    )
    result.stored = len(fresh)
    if not fresh:
        return result
    stored = _stored_versions(conn, fresh, decode)
    plan = plan_joins(fresh, [candidate(doc) for _, doc in stored.values()])
    _rewrite(conn, plan, {r.audit_id: r for r in fresh}, stored, encode)
    _mark(conn, plan)
    _count(result, plan, fresh)
    return result


def _stored_versions(
    conn: sqlite3.Connection, records: Sequence[AuditRecord], decode: Decode
) -> dict[str, tuple[int, EventDocument]]:
    """id → (seq, document) of every stored version a record may join."""
    found: dict[str, tuple[int, EventDocument]] = {}
    ids = [
        ident
        for r in records
        if r.uid and r.resource_version
        for ident in (f"{r.uid}:{r.resource_version}", f"{r.uid}:{r.resource_version}:delete")
    ]
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        marks = ",".join("?" * len(chunk))
        for seq, ident, blob in conn.execute(
            f"SELECT seq, id, doc FROM events WHERE id IN ({marks})", chunk
        ):
            found[ident] = (seq, decode(blob))
    for r in records:
        if r.uid and r.resource_version:
            continue
        at = r.micros
        for seq, ident, blob in conn.execute(
            "SELECT seq, id, doc FROM events INDEXED BY events_object WHERE namespace = ?"
            " AND resource_type = ? AND resource_name = ? AND ts >= ? AND ts <= ?",
            (r.namespace, r.resource_type, r.name, at - _WINDOW_US, at + _WINDOW_US),
        ):
            if ident not in found:
                found[ident] = (seq, decode(blob))
    return found


def _rewrite(
    conn: sqlite3.Connection,
    plan: JoinPlan,
    records: dict[str, AuditRecord],
    stored: dict[str, tuple[int, EventDocument]],
    encode: Encode,
) -> None:
    """Rewrite the stored documents the plan joins (``user`` column and document)."""
    updates: list[tuple[int, str, bytes]] = []
    for join in plan.joins:
        seq, doc = stored[join.doc_id]
        joined = with_join(doc, records[join.audit_id], join.source)
        updates.append((seq, joined["user"], orjson.dumps(joined)))
    if not updates:
        return
    blobs = encode([u[2] for u in updates])
    conn.executemany(
        "UPDATE events SET user = ?, doc = ? WHERE seq = ?",
        [(user, blob, seq) for (seq, user, _), blob in zip(updates, blobs, strict=True)],
    )


def _mark(conn: sqlite3.Connection, plan: JoinPlan) -> None:
    conn.executemany(_RELEASE, [(audit_id,) for audit_id in plan.released])
    conn.executemany(_MARK, [(j.doc_id, j.source, j.audit_id) for j in plan.joins])
    conn.executemany(_MARK, [(doc_id, SUPERSEDED, aid) for aid, doc_id in plan.settled])


def _count(result: AuditResult, plan: JoinPlan, fresh: Sequence[AuditRecord]) -> None:
    new = {r.audit_id for r in fresh}
    joined = {j.audit_id for j in plan.joins} | {aid for aid, _ in plan.settled}
    result.exact += sum(1 for j in plan.joins if j.source == "audit-exact")
    result.nearest += sum(1 for j in plan.joins if j.source == "audit-nearest")
    result.pending += len(new - joined)


def join_arriving(
    conn: sqlite3.Connection, fresh: list[PreparedRow], *, decode: Decode
) -> tuple[list[PreparedRow], JoinPlan]:
    """``fresh`` (rows about to be inserted) with the pending records of their objects
    joined: the rows they join carry the record's user, and the records are marked. And
    the plan carried out."""
    keys = {(row[5], row[4], row[6]) for _, row, _, _ in fresh}
    pending: list[AuditRecord] = []
    ordered = sorted(keys)
    for i in range(0, len(ordered), _CHUNK):
        payload = orjson.dumps([list(k) for k in ordered[i : i + _CHUNK]]).decode()
        pending.extend(_record(row[0]) for row in conn.execute(_PENDING_FOR, (payload,)))
    if not pending:
        return fresh, JoinPlan()
    wanted = {r.key for r in pending}
    docs: dict[str, tuple[int, EventDocument]] = {}
    for n, (ident, row, _, _) in enumerate(fresh):
        if (row[5], row[4], row[6]) in wanted:
            docs[ident] = (n, decode(row[_DOC]))
    plan = plan_joins(pending, [candidate(doc) for _, doc in docs.values()])
    if not plan.joins:
        return fresh, plan
    records = {r.audit_id: r for r in pending}
    out = list(fresh)
    for join in plan.joins:
        n, doc = docs[join.doc_id]
        joined = with_join(doc, records[join.audit_id], join.source)
        ident, row, signals, body = out[n]
        row = (
            *row[:_USER],
            joined["user"],
            *row[_USER + 1 : _DOC],
            orjson.dumps(joined),
            *row[_DOC + 1 :],
        )
        out[n] = (ident, row, signals, body)
    _mark(conn, plan)
    return out, plan


def join_pending(
    conn: sqlite3.Connection, start: int, end: int, *, decode: Decode, encode: Encode
) -> AuditResult:
    """Join the records pending from ``start`` to ``end`` (µs, widened by the window) to
    the versions stored by now."""
    pending = [
        _record(row[0])
        for row in conn.execute(
            "SELECT record FROM audit INDEXED BY audit_ts WHERE ts >= ? AND ts <= ?"
            " AND event_id IS NULL",
            (start - _WINDOW_US, end + _WINDOW_US),
        )
    ]
    result = AuditResult()
    if not pending:
        return result
    stored = _stored_versions(conn, pending, decode)
    plan = plan_joins(pending, [candidate(doc) for _, doc in stored.values()])
    _rewrite(conn, plan, {r.audit_id: r for r in pending}, stored, encode)
    _mark(conn, plan)
    _count(result, plan, pending)
    result.pending = 0  # none of them is new
    return result


def delete_before(conn: sqlite3.Connection, limit: int) -> int:
    """Forget records older than ``limit`` (µs); how many."""
    return conn.execute("DELETE FROM audit WHERE ts < ?", (limit,)).rowcount
