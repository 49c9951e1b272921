"""``kubetrail setup`` against a real osmem-server process.

osmem-server has no ISM plugin, so the plain runs exercise the retention fallback
path exactly as a cluster without ISM would. The ISM path (policy create / compare /
update with ``if_seq_no``, attaching to existing indices) runs against osmem too,
with only the ``_plugins/_ism`` routes and ``_cat/plugins`` answered by
:class:`FakeIsm`, which answers like OpenSearch's ISM plugin (server-side defaults
added to the stored policy, optimistic concurrency, ``ism_template`` auto-attach).
"""

from __future__ import annotations

import fnmatch
import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from opensearchpy import OpenSearch, Transport, helpers
from opensearchpy.exceptions import ConflictError, NotFoundError, RequestError

from kubetrail.store.opensearch.client import make_client
from kubetrail.store.opensearch.fresh import FRESH_VERSION, fresh_cluster_client
from kubetrail.store.opensearch.retention import (
    manage_indices,
    retention_fallback,
    retention_mode,
)
from kubetrail.store.opensearch.setup import (
    SetupError,
    SetupResult,
    cluster_info,
    parse_version,
    plugins_have_ism,
    setup,
)
from kubetrail.store.opensearch.templates import TemplateParams, render_all
from kubetrail.store.url import parse_store_url
from tests.support.osmem import running_osmem
from tests.support.servers import free_port

pytestmark = pytest.mark.e2e

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
_prefixes = itertools.count(1)


@pytest.fixture(scope="module")
def osmem_url() -> Iterator[str]:
    with running_osmem() as url:
        yield url


@pytest.fixture
def client(osmem_url: str) -> Iterator[OpenSearch]:
    c = OpenSearch(hosts=[osmem_url])
    yield c
    c.close()


@pytest.fixture
def params() -> TemplateParams:
    """A prefix of its own per test: tests share one server and never see each other."""
    return TemplateParams(prefix=f"t{next(_prefixes)}-events")


class Lines(list[str]):
    def __call__(self, line: str) -> None:
        assert "\n" not in line
        self.append(line)

    def matching(self, text: str) -> list[str]:
        return [line for line in self if text in line]


def run(client: OpenSearch, params: TemplateParams, **kwargs: Any) -> tuple[SetupResult, Lines]:
    lines = Lines()
    result = setup(client, params, report=lines, **kwargs)
    return result, lines


def component(client: OpenSearch, name: str) -> dict[str, Any]:
    answer = client.cluster.get_component_template(name=name)
    return answer["component_templates"][0]["component_template"]


def index_template(client: OpenSearch, name: str) -> dict[str, Any]:
    return client.indices.get_index_template(name=name)["index_templates"][0]["index_template"]


def doc(i: int, ts: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"uid-{i}:{i}:update",
        "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "timestampMicros": int(ts.timestamp() * 1_000_000),
        "verb": "update",
        "namespace": "shop",
        "resourceType": "pods",
        "resourceName": f"web-{i}",
        "message": f"Update pods web-{i}",
        "searchText": f"Update pods web-{i} CrashLoopBackOff",
        "objectChanges": {"metadata": {"name": f"web-{i}"}},
        **extra,
    }


def index_docs(client: OpenSearch, target: str, docs: list[dict[str, Any]]) -> None:
    actions = [{"_op_type": "create", "_index": target, "_id": d["id"], "_source": d} for d in docs]
    ok, errors = helpers.bulk(client, actions, refresh="wait_for")
    assert ok == len(docs) and not errors


# -- first run, second run, changes ----------------------------------------------


def test_first_setup_creates_everything(client: OpenSearch, params: TemplateParams) -> None:
    result, lines = run(client, params)
    p = params.prefix
    assert result.statuses == {
        "component-settings": "created",
        "component-mappings": "created",
        "index-template": "created",
        "ism-policy": "skipped",
        "bootstrap-index": "created",
        "audit-index": "created",
    }
    assert f"component template {p}-settings: created" in lines
    assert f"component template {p}-mappings: created" in lines
    assert f"index template {p}: created (retention: fallback)" in lines
    assert f"bootstrap index {p}-000001 + write alias {p}: created" in lines
    assert component(client, f"{p}-mappings")["template"]["mappings"]["properties"]["id"] == {
        "type": "keyword"
    }
    assert index_template(client, p)["composed_of"] == [f"{p}-settings", f"{p}-mappings"]
    assert client.indices.exists(index=f"{p}-000001")


