"""Bearer tokens on the REST API: no token → 401, wrong → 401, right → 200, /health open."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kubetrail.config import ConfigError, Settings
from kubetrail.store.base import Store
from tests.support.api_server import ServerThread
from tests.support.servers import free_port

TOKEN = "s3cr3t-api-token-canary"


@pytest.fixture
def guarded(store: Store) -> Iterator[httpx.Client]:
    with (
        ServerThread(store, Settings(api_token=TOKEN)) as server,
        httpx.Client(base_url=server.url) as c,
    ):
        yield c


@pytest.mark.parametrize(
    "path", ["/api/v1/events", "/api/v1/diagnostics", "/api/v1/events/_/nodes/worker-3", "/docs"]
)
def test_no_token_or_a_wrong_one_is_401_json(guarded: httpx.Client, path: str) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
    ):
        r = guarded.get(path, headers=headers)
        assert r.status_code == 401
        assert r.json()["error"] == "missing or invalid bearer token"
        assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_right_token_is_200_and_health_is_open(guarded: httpx.Client) -> None:
    ok = guarded.get(
        "/api/v1/events",
        params={"start": "2026-11-25T00:00:00Z", "end": "2026-11-26T00:00:00Z"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert ok.status_code == 200 and len(ok.json()) == 12
    assert guarded.get("/health").status_code == 200


def test_open_health_says_only_ok_to_a_caller_without_the_token(
    guarded: httpx.Client, tmp_path: Path
) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}):
        r = guarded.get("/health", headers=headers)
        assert r.status_code == 200
        assert r.json() == {"status": "ok"}  # no path, no event count, no time range
    full = guarded.get("/health", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert full["status"] == "ok" and full["store"] and full["detail"]


def test_bodies_are_refused_and_writes_do_not_exist(guarded: httpx.Client) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    big = guarded.post("/api/v1/events", content=b"x" * (2 * 1024 * 1024), headers=auth)
    assert big.status_code == 413 and "larger than" in big.json()["error"]
    small = guarded.post("/api/v1/events", content=b"{}", headers=auth)
    assert small.status_code == 405 and small.json()["error"]


def test_token_file_is_read_and_rotated(store: Store, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("first\n")
    with (
        ServerThread(store, Settings(api_token_file=str(token_file))) as server,
        httpx.Client(base_url=server.url) as c,
    ):
        assert (
            c.get("/api/v1/diagnostics", headers={"Authorization": "Bearer first"}).status_code
            == 200
        )
        time.sleep(0.01)
        token_file.write_text("second")
        os.utime(token_file, (time.time() + 5, time.time() + 5))
        assert (
            c.get("/api/v1/diagnostics", headers={"Authorization": "Bearer first"}).status_code
            == 401
        )
        assert (
            c.get("/api/v1/diagnostics", headers={"Authorization": "Bearer second"}).status_code
            == 200
        )


def test_unreadable_token_file_is_a_clear_error(store: Store, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="KUBETRAIL_API_TOKEN_FILE"):
        ServerThread(store, Settings(api_token_file=str(tmp_path / "missing")))


def test_no_cors_headers_by_default(guarded: httpx.Client) -> None:
    r = guarded.options(
        "/api/v1/events",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in {k.lower() for k in r.headers}


def test_the_token_never_reaches_the_logs(tmp_path: Path) -> None:
    from kubetrail.store.sqlite import open_embedded

    open_embedded(tmp_path / "a.db").close()  # `kubetrail api` serves a store, never creates one
    port = free_port()
    env = {**os.environ, "KUBETRAIL_API_TOKEN": TOKEN}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kubetrail",
            "api",
            "--store",
            f"sqlite:///{tmp_path / 'a.db'}",
            "--port",
            str(port),
            "--log-level",
            "debug",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        httpx.get(
            f"http://127.0.0.1:{port}/api/v1/events", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        httpx.get(
            f"http://127.0.0.1:{port}/api/v1/events", headers={"Authorization": "Bearer wrong"}
        )
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert "GET /api/v1/events" in err + out  # the access log ran
    assert TOKEN not in out and TOKEN not in err
