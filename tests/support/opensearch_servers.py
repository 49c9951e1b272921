"""OpenSearch endpoints for tests: a real cluster when one is available, and a
store on any endpoint prepared exactly as ``kubetrail setup`` prepares it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from opensearchpy import OpenSearch

from kubetrail.store.opensearch import OpenSearchStore
from kubetrail.store.opensearch.setup import setup
from kubetrail.store.opensearch.templates import TemplateParams

REPO = Path(__file__).resolve().parents[2]
NODE_SCRIPT = REPO / "scripts" / "opensearch-node"
#: ``scripts/opensearch-node``'s exit status when this machine cannot fetch OpenSearch.
EXIT_CANNOT_FETCH = 3
HOW_TO_RUN = (
    "`scripts/opensearch-node start` fetches OpenSearch from Maven Central (needs mvn and "
    "Java 17) and prints its URL; .ci/run starts it and sets OPENSEARCH_URL"
)


def _node(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(NODE_SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@contextmanager
def real_opensearch_url() -> Iterator[str]:
    """A real OpenSearch node: ``OPENSEARCH_URL`` when set (``.ci/run`` sets it), else
    the node ``scripts/opensearch-node`` runs (reused if running; started, and stopped
    afterwards, if not). ``OPENSEARCH_URL=skip`` skips these cases on purpose; they skip
    on their own only when this machine cannot fetch OpenSearch, and say why."""
    url = os.environ.get("OPENSEARCH_URL", "")
    if url == "skip":
        pytest.skip(f"OPENSEARCH_URL=skip: real OpenSearch cases skipped on request; {HOW_TO_RUN}")
    if url:
        yield url
        return
    running = _node("url", timeout=30)
    if running.returncode == 0 and _healthy(running.stdout.strip()):
        yield running.stdout.strip()
        return
    started = _node("start", timeout=900)
    if started.returncode == EXIT_CANNOT_FETCH:
        pytest.skip(
            f"this machine cannot fetch OpenSearch ({_last_line(started.stderr)}); {HOW_TO_RUN}"
        )
    if started.returncode != 0:
        pytest.fail(f"scripts/opensearch-node start failed:\n{started.stderr[-3000:]}")
    try:
        yield started.stdout.strip().splitlines()[-1]
    finally:
        _node("stop", timeout=120)


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def _healthy(url: str) -> bool:
    try:
        status = OpenSearch(hosts=[url], timeout=5).cluster.health()["status"]
    except Exception:
        return False
    return status in ("green", "yellow")


def delete_indices(client: OpenSearch, pattern: str) -> None:
    """Delete every index matching ``pattern`` by name: the test node keeps
    ``action.destructive_requires_name`` on, as production clusters should."""
    names = sorted(
        client.indices.get(index=pattern, ignore_unavailable=True, allow_no_indices=True)
    )
    for i in range(0, len(names), 50):
        client.indices.delete(index=",".join(names[i : i + 50]), ignore_unavailable=True)


class _DisposableStore(OpenSearchStore):
    """Deletes its indices and templates when closed, so cases leave nothing behind."""

    def close(self) -> None:
        try:
            delete_indices(self.client, self.pattern)
            delete_indices(self.client, self.audit.index)  # outside the pattern
            self.client.indices.delete_index_template(name=self.prefix, ignore=[404])
        finally:
            super().close()


def opensearch_store(url: str, *, prefix: str) -> OpenSearchStore:
    """A store on ``url`` under ``prefix``, set up by the code of ``kubetrail setup``.

    Each write refreshes, so a case can read what it just wrote at once (osmem shows
    writes at once anyway; a real cluster would show them at its next refresh, and
    ``wait_for`` would wait up to the 5 s refresh interval per write)."""
    client = OpenSearch(hosts=[url], http_compress=True, timeout=60)
    setup(client, TemplateParams(prefix=prefix, replicas=0), report=lambda line: None)
    return _DisposableStore(client, prefix=prefix, name=url, refresh=True)