def test_missing_ism_is_one_warning_and_recorded_as_fallback(
    client: OpenSearch, params: TemplateParams
) -> None:
    result, lines = run(client, params)
    warnings = lines.matching("ISM")
    assert lines.matching("warning:") == [
        "warning: no ISM plugin (opensearch-index-management) on this cluster: kubetrail rolls "
        "the write index over and deletes indices older than 14d itself, whenever the "
        "shipper's retention runs or `kubetrail prune` does"
    ]
    assert f"ISM policy {params.policy_id}: skipped (no ISM; built-in retention fallback)" in (
        warnings
    )
    assert result.retention == "fallback" and result.params.ism is False
    assert index_template(client, params.prefix)["_meta"]["retention"] == "fallback"
    assert retention_mode(client, params.prefix) == "fallback"
    settings = client.indices.get_settings(index=params.bootstrap_index)
    assert "plugins" not in settings[params.bootstrap_index]["settings"]["index"]


def test_retention_mode_is_none_before_setup(client: OpenSearch, params: TemplateParams) -> None:
    assert retention_mode(client, params.prefix) is None


def test_second_setup_changes_nothing(client: OpenSearch, params: TemplateParams) -> None:
    run(client, params)
    result, lines = run(client, params)
    assert set(result.statuses.values()) == {"unchanged", "skipped"}
    assert result.statuses["component-settings"] == "unchanged"
    assert result.statuses["component-mappings"] == "unchanged"
    assert result.statuses["index-template"] == "unchanged"
    assert result.statuses["bootstrap-index"] == "unchanged"
    assert result.writes == []
    assert not lines.matching(": created") and not lines.matching(": updated")


def test_changed_replicas_updates_the_settings_only(
    client: OpenSearch, params: TemplateParams
) -> None:
    run(client, params)
    changed = TemplateParams(prefix=params.prefix, replicas=0)
    result, lines = run(client, changed)
    assert result.statuses["component-settings"] == "updated"
    assert result.statuses["component-mappings"] == "unchanged"
    assert result.statuses["index-template"] == "unchanged"
    assert lines.matching(f"component template {params.prefix}-settings: updated")
    settings = component(client, f"{params.prefix}-settings")["template"]["settings"]
    assert settings["index"]["number_of_replicas"] == "0"
    _, lines = run(client, changed)
    assert lines.matching(f"component template {params.prefix}-settings: unchanged")


def test_changed_retention_updates_the_index_template(
    client: OpenSearch, params: TemplateParams
) -> None:
    run(client, params)
    result, _ = run(client, TemplateParams(prefix=params.prefix, retention="30d"))
    assert result.statuses["index-template"] == "updated"
    assert index_template(client, params.prefix)["_meta"]["retention_age"] == "30d"


# -- dry run -----------------------------------------------------------------------


def test_dry_run_sends_no_writes(client: OpenSearch, params: TemplateParams) -> None:
    p = params.prefix
    result, lines = run(client, params, dry_run=True)
    assert result.dry_run
    assert result.statuses["component-settings"] == "created"
    assert f"component template {p}-settings: would be created" in lines
    assert lines.matching(f"would send: PUT /_component_template/{p}-settings {{")
    assert lines.matching(f"would send: PUT /_index_template/{p} {{")
    assert lines.matching(f"would send: PUT /{p}-000001 ")
    assert [(m, path) for m, path, _ in result.writes] == [
        ("PUT", f"/_component_template/{p}-settings"),
        ("PUT", f"/_component_template/{p}-mappings"),
        ("PUT", f"/_index_template/{p}"),
        ("PUT", f"/{p}-000001"),
        ("PUT", f"/{p}-audit"),
    ]
    with pytest.raises(NotFoundError):
        client.cluster.get_component_template(name=f"{p}-settings")
    with pytest.raises(NotFoundError):
        client.indices.get_index_template(name=p)
    assert not client.indices.exists(index=f"{p}-000001")
    assert not client.indices.exists_alias(name=p)


def test_dry_run_of_a_change_leaves_the_cluster_as_it_was(
    client: OpenSearch, params: TemplateParams
) -> None:
    run(client, params)
    result, lines = run(client, TemplateParams(prefix=params.prefix, replicas=0), dry_run=True)
    assert lines.matching(f"component template {params.prefix}-settings: would be updated")
    assert result.statuses["component-mappings"] == "unchanged"
    settings = component(client, f"{params.prefix}-settings")["template"]["settings"]
    assert settings["index"]["number_of_replicas"] == "1"


# -- bootstrap index, alias, documents -------------------------------------------------


def test_bootstrap_index_has_the_write_alias(client: OpenSearch, params: TemplateParams) -> None:
    run(client, params)
    aliases = client.indices.get_alias(name=params.alias)
    assert aliases == {
        params.bootstrap_index: {"aliases": {params.alias: {"is_write_index": True}}}
    }
    mapping = client.indices.get_mapping(index=params.bootstrap_index)
    props = mapping[params.bootstrap_index]["mappings"]["properties"]
    assert props["timestampMicros"] == {"type": "long"}
    assert props["labels"] == {"type": "flat_object"}


