"""The shipper's HTTP endpoints: ``/metrics``, ``/healthz``, ``/readyz``.

``kubetrail ship`` serves them from its first moment, before it opens the store (migrating
a big embedded store can take minutes) and before discovery (a big cluster's takes a
while too). A pod's startup and liveness probes need an answer while the process works:
if the endpoints appeared only once all of that was done, a long migration would outlast
the startup budget, the kubelet would kill the pod mid-migration (rolling the migration
back) and the pod would crash-loop for good.

Until a shipper is attached the process is *starting*: ``/healthz`` answers 200
``starting`` (it is alive and working), ``/readyz`` and ``/metrics`` answer 503
``starting``. Once attached, ``/healthz`` is the delivery thread's liveness and ``/readyz``
means discovery done and every watcher through its first list.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

_TEXT = "text/plain"


@dataclass(frozen=True, slots=True, kw_only=True)
class Health:
    """What the endpoints report once the shipper runs."""

    alive: Callable[[], bool]
    ready: Callable[[], bool]
    registry: CollectorRegistry


class Endpoints:
    """An HTTP server on a daemon thread; serves *starting* until :meth:`attach`."""

    def __init__(self, host: str, port: int) -> None:
        self._health: Health | None = None
        endpoints = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                code, ctype, body = endpoints.answer(self.path)
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="endpoints", daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def attach(self, health: Health) -> None:
        self._health = health

    def answer(self, path: str) -> tuple[int, str, bytes]:
        """(status, content type, body) for a GET of ``path``."""
        health = self._health
        if path not in ("/metrics", "/healthz", "/readyz"):
            return 404, _TEXT, b"not found"
        if health is None:
            return (200 if path == "/healthz" else 503), _TEXT, b"starting"
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(health.registry)
        if path == "/healthz":
            ok = health.alive()
            return (200 if ok else 503), _TEXT, (b"ok" if ok else b"delivery stopped")
        ok = health.ready()
        return (200 if ok else 503), _TEXT, (b"ready" if ok else b"syncing")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
