"""Error responses: always JSON ``{"error": "...", "detail": ...}``, never a traceback.

400 for bad input (times, limits, cursors, unknown values: the queries' and the
checks' own validation errors, raised wherever they are found), 404 for what is not
stored, 503 when the store cannot answer. FastAPI's own 422 validation errors
become 400 with the same shape, so clients handle one format.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from kubetrail.api.responses import JSONResponse
from kubetrail.diagnostics import InvalidParams
from kubetrail.queries import InvalidParameter
from kubetrail.store.base import InvalidQuery, StoreError, StoreUnavailable

log = logging.getLogger("kubetrail.api")


class ApiError(Exception):
    def __init__(self, status: int, error: str, detail: Any = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.detail = detail


def error_response(status: int, error: str, detail: Any = None) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.error, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"parameter": ".".join(str(p) for p in e.get("loc", ())[1:]), "problem": e.get("msg")}
            for e in exc.errors()
        ]
        first = problems[0] if problems else {"parameter": "?", "problem": "invalid"}
        return error_response(400, f"invalid {first['parameter']}: {first['problem']}", problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = error_response(exc.status_code, str(exc.detail))
        response.headers.update(exc.headers or {})  # 405's Allow
        return response

    @app.exception_handler(InvalidParameter)
    async def _invalid_parameter(_: Request, exc: InvalidParameter) -> JSONResponse:
        return error_response(400, str(exc), exc.detail)

    @app.exception_handler(InvalidParams)
    async def _invalid_params(_: Request, exc: InvalidParams) -> JSONResponse:
        return error_response(400, str(exc))

    @app.exception_handler(InvalidQuery)
    async def _invalid(_: Request, exc: InvalidQuery) -> JSONResponse:
        return error_response(400, str(exc))

    @app.exception_handler(StoreUnavailable)
    async def _unavailable(_: Request, exc: StoreUnavailable) -> JSONResponse:
        return error_response(503, "store unavailable", str(exc))

    @app.exception_handler(StoreError)
    async def _store(_: Request, exc: StoreError) -> JSONResponse:
        log.warning("store error: %s", exc)
        return error_response(503, "store error", str(exc))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error serving %s", request.url.path)
        return error_response(500, "internal error", type(exc).__name__)