def test_documents_written_through_the_alias_are_searchable(
    client: OpenSearch, params: TemplateParams
) -> None:
    run(client, params)
    base = NOW - timedelta(hours=1)
    docs = [doc(i, base + timedelta(seconds=i)) for i in range(5)]
    docs.append(
        doc(9, base, namespace="data", labels={"app": "db"}, signals=["pod.oom"], undeclared="x")
    )
    index_docs(client, params.alias, docs)

    def hits(query: dict[str, Any]) -> list[str]:
        body = {"query": query, "sort": [{"timestampMicros": "asc"}, {"id": "asc"}]}
        answer = client.search(index=params.alias, body=body)
        return [h["_id"] for h in answer["hits"]["hits"]]

    assert client.count(index=params.bootstrap_index)["count"] == 6
    assert hits({"term": {"namespace": "data"}}) == ["uid-9:9:update"]
    assert hits({"term": {"signals": "pod.oom"}}) == ["uid-9:9:update"]
    assert hits({"term": {"labels.app": "db"}}) == ["uid-9:9:update"]
    text = {"query": "web-3", "fields": ["searchText"], "default_operator": "and"}
    assert hits({"simple_query_string": text}) == ["uid-3:3:update"]
    after = docs[2]["timestampMicros"]
    assert hits({"range": {"timestampMicros": {"gt": after}}}) == [
        "uid-3:3:update",
        "uid-4:4:update",
    ]
    # dynamic: false — an undeclared field is kept in _source but not searchable
    assert hits({"term": {"undeclared": "x"}}) == []
    # objectChanges is stored, not indexed field by field
    assert hits({"term": {"objectChanges.metadata.name": "web-1"}}) == []
    source = client.get(index=params.alias, id="uid-9:9:update")["_source"]
    assert source["undeclared"] == "x"


def test_an_existing_alias_is_left_where_it_is(client: OpenSearch, params: TemplateParams) -> None:
    run(client, params)
    p = params.prefix
    # a rollover happened (done by hand: osmem has no _rollover) and 000001 was deleted
    roll_by_hand(client, p)
    client.indices.delete(index=f"{p}-000001")
    result, lines = run(client, params)
    assert result.statuses["bootstrap-index"] == "unchanged"
    assert lines.matching(f"(alias exists; writes go to {p}-000002)")
    assert not client.indices.exists(index=f"{p}-000001")
    assert list(client.indices.get_alias(name=p)) == [f"{p}-000002"]


def test_alias_goes_to_the_newest_existing_index(
    client: OpenSearch, params: TemplateParams
) -> None:
    p = params.prefix
    client.indices.create(index=f"{p}-000003")
    client.indices.create(index=f"{p}-000004")
    result, lines = run(client, params)
    assert result.statuses["bootstrap-index"] == "created"
    assert lines.matching(f"(alias added to the existing {p}-000004)")
    assert not client.indices.exists(index=f"{p}-000001")
    assert client.indices.get_alias(name=p) == {
        f"{p}-000004": {"aliases": {p: {"is_write_index": True}}}
    }


def test_an_index_where_the_alias_belongs_is_an_error(
    client: OpenSearch, params: TemplateParams
) -> None:
    client.index(index=params.alias, body={"id": "x"})  # written before setup: auto-created
    with pytest.raises(SetupError, match=f"an index named {params.alias} exists where the write"):
        run(client, params)


def test_a_nested_install_is_never_taken_for_ours(
    client: OpenSearch, params: TemplateParams
) -> None:
    """Prefixes p and p-0b on one cluster: p's pattern p-0* also matches p-0b-000001, yet
    p's setup neither puts its alias there nor does p's retention delete it; setting up
    p-0b says that it nests."""
    p = params.prefix
    nested = replace(params, prefix=f"{p}-0b")
    result, _ = run(client, nested)
    assert [w for w in result.warnings if "nests" in w] == [
        f"prefix {p}-0b nests in the prefix {p}: a kubetrail install with prefix {p} on this "
        f"cluster would read this one's events too (its indices {p}-0* include "
        f"{p}-0b-000001); choose a prefix without '-0'"
    ]
    index_docs(client, nested.alias, [doc(1, NOW - timedelta(days=30))])
    result, lines = run(client, params)
    assert not [w for w in result.warnings if "nests" in w]
    assert lines.matching(f"bootstrap index {p}-000001 + write alias {p}: created")
    assert list(client.indices.get_alias(name=p)) == [f"{p}-000001"]
    assert list(client.indices.get_alias(name=nested.alias)) == [f"{p}-0b-000001"]
    assert retention_fallback(client, params, NOW) == []
    assert client.indices.exists(index=f"{p}-0b-000001")


# -- the retention fallback ----------------------------------------------------------


