"""OpenSearch endpoints for tests: a real cluster when one is available, and a
store on any endpoint prepared exactly as ``kubetrail setup`` prepares it."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from opensearchpy import OpenSearch

from kubetrail.store.opensearch import OpenSearchStore
from kubetrail.store.opensearch.setup import setup
from kubetrail.store.opensearch.templates import TemplateParams

OPENSEARCH_IMAGE = "opensearchproject/opensearch:2.19.1"
HOW_TO_RUN = (
    "no real OpenSearch: set OPENSEARCH_URL=http://127.0.0.1:9200 (a disposable single node, "
    "security disabled, e.g. `docker run -p 9200:9200 -e discovery.type=single-node "
    f"-e DISABLE_SECURITY_PLUGIN=true {OPENSEARCH_IMAGE}`) or run where a Docker engine is "
    "available (pip install testcontainers)"
)


def _docker_available() -> bool:
    try:
        import docker  # type: ignore[import-not-found]

        docker.from_env().ping()
    except Exception:
        return False
    return True


@contextmanager
def real_opensearch_url() -> Iterator[str]:
    """``OPENSEARCH_URL``, or a testcontainers single node; skips otherwise."""
    url = os.environ.get("OPENSEARCH_URL")
    if url:
        yield url
        return
    if not _docker_available():
        pytest.skip(HOW_TO_RUN)
    try:
        from testcontainers.core.container import DockerContainer
    except ImportError:
        pytest.skip(HOW_TO_RUN)
    container = (
        DockerContainer(OPENSEARCH_IMAGE)
        .with_env("discovery.type", "single-node")
        .with_env("DISABLE_SECURITY_PLUGIN", "true")
        .with_env("OPENSEARCH_JAVA_OPTS", "-Xms512m -Xmx512m")
        .with_exposed_ports(9200)
    )
    with container:
        url = f"http://{container.get_container_host_ip()}:{container.get_exposed_port(9200)}"
        client = OpenSearch(hosts=[url])
        deadline = time.monotonic() + 180
        while True:
            try:
                client.cluster.health(wait_for_status="yellow")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(2)
        yield url


class _DisposableStore(OpenSearchStore):
    """Deletes its indices and templates when closed, so cases leave nothing behind."""

    def close(self) -> None:
        try:
            self.client.indices.delete(index=self.pattern, ignore_unavailable=True)
            self.client.indices.delete_index_template(name=self.prefix, ignore=[404])
        finally:
            super().close()


def opensearch_store(url: str, *, prefix: str) -> OpenSearchStore:
    """A store on ``url`` under ``prefix``, set up by the code of ``kubetrail setup``.

    Writes wait for a refresh, so a case can read what it just wrote (osmem shows
    writes at once anyway; a real cluster refreshes every few seconds)."""
    client = OpenSearch(hosts=[url], http_compress=True, timeout=60)
    setup(client, TemplateParams(prefix=prefix, replicas=0), report=lambda line: None)
    return _DisposableStore(client, prefix=prefix, name=url, refresh="wait_for")
