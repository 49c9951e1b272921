"""The FastAPI application: the REST contract over any store."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from kubetrail import __version__
from kubetrail.api.auth import bearer_guard
from kubetrail.api.errors import install_error_handlers
from kubetrail.api.inflight import page_budget
from kubetrail.api.routes import audit, diagnostics, events, health, summary
from kubetrail.config import Settings
from kubetrail.hosts import HostGuard
from kubetrail.store.base import Store

DESCRIPTION = """\
What happened in this Kubernetes cluster, and why: every change of every object
for the last 14 days, compatible with the original `GET /api/v1/events` contract.
Errors are JSON `{"error": "...", "detail": ...}`.
"""


#: where the documentation pages' scripts and styles are served
DOCS_ASSETS = "/docs-assets"


def create_app(store: Store, settings: Settings | None = None) -> FastAPI:
    # /docs and /redoc load Swagger UI and ReDoc from the package (DOCS_ASSETS), not a CDN
    app = FastAPIOffline(
        title="kubetrail",
        version=__version__,
        description=DESCRIPTION,
        static_url=DOCS_ASSETS,
        # no badge from validator.swagger.io: it would send it this API's address
        swagger_ui_parameters={"validatorUrl": None},
    )
    app.state.store = store
    app.state.settings = settings = settings or Settings()
    app.state.page_budget = page_budget()
    install_error_handlers(app)
    app.middleware("http")(bearer_guard(settings))
    app.add_middleware(HostGuard, allowed=settings.allowed_hosts)  # outermost: runs first
    app.include_router(health.router)
    app.include_router(events.router)
    app.include_router(summary.router)
    app.include_router(diagnostics.router)
    app.include_router(audit.router)
    return app
