"""``GET /health``: 200 with the store's status, 503 when it cannot answer."""

from __future__ import annotations

from fastapi import APIRouter

from kubetrail import __version__
from kubetrail.api.deps import StoreDep
from kubetrail.api.responses import JSONResponse

router = APIRouter()


@router.get("/health", summary="Health of the API and its store")
def health(store: StoreDep) -> JSONResponse:
    try:
        status = store.health()
    except Exception as exc:  # a health check must answer, whatever the store does
        return JSONResponse(
            {"status": "unavailable", "store": getattr(store, "kind", "?"), "error": str(exc)},
            status_code=503,
        )
    body = {
        "status": "ok" if status.ok else "unavailable",
        "version": __version__,
        "store": status.store,
        "detail": status.detail,
    }
    return JSONResponse(body, status_code=200 if status.ok else 503)