def test_retention_fallback_deletes_old_indices_but_never_the_write_index(
    client: OpenSearch, params: TemplateParams
) -> None:
    p = params.prefix
    run(client, params)
    old, recent = NOW - timedelta(days=20), NOW - timedelta(days=2)
    index_docs(client, f"{p}-000001", [doc(1, old), doc(2, old + timedelta(days=1))])
    client.indices.create(index=f"{p}-000002")  # newest event recent: kept
    index_docs(client, f"{p}-000002", [doc(3, old), doc(4, recent)])
    client.indices.create(index=f"{p}-000003")  # empty: kept
    client.indices.create(index=f"{p}-000004")  # the write index, only old events: kept
    client.indices.update_aliases(
        body={
            "actions": [
                {"add": {"index": f"{p}-000001", "alias": p, "is_write_index": False}},
                {"add": {"index": f"{p}-000004", "alias": p, "is_write_index": True}},
            ]
        }
    )
    index_docs(client, p, [doc(5, old)])
    assert client.count(index=f"{p}-000004")["count"] == 1

    assert retention_fallback(client, params, NOW) == [f"{p}-000001"]
    remaining = sorted(client.indices.get(index=f"{p}-*"))
    # the audit records' index is not one of the rolled indices: never deleted whole
    assert remaining == [f"{p}-000002", f"{p}-000003", f"{p}-000004", f"{p}-audit"]
    assert retention_fallback(client, params, NOW) == []
    # a week later the recent index is old too; the write index still stays
    assert retention_fallback(client, params, NOW + timedelta(days=13)) == [f"{p}-000002"]
    assert client.indices.exists(index=f"{p}-000004")


def roll_by_hand(client: OpenSearch, p: str) -> None:
    """What a rollover leaves (osmem has no ``_rollover``): ``-000002`` is the write index."""
    client.indices.create(index=f"{p}-000002")
    client.indices.update_aliases(
        body={
            "actions": [
                {"add": {"index": f"{p}-000001", "alias": p, "is_write_index": False}},
                {"add": {"index": f"{p}-000002", "alias": p, "is_write_index": True}},
            ]
        }
    )


def test_retention_fallback_honours_the_retention(
    client: OpenSearch, params: TemplateParams
) -> None:
    p = params.prefix
    run(client, params)
    roll_by_hand(client, p)
    index_docs(client, f"{p}-000001", [doc(1, NOW - timedelta(days=10))])
    assert retention_fallback(client, params, NOW) == []  # 14 days
    week = TemplateParams(prefix=p, retention="7d")
    assert retention_fallback(client, week, NOW) == [f"{p}-000001"]


def test_retention_fallback_without_alias_keeps_the_newest(
    client: OpenSearch, params: TemplateParams
) -> None:
    p = params.prefix
    old = NOW - timedelta(days=30)
    for n in (1, 2):
        client.indices.create(index=f"{p}-00000{n}")
        index_docs(client, f"{p}-00000{n}", [doc(n, old)])
    assert retention_fallback(client, params, NOW) == [f"{p}-000001"]
    assert client.indices.exists(index=f"{p}-000002")


def test_retention_fallback_needs_an_aware_time(client: OpenSearch) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        retention_fallback(client, TemplateParams(), datetime(2026, 1, 1))


def test_a_refused_rollover_is_one_warning_and_expired_indices_still_go(
    client: OpenSearch, params: TemplateParams
) -> None:
    # osmem has no _rollover, as a role without indices:admin/rollover would refuse it
    p = params.prefix
    run(client, params)
    roll_by_hand(client, p)
    index_docs(client, f"{p}-000001", [doc(1, NOW - timedelta(days=20))])
    changes = manage_indices(client, prefix=p, days=14, now=NOW)
    assert changes.rolled_over == []
    assert changes.deleted == [f"{p}-000001"]
    [warning] = changes.warnings
    assert warning.startswith(f"could not roll {p} over (") and "\n" not in warning


# -- what the cluster is -----------------------------------------------------------


def test_cluster_detection() -> None:
    os3 = cluster_info(
        {"cluster_name": "c", "version": {"distribution": "opensearch", "number": "3.8.0"}}
    )
    assert (
        os3.is_opensearch
        and os3.has_flat_object
        and os3.describe() == "OpenSearch 3.8.0 (cluster c)"
    )
    os26 = cluster_info({"version": {"distribution": "opensearch", "number": "2.6.0"}})
    assert os26.is_opensearch and not os26.has_flat_object
    assert cluster_info(
        {"version": {"distribution": "opensearch", "number": "2.7.0"}}
    ).has_flat_object
    es = cluster_info({"version": {"number": "8.15.0", "build_flavor": "default"}})
    assert not es.is_opensearch and not es.has_flat_object
    assert es.describe() == "Elasticsearch 8.15.0"
    assert parse_version("2.11.1-SNAPSHOT") == (2, 11, 1)
    assert parse_version("x") == ()


