"""Where the MCP server gets its answers: the REST API, or a store opened directly.

The MCP server is a thin client. By default it talks to a kubetrail REST API
(``AUDIT_API_URL``, as the original toolkit did), so a laptop running Claude
Desktop needs no store credentials: :class:`RestBackend` (:mod:`.rest`), which
evaluates the checks itself from the events of an API that only serves
``GET /api/v1/events`` (:mod:`.fallback`). With ``--store URL`` it opens the
store itself and runs the same diagnostics and queries in-process:
:class:`StoreBackend` (:mod:`.store`). Both are a :class:`Backend`
(:mod:`.base`): they speak the REST API's vocabulary, so the server above them
does not care which one it has.
"""

from kubetrail.mcp.backends.base import (
    ApiUnavailable,
    Backend,
    BackendError,
    InvalidArguments,
    NotFound,
)
from kubetrail.mcp.backends.rest import RestBackend
from kubetrail.mcp.backends.store import StoreBackend

__all__ = [
    "ApiUnavailable",
    "Backend",
    "BackendError",
    "InvalidArguments",
    "NotFound",
    "RestBackend",
    "StoreBackend",
]
