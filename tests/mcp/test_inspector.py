"""The MCP Inspector CLI (npm @modelcontextprotocol/inspector) as an outside client.

It spawns `python -m kubetrail mcp` itself, over stdio, with AUDIT_API_URL pointing
at the real `kubetrail api` — what Claude Desktop does. `.ci/run` installs it into
`.ci/node`; elsewhere the test looks for `mcp-inspector` on PATH and skips with the
command that installs it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.mcp_processes import FORBIDDEN

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
INSTALL = "npm install --no-save --prefix .ci/node @modelcontextprotocol/inspector"


def inspector() -> str:
    local = ROOT / ".ci" / "node" / "node_modules" / ".bin" / "mcp-inspector"
    if local.exists() and shutil.which("node"):
        return str(local)
    found = shutil.which("mcp-inspector")
    if found:
        return found
    reason = (
        "Node.js (node/npx) is not installed"
        if not shutil.which("node")
        else "the MCP Inspector is not installed"
    )
    pytest.skip(
        f"{reason}; to run this test: {INSTALL} (from the repository root; .ci/run does it)"
    )


def run_inspector(api_url: str, *method: str) -> dict:
    cmd = [
        inspector(),
        "--cli",
        "-e",
        f"AUDIT_API_URL={api_url}",
        sys.executable,
        "-m",
        "kubetrail",
        "mcp",
        "--method",
        *method,
    ]
    r = subprocess.run(cmd, capture_output=True, timeout=60, cwd=ROOT)
    out = r.stdout.decode()
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    for value in FORBIDDEN:
        assert value not in out
    return json.loads(out)


def test_inspector_lists_the_tools(api_url: str) -> None:
    listed = run_inspector(api_url, "tools/list")
    assert {t["name"] for t in listed["tools"]} == {
        "check_node_health",
        "check_pod_issues",
        "check_volume_issues",
        "analyze_recent_changes",
        "investigate_pod_startup",
        "check_resource_limits",
        "check_workload_rollouts",
        "search_events",
        "get_object_history",
    }
    assert all(t["annotations"]["readOnlyHint"] for t in listed["tools"])


def test_inspector_calls_check_pod_issues(api_url: str) -> None:
    result = run_inspector(
        api_url, "tools/call", "--tool-name", "check_pod_issues", "--tool-arg", "time_window=7d"
    )
    assert not result.get("isError")
    assert result["content"][0]["text"].startswith("check_pod_issues:")
    issues = {f["issue"] for f in result["structuredContent"]["findings"]}
    assert {"CrashLoopBackOff", "OOMKilled"} <= issues
