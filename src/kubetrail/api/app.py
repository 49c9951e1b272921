"""The FastAPI application: the REST contract over any store."""

from __future__ import annotations

from fastapi import FastAPI

from kubetrail import __version__
from kubetrail.api.auth import bearer_guard
from kubetrail.api.errors import install_error_handlers
from kubetrail.api.inflight import page_budget
from kubetrail.api.routes import diagnostics, events, health
from kubetrail.config import Settings
from kubetrail.hosts import HostGuard
from kubetrail.store.base import Store

DESCRIPTION = """\
What happened in this Kubernetes cluster, and why: every change of every object
for the last 14 days, compatible with the original `GET /api/v1/events` contract.
Errors are JSON `{"error": "...", "detail": ...}`.
"""


def create_app(store: Store, settings: Settings | None = None) -> FastAPI:
    app = FastAPI(title="kubetrail", version=__version__, description=DESCRIPTION)
    app.state.store = store
    app.state.settings = settings = settings or Settings()
    app.state.page_budget = page_budget()
    install_error_handlers(app)
    app.middleware("http")(bearer_guard(settings))
    app.add_middleware(HostGuard, allowed=settings.allowed_hosts)  # outermost: runs first
    app.include_router(health.router)
    app.include_router(events.router)
    app.include_router(diagnostics.router)
    return app
