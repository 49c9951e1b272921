"""Real processes: the built-in incident in a store, `kubetrail api` serving it, and
`kubetrail mcp` driven by the MCP SDK's own client over stdio.

Every answer an MCP session receives is checked for the demo Secret's value
(plain and base64) as it arrives, whatever the test is about.
"""

from __future__ import annotations

import base64
import functools
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio.from_thread
import httpx
import orjson
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

from kubetrail.demo.incident import DEMO_SECRET_CANARY
from tests.servers import AppServer, free_port

FORBIDDEN = (
    DEMO_SECRET_CANARY,
    base64.b64encode(DEMO_SECRET_CANARY.encode()).decode(),
)
WIDE = {"time_window": "7d"}  # the incident ends "now": look at all of it


def kubetrail(*args: str, cwd: Path, **kw: Any) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "kubetrail", *args], capture_output=True, timeout=120, cwd=cwd, **kw
    )


def wait_http(url: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(
                f"{url} exited: {proc.stderr.read().decode() if proc.stderr else ''}"
            )
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def assert_no_secret(payload: Any) -> None:
    text = payload if isinstance(payload, str) else orjson.dumps(payload, default=str).decode()
    for value in FORBIDDEN:
        assert value not in text, "a Secret value reached an MCP answer"


@pytest.fixture(scope="session")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mcp")


@pytest.fixture(scope="session")
def incident_db(work: Path) -> Path:
    db = work / "incident.db"
    r = kubetrail("demo", "--no-serve", "--store", f"sqlite:///{db}", cwd=work)
    assert r.returncode == 0, r.stderr.decode()
    return db


@pytest.fixture(scope="session")
def api_url(incident_db: Path, work: Path) -> Iterator[str]:
    """`kubetrail api` on the incident, as a real process."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kubetrail",
            "api",
            "--store",
            f"sqlite:///{incident_db}",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=work,
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


ThreadServer = AppServer  # an ASGI app on a loopback port, in a thread of the test process


class McpSession:
    """`python -m kubetrail mcp ARGS` over stdio, driven by the SDK's Client from sync tests."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, cwd: Path) -> None:
        self.params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "kubetrail", "mcp", *args],
            env={"PYTHONUNBUFFERED": "1", **(env or {})},
            cwd=str(cwd),
        )
        self.errlog_path = cwd / f"mcp-stderr-{id(self)}.log"

    def __enter__(self) -> McpSession:
        self._errlog = open(self.errlog_path, "w")  # closed in __exit__
        self._portal_cm = anyio.from_thread.start_blocking_portal()
        self.portal = self._portal_cm.__enter__()
        transport = stdio_client(self.params, errlog=self._errlog)
        self._client_cm = self.portal.wrap_async_context_manager(Client(transport))
        self.client = self._client_cm.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._client_cm.__exit__(None, None, None)
        finally:
            self._portal_cm.__exit__(None, None, None)
            self._errlog.close()

    @property
    def stderr(self) -> str:
        if not self._errlog.closed:
            self._errlog.flush()
        return self.errlog_path.read_text()

    def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        result = self.portal.call(functools.partial(fn, *args, **kwargs))
        assert_no_secret(result.model_dump(mode="json"))
        return result

    def tool(self, name: str, /, **arguments: Any) -> Any:
        return self._call(self.client.call_tool, name, arguments)

    def report(self, name: str, /, **arguments: Any) -> dict[str, Any]:
        """A check's structured report (the call must succeed)."""
        result = self.tool(name, **arguments)
        assert not result.is_error, result.content[0].text
        assert result.structured_content is not None
        assert result.content and result.content[0].type == "text"
        return result.structured_content

    def error(self, name: str, /, **arguments: Any) -> str:
        """A tool call that must fail as a tool error: its message."""
        result = self.tool(name, **arguments)
        assert result.is_error, f"{name} did not fail: {result.content[0].text[:300]}"
        text = result.content[0].text
        assert "Traceback" not in text
        return text

    def read(self, uri: str) -> Any:
        result = self._call(self.client.read_resource, uri)
        return orjson.loads(result.contents[0].text)

    def list_tools(self) -> Any:
        return self._call(self.client.list_tools).tools

    def list_resource_templates(self) -> Any:
        return self._call(self.client.list_resource_templates).resource_templates

    def list_resources(self) -> Any:
        return self._call(self.client.list_resources).resources

    def list_prompts(self) -> Any:
        return self._call(self.client.list_prompts).prompts

    def prompt(self, name: str, /, **arguments: str) -> str:
        result = self._call(self.client.get_prompt, name, arguments)
        return "\n".join(m.content.text for m in result.messages)


@pytest.fixture(scope="session")
def mcp_api(api_url: str, work: Path) -> Iterator[McpSession]:
    """`kubetrail mcp` (stdio) answering from the real `kubetrail api`."""
    env = {"AUDIT_API_URL": api_url}
    with McpSession(env=env, cwd=work) as session:
        yield session
    assert "Traceback" not in session.stderr


def base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(("KUBETRAIL_", "AUDIT_"))}