def test_plugin_detection() -> None:
    ism = [{"name": "n1", "component": "opensearch-index-management", "version": "2.11.0"}]
    assert plugins_have_ism(ism) is True
    assert plugins_have_ism([{"name": "n1", "component": "opensearch-security"}]) is False
    assert plugins_have_ism([]) is False
    assert plugins_have_ism({"error": "x"}) is None


# -- the ISM path: osmem plus a fake ISM plugin ----------------------------------------


class FakeIsm:
    """OpenSearch's ISM plugin, in memory: the routes ``setup`` uses."""

    def __init__(self, root: dict[str, Any] | None = None, ism: bool = True) -> None:
        self.root = root
        self.ism = ism
        self.policies: dict[str, dict[str, Any]] = {}  # id -> GET answer
        self.managed: dict[str, str] = {}  # index -> policy id
        self.calls: list[tuple[str, str, dict[str, Any] | None]] = []
        self.bump_before_put = False  # someone else edits the policy between GET and PUT

    def client(self, url: str) -> OpenSearch:
        fake = self

        class FakeIsmTransport(Transport):
            def perform_request(  # type: ignore[override]
                self,
                method: str,
                url: str,
                params: Any = None,
                body: Any = None,
                timeout: Any = None,
                ignore: Any = (),
                headers: Any = None,
            ) -> Any:
                fake.calls.append((method, url, dict(params) if params else None))
                real = super().perform_request
                return fake.handle(method, url, params or {}, body, real)

        return OpenSearch(hosts=[url], transport_class=FakeIsmTransport)

    def handle(self, method: str, url: str, params: Any, body: Any, real: Any) -> Any:
        if url == "/" and self.root is not None:
            return self.root
        if url == "/_cat/plugins":
            comp = "opensearch-index-management" if self.ism else "opensearch-security"
            return [{"name": "node-1", "component": comp, "version": "3.8.0"}]
        if not url.startswith("/_plugins/_ism/"):
            answer = real(method, url, params=params, body=body)
            if method == "PUT" and not url.startswith("/_"):
                self._auto_manage(url.strip("/"))
            return answer
        if not self.ism:
            msg = f"no handler found for uri [{url}] and method [{method}]"
            raise RequestError(400, msg, {"error": msg})
        route, _, arg = url.removeprefix("/_plugins/_ism/").partition("/")
        if route == "policies" and method == "GET":
            if arg not in self.policies:
                raise NotFoundError(
                    404, "status_exception", {"error": {"reason": "Policy not found"}}
                )
            return self.policies[arg]
        if route == "policies" and method == "PUT":
            return self._put_policy(arg, params, body)
        if route == "explain" and method == "GET":
            rows = real("GET", f"/_cat/indices/{arg}", params={"format": "json", "h": "index"})
            out: dict[str, Any] = {}
            for row in rows:
                pid = self.managed.get(row["index"])
                out[row["index"]] = {
                    "index.plugins.index_state_management.policy_id": pid,
                    "index.opendistro.index_state_management.policy_id": pid,
                    "enabled": True if pid else None,
                }
            out["total_managed_indices"] = sum(1 for r in rows if r["index"] in self.managed)
            return out
        if route == "add" and method == "POST":
            failed, updated = [], 0
            for index in arg.split(","):
                if index in self.managed:
                    failed.append(
                        {"index_name": index, "reason": "This index already has a policy"}
                    )
                else:
                    self.managed[index] = body["policy_id"]
                    updated += 1
            return {"updated_indices": updated, "failures": bool(failed), "failed_indices": failed}
        raise AssertionError(f"unexpected ISM call {method} {url}")

    def _put_policy(self, pid: str, params: Any, body: dict[str, Any]) -> Any:
        current = self.policies.get(pid)
        if self.bump_before_put and current:
            current["_seq_no"] += 1
        if current is not None and (
            str(params.get("if_seq_no")) != str(current["_seq_no"])
            or str(params.get("if_primary_term")) != str(current["_primary_term"])
        ):
            raise ConflictError(409, "version_conflict_engine_exception", {"error": "conflict"})
        if current is None and "if_seq_no" in params:
            raise NotFoundError(404, "document_missing_exception", {})
        policy = body["policy"]
        stored = {
            "policy_id": pid,
            "description": policy["description"],
            "last_updated_time": 1795600000000,
            "schema_version": 21,
            "error_notification": None,
            "default_state": policy["default_state"],
            "states": [
                {
                    "name": s["name"],
                    "actions": [
                        {"retry": {"count": 3, "backoff": "exponential", "delay": "1m"}, **a}
                        for a in s["actions"]
                    ],
                    "transitions": s["transitions"],
                }
                for s in policy["states"]
            ],
            "ism_template": [dict(policy["ism_template"], last_updated_time=1795600000000)],
        }
        seq = current["_seq_no"] + 1 if current else 0
        self.policies[pid] = {
            "_id": pid,
            "_version": seq + 1,
            "_seq_no": seq,
            "_primary_term": 1,
            "policy": stored,
        }
        return {k: v for k, v in self.policies[pid].items()}

    def _auto_manage(self, index: str) -> None:
        for pid, answer in self.policies.items():
            for tpl in answer["policy"]["ism_template"]:
                if any(fnmatch.fnmatch(index, pat) for pat in tpl["index_patterns"]):
                    self.managed.setdefault(index, pid)


