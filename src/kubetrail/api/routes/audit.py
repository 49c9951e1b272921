"""``POST /api/v1/audit``: the API server's audit webhook.

kube-apiserver's webhook backend (``--audit-webhook-config-file``, a kubeconfig naming
this URL and the API's bearer token) POSTs batches of audit events as an
``audit.k8s.io/v1`` ``EventList``. Each write they record is kept in the store and joined
to the version it made, so that version's ``user`` is who made it
(:mod:`kubetrail.events.audit`); the answer counts what happened. Delivering a batch
again changes nothing (records are kept once, by ``auditID``).

The store must be one this process may write: the endpoint answers 403 unless the API was
started to take audit events (``kubetrail api --accept-audit``; ``kubetrail ship
--api-port`` serves its own store and takes them). Bad input is a 400 with one line saying
what is wrong, never a quote of the body (audit events carry request bodies); a body over
:attr:`~kubetrail.config.Settings.max_audit_bytes` is a 413 (the API server then drops the
batch: keep ``--audit-webhook-batch-max-size`` such that batches stay below it).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from kubetrail.api.auth import AUDIT_PATH
from kubetrail.api.deps import SettingsDep, StoreDep
from kubetrail.api.errors import ApiError
from kubetrail.api.responses import JSONResponse, error_responses
from kubetrail.events.audit import AuditError, audit_items, is_audit_list
from kubetrail.ingest.audit import audit_records
from kubetrail.store.base import AuditJoin, AuditResult, Store

router = APIRouter(prefix="/api/v1", responses=error_responses(400, 401, 503))


@router.post(
    AUDIT_PATH.removeprefix("/api/v1"),
    summary="Audit webhook: keep the API server's audit events (an EventList) and join them",
    response_description="What was kept and joined.",
    responses=error_responses(403, 413),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "An audit.k8s.io/v1 EventList, as kube-apiserver's webhook "
            "backend sends it.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def receive_audit(request: Request, store: StoreDep, settings: SettingsDep) -> JSONResponse:
    if not settings.accept_audit or not isinstance(store, AuditJoin):
        raise ApiError(
            403,
            "this API does not take audit events",
            "start it with `kubetrail api --accept-audit` (it then writes to its store), "
            "or send them to `kubetrail ship --api-port`",
        )
    body = await _read_body(request, settings.max_audit_bytes)
    value = _parse(body)
    try:
        records = audit_records(value)
        events = len(audit_items(value))
    except AuditError as exc:
        raise ApiError(400, f"not a valid audit EventList: {exc}") from None
    result: AuditResult = await run_in_threadpool(_write, store, records)
    return JSONResponse(
        {
            "events": events,
            "writes": len(records),
            "kept": result.stored,
            "keptBefore": result.duplicates,
            "joinedExactly": result.exact,
            "joinedByTime": result.nearest,
            "pending": result.pending,
        }
    )


def _write(store: Store, records: list[Any]) -> AuditResult:
    assert isinstance(store, AuditJoin)
    return store.write_audit(records)


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused past ``limit`` bytes while it arrives (a chunked request has no
    length to check first)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"request body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(body: bytes) -> dict[str, Any]:
    if not body.strip():
        raise ApiError(400, "empty body: send an audit.k8s.io/v1 EventList")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ApiError(400, "body is not JSON: send an audit.k8s.io/v1 EventList") from None
    if not isinstance(value, dict) or not is_audit_list(value):
        raise ApiError(
            400,
            "body is not an audit.k8s.io/v1 EventList (the API server's audit webhook format)",
        )
    return value
