"""Dependencies of the routes: the store, the settings and the page budget, held by the app.

They are coroutines only so that FastAPI runs them on the event loop: a plain
function would take a worker thread for each, twice per request, from the pool
that the store's reads need.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from kubetrail.api.inflight import ByteBudget, page_budget
from kubetrail.config import Settings
from kubetrail.store.base import Store


async def get_store(request: Request) -> Store:
    return request.app.state.store


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_page_budget(request: Request) -> ByteBudget:
    """The app's :class:`~kubetrail.api.inflight.ByteBudget` (made on first use by an
    app that includes the events router without :func:`~kubetrail.api.app.create_app`)."""
    budget: ByteBudget | None = getattr(request.app.state, "page_budget", None)
    if budget is None:
        budget = request.app.state.page_budget = page_budget()
    return budget


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
PageBudgetDep = Annotated[ByteBudget, Depends(get_page_budget)]
