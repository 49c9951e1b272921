"""Bearer tokens: where the expected one comes from, and how a request's is compared.

Both servers that serve data over HTTP check ``Authorization: Bearer <token>``
the same way — the REST API (:mod:`kubetrail.api.auth`, a FastAPI middleware)
and the MCP server's streamable HTTP transport (:mod:`kubetrail.mcp.transport`,
an ASGI middleware) — so the comparison is written once, here: the scheme is
case-insensitive (RFC 7235), the token is compared in constant time.

It lives beside :mod:`kubetrail.config` rather than in a layer: it is a small,
framework-free utility of the two front ends (not a query, not a store), and it
imports nothing of kubetrail's but the settings' error.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import threading
from pathlib import Path

from kubetrail.config import ConfigError


def bearer_token_matches(authorization: str | bytes, token: str) -> bool:
    """Whether an ``Authorization`` header value carries ``token`` as a bearer token.

    ``authorization`` is the header as sent (bytes), or as a server decoded it
    (``str``, latin-1 as HTTP headers are: encoded back to the same bytes).
    """
    raw = (
        authorization
        if isinstance(authorization, bytes)
        else authorization.encode("latin-1", "replace")
    )
    scheme, _, value = raw.partition(b" ")
    return scheme.lower() == b"bearer" and hmac.compare_digest(value.strip(), token.encode())


class TokenSource:
    """The expected token: fixed, or read from a file and re-read when it changes."""

    def __init__(self, *, token: str | None, path: str | None) -> None:
        self._token = token
        self._path = Path(path) if path else None
        self._mtime: float | None = None
        self._lock = threading.Lock()
        if self._path is not None:
            self._read()

    @property
    def enabled(self) -> bool:
        return bool(self._token) or self._path is not None

    def _read(self) -> None:
        assert self._path is not None
        try:
            mtime = os.stat(self._path).st_mtime
        except OSError as exc:
            raise ConfigError(f"KUBETRAIL_API_TOKEN_FILE {self._path}: {exc.strerror}") from None
        if mtime != self._mtime:
            token = self._path.read_text().strip()
            if not token:
                raise ConfigError(f"KUBETRAIL_API_TOKEN_FILE {self._path} is empty")
            self._token, self._mtime = token, mtime

    def current(self) -> str | None:
        if self._path is not None:
            # a Secret being rotated may be briefly unreadable: keep the last good token
            with self._lock, contextlib.suppress(ConfigError):
                self._read()
        return self._token
