"""The diagnostics over REST: list the checks, run one, and recent changes.

Parameters are the MCP tools' names (``start_time``, ``end_time``,
``time_window`` such as ``30m``/``2h``/``7d``, ``namespace``, ``limit``,
``pod_name``), so a client can pass a tool's arguments straight through. The
checks, their descriptions and how arguments become parameters are the
diagnostics' catalogue (shared with the MCP server); a bad argument is a 400.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from kubetrail.api.deps import StoreDep
from kubetrail.api.errors import ApiError
from kubetrail.api.responses import TIME_PARAMETER, JSONResponse, error_responses
from kubetrail.diagnostics import CHANGE_RANGES, CHECKS, check_params, format_window, run_check
from kubetrail.diagnostics.model import MAX_LIMIT

router = APIRouter(prefix="/api/v1", responses=error_responses(400, 401, 503))

_CHECK_PARAMETERS = ["namespace", "start_time", "end_time", "time_window", "limit"]


@router.get("/diagnostics", summary="List the diagnostic checks")
def list_checks() -> JSONResponse:
    return JSONResponse(
        {
            "checks": [
                {
                    "name": spec.name,
                    "description": spec.description,
                    "defaultWindow": format_window(spec.default_window),
                    "parameters": _CHECK_PARAMETERS + (["pod_name"] if spec.needs_pod else []),
                    "required": ["pod_name", "namespace"] if spec.needs_pod else [],
                }
                for spec in CHECKS.values()
            ]
        }
    )


@router.get(
    "/diagnostics/{check}", summary="Run one diagnostic check", responses=error_responses(404)
)
def run(
    store: StoreDep,
    check: Annotated[str, Path(description="A check name from GET /api/v1/diagnostics.")],
    namespace: Annotated[
        str | None, Query(description="Only this namespace (default: all).")
    ] = None,
    start_time: Annotated[
        str | None,
        Query(
            description="RFC3339 start; wins over time_window.", json_schema_extra=TIME_PARAMETER
        ),
    ] = None,
    end_time: Annotated[
        str | None,
        Query(description="RFC3339 end (default now).", json_schema_extra=TIME_PARAMETER),
    ] = None,
    time_window: Annotated[
        str | None, Query(description="How far back from end_time: 30m, 2h, 2 hours, 24h, 7d.")
    ] = None,
    limit: Annotated[int | None, Query(description=f"Findings to return, 1-{MAX_LIMIT}.")] = None,
    pod_name: Annotated[str | None, Query(description="investigate_pod_startup: the pod.")] = None,
) -> JSONResponse:
    if check not in CHECKS:
        raise ApiError(404, f"unknown check {check!r}", {"checks": list(CHECKS)})
    params = check_params(
        check,
        namespace=namespace,
        start_time=start_time,
        end_time=end_time,
        time_window=time_window,
        limit=limit,
        pod_name=pod_name,
    )
    return JSONResponse(run_check(store, check, params).to_dict())


@router.get("/changes", summary="Recent changes (analyze_recent_changes)")
def changes(
    store: StoreDep,
    range: Annotated[
        str | None, Query(description="1h, 24h or 7d (default 24h); start/end win.")
    ] = None,
    start: Annotated[
        str | None, Query(description="RFC3339 start.", json_schema_extra=TIME_PARAMETER)
    ] = None,
    end: Annotated[
        str | None,
        Query(description="RFC3339 end (default now).", json_schema_extra=TIME_PARAMETER),
    ] = None,
    namespace: Annotated[str | None, Query(description="Only this namespace.")] = None,
    limit: Annotated[int | None, Query(description=f"Objects to return, 1-{MAX_LIMIT}.")] = None,
) -> JSONResponse:
    if range is not None and range not in CHANGE_RANGES:
        raise ApiError(400, f"range must be one of {', '.join(CHANGE_RANGES)}, got {range!r}")
    params = check_params(
        "analyze_recent_changes",
        namespace=namespace,
        start_time=start,
        end_time=end,
        time_window=range,
        limit=limit,
    )
    return JSONResponse(run_check(store, "analyze_recent_changes", params).to_dict())
