"""Real processes: the built-in incident in a store, `kubetrail api` serving it, and
`kubetrail mcp` driven by the MCP SDK's own client over stdio.

Every answer an MCP session receives is checked for the demo Secret's value
(plain and base64) as it arrives, whatever the test is about.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.mcp_processes import McpSession, kubetrail, wait_http
from tests.support.servers import free_port


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


@pytest.fixture(scope="session")
def mcp_api(api_url: str, work: Path) -> Iterator[McpSession]:
    """`kubetrail mcp` (stdio) answering from the real `kubetrail api`."""
    env = {"AUDIT_API_URL": api_url}
    with McpSession(env=env, cwd=work) as session:
        yield session
    assert "Traceback" not in session.stderr
