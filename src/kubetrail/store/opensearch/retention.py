"""Retention on OpenSearch: whole indices, when ISM does not delete them.

``kubetrail setup`` records in the index template's ``_meta.retention`` who
deletes expired indices: ``"ism"`` (the cluster's ISM policy does) or
``"fallback"`` (no ISM plugin, or Elasticsearch). In fallback mode kubetrail
deletes them itself — :func:`drop_expired_indices`, which the store offers as
:class:`~kubetrail.store.base.IndexRetention` — before the store deletes the
few expired events left in the remaining indices by query.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError

from kubetrail.store.opensearch import DEFAULT_PREFIX
from kubetrail.store.opensearch.setup import first_template, index_order
from kubetrail.store.opensearch.templates import TemplateParams


def retention_mode(client: OpenSearch, prefix: str = DEFAULT_PREFIX) -> str | None:
    """``"ism"`` or ``"fallback"`` as recorded by setup in the index template's ``_meta``;
    ``None`` when setup has not run."""
    try:
        answer = client.transport.perform_request("GET", f"/_index_template/{prefix}")
    except NotFoundError:
        return None
    tpl = first_template(answer, "index_templates", "index_template") or {}
    mode = (tpl.get("_meta") or {}).get("retention")
    return mode if mode in ("ism", "fallback") else None


def write_index(client: OpenSearch, alias: str) -> str | None:
    """The index the alias writes to, ``None`` when there is no alias."""
    try:
        holders = client.transport.perform_request("GET", f"/_alias/{alias}")
    except NotFoundError:
        return None
    if not isinstance(holders, dict) or not holders:
        return None
    for index, entry in holders.items():
        if ((entry.get("aliases") or {}).get(alias) or {}).get("is_write_index") is True:
            return index
    return next(iter(holders)) if len(holders) == 1 else None


def retention_fallback(client: OpenSearch, params: TemplateParams, now: datetime) -> list[str]:
    """Delete whole ``<prefix>-*`` indices whose newest ``timestamp`` is older than the
    retention. Never the write index (nor, when there is no write alias, the newest
    index); empty indices are kept. Returns the deleted names."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    cutoff_ms = (now - timedelta(days=params.retention_days)).timestamp() * 1000
    rows = client.transport.perform_request(
        "GET", f"/_cat/indices/{params.index_pattern}", params={"format": "json", "h": "index"}
    )
    names = sorted(
        (r["index"] for r in rows or [] if isinstance(r, dict) and r.get("index")),
        key=index_order,
    )
    if not names:
        return []
    keep = write_index(client, params.alias) or names[-1]
    deleted: list[str] = []
    for name in names:
        if name == keep:
            continue
        answer = client.search(
            index=name, body={"size": 0, "aggs": {"newest": {"max": {"field": "timestamp"}}}}
        )
        newest = ((answer.get("aggregations") or {}).get("newest") or {}).get("value")
        if newest is None or newest >= cutoff_ms:
            continue
        client.indices.delete(index=name)
        deleted.append(name)
    return deleted


def drop_expired_indices(client: OpenSearch, *, prefix: str, days: int, now: datetime) -> list[str]:
    """In fallback mode, :func:`retention_fallback`; with ISM (or before setup), nothing."""
    if retention_mode(client, prefix) != "fallback":
        return []
    return retention_fallback(client, TemplateParams(prefix=prefix, retention_days=days), now)
