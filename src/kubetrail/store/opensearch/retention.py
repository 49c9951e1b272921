"""Retention on OpenSearch: whole indices, when ISM does not delete them.

``kubetrail setup`` records in the index template's ``_meta.retention`` who
deletes expired indices: ``"ism"`` (the cluster's ISM policy does) or
``"fallback"`` (no ISM plugin, or Elasticsearch). In fallback mode kubetrail does
ISM's job itself — :func:`manage_indices`, which the store offers as
:class:`~kubetrail.store.base.IndexRetention`: it rolls the write index over at the
conditions setup recorded and deletes whole expired indices, before the store
deletes the few expired events left in the remaining indices by query.
"""

from __future__ import annotations

from datetime import datetime

from opensearchpy import OpenSearch
from opensearchpy.exceptions import (
    ConnectionError,
    ConnectionTimeout,
    NotFoundError,
    TransportError,
)

from kubetrail.store.base import IndexChanges
from kubetrail.store.opensearch import DEFAULT_PREFIX, is_own_index
from kubetrail.store.opensearch.errors import reason
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


def write_index(client: OpenSearch, alias: str, index: str | None = None) -> str | None:
    """The index the alias writes to, ``None`` when there is no alias. ``index``: where to
    look (a pattern such as ``<prefix>-*``), so that a user with permissions on those
    indices only may ask; default every index."""
    path = f"/{index}/_alias/{alias}" if index else f"/_alias/{alias}"
    try:
        holders = client.transport.perform_request("GET", path)
    except NotFoundError:
        return None
    if not isinstance(holders, dict) or not holders:
        return None
    for index, entry in holders.items():
        if ((entry.get("aliases") or {}).get(alias) or {}).get("is_write_index") is True:
            return index
    return next(iter(holders)) if len(holders) == 1 else None


def retention_fallback(client: OpenSearch, params: TemplateParams, now: datetime) -> list[str]:
    """Delete whole ``<prefix>-<digits>`` indices whose newest ``timestamp`` is older than
    ``params.retention``. Never the write index (nor, when there is no write alias, the newest
    index); empty indices are kept. Returns the deleted names."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    cutoff_ms = (now - params.retention_age).timestamp() * 1000
    rows = client.transport.perform_request(
        "GET", f"/_cat/indices/{params.index_pattern}", params={"format": "json", "h": "index"}
    )
    names = sorted(
        (
            r["index"]
            for r in rows or []
            if isinstance(r, dict) and is_own_index(params.prefix, str(r.get("index") or ""))
        ),
        key=index_order,
    )
    if not names:
        return []
    keep = write_index(client, params.alias, params.index_pattern) or names[-1]
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


def fallback_lifecycle(client: OpenSearch, prefix: str, days: int) -> TemplateParams | None:
    """The rollover conditions and retention setup recorded in the index template's
    ``_meta`` when kubetrail manages the indices itself (``retention: fallback``);
    ``None`` with ISM or before setup. A template from an older setup that recorded
    only ``retention_days`` keeps that; one that recorded neither keeps ``days``."""
    try:
        answer = client.transport.perform_request("GET", f"/_index_template/{prefix}")
    except NotFoundError:
        return None
    meta = (first_template(answer, "index_templates", "index_template") or {}).get("_meta") or {}
    if meta.get("retention") != "fallback":
        return None
    retention = meta.get("retention_age") or f"{meta.get('retention_days') or days}d"
    defaults = TemplateParams(prefix=prefix)
    return TemplateParams(
        prefix=prefix,
        retention=str(retention),
        rollover_age=str(meta.get("rollover_age") or defaults.rollover_age),
        rollover_size=str(meta.get("rollover_size") or defaults.rollover_size),
        rollover_docs=meta.get("rollover_docs") or None,
    )


def roll_over(client: OpenSearch, params: TemplateParams) -> str | None:
    """``POST <alias>/_rollover`` with the recorded conditions (what ISM's rollover
    action does); the new write index when OpenSearch rolled over, else ``None``."""
    conditions: dict[str, object] = {
        "max_age": params.rollover_age,
        "max_size": params.rollover_size,
    }
    if params.rollover_docs:
        conditions["max_docs"] = params.rollover_docs
    answer = client.indices.rollover(alias=params.alias, body={"conditions": conditions})
    if not answer.get("rolled_over"):
        return None
    # writers look up replayed ids in rolled indices by search: make the last writes
    # to the old index visible now rather than at its next refresh
    client.indices.refresh(index=answer["old_index"])
    return str(answer["new_index"])


def manage_indices(client: OpenSearch, *, prefix: str, days: int, now: datetime) -> IndexChanges:
    """In fallback mode, ISM's job: roll the write index over when a recorded condition
    is met, then :func:`retention_fallback` with the recorded retention. With ISM (or
    before setup), nothing: OpenSearch does it."""
    params = fallback_lifecycle(client, prefix, days)
    if params is None:
        return IndexChanges()
    warnings: list[str] = []
    try:
        rolled = roll_over(client, params)
    except (ConnectionError, ConnectionTimeout):
        raise
    except TransportError as exc:  # e.g. a role without rollover: still delete what expired
        rolled = None
        warnings.append(
            f"could not roll {params.alias} over ({reason(exc)}); "
            "the write index keeps growing until it can"
        )
    deleted = retention_fallback(client, params, now)
    return IndexChanges(rolled_over=[rolled] if rolled else [], deleted=deleted, warnings=warnings)
