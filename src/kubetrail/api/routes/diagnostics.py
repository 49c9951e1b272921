"""The diagnostics over REST: list the checks, run one, and recent changes.

Parameters are the MCP tools' names (``start_time``, ``end_time``,
``time_window`` such as ``30m``/``2h``/``7d``, ``namespace``, ``limit``,
``pod_name``), so a client can pass a tool's arguments straight through.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from kubetrail.api.deps import StoreDep
from kubetrail.api.errors import ApiError
from kubetrail.api.responses import JSONResponse
from kubetrail.diagnostics import CHECKS, CheckParams, InvalidParams, TimeRange, run_check
from kubetrail.diagnostics.model import DEFAULT_LIMIT, MAX_LIMIT

router = APIRouter(prefix="/api/v1")

_RANGES = ("1h", "24h", "7d")


@router.get("/diagnostics", summary="List the diagnostic checks")
def list_checks() -> JSONResponse:
    return JSONResponse(
        {
            "checks": [
                {
                    "name": spec.name,
                    "description": spec.description,
                    "defaultWindow": _window_text(spec.default_window.total_seconds()),
                    "parameters": ["namespace", "start_time", "end_time", "time_window", "limit"]
                    + (["pod_name"] if spec.needs_pod else []),
                    "required": ["pod_name", "namespace"] if spec.needs_pod else [],
                }
                for spec in CHECKS.values()
            ]
        }
    )


def _window_text(seconds: float) -> str:
    hours = int(seconds // 3600)
    return f"{hours // 24}d" if hours % 24 == 0 and hours >= 24 else f"{hours}h"


def _params(
    *,
    check: str,
    namespace: str | None,
    start_time: str | None,
    end_time: str | None,
    time_window: str | None,
    limit: int | None,
    pod_name: str | None = None,
) -> CheckParams:
    spec = CHECKS[check]
    try:
        rng = TimeRange.resolve(
            start_time=start_time,
            end_time=end_time,
            time_window=time_window,
            default=spec.default_window,
        )
        return CheckParams(
            range=rng,
            namespace=namespace or None,
            limit=DEFAULT_LIMIT if limit is None else limit,
            pod_name=pod_name or None,
        )
    except InvalidParams as exc:
        raise ApiError(400, str(exc)) from None


@router.get("/diagnostics/{check}", summary="Run one diagnostic check")
def run(
    store: StoreDep,
    check: Annotated[str, Path(description="A check name from GET /api/v1/diagnostics.")],
    namespace: Annotated[
        str | None, Query(description="Only this namespace (default: all).")
    ] = None,
    start_time: Annotated[
        str | None, Query(description="RFC3339 start; wins over time_window.")
    ] = None,
    end_time: Annotated[str | None, Query(description="RFC3339 end (default now).")] = None,
    time_window: Annotated[
        str | None, Query(description="How far back from end_time: 30m, 2h, 2 hours, 24h, 7d.")
    ] = None,
    limit: Annotated[int | None, Query(description=f"Findings to return, 1-{MAX_LIMIT}.")] = None,
    pod_name: Annotated[str | None, Query(description="investigate_pod_startup: the pod.")] = None,
) -> JSONResponse:
    if check not in CHECKS:
        raise ApiError(404, f"unknown check {check!r}", {"checks": list(CHECKS)})
    params = _params(
        check=check,
        namespace=namespace,
        start_time=start_time,
        end_time=end_time,
        time_window=time_window,
        limit=limit,
        pod_name=pod_name,
    )
    try:
        report = run_check(store, check, params)
    except InvalidParams as exc:
        raise ApiError(400, str(exc)) from None
    return JSONResponse(report.to_dict())


@router.get("/changes", summary="Recent changes (analyze_recent_changes)")
def changes(
    store: StoreDep,
    range: Annotated[
        str | None, Query(description="1h, 24h or 7d (default 24h); start/end win.")
    ] = None,
    start: Annotated[str | None, Query(description="RFC3339 start.")] = None,
    end: Annotated[str | None, Query(description="RFC3339 end (default now).")] = None,
    namespace: Annotated[str | None, Query(description="Only this namespace.")] = None,
    limit: Annotated[int | None, Query(description=f"Objects to return, 1-{MAX_LIMIT}.")] = None,
) -> JSONResponse:
    if range is not None and range not in _RANGES:
        raise ApiError(400, f"range must be one of {', '.join(_RANGES)}, got {range!r}")
    params = _params(
        check="analyze_recent_changes",
        namespace=namespace,
        start_time=start,
        end_time=end,
        time_window=range,
        limit=limit,
    )
    return JSONResponse(run_check(store, "analyze_recent_changes", params).to_dict())
