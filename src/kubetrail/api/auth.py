"""Bearer-token protection of everything that serves data.

With ``KUBETRAIL_API_TOKEN`` (or ``KUBETRAIL_API_TOKEN_FILE``, a mounted Secret,
re-read when the file changes) every request except ``/health`` needs
``Authorization: Bearer <token>``, compared in constant time; a missing or wrong
token is a 401 JSON error. Without a token the API is open, as the original tool
was: put it behind a NetworkPolicy (deploy/ does). Request bodies are refused
above ``max_request_bytes`` (only the audit webhook takes one, up to
``max_audit_bytes``). The
token's source and the comparison are :mod:`kubetrail.auth`, shared with the
MCP server's HTTP transport.

A front end mounted beside the API that checks the same token its own way (the web UI,
:mod:`kubetrail.ui`, takes it from a login form's cookie as well as from the header)
names its path prefixes in ``app.state.own_auth_prefixes``: those paths pass this guard
and their routes check the token themselves. Every other path stays bearer-only (a
cookie is never accepted here: a browser sends it along with any request to this host).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request, Response

from kubetrail.api.errors import error_response
from kubetrail.auth import TokenSource, bearer_token_matches
from kubetrail.config import Settings

OPEN_PATHS = frozenset({"/health"})
#: the audit webhook (:mod:`kubetrail.api.routes.audit`), whose bodies may be larger
AUDIT_PATH = "/api/v1/audit"


def bearer_guard(
    settings: Settings,
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    tokens = TokenSource(token=settings.api_token, path=settings.api_token_file)

    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        length = request.headers.get("content-length")
        # the audit webhook's batches are larger; its route also caps what it reads
        limit = (
            settings.max_audit_bytes
            if request.url.path == AUDIT_PATH
            else settings.max_request_bytes
        )
        if length and length.isdigit() and int(length) > limit:
            return error_response(413, f"request body larger than {limit} bytes")
        # whether this caller may see more than "ok" (the open /health hides details from
        # callers without the token: paths, counts and time ranges tell an attacker a lot)
        request.state.authorized = True
        if tokens.enabled:
            given = request.headers.get("authorization", "")
            request.state.authorized = bearer_token_matches(given, tokens.current() or "")
        if (
            not request.state.authorized
            and request.url.path not in OPEN_PATHS
            and not _guarded_elsewhere(request)
        ):
            response = error_response(
                401,
                "missing or invalid bearer token",
                "send Authorization: Bearer <KUBETRAIL_API_TOKEN>",
            )
            response.headers["WWW-Authenticate"] = 'Bearer realm="kubetrail"'
            return response
        return await call_next(request)

    return guard


def _guarded_elsewhere(request: Request) -> bool:
    """Whether the path is under a prefix whose routes check the token themselves."""
    path = request.url.path
    prefixes: tuple[str, ...] = getattr(request.app.state, "own_auth_prefixes", ())
    return any(path == prefix or path.startswith(prefix + "/") for prefix in prefixes)
