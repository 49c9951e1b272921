"""The other ways to run `kubetrail mcp`, and what it says when the API misbehaves.

- against an audit API that only serves `GET /api/v1/events` (the original Go
  watch server's contract): the checks are evaluated locally and say so, with
  and without cursor support;
- with `--store` (no API at all);
- over streamable HTTP with a bearer token;
- an API that is down, refuses the token, or answers 500.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from kubetrail.api.errors import install_error_handlers
from kubetrail.api.routes import events
from kubetrail.config import Settings
from kubetrail.store.sqlite import open_embedded
from tests.mcp.test_stdio_api import OUT_OF_RANGE
from tests.support.mcp_processes import (
    WIDE,
    McpSession,
    ThreadServer,
    assert_no_secret,
    kubetrail,
    wait_http,
)
from tests.support.servers import free_port

pytestmark = pytest.mark.e2e

SURVEY = (
    "check_node_health",
    "check_pod_issues",
    "check_volume_issues",
    "analyze_recent_changes",
    "check_resource_limits",
    "check_workload_rollouts",
)


def events_only_app(db: Path, *, cursors: bool) -> FastAPI:
    """Only `GET /api/v1/events` (+ the object route), like an existing audit API.
    Without ``cursors``, like the original: no X-Next-Cursor, pages of at most 1000."""
    app = FastAPI()
    app.state.store = open_embedded(db)
    app.state.settings = Settings(max_query_limit=5000 if cursors else 1000)
    install_error_handlers(app)
    app.include_router(events.router)
    if not cursors:

        @app.middleware("http")
        async def drop_cursor(request: Request, call_next: Any) -> Any:
            response = await call_next(request)
            for header in ("X-Next-Cursor", "Link"):
                if header in response.headers:
                    del response.headers[header]
            return response

    return app


def keys(report: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    return {
        (f["object"]["kind"], f["object"]["namespace"], f["object"]["name"], f["issue"])
        for f in report["findings"]
    }


@pytest.fixture(scope="module")
def reference(mcp_api: McpSession) -> dict[str, dict[str, Any]]:
    """The reports of the real diagnostics API, to compare the fallback with."""
    return {name: mcp_api.report(name, **WIDE, limit=100) for name in SURVEY}


@pytest.mark.parametrize("cursors", [True, False], ids=["with-cursors", "original-api"])
def test_events_only_api_checks_run_locally_and_say_so(
    cursors: bool,
    incident_db: Path,
    work: Path,
    reference: dict[str, dict[str, Any]],
) -> None:
    app = events_only_app(incident_db, cursors=cursors)
    with (
        ThreadServer(app) as api,
        McpSession(env={"AUDIT_API_URL": api.url}, cwd=work) as mcp,
    ):
        assert httpx.get(f"{api.url}/api/v1/diagnostics").status_code == 404
        for name in SURVEY:
            report = mcp.report(name, **WIDE, limit=100)
            assert keys(report) == keys(reference[name]), name
            note = next(n for n in report["notes"] if "computed locally" in n)
            assert f"{api.url}/api/v1/events" in note
            assert report["fetchedEvents"] > 1000  # more than one page was fetched
        report = mcp.report(
            "investigate_pod_startup", pod_name="postgres-0", namespace="data", **WIDE
        )
        assert "fast-ssd" in report["conclusion"]
        changes = mcp.read("audit://changes/24h")
        assert any("computed locally" in n for n in changes["notes"])
        # a resource's counts too: this API has no /api/v1/summary either
        shop = mcp.read("audit://events/shop")
        assert any("computed locally" in n for n in shop["notes"])
        assert shop["total"] > len(shop["newestChanges"]) > 0
        assert shop["counts"]["kind"]["Pod"] > 0
        # search_events cannot count here: it says so instead of fetching everything
        page = mcp.tool("search_events", namespace="shop", limit=5, **WIDE).structured_content
        assert page["total"] == "at least 5"
        # the next page: from the cursor, or (no cursors) from the last time shown
        last = page["events"][-1]["timestamp"]
        more = page["paging"]["more"]
        assert "cursor=" in more or f'start_time="{last}"' in more
        # the same parameter errors as with the full API
        assert "30m, 2h" in mcp.error("check_pod_issues", time_window="soon")
        assert "Traceback" not in mcp.stderr
    app.state.store.close()


def test_store_mode_needs_no_api(incident_db: Path, work: Path) -> None:
    with McpSession("--store", f"sqlite:///{incident_db}", cwd=work) as mcp:
        assert len(mcp.list_tools()) == 9
        report = mcp.report("check_volume_issues", **WIDE)
        assert any("fast-ssd" in f["message"] for f in report["findings"])
        report = mcp.report("check_pod_issues", namespace="payments", **WIDE)
        assert {f["issue"] for f in report["findings"]} & {"ImagePullBackOff", "ErrImagePull"}
        node = mcp.read("audit://node-events/worker-3")
        assert node["relatedEvents"]
        nodes = mcp.read("audit://events/_/nodes")
        assert nodes["newestChanges"] and nodes["total"] >= len(nodes["newestChanges"])
        assert "no audit events" in mcp.error(
            "check_node_health", start_time="2001-01-01T00:00:00Z", end_time="2001-01-02T00:00:00Z"
        )
        # out-of-range times are the same one line as through the REST API (hardening issue)
        for tool, args, named in OUT_OF_RANGE:
            msg = mcp.error(tool, **args)
            assert named in msg and ("range" in msg or "30 days" in msg), msg
        assert "Traceback" not in mcp.stderr


def test_api_down_names_the_url_and_the_port_forward(work: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with McpSession(env={"AUDIT_API_URL": url}, cwd=work) as mcp:
        for tool, args in (
            ("check_pod_issues", WIDE),
            ("search_events", {}),
            ("get_object_history", {"namespace": "shop", "resource_type": "pods", "name": "x"}),
        ):
            msg = mcp.error(tool, **args)
            assert f"audit API at {url} is unavailable" in msg, msg
            assert "kubectl port-forward -n kubetrail svc/kubetrail-api 8080:8080" in msg
        # a bad argument is still reported as such, before any request
        assert "30m, 2h" in mcp.error("check_pod_issues", time_window="later")


def failing_api() -> FastAPI:
    app = FastAPI()

    @app.get("/{path:path}")
    async def everything(request: Request, path: str) -> PlainTextResponse:
        if request.headers.get("authorization") != "Bearer sesame":
            return PlainTextResponse("no", status_code=401)
        return PlainTextResponse("boom: database is locked\n" + "x" * 1000, status_code=500)

    return app


def test_api_errors_give_the_status_and_an_excerpt(work: Path) -> None:
    with ThreadServer(failing_api()) as api:
        env = {"AUDIT_API_URL": api.url, "KUBETRAIL_API_TOKEN": "sesame"}
        with McpSession(env=env, cwd=work) as mcp:
            msg = mcp.error("check_pod_issues", **WIDE)
            assert (
                "answered 500 Internal Server Error for GET /api/v1/diagnostics/check_pod_issues"
                in msg
            )
            assert "boom: database is locked" in msg and len(msg) < 400
            msg = mcp.error("search_events")
            assert "answered 500" in msg
        with McpSession(env={"AUDIT_API_URL": api.url}, cwd=work) as mcp:
            msg = mcp.error("check_pod_issues", **WIDE)
            assert "answered 401" in msg and "KUBETRAIL_API_TOKEN" in msg


# -- streamable HTTP ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def http_server(incident_db: Path, work: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "KUBETRAIL_API_TOKEN": "open-sesame"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kubetrail",
            "mcp",
            "--http",
            "--port",
            str(port),
            "--store",
            f"sqlite:///{incident_db}",
        ],
        cwd=work,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/health", proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_streamable_http_needs_the_bearer_token(http_server: str) -> None:
    assert httpx.get(f"{http_server}/health").json() == {"status": "ok"}
    r = httpx.post(f"{http_server}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert r.status_code == 401
    r = httpx.post(
        f"{http_server}/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
        headers={"Authorization": "Bearer wrong"},
    )
    assert r.status_code == 401

    async def session() -> tuple[list[str], dict[str, Any]]:
        headers = {"Authorization": "Bearer open-sesame"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            Client(streamable_http_client(f"{http_server}/mcp", http_client=http)) as client,
        ):
            tools = [t.name for t in (await client.list_tools()).tools]
            result = await client.call_tool("check_volume_issues", WIDE)
            assert not result.is_error
            return tools, result.structured_content

    tools, report = anyio.run(session)
    assert "check_volume_issues" in tools and len(tools) == 9
    assert any(f["object"]["name"] == "postgres-data" for f in report["findings"])
    assert_no_secret(report)


PING = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_the_bearer_scheme_is_case_insensitive(http_server: str, scheme: str) -> None:
    """RFC 7235: the scheme is case-insensitive (the REST API already accepted any casing)."""
    r = httpx.post(
        f"{http_server}/mcp",
        json=PING,
        headers={**MCP_HEADERS, "Authorization": f"{scheme} open-sesame"},
    )
    assert r.status_code != 401, r.text


def test_a_foreign_host_or_origin_is_refused_on_every_address(
    incident_db: Path, work: Path
) -> None:
    """DNS rebinding: listening on all addresses with a token (the case that once served any
    Host), a foreign Host or Origin is refused even with the right token."""
    port = free_port()
    env = {**os.environ, "KUBETRAIL_API_TOKEN": "open-sesame"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubetrail", "mcp", "--http", "--host", "0.0.0.0",
         "--port", str(port), "--store", f"sqlite:///{incident_db}",
         "--allowed-host", "mcp.example.com"],
        cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    auth = {**MCP_HEADERS, "Authorization": "Bearer open-sesame"}
    try:
        wait_http(f"{url}/health", proc)
        r = httpx.post(f"{url}/mcp", json=PING, headers={**auth, "Host": "evil.example"})
        assert r.status_code == 421 and "KUBETRAIL_ALLOWED_HOSTS" in r.json()["detail"]
        r = httpx.post(f"{url}/mcp", json=PING, headers={**auth, "Origin": "http://evil.example"})
        assert r.status_code == 403
        assert httpx.get(f"{url}/health", headers={"Host": "evil.example"}).status_code == 421
        # what a real deployment names is served: the allow-list, cluster names, addresses
        for host in ("mcp.example.com", "kubetrail-mcp.kubetrail.svc:8081", f"127.0.0.1:{port}"):
            r = httpx.post(f"{url}/mcp", json=PING, headers={**auth, "Host": host})
            assert r.status_code not in (401, 403, 421), (host, r.status_code, r.text)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_http_refuses_to_start_without_a_token(work: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("KUBETRAIL_API_TOKEN", "KUBETRAIL_API_TOKEN_FILE")
    }
    r = kubetrail("mcp", "--http", "--port", str(free_port()), cwd=work, env=env)
    assert r.returncode == 2
    assert r.stderr.decode().strip() == (
        "kubetrail: error: --http needs a bearer token: set KUBETRAIL_API_TOKEN or "
        "KUBETRAIL_API_TOKEN_FILE (or --no-auth on 127.0.0.1 for local testing)"
    )
    missing = work / "no-such-token"
    r = kubetrail(
        "mcp", "--http", "--port", str(free_port()), cwd=work,
        env={**env, "KUBETRAIL_API_TOKEN_FILE": str(missing)},
    )  # fmt: skip
    assert r.returncode == 2
    assert r.stderr.decode().strip() == (
        f"kubetrail: error: KUBETRAIL_API_TOKEN_FILE {missing}: No such file or directory"
    )


def test_http_takes_the_token_from_a_file(incident_db: Path, work: Path) -> None:
    """deploy/components/mcp-http mounts the api-token of a Secret as a file."""
    token_file = work / "mcp-token"
    token_file.write_text("from-a-file\n")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "KUBETRAIL_API_TOKEN"}
    env["KUBETRAIL_API_TOKEN_FILE"] = str(token_file)
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "kubetrail", "mcp", "--http", "--port", str(port),
            "--store", f"sqlite:///{incident_db}",
        ],
        cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/health", proc)
        assert httpx.post(f"{url}/mcp", json=PING, headers=MCP_HEADERS).status_code == 401
        r = httpx.post(
            f"{url}/mcp",
            json=PING,
            headers={**MCP_HEADERS, "Authorization": "Bearer from-a-file"},
        )
        assert r.status_code not in (401, 403), r.text
    finally:
        proc.terminate()
        proc.wait(timeout=10)
