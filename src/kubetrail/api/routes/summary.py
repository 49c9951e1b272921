"""``GET /api/v1/summary``: how many events match, counted by a few keys, and the newest.

The filters are those of ``GET /api/v1/events`` (same names, same validation);
``by`` names the keys to count by (default kind, verb, signal), ``top`` how many
values each lists, ``newest`` how many of the newest changes to add (a sparse
fieldset, no objects). One aggregation per key in the store
(:mod:`kubetrail.queries.summary`); the MCP resources are built on it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from kubetrail.api.deps import SettingsDep, StoreDep
from kubetrail.api.filters import EventFiltersDep
from kubetrail.api.responses import JSONResponse, error_responses
from kubetrail.queries.events import event_query
from kubetrail.queries.summary import DEFAULT_BY, MAX_NEWEST, MAX_TOP, summarize, summary_options
from kubetrail.store.base import GROUP_KEYS

router = APIRouter(prefix="/api/v1", responses=error_responses(400, 401, 503))


@router.get(
    "/summary",
    summary="How many events match, counted by kind, verb, signal…, and the newest changes",
)
def event_summary(
    store: StoreDep,
    settings: SettingsDep,
    filters: EventFiltersDep,
    by: Annotated[
        list[str],
        Query(
            description=f"Keys to count by, comma-separated or repeated; one of "
            f"{', '.join(GROUP_KEYS)}. Default: {','.join(DEFAULT_BY)}."
        ),
    ] = [],  # noqa: B006
    top: Annotated[
        int | None, Query(description=f"Values listed per key, most events first (1-{MAX_TOP}).")
    ] = None,
    newest: Annotated[
        int | None,
        Query(
            description=f"Also list the newest N changes (0-{MAX_NEWEST}), without their objects; "
            "listings are left out unless snapshot=true. Default 0."
        ),
    ] = None,
) -> JSONResponse:
    query = event_query(
        filters,
        default_limit=settings.default_limit,
        max_limit=settings.max_query_limit,
    )
    options = summary_options(by, top, newest)
    return JSONResponse(summarize(store, query.filter, options).to_dict())
