"""Which ``Host`` and ``Origin`` a server answers: the defence against DNS rebinding.

A web page on ``evil.example`` can make its own name resolve to 127.0.0.1 (or to a
cluster address) and then read, as same-origin, whatever a server there answers. Its
requests carry ``Host: evil.example`` and, when the browser adds one, ``Origin:
http://evil.example``: so both kubetrail servers (the REST API and the MCP server's
streamable HTTP transport, as the MCP specification requires) check them on every
request, token or not, whatever address they listen on.

Allowed without configuration, because an attacker's page cannot get a browser to send
them for its own origin:

- IP addresses (what a client dialled: a probe, ``curl http://10.0.3.7:8080``);
- ``localhost`` and names under ``.localhost``;
- single-label names (``kubetrail-api``) and cluster names under ``.svc``,
  ``.svc.cluster.local`` or ``.cluster.local``, resolved by the cluster's DNS only.

Anything else (an ingress host such as ``kubetrail.example.com``) is added with
``KUBETRAIL_ALLOWED_HOSTS`` (comma-separated; ``*.example.com`` allows the names under
a domain; ``*`` turns the check off) or the servers' ``--allowed-host`` option. A
request whose ``Host`` is not allowed is answered 421 and one whose ``Origin`` is not
403, with a JSON message saying how to allow it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import orjson

CLUSTER_SUFFIXES = (".svc", ".svc.cluster.local", ".cluster.local", ".localhost")


def hostname(host_header: str) -> str:
    """The name or address of a ``Host`` value (``[::1]:8080`` → ``::1``), lower case."""
    value = host_header.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        value = value.partition(":")[0]
    return value.rstrip(".")


def allowed_by_default(name: str) -> bool:
    if not name:
        return False
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        pass
    return name == "localhost" or "." not in name or name.endswith(CLUSTER_SUFFIXES)


def host_allowed(host_header: str, allowed: Iterable[str] = ()) -> bool:
    """Whether a request with this ``Host`` may be answered (see the module docstring)."""
    name = hostname(host_header)
    if allowed_by_default(name):
        return True
    for pattern in allowed:
        pattern = pattern.strip().lower().rstrip(".")
        if pattern == "*" or pattern == name:
            return True
        if pattern.startswith("*.") and name.endswith(pattern[1:]):
            return True
    return False


def origin_allowed(origin: str, allowed: Iterable[str] = ()) -> bool:
    """Whether a request with this ``Origin`` may be answered: an ``http(s)`` origin of an
    allowed host. (``null``, from sandboxed pages and files, is refused.)"""
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "*" in [p.strip() for p in allowed]
    return host_allowed(parts.netloc, allowed)


class HostGuard:
    """ASGI middleware answering only allowed ``Host`` and ``Origin`` values (both servers
    use it, in front of everything else)."""

    def __init__(self, app: Any, *, allowed: Iterable[str] = ()) -> None:
        self.app = app
        self.allowed = tuple(allowed)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1")
        origin = headers.get(b"origin")
        if not host_allowed(host, self.allowed):
            await _refuse(send, 421, f"Host {hostname(host)!r} is not allowed")
            return
        if origin is not None and not origin_allowed(origin.decode("latin-1"), self.allowed):
            await _refuse(send, 403, f"Origin {origin.decode('latin-1')[:100]!r} is not allowed")
            return
        await self.app(scope, receive, send)


async def _refuse(send: Any, status: int, error: str) -> None:
    body = orjson.dumps(
        {
            "error": error,
            "detail": "a protection against DNS rebinding; to serve this name, add it to "
            "KUBETRAIL_ALLOWED_HOSTS (comma-separated, *.example.com for a domain) "
            "or pass --allowed-host",
        }
    )
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
