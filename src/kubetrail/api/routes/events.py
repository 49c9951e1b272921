"""The events contract of the original toolkit, and kubetrail's extensions.

``GET /api/v1/events`` answers a JSON **array** (what existing clients expect);
the next page's cursor travels in ``X-Next-Cursor`` and an RFC 8288 ``Link``
header so the body stays an array.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from kubetrail.api import params
from kubetrail.api.deps import SettingsDep, StoreDep
from kubetrail.api.errors import ApiError
from kubetrail.api.responses import JSONResponse
from kubetrail.store.base import EventFilter, EventPage, EventQuery, RawPage, RawSearch
from kubetrail.store.history import ObjectRef, object_history

router = APIRouter(prefix="/api/v1")

_TIME = "RFC3339 time, e.g. 2024-01-01T12:00:00Z"
_MULTI = " Repeat the parameter to match any of several values."


@router.get(
    "/events",
    summary="Query events (a JSON array, oldest first)",
    response_description="Event documents; the next page's cursor is in X-Next-Cursor and Link.",
)
def list_events(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    start: Annotated[
        str | None, Query(description=f"Inclusive lower bound; {_TIME}. Default: end - 24h.")
    ] = None,
    end: Annotated[
        str | None, Query(description=f"Inclusive upper bound; {_TIME}. Default: now.")
    ] = None,
    namespace: Annotated[
        list[str], Query(description="Namespace; `_` selects cluster-scoped objects." + _MULTI)
    ] = [],  # noqa: B006 - FastAPI copies defaults
    resourceType: Annotated[
        list[str], Query(description="Plural resource type, e.g. pods." + _MULTI)
    ] = [],  # noqa: B006
    verb: Annotated[list[str], Query(description="create, update or delete." + _MULTI)] = [],  # noqa: B006
    name: Annotated[list[str], Query(description="Object name (resourceName)." + _MULTI)] = [],  # noqa: B006
    kind: Annotated[list[str], Query(description="Object kind, e.g. Pod." + _MULTI)] = [],  # noqa: B006
    signal: Annotated[
        list[str],
        Query(
            description="Signal, e.g. pod.waiting:CrashLoopBackOff; a trailing * matches a prefix."
            + _MULTI
        ),
    ] = [],  # noqa: B006
    q: Annotated[
        str | None,
        Query(
            description="Full-text search: every word must occur; a trailing * matches a prefix."
        ),
    ] = None,
    snapshot: Annotated[
        bool | None,
        Query(description="true: only listings (state when watching began); false: only changes."),
    ] = None,
    limit: Annotated[
        int | None, Query(description="Page size; default 1000, max configurable.")
    ] = None,
    cursor: Annotated[str | None, Query(description="X-Next-Cursor of the previous page.")] = None,
) -> Response:
    start_dt, end_dt = params.time_range(start, end)
    if q is not None and not q.split():
        raise ApiError(400, "q is empty: give at least one word to search for")
    query = EventQuery(
        filter=EventFilter(
            start=start_dt,
            end=end_dt,
            namespace=params.namespaces(namespace),
            resource_type=params.non_empty(resourceType),
            verb=params.verbs(params.non_empty(verb)),
            name=params.non_empty(name),
            kind=params.non_empty(kind),
            signal=params.non_empty(signal),
            text=q,
            snapshot=snapshot,
        ),
        limit=params.limit_value(limit, settings),
        after=params.cursor_value(cursor),
    )
    page: EventPage | RawPage = (
        store.search_raw(query) if isinstance(store, RawSearch) else store.search(query)
    )
    headers = {}
    if page.next is not None:
        token = page.next.encode()
        headers["X-Next-Cursor"] = token
        headers["Link"] = f'<{request.url.include_query_params(cursor=token)}>; rel="next"'
    if isinstance(page, RawPage):
        # the stored JSON as it is: the same bytes orjson would make of the parsed page
        body = b"[" + b",".join(page.items) + b"]"
        return Response(body, media_type="application/json", headers=headers)
    return JSONResponse(page.items, headers=headers)


@router.get(
    "/events/{namespace}/{resourceType}/{name}",
    summary="One object's history and the Kubernetes Events about it",
)
def object_events(
    store: StoreDep,
    settings: SettingsDep,
    namespace: Annotated[str, Path(description="Namespace, or `_` for cluster-scoped objects.")],
    resourceType: Annotated[str, Path(description="Plural resource type, e.g. pods.")],
    name: Annotated[str, Path(description="Object name.")],
    start: Annotated[str | None, Query(description=f"Optional lower bound; {_TIME}.")] = None,
    end: Annotated[str | None, Query(description=f"Optional upper bound; {_TIME}.")] = None,
    limit: Annotated[int | None, Query(description="Most versions returned.")] = None,
) -> JSONResponse:
    start_dt, end_dt = params.time_range(start, end, default_window=None)
    ns = "" if namespace == params.CLUSTER_SCOPE else namespace
    ref = ObjectRef(namespace=ns, resource_type=resourceType, name=name)
    history = object_history(
        store, ref, start=start_dt, end=end_dt, limit=params.limit_value(limit, settings)
    )
    if history is None:
        raise ApiError(
            404,
            f"nothing stored about {resourceType} {namespace}/{name}",
            {"hint": "cluster-scoped objects use _ as namespace: /api/v1/events/_/nodes/worker-1"},
        )
    return JSONResponse(
        {
            "namespace": namespace,
            "resourceType": resourceType,
            "name": name,
            "history": history.versions,
            "relatedEvents": history.events,
            "truncated": history.truncated,
        }
    )
