"""Real processes for the MCP tests: `kubetrail` commands, `kubetrail mcp` over stdio driven by
the MCP SDK's client, and the check that no answer carries the demo Secret's value."""

from __future__ import annotations

import base64
import functools
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio.from_thread
import httpx
import orjson
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

from kubetrail.demo.incident import DEMO_SECRET_CANARY
from tests.support.servers import AppServer

#: The tools `kubetrail mcp` offers: the seven checks, search and object history.
CHECK_TOOLS = {
    "check_node_health",
    "check_pod_issues",
    "check_volume_issues",
    "analyze_recent_changes",
    "investigate_pod_startup",
    "check_resource_limits",
    "check_workload_rollouts",
}
TOOLS = CHECK_TOOLS | {"search_events", "get_object_history"}
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


def base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(("KUBETRAIL_", "AUDIT_"))}