def test_with_ism_the_policy_is_created_then_unchanged(
    osmem_url: str, client: OpenSearch, params: TemplateParams
) -> None:
    fake = FakeIsm()
    ism_client = fake.client(osmem_url)
    result, lines = run(ism_client, params)
    assert result.retention == "ism" and result.warnings == []
    assert result.statuses["ism-policy"] == "created"
    assert f"ISM policy {params.policy_id}: created" in lines
    assert fake.policies[params.policy_id]["policy"]["default_state"] == "hot"
    assert index_template(client, params.prefix)["_meta"]["retention"] == "ism"
    settings = client.indices.get_settings(index=params.bootstrap_index)[params.bootstrap_index]
    ism_settings = settings["settings"]["index"]["plugins"]["index_state_management"]
    assert ism_settings["rollover_alias"] == params.alias
    # the new bootstrap index is managed through ism_template, not attached by hand
    assert fake.managed == {params.bootstrap_index: params.policy_id}
    assert result.attached == []
    assert result.statuses["ism-attach"] == "unchanged"

    result, lines = run(ism_client, params)
    assert set(result.statuses.values()) == {"unchanged"}, lines
    assert result.writes == []


def test_with_ism_a_changed_policy_is_updated_with_its_seq_no(
    osmem_url: str, params: TemplateParams
) -> None:
    fake = FakeIsm()
    ism_client = fake.client(osmem_url)
    run(ism_client, params)
    changed = TemplateParams(prefix=params.prefix, rollover_age="6h")
    result, lines = run(ism_client, changed)
    assert result.statuses["ism-policy"] == "updated"
    assert lines.matching(f"ISM policy {params.policy_id}: updated")
    puts = [c for c in fake.calls if c[0] == "PUT" and c[1].startswith("/_plugins/_ism/policies/")]
    assert puts[-1][2] == {"if_seq_no": "0", "if_primary_term": "1"}
    hot = fake.policies[params.policy_id]["policy"]["states"][0]
    assert hot["actions"][0]["rollover"]["min_index_age"] == "6h"
    assert run(ism_client, changed)[0].statuses["ism-policy"] == "unchanged"


def test_with_ism_a_concurrent_policy_edit_is_reported(
    osmem_url: str, params: TemplateParams
) -> None:
    fake = FakeIsm()
    ism_client = fake.client(osmem_url)
    run(ism_client, params)
    fake.bump_before_put = True
    with pytest.raises(SetupError, match="was changed by someone else while setup ran"):
        run(ism_client, TemplateParams(prefix=params.prefix, rollover_size="10gb"))


def test_with_ism_existing_indices_get_the_policy(
    osmem_url: str, client: OpenSearch, params: TemplateParams
) -> None:
    p = params.prefix
    client.indices.create(index=f"{p}-000001")
    client.indices.create(index=f"{p}-000002")
    fake = FakeIsm()
    fake.managed[f"{p}-000001"] = "someone-elses-policy"
    result, lines = run(fake.client(osmem_url), params)
    assert result.attached == [f"{p}-000002"]
    assert fake.managed == {f"{p}-000001": "someone-elses-policy", f"{p}-000002": params.policy_id}
    line = lines.matching(f"ISM policy on existing {p}-0* indices: updated")
    assert line and f"attached to {p}-000002" in line[0]
    assert "left alone: " + f"{p}-000001=someone-elses-policy" in line[0]


def test_ism_routes_without_handler_mean_no_ism(osmem_url: str, params: TemplateParams) -> None:
    # _cat/plugins claims ISM, but the routes answer "no handler found": trust the routes
    fake = FakeIsm(ism=True)
    ism_client = fake.client(osmem_url)
    original = fake.handle

    def no_ism_routes(method: str, url: str, params_: Any, body: Any, real: Any) -> Any:
        if url.startswith("/_plugins/_ism/"):
            return real(method, url, params=params_, body=body)  # osmem: 400 no handler
        return original(method, url, params_, body, real)

    fake.handle = no_ism_routes  # type: ignore[method-assign]
    result, lines = run(ism_client, params)
    assert result.retention == "fallback"
    assert len(lines.matching("warning: no ISM plugin")) == 1


