"""A real osmem-server process (PyPI ``osmem-server``: an OpenSearch-compatible server in
one binary) on a free loopback port, for any test that needs an OpenSearch endpoint.

    with running_osmem() as url:      # "http://127.0.0.1:PORT"
        client = OpenSearch(hosts=[url])

It has no ISM, no ``_rollover``, no data streams, no auth and no TLS; writes are
visible at once (see /tmp/osmem-findings.md). The process exits when the context
ends (and by itself if the test process dies: it watches its stdin pipe).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

STARTUP_TIMEOUT = 10.0


def osmem_binary() -> str:
    """The bundled binary; skips the test when osmem-server is not installed."""
    osmem_server = pytest.importorskip(
        "osmem_server", reason="osmem-server is not installed: pip install -e '.[test]'"
    )
    return str(osmem_server.resolve_binary())


@contextmanager
def running_osmem(*, japanese: bool = False) -> Iterator[str]:
    """Start osmem-server, yield its base URL, stop it."""
    args = [osmem_binary(), "--addr", "127.0.0.1:0"]
    if not japanese:
        args.append("--no-ja")
    # stdin stays an open pipe: osmem-server exits on stdin EOF (so also when we die)
    proc = subprocess.Popen(
        args,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the ready line: {"url": ..., "pid": ..., ...}
        if not line:
            _, err = proc.communicate(timeout=STARTUP_TIMEOUT)
            raise RuntimeError(f"osmem-server did not start (rc {proc.returncode}): {err.strip()}")
        url = json.loads(line)["url"]
        yield url
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=STARTUP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
