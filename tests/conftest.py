"""Fixtures shared across the test tree: the built-in incident loaded into stores.

Hypothesis runs derandomized by default: the test command is a gate, and the same
examples must pass or fail on every run. ``HYPOTHESIS_PROFILE=explore`` draws new
random examples (with the ``KUBETRAIL_*_EXAMPLES`` variables, a longer bug hunt)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

from kubetrail.demo.incident import generate_incident
from kubetrail.ingest.documents import to_documents
from kubetrail.store.base import Store
from kubetrail.store.sqlite import open_embedded
from tests.support.incident import ANCHOR
from tests.support.kube_apiservers import RealCluster, real_kube_cluster
from tests.support.opensearch_servers import opensearch_store, real_opensearch_url
from tests.support.osmem import running_osmem

settings.register_profile("gate", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "gate"))


@pytest.fixture(scope="session")
def incident_docs() -> list[dict]:
    return [doc for event in generate_incident(anchor=ANCHOR) for doc in to_documents(event)]


@pytest.fixture(scope="session")
def sqlite_incident(
    incident_docs: list[dict], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    store = open_embedded(tmp_path_factory.mktemp("diag") / "incident.db")
    store.write(incident_docs)
    yield store
    store.close()


@pytest.fixture(scope="session")
def osmem_incident(incident_docs: list[dict]) -> Iterator[Store]:
    with running_osmem() as url:
        store = opensearch_store(url, prefix="diag-events")
        store.write(incident_docs)
        yield store
        store.close()


@pytest.fixture(scope="session")
def real_opensearch() -> Iterator[str]:
    """The URL of a real OpenSearch node (see ``real_opensearch_url``)."""
    with real_opensearch_url() as url:
        yield url


@pytest.fixture(scope="session")
def opensearch_incident(incident_docs: list[dict], real_opensearch: str) -> Iterator[Store]:
    store = opensearch_store(real_opensearch, prefix=f"diag-{os.getpid()}-events")
    store.write(incident_docs)
    yield store
    store.close()


@pytest.fixture(scope="session")
def real_kube() -> Iterator[RealCluster]:
    """A real kube-apiserver + etcd (see ``real_kube_cluster``): its admin kubeconfig,
    kubectl, raw REST calls and etcd compaction."""
    with real_kube_cluster() as cluster:
        yield cluster