def test_elasticsearch_is_said_and_falls_back(
    osmem_url: str, client: OpenSearch, params: TemplateParams
) -> None:
    es_root = {"cluster_name": "es", "version": {"number": "8.15.0", "build_flavor": "default"}}
    fake = FakeIsm(root=es_root)
    result, lines = run(fake.client(osmem_url), params)
    assert lines.matching("warning:") == [
        "warning: this is Elasticsearch 8.15.0 (cluster es), not OpenSearch: no ISM and no "
        "flat_object; using the built-in retention fallback, labels and annotations are not "
        "searchable"
    ]
    assert result.retention == "fallback"
    assert not [c for c in fake.calls if c[1].startswith("/_plugins/")]
    props = component(client, f"{params.prefix}-mappings")["template"]["mappings"]["properties"]
    assert props["labels"] == {"enabled": False, "type": "object"}


def test_old_opensearch_maps_labels_without_flat_object(
    osmem_url: str, client: OpenSearch, params: TemplateParams
) -> None:
    root = {"version": {"distribution": "opensearch", "number": "2.5.0"}}
    fake = FakeIsm(root=root, ism=False)
    result, lines = run(fake.client(osmem_url), params)
    assert lines.matching("warning: OpenSearch 2.5.0 has no flat_object (needs 2.7)")
    assert len(lines.matching("warning:")) == 2  # and no ISM
    assert result.params.flat_object is False
    props = component(client, f"{params.prefix}-mappings")["template"]["mappings"]["properties"]
    assert props["annotations"] == {"enabled": False, "type": "object"}
    assert props["namespace"] == {"type": "keyword"}


# -- the command line -------------------------------------------------------------------


