"""On a real OpenSearch (``OPENSEARCH_URL`` or Docker): setup applies the ISM policy,
a forced rollover moves the write alias, and ``_plugins/_ism/explain`` shows the
policy attached to both indices. osmem-server has no ISM, so this only runs there."""

from __future__ import annotations

from opensearchpy import OpenSearch

from kubetrail.store.opensearch.retention import retention_mode
from kubetrail.store.opensearch.setup import setup
from kubetrail.store.opensearch.templates import TemplateParams


def test_ism_policy_attached_and_rollover_moves_the_write_alias(real_opensearch: str) -> None:
    client = OpenSearch(hosts=[real_opensearch], timeout=60)
    params = TemplateParams(prefix="ismcheck-events", replicas=0, retention_days=14)
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
        client.indices.delete(index=f"{params.prefix}-*", ignore_unavailable=True)
        client.close()
