"""The web UI's protection: the same token as the REST API, and headers that keep a
page's content from running anything.

- **Token.** With ``KUBETRAIL_API_TOKEN`` (or its file) set, a page answers only a
  request carrying the token: as ``Authorization: Bearer`` (what the REST API takes) or
  as the cookie the login form (``POST /ui/login``) sets: HttpOnly (no script reads it),
  SameSite=Strict (no other site's page makes a browser send it), Path=/ui (the REST
  API never sees it), Secure over HTTPS. Both are compared in constant time. Without
  the token a page is the login form, answered 401. ``POST /ui/logout`` (the button
  every page shows when a token is configured) clears the cookie.
- **Headers** on every ``/ui`` response: a Content-Security-Policy that allows scripts,
  styles and images from this server only (no inline script, no ``unsafe-inline``),
  no framing, forms posting only here; ``nosniff``; no referrer (the URLs carry object
  names); no caching of pages.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request
from starlette.responses import Response

from kubetrail.auth import TokenSource, bearer_token_matches
from kubetrail.ui.links import UI_PATH

COOKIE = "kubetrail_ui_token"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
#: the largest login form taken (a token and where to go next)
MAX_FORM_BYTES = 8192


def under_ui(path: str) -> bool:
    return path == UI_PATH or path.startswith(UI_PATH + "/")


def security_headers() -> Callable[
    [Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]
]:
    """An HTTP middleware adding :data:`HEADERS` to every ``/ui`` response (errors too)."""

    async def add_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        if under_ui(request.url.path):
            response.headers.update(HEADERS)
            if not request.url.path.startswith(f"{UI_PATH}/static/"):
                response.headers["Cache-Control"] = "no-store"
        return response

    return add_headers


def token_matches(given: str, expected: str) -> bool:
    """A token given in the login form or the cookie, compared in constant time."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


def authorized(request: Request, tokens: TokenSource) -> bool:
    """Whether the request carries the token (header or cookie), or none is configured."""
    if not tokens.enabled:
        return True
    expected = tokens.current() or ""
    if not expected:
        return False
    header = request.headers.get("authorization")
    if header is not None and bearer_token_matches(header, expected):
        return True
    cookie = request.cookies.get(COOKIE)
    return cookie is not None and token_matches(cookie, expected)


def set_token_cookie(response: Response, token: str, *, secure: bool) -> None:
    response.set_cookie(
        COOKIE, token, path=UI_PATH, httponly=True, samesite="strict", secure=secure
    )


def same_origin(request: Request) -> bool:
    """Whether a request comes from this site's own pages, as far as the browser says:
    ``Sec-Fetch-Site`` (``same-origin``, or ``none`` for one the person typed) and
    ``Origin`` (this server's host and port, as the request's ``Host`` names it: a proxy
    ending TLS in front may change the scheme), when it sends them."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")


def clear_token_cookie(response: Response, *, secure: bool) -> None:
    """Tell the browser to forget the login cookie (same name, path and attributes)."""
    response.delete_cookie(COOKIE, path=UI_PATH, httponly=True, samesite="strict", secure=secure)


async def login_form(request: Request) -> tuple[str, str]:
    """``(token, next)`` of a posted login form (urlencoded; anything else is empty)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return "", ""
    fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=10)
    return (fields.get("token") or [""])[0].strip(), (fields.get("next") or [""])[0]


def safe_next(target: str) -> str:
    """Where to go after logging in: a page of this UI, never another site."""
    if under_ui(target) and not target.startswith("//") and "\\" not in target:
        return target
    return f"{UI_PATH}/"
