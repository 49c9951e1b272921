"""Running the server: stdio for Claude Desktop, streamable HTTP for a shared server.

On stdio, standard output *is* the protocol: nothing else may be printed there,
so every log line goes to standard error (``kubetrail mcp`` sets that up, with
:func:`kubetrail.cli.common.configure_logging`). Over HTTP (``/mcp``, the MCP
streamable HTTP transport) every request must carry ``Authorization: Bearer
<token>`` (the token is ``KUBETRAIL_API_TOKEN``); ``/health`` answers without
it for Kubernetes probes. Serving without a token is refused unless asked for
explicitly (``--no-auth``) and only on a loopback address.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from mcp.server.mcpserver import MCPServer

from kubetrail.auth import bearer_token_matches
from kubetrail.hosts import HostGuard

log = logging.getLogger("kubetrail.mcp")

MCP_PATH = "/mcp"


def run_stdio(server: MCPServer) -> None:
    server.run("stdio")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class BearerAuth:
    """ASGI middleware: HTTP requests need ``Authorization: Bearer <token>`` (compared as
    the REST API compares it: :func:`kubetrail.auth.bearer_token_matches`)."""

    def __init__(self, app: Any, token: str, *, open_paths: tuple[str, ...] = ("/health",)) -> None:
        self.app = app
        self.token = token
        self.open_paths = open_paths

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") in self.open_paths:
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"authorization", b"")
        if bearer_token_matches(given, self.token):
            await self.app(scope, receive, send)
            return
        body = b'{"error": "unauthorized", "detail": "send Authorization: Bearer <token>"}'
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b'Bearer realm="kubetrail-mcp"'),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def http_app(
    server: MCPServer, *, host: str, token: str | None, allowed_hosts: tuple[str, ...] = ()
) -> Any:
    """The streamable HTTP ASGI app (``/mcp``, ``/health``), behind the ``Host``/``Origin``
    check (:mod:`kubetrail.hosts`, always) and the bearer check."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    @server.custom_route("/health", methods=["GET"])
    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    app = server.streamable_http_app(streamable_http_path=MCP_PATH, host=host)
    return HostGuard(BearerAuth(app, token) if token else app, allowed=allowed_hosts)


def run_http(
    server: MCPServer,
    *,
    host: str,
    port: int,
    token: str | None,
    allowed_hosts: tuple[str, ...] = (),
    log_level: str = "warning",
) -> None:
    import uvicorn

    app = http_app(server, host=host, token=token, allowed_hosts=allowed_hosts)
    log.warning(
        "MCP streamable HTTP on http://%s:%d%s (%s)",
        host,
        port,
        MCP_PATH,
        "bearer token required" if token else "NO authentication: loopback only",
    )
    uvicorn.run(app, host=host, port=port, log_level=log_level.lower())
