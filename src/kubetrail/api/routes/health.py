"""``GET /health``: 200 with the store's status, 503 when it cannot answer.

It is open (probes carry no token). With a token configured, a caller without it
learns only ``ok`` or ``unavailable``: the store's location, size and time range are
for callers with the token.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from kubetrail import __version__
from kubetrail.api.deps import StoreDep
from kubetrail.api.responses import JSONResponse, error_responses

router = APIRouter()


@router.get("/health", summary="Health of the API and its store", responses=error_responses(503))
def health(store: StoreDep, request: Request) -> JSONResponse:
    detailed = getattr(request.state, "authorized", True)
    try:
        status = store.health()
    except Exception as exc:  # a health check must answer, whatever the store does
        body: dict[str, Any] = {"status": "unavailable"}
        if detailed:
            body |= {"store": getattr(store, "kind", "?"), "error": str(exc)}
        return JSONResponse(body, status_code=503)
    code = 200 if status.ok else 503
    if not detailed:
        return JSONResponse({"status": "ok" if status.ok else "unavailable"}, status_code=code)
    body = {
        "status": "ok" if status.ok else "unavailable",
        "version": __version__,
        "store": status.store,
        "detail": status.detail,
    }
    return JSONResponse(body, status_code=code)
