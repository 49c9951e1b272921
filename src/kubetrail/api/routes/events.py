"""The events contract of the original toolkit, and kubetrail's extensions.

``GET /api/v1/events`` answers a JSON **array** (what existing clients expect);
the next page's cursor travels in ``X-Next-Cursor`` and an RFC 8288 ``Link``
header so the body stays an array. A page is read under a byte budget
(:mod:`~kubetrail.api.inflight`: a burst of large pages waits its turn) and sent in
pieces (:mod:`~kubetrail.api.streaming`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from kubetrail.api.deps import PageBudgetDep, SettingsDep, StoreDep
from kubetrail.api.errors import ApiError
from kubetrail.api.filters import EventFiltersDep
from kubetrail.api.inflight import ROW_BYTES_ESTIMATE
from kubetrail.api.responses import TIME_PARAMETER, JSONResponse, error_responses, render_json
from kubetrail.api.streaming import JSONArray, ReservedJSONResponse
from kubetrail.queries.events import event_query, limit_value, time_range
from kubetrail.queries.history import ObjectKey, object_history
from kubetrail.queries.history_view import change_view
from kubetrail.store.base import Cursor, EventQuery, RawSearch, Store

router = APIRouter(prefix="/api/v1", responses=error_responses(400, 401, 503))

_TIME = "RFC3339 time, e.g. 2024-01-01T12:00:00Z"


@router.get(
    "/events",
    summary="Query events (a JSON array, oldest first)",
    response_description="Event documents; the next page's cursor is in X-Next-Cursor and Link.",
)
async def list_events(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    budget: PageBudgetDep,
    filters: EventFiltersDep,
    limit: Annotated[
        int | None, Query(description="Page size; default 1000, max configurable.")
    ] = None,
    cursor: Annotated[str | None, Query(description="X-Next-Cursor of the previous page.")] = None,
    fields: Annotated[
        list[str],
        Query(
            description="Only these parts of each document, comma-separated (or repeated): "
            "document fields, and dotted paths inside objectChanges and involvedObject, e.g. "
            "timestamp,verb,resourceName,signals,message or "
            "objectChanges.spec.template.spec.containers.image. Default: whole documents."
        ),
    ] = [],  # noqa: B006
) -> Response:
    query = event_query(
        replace(filters, limit=limit, cursor=cursor, fields=tuple(fields)),
        default_limit=settings.default_limit,
        max_limit=settings.max_query_limit,
    )
    # a large page waits here, without a thread, while the pages in flight hold the budget
    reservation = await budget.reserve(query.limit * ROW_BYTES_ESTIMATE)
    try:
        array, nxt = await run_in_threadpool(_read_page, store, query)
        reservation.resize(array.held_bytes)
        headers = {}
        if nxt is not None:
            token = nxt.encode()
            headers["X-Next-Cursor"] = token
            headers["Link"] = f'<{request.url.include_query_params(cursor=token)}>; rel="next"'
        # the response releases the reservation once the page is sent
        return ReservedJSONResponse(array, reservation=reservation, headers=headers)
    except BaseException:
        reservation.release()
        raise


def _read_page(store: Store, query: EventQuery) -> tuple[JSONArray, Cursor | None]:
    if isinstance(store, RawSearch):
        # the stored JSON as it is: the same bytes orjson would make of the parsed page
        raw = store.search_raw(query)
        return JSONArray(items=raw.items), raw.next
    page = store.search(query)
    return JSONArray(body=render_json(page.items)), page.next


@router.get(
    "/events/{namespace}/{resourceType}/{name}",
    responses=error_responses(404),
    summary="One object's history (what changed; full=true: whole versions) and its Events",
)
def object_events(
    store: StoreDep,
    settings: SettingsDep,
    namespace: Annotated[str, Path(description="Namespace, or `_` for cluster-scoped objects.")],
    resourceType: Annotated[str, Path(description="Plural resource type, e.g. pods.")],
    name: Annotated[str, Path(description="Object name.")],
    start: Annotated[
        str | None,
        Query(description=f"Optional lower bound; {_TIME}.", json_schema_extra=TIME_PARAMETER),
    ] = None,
    end: Annotated[
        str | None,
        Query(description=f"Optional upper bound; {_TIME}.", json_schema_extra=TIME_PARAMETER),
    ] = None,
    limit: Annotated[int | None, Query(description="Most versions returned.")] = None,
    full: Annotated[
        bool,
        Query(
            description="true: every version's whole document (objectChanges) with its "
            "changedPaths. Default: what changed, each version's changed paths with their "
            "values before and after, who changed it, and the related Events in one line each."
        ),
    ] = False,
) -> JSONResponse:
    start_dt, end_dt = time_range(start, end, default_window=None)
    history = object_history(
        store,
        ObjectKey.from_path(namespace, resourceType, name),
        start=start_dt,
        end=end_dt,
        limit=limit_value(limit, default=settings.default_limit, maximum=settings.max_query_limit),
    )
    if history is None:
        raise ApiError(
            404,
            f"nothing stored about {resourceType} {namespace}/{name}",
            {"hint": "cluster-scoped objects use _ as namespace: /api/v1/events/_/nodes/worker-1"},
        )
    if full:
        return JSONResponse(history.to_dict())
    return JSONResponse(change_view(history.to_dict(), diffs=history.diffs))