def kubetrail(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("KUBETRAIL_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "kubetrail", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=full_env,
    )


def store_url(osmem_url: str) -> str:
    return "opensearch+" + osmem_url


def test_cli_setup_default_names_then_unchanged(osmem_url: str) -> None:
    first = kubetrail("setup", "--store", store_url(osmem_url))
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""  # no client log noise (404s are expected on a first run)
    out = first.stdout.splitlines()
    assert "component template kubetrail-events-settings: created" in out
    assert "component template kubetrail-events-mappings: created" in out
    assert "index template kubetrail-events: created (retention: fallback)" in out
    assert "bootstrap index kubetrail-events-000001 + write alias kubetrail-events: created" in out
    assert sum("warning: no ISM plugin" in line for line in out) == 1
    second = kubetrail("setup", "--store", store_url(osmem_url))
    assert second.returncode == 0, second.stderr
    assert "component template kubetrail-events-settings: unchanged" in second.stdout.splitlines()
    assert ": created" not in second.stdout


def test_cli_options_reach_the_templates(osmem_url: str, client: OpenSearch) -> None:
    prefix = f"cli{next(_prefixes)}"
    proc = kubetrail(
        "setup",
        "--store",
        store_url(osmem_url).replace("http://", "http://admin:s3cret@"),
        "--prefix",
        prefix,
        "--replicas",
        "0",
        "--shards",
        "2",
        "--rollover-age",
        "12h",
        env={"KUBETRAIL_RETENTION_DAYS": "9"},
    )
    assert proc.returncode == 0, proc.stderr
    assert f"ISM policy {prefix}-9d: skipped (no ISM; built-in retention fallback)" in proc.stdout
    assert "s3cret" not in proc.stdout + proc.stderr
    settings = component(client, f"{prefix}-settings")["template"]["settings"]["index"]
    assert (settings["number_of_replicas"], settings["number_of_shards"]) == ("0", "2")
    meta = index_template(client, prefix)["_meta"]
    assert (meta["retention_age"], meta["rollover_age"]) == ("9d", "12h")


def test_cli_retention_and_rollover_as_durations(osmem_url: str, client: OpenSearch) -> None:
    prefix = f"cli{next(_prefixes)}"
    proc = kubetrail(
        "setup", "--store", store_url(osmem_url), "--retention", "3m",
        "--rollover-age", "1m", "--rollover-docs", "500",
        env={"KUBETRAIL_OPENSEARCH_PREFIX": prefix},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"ISM policy {prefix}-3m: skipped" in proc.stdout  # the prefix from the environment
    meta = index_template(client, prefix)["_meta"]
    assert (meta["retention_age"], meta["rollover_age"], meta["rollover_docs"]) == ("3m", "1m", 500)
    both = kubetrail(
        "setup", "--store", store_url(osmem_url), "--retention", "3m", "--retention-days", "2"
    )
    assert both.returncode == 2
    assert "not allowed with argument" in both.stderr


def test_cli_dry_run_writes_nothing(osmem_url: str, client: OpenSearch) -> None:
    prefix = f"cli{next(_prefixes)}"
    proc = kubetrail("setup", "--store", store_url(osmem_url), "--prefix", prefix, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert f"would send: PUT /_component_template/{prefix}-settings" in proc.stdout
    assert not client.indices.exists(index=f"{prefix}-000001")


def test_cli_unreachable_cluster_is_one_line_exit_2() -> None:
    port = free_port()
    proc = kubetrail("setup", "--store", f"opensearch+http://admin:hunter2@127.0.0.1:{port}")
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(
        f"kubetrail: error: cannot reach OpenSearch at opensearch+http://admin:***@127.0.0.1:{port}: "
    )
    assert "hunter2" not in proc.stderr + proc.stdout


def test_cli_dry_run_without_a_reachable_cluster_plans_for_a_fresh_one() -> None:
    port = free_port()
    proc = kubetrail(
        "setup", "--store", f"opensearch+http://admin:hunter2@127.0.0.1:{port}",
        "--dry-run", "--prefix", "kt-plan", "--retention", "3d",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == [
        f"kubetrail: warning: cannot reach OpenSearch at opensearch+http://admin:***@127.0.0.1:"
        f"{port}: Connection refused; showing what setup would send to a fresh OpenSearch "
        f"{FRESH_VERSION} cluster with the ISM plugin"
    ]
    out = proc.stdout.splitlines()
    assert out[0] == f"cluster: OpenSearch {FRESH_VERSION} (dry run: nothing is written)"
    sent = [line.split()[2:4] for line in out if line.startswith("  would send: ")]
    assert {method for method, _ in sent} == {"PUT"}  # only creations: nothing exists yet
    planned = [path for _, path in sent]
    expected = [
        "/_component_template/kt-plan-settings",
        "/_component_template/kt-plan-mappings",
        "/_index_template/kt-plan",
        "/_plugins/_ism/policies/kt-plan-3d",
        "/kt-plan-000001",
    ]
    assert [path for path in planned if path in expected] == expected
    assert "hunter2" not in proc.stdout + proc.stderr


def test_the_fresh_cluster_plan_is_every_rendered_object_created() -> None:
    params = TemplateParams(prefix="kt-plan", retention="3d")
    client = fresh_cluster_client()
    try:
        result, _ = run(client, params, dry_run=True)
    finally:
        client.close()
    rendered = render_all(params)
    assert result.retention == "ism" and result.params.flat_object
    assert {method for method, _, _ in result.writes} == {"PUT"}
    planned = {path: body for _, path, body in result.writes}
    for path, body in (
        ("/_component_template/kt-plan-settings", rendered["component-settings"]),
        ("/_component_template/kt-plan-mappings", rendered["component-mappings"]),
        ("/_index_template/kt-plan", rendered.index_template),
        ("/_plugins/_ism/policies/kt-plan-3d", rendered.ism_policy),
        ("/kt-plan-000001", rendered.bootstrap),
    ):
        assert planned[path] == body, path
    assert set(result.statuses.values()) <= {"created", "unchanged"}
    assert not result.warnings


def test_cli_sqlite_store_is_refused() -> None:
    proc = kubetrail("setup", "--store", "sqlite:///./x.db")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "kubetrail: error: setup is for OpenSearch stores; the embedded store needs none"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shards", "0"], "shards 0 must be a whole number from 1 to 1024"),
        (["--prefix", "Bad"], "prefix 'Bad' is not a valid index name prefix"),
        (["--insecure"], "--insecure needs an opensearch+https:// store URL"),
        (["--retention", "2 weeks"], "retention '2 weeks' must be a positive time like 14d"),
        (["--retention", "0m"], "retention '0m' must be a positive time"),
        (["--rollover-docs", "0"], "rollover documents 0 must be a positive whole number"),
    ],
)
def test_cli_bad_options_are_one_line(args: list[str], message: str) -> None:
    proc = kubetrail("setup", "--store", "opensearch+http://127.0.0.1:9", *args)
    assert proc.returncode == 2
    assert len(proc.stderr.splitlines()) == 1
    assert message in proc.stderr


# -- the client ---------------------------------------------------------------------


def test_make_client_auth_and_tls(tmp_path: Any) -> None:
    url = parse_store_url("opensearch+https://u:p%40ss@os.example:9201")
    client = make_client(url, insecure=True)
    conn = client.transport.connection_pool.connections[0]
    assert conn.host == "https://os.example:9201"
    assert conn.headers["authorization"].startswith("Basic ")
    keyed = make_client(parse_store_url("opensearch+https://os.example"), api_key="abc")
    conn = keyed.transport.connection_pool.connections[0]
    assert conn.headers["authorization"] == "ApiKey abc"
    assert conn.host == "https://os.example:9200"
    with pytest.raises(ValueError, match="not both"):
        make_client(url, api_key="abc")
    with pytest.raises(ValueError, match="is not a file"):
        make_client(parse_store_url("opensearch+https://h"), ca_cert=tmp_path / "missing.pem")
    with pytest.raises(ValueError, match="--ca-cert needs an opensearch\\+https"):
        make_client(parse_store_url("opensearch+http://h"), ca_cert=tmp_path / "ca.pem")
