"""Bearer-token protection of everything that serves data.

With ``KUBETRAIL_API_TOKEN`` (or ``KUBETRAIL_API_TOKEN_FILE``, a mounted Secret,
re-read when the file changes) every request except ``/health`` needs
``Authorization: Bearer <token>``, compared in constant time; a missing or wrong
token is a 401 JSON error. Without a token the API is open, as the original tool
was: put it behind a NetworkPolicy (deploy/ does). Request bodies are refused
above ``max_request_bytes`` (the API is read-only; nothing needs a body).
"""

from __future__ import annotations

import contextlib
import hmac
import os
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import Request, Response

from kubetrail.api.errors import error_response
from kubetrail.config import ConfigError, Settings

OPEN_PATHS = frozenset({"/health"})


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


def bearer_guard(
    settings: Settings,
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    tokens = TokenSource(token=settings.api_token, path=settings.api_token_file)

    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > settings.max_request_bytes:
            return error_response(
                413, f"request body larger than {settings.max_request_bytes} bytes"
            )
        if tokens.enabled and request.url.path not in OPEN_PATHS:
            expected = tokens.current() or ""
            given = request.headers.get("authorization", "")
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                value.strip().encode(), expected.encode()
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
