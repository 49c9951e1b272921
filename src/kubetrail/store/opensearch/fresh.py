"""A fresh cluster, for ``kubetrail setup --dry-run`` when the real one cannot be reached.

The dry run then shows what setup would send to an empty OpenSearch cluster of the
version kubetrail is tested on, with the ISM plugin: every object created, nothing there
before. It is the real client over a connection that answers locally as such a cluster
answers setup's reads, so the plan comes from the very code that sets up a real cluster.
A dry run sends no writes, so none reaches this connection.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import orjson
from opensearchpy import OpenSearch
from opensearchpy.connection import Connection

from kubetrail.store.opensearch.client import OrjsonSerializer
from kubetrail.store.opensearch.setup import ISM_PLUGIN

#: the OpenSearch version the plan is for (the one the test suite runs)
FRESH_VERSION = "2.19.4"

_NOT_FOUND = (404, {"error": {"type": "resource_not_found_exception"}, "status": 404})


def fresh_cluster_answer(method: str, path: str) -> tuple[int, Any]:
    """What an empty OpenSearch cluster with ISM answers to one of setup's reads."""
    if method == "GET" and path == "/":
        return 200, {
            "cluster_name": "",
            "version": {"distribution": "opensearch", "number": FRESH_VERSION},
        }
    if path == "/_cat/plugins":
        return 200, [{"component": ISM_PLUGIN}]
    if path.startswith("/_cat/indices/"):
        return 200, []
    if path.startswith("/_plugins/_ism/explain/"):
        return 200, {"total_managed_indices": 0}
    return _NOT_FOUND  # templates, policy, alias, index: none exists yet


class FreshClusterConnection(Connection):
    """A connection answering with :func:`fresh_cluster_answer`, never the network."""

    def perform_request(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None = None,
        body: bytes | None = None,
        timeout: int | float | None = None,
        ignore: Collection[int] = (),
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        status, answer = fresh_cluster_answer(method, url.split("?", 1)[0])
        data = orjson.dumps(answer).decode()
        if not 200 <= status < 300 and status not in ignore:
            self._raise_error(status, data, "application/json")
        return status, {"content-type": "application/json"}, data

    def close(self) -> None:
        """Nothing to close: no socket was opened."""


def fresh_cluster_client() -> OpenSearch:
    """A client whose cluster is :func:`fresh_cluster_answer`."""
    return OpenSearch(
        hosts=[{"host": "fresh-cluster.invalid", "port": 9200}],
        connection_class=FreshClusterConnection,
        serializer=OrjsonSerializer(),
    )
