"""On a real OpenSearch with the ISM plugin: setup applies the ISM policy, a forced
rollover moves the write alias, and ``_plugins/_ism/explain`` shows the policy
attached to both indices.

The node ``scripts/opensearch-node`` starts has no ISM plugin: Maven Central
publishes ``opensearch-index-management`` for no version, so this skips there and
runs where ``OPENSEARCH_URL`` names a cluster that has it (any OpenSearch 2.x
distribution bundle). Without ISM, kubetrail rolls over and deletes indices itself:
``test_opensearch_real_rollover.py`` watches that on the real node."""

from __future__ import annotations

import pytest
from opensearchpy import OpenSearch

from kubetrail.store.opensearch.retention import retention_mode
from kubetrail.store.opensearch.setup import setup
from kubetrail.store.opensearch.templates import TemplateParams
from tests.support.opensearch_servers import delete_indices

NO_ISM = (
    "the OpenSearch node at {url} has no ISM plugin (opensearch-index-management is not "
    "published on Maven Central, so scripts/opensearch-node cannot install it); set "
    "OPENSEARCH_URL to a disposable OpenSearch 2.x with ISM (a distribution bundle) to run this"
)


def _has_ism(client: OpenSearch) -> bool:
    rows = client.cat.plugins(format="json")
    return any(r.get("component") == "opensearch-index-management" for r in rows)


def test_ism_policy_attached_and_rollover_moves_the_write_alias(real_opensearch: str) -> None:
    client = OpenSearch(hosts=[real_opensearch], timeout=60)
    if not _has_ism(client):
        client.close()
        pytest.skip(NO_ISM.format(url=real_opensearch))
    params = TemplateParams(prefix="ismcheck-events", replicas=0, retention="14d")
    lines: list[str] = []
    try:
        setup(client, params, report=lines.append)
        assert retention_mode(client, params.prefix) == "ism", lines
        policy = client.transport.perform_request(
            "GET", f"/_plugins/_ism/policies/{params.policy_id}"
        )
        states = {s["name"] for s in policy["policy"]["states"]}
        assert {"hot", "delete"} <= states

        client.index(
            index=params.alias, body={"timestamp": "2026-11-25T03:00:00Z", "id": "x"}, refresh=True
        )
        rolled = client.indices.rollover(alias=params.alias)
        assert rolled["rolled_over"] is True
        new_index = rolled["new_index"]
        aliases = client.indices.get_alias(name=params.alias)
        assert aliases[new_index]["aliases"][params.alias]["is_write_index"] is True
        assert (
            aliases[params.bootstrap_index]["aliases"][params.alias].get("is_write_index") is False
        )

        explain = client.transport.perform_request(
            "GET", f"/_plugins/_ism/explain/{params.prefix}-*"
        )
        for index in (params.bootstrap_index, new_index):
            assert (
                explain[index]["index.plugins.index_state_management.policy_id"] == params.policy_id
            )
    finally:
        delete_indices(client, f"{params.prefix}-*")
        client.close()
