"""Mounting the web UI on the REST API's FastAPI app (``kubetrail api``, ``kubetrail
demo``): :func:`install` adds the pages under ``/ui``, their static files, their
security headers, and hands the ``/ui`` paths' token check over from the API's bearer
guard to the pages (which also take the login cookie: :mod:`kubetrail.ui.security`).

The UI is a sibling of :mod:`kubetrail.api` (the layers in ``pyproject.toml``): it uses
only what the app holds (``app.state.store``, ``app.state.settings``), so the command
line mounts it and neither front end imports the other.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from kubetrail.auth import TokenSource
from kubetrail.config import Settings
from kubetrail.ui.links import UI_PATH
from kubetrail.ui.params import PageError
from kubetrail.ui.render import error_page, page
from kubetrail.ui.routes import LoginRequired, guarded, login
from kubetrail.ui.security import security_headers


def install(app: FastAPI) -> None:
    """Serve the UI from ``app``, an app made by ``kubetrail.api.app.create_app``."""
    settings: Settings = getattr(app.state, "settings", None) or Settings()
    app.state.ui_tokens = TokenSource(token=settings.api_token, path=settings.api_token_file)
    # the API's bearer guard lets these paths through: the pages check the token
    app.state.own_auth_prefixes = (*getattr(app.state, "own_auth_prefixes", ()), UI_PATH)
    static = StaticFiles(directory=str(files("kubetrail.ui") / "static"))
    app.mount(f"{UI_PATH}/static", static, name="ui-static")
    app.include_router(login)
    app.include_router(guarded)

    @app.exception_handler(PageError)
    async def _page_error(_: Request, exc: PageError) -> HTMLResponse:
        return error_page(exc.status, exc.message)

    @app.exception_handler(LoginRequired)
    async def _login(_: Request, exc: LoginRequired) -> HTMLResponse:
        return page("login.html.j2", status=401, title="Log in", target=exc.target, failed=False)

    app.middleware("http")(security_headers())
