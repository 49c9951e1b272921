"""The pages, thin: read the URL, build the page's content (overview, timeline, objects,
search), render it. Every route is read-only (``GET``), but the login form's ``POST``.

Logging in and out (``POST /ui/login``, ``POST /ui/logout``) are the two routes that
are not read-only; logging out needs no token (it only forgets the cookie).

A parameter a page cannot use, an object nothing is stored about, a store that cannot
answer: each is an HTML page with a one-line message and a 4xx (or 503), never a 500
(:func:`page_errors`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from kubetrail.auth import TokenSource
from kubetrail.diagnostics import InvalidParams
from kubetrail.queries import InvalidParameter
from kubetrail.store.base import InvalidQuery, Store, StoreError, StoreUnavailable
from kubetrail.ui import objects, overview, search, timeline
from kubetrail.ui.links import UI_PATH
from kubetrail.ui.marks import marks_data
from kubetrail.ui.params import PageError, time_range
from kubetrail.ui.render import page
from kubetrail.ui.security import (
    authorized,
    clear_token_cookie,
    login_form,
    safe_next,
    same_origin,
    set_token_cookie,
    token_matches,
)

log = logging.getLogger("kubetrail.ui")


class LoginRequired(Exception):
    """A page was asked for without the token: answer the login form."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


def tokens_of(request: Request) -> TokenSource:
    tokens: TokenSource = request.app.state.ui_tokens
    return tokens


def require_token(request: Request) -> None:
    if not authorized(request, tokens_of(request)):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


StoreDep = Annotated[Store, Depends(store_of)]
guarded = APIRouter(prefix=UI_PATH, dependencies=[Depends(require_token)])
login = APIRouter(prefix=UI_PATH)


@contextmanager
def page_errors() -> Iterator[None]:
    """The errors of the queries and the store, as pages (:class:`PageError`)."""
    try:
        yield
    except (InvalidParameter, InvalidParams, InvalidQuery) as exc:
        raise PageError(400, str(exc)) from None
    except StoreUnavailable as exc:
        raise PageError(503, f"the store is unavailable: {exc}") from None
    except StoreError as exc:
        log.warning("store error: %s", exc)
        raise PageError(503, f"the store could not answer: {exc}") from None


@guarded.get("", include_in_schema=False)
def root() -> Response:
    return RedirectResponse(f"{UI_PATH}/", status_code=307)


@guarded.get("/", include_in_schema=False)
def overview_page(request: Request, store: StoreDep) -> HTMLResponse:
    rng = time_range(request.query_params)
    namespace = (request.query_params.get("namespace") or "").strip() or None
    with page_errors():
        content = overview.overview(store, rng.range, namespace=namespace)
    return page(
        "overview.html.j2",
        logout=tokens_of(request).enabled,
        title="Overview",
        nav="overview",
        rng=rng,
        namespace=namespace or "",
        view=content,
    )


@guarded.get("/timeline", include_in_schema=False)
def timeline_page(request: Request, store: StoreDep) -> HTMLResponse:
    rng = time_range(request.query_params)
    with page_errors():
        content = timeline.timeline(store, rng.range, request.query_params)
    form = timeline.filters(request.query_params)
    return page(
        "timeline.html.j2",
        logout=tokens_of(request).enabled,
        title="Timeline",
        nav="timeline",
        rng=rng,
        form=form,
        query={**form, **rng.query()},
        moves=timeline.navigation(rng.range),
        view=content,
        marks=marks_data(content),
    )


@guarded.get("/objects/{namespace}/{resource_type}/{name}", include_in_schema=False)
def object_page(
    request: Request, store: StoreDep, namespace: str, resource_type: str, name: str
) -> HTMLResponse:
    rng = time_range(request.query_params)  # kept in the nav bar's links
    key = objects.object_key(namespace, resource_type, name)
    with page_errors():
        content = objects.object_page(store, key)
    return page(
        "object.html.j2",
        logout=tokens_of(request).enabled,
        title=f"{content.kind or resource_type} {name}",
        nav="",
        rng=rng,
        obj=content,
    )


@guarded.get("/search", include_in_schema=False)
def search_page(request: Request, store: StoreDep) -> HTMLResponse:
    rng = time_range(request.query_params)
    params = dict(request.query_params)
    with page_errors():
        content = search.search(store, rng.range, params)
    form = {k: params.get(k, "") for k in ("q", *search.FILTERS)}
    return page(
        "search.html.j2",
        logout=tokens_of(request).enabled,
        title="Search",
        nav="search",
        rng=rng,
        form=form,
        query={**form, **rng.query()},
        filters=search.FILTERS,
        result=content,
    )


@login.get("/login", include_in_schema=False)
def login_page(request: Request) -> Response:
    target = safe_next(request.query_params.get("next", ""))
    if authorized(request, tokens_of(request)):
        return RedirectResponse(target, status_code=303)
    return page("login.html.j2", title="Log in", target=target, failed=False)


@login.post("/login", include_in_schema=False)
async def login_submit(request: Request) -> Response:
    token, target = await login_form(request)
    target = safe_next(target)
    tokens = tokens_of(request)
    expected = tokens.current() or ""
    if tokens.enabled and not (token and expected and token_matches(token, expected)):
        return page("login.html.j2", status=401, title="Log in", target=target, failed=True)
    response = RedirectResponse(target, status_code=303)
    if tokens.enabled:
        set_token_cookie(response, token, secure=request.url.scheme == "https")
    return response


@login.post("/logout", include_in_schema=False)
def logout(request: Request) -> Response:
    """Forget the login cookie and show the login form (or, without a token, the
    overview). Only this site's pages may ask it: a form posted from another site
    (``Origin`` or ``Sec-Fetch-Site`` say so) is refused, 403, so that no other page
    can log a person out."""
    if not same_origin(request):
        raise PageError(403, "log out from this site's pages only")
    tokens = tokens_of(request)
    target = f"{UI_PATH}/login" if tokens.enabled else f"{UI_PATH}/"
    response = RedirectResponse(target, status_code=303)
    clear_token_cookie(response, secure=request.url.scheme == "https")
    return response


@guarded.get("/{rest:path}", include_in_schema=False)
def not_found(rest: str) -> HTMLResponse:
    raise PageError(404, f"there is no page {UI_PATH}/{rest}")
