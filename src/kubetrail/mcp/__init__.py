"""kubetrail's MCP server (``kubetrail mcp``, alias ``k8s-audit-server``).

Claude Desktop (or any MCP client) gets the seven diagnostics, ``search_events``
and ``get_object_history`` as read-only tools, the original toolkit's
``audit://`` resources and four investigation prompts. The server answers from
the REST API (``AUDIT_API_URL``, default ``http://localhost:8080``; see
:class:`~kubetrail.mcp.backends.RestBackend`, which also works against an API
that only serves ``GET /api/v1/events``) or from a store opened directly
(``--store``, :class:`~kubetrail.mcp.backends.StoreBackend`).

Modules: :mod:`.server` builds the server from :mod:`.tools` (with their
:mod:`.schemas`), :mod:`.resources` and :mod:`.prompts`; :mod:`.views` makes
the compact documents and text summaries a model reads; :mod:`.backends`
answers; :mod:`.transport` runs it over stdio or streamable HTTP.

This package lives inside ``kubetrail`` on purpose: a top-level ``mcp`` package
would shadow the MCP SDK.
"""

from kubetrail.mcp.backends import (
    ApiUnavailable,
    Backend,
    BackendError,
    InvalidArguments,
    NotFound,
    RestBackend,
    StoreBackend,
)
from kubetrail.mcp.server import build_server

__all__ = [
    "ApiUnavailable",
    "Backend",
    "BackendError",
    "InvalidArguments",
    "NotFound",
    "RestBackend",
    "StoreBackend",
    "build_server",
]
