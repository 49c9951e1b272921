"""The ClusterRole grants what the shipper calls, read-only; the no-secrets variant grants
everything built in but Secrets.

The shipper is run against the fake API server (tests/k8s) with the rendered resources.yaml;
every request it makes is then checked against the rendered rules with the RBAC authorizer's
matching (verbs, API groups, resources, non-resource URLs with a trailing ``*``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetrail.events.redact import RedactionPolicy
from kubetrail.shipper.config import parse_config
from kubetrail.shipper.discovery import BUILTIN_GROUPS
from kubetrail.shipper.kube import Kube, load_client
from kubetrail.shipper.service import Shipper
from kubetrail.store.sqlite import SQLiteStore
from tests.support.fake_apiserver import FakeApiServer, RequestRecord
from tests.support.manifests import VARIANTS, containers, find, one, render

READ_VERBS = {"get", "list", "watch"}

#: core/v1 resources a cluster serves that can be listed and watched (Kubernetes 1.30)
CORE_RESOURCES = {
    "componentstatuses",
    "configmaps",
    "endpoints",
    "events",
    "limitranges",
    "namespaces",
    "nodes",
    "persistentvolumeclaims",
    "persistentvolumes",
    "pods",
    "podtemplates",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "serviceaccounts",
    "services",
}


@dataclasses.dataclass(frozen=True)
class Access:
    """What one HTTP request needs: a resource verb, or a non-resource URL."""

    verb: str
    group: str | None = None  # None: a non-resource URL
    resource: str = ""
    path: str = ""


def access(request: RequestRecord) -> Access:
    parts = request.path.strip("/").split("/")
    if parts[0] == "api" and len(parts) > 2:
        group, rest = "", parts[2:]
    elif parts[0] == "apis" and len(parts) > 3:
        group, rest = parts[1], parts[3:]
    else:
        return Access(verb=request.method.lower(), path=request.path)
    if rest[0] == "namespaces" and len(rest) >= 3:
        rest = rest[2:]
    resource = rest[0] + (f"/{rest[2]}" if len(rest) > 2 else "")
    if request.method != "GET":
        verb = request.method.lower()
    elif len(rest) > 1:
        verb = "get"
    elif request.query.get("watch") in ("1", "true"):
        verb = "watch"
    else:
        verb = "list"
    return Access(verb=verb, group=group, resource=resource)


def allows(rules: list[dict[str, Any]], need: Access) -> bool:
    for rule in rules:
        verbs = rule.get("verbs") or []
        if need.verb not in verbs and "*" not in verbs:
            continue
        if need.group is None:
            for url in rule.get("nonResourceURLs") or []:
                if url == need.path or (url.endswith("*") and need.path.startswith(url[:-1])):
                    return True
            continue
        groups = rule.get("apiGroups") or []
        resources = rule.get("resources") or []
        if (need.group in groups or "*" in groups) and (
            need.resource in resources or "*" in resources
        ):
            return True
    return False


def cluster_role(variant: str) -> list[dict[str, Any]]:
    return one(render(variant), "ClusterRole", "kubetrail")["rules"]


def shipper_config(variant: str):
    docs = render(variant)
    (cm,) = find(docs, "ConfigMap")
    return parse_config(yaml.safe_load(cm["data"]["resources.yaml"]))


def run_shipper(variant: str, tmp_path: Path) -> list[RequestRecord]:
    """Every request the shipper makes from start to first sync to stop, on a cluster with
    the usual built-in resources, a Secret, and one CRD-served resource."""
    config = dataclasses.replace(shipper_config(variant), spool_dir=str(tmp_path / "spool"))
    with FakeApiServer(bookmark_interval=0.2) as server:
        server.add_resource("example.com", "v1", "Widget", "widgets")
        server.apply(
            "ADDED",
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "db", "namespace": "shop"},
                "data": {"password": "aHVudGVyMg=="},
            },
            plural="secrets",
        )
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        store = SQLiteStore(tmp_path / "kubetrail.db")
        shipper = Shipper(
            kube=Kube(load_client(kubeconfig=str(kubeconfig))),
            store=store,
            config=config,
            policy=RedactionPolicy(),
        )
        try:
            shipper.start()
            assert shipper.wait_synced(20), "the shipper did not finish its first lists"
        finally:
            shipper.stop()
            store.close()
        return list(server.requests)


@pytest.mark.parametrize("variant", VARIANTS)
def test_cluster_role_is_read_only(variant: str) -> None:
    for rule in cluster_role(variant):
        assert set(rule["verbs"]) <= READ_VERBS, rule
        if "nonResourceURLs" in rule:
            assert rule["verbs"] == ["get"]


def test_full_role_reads_every_resource_and_crd() -> None:
    rules = cluster_role("embedded")
    for group in [*BUILTIN_GROUPS, "example.com", "monitoring.coreos.com"]:
        for verb in READ_VERBS:
            assert allows(rules, Access(verb, group, "anything")), (group, verb)


@pytest.mark.parametrize("variant", ["embedded", "opensearch"])
def test_role_grants_every_request_the_shipper_makes(variant: str, tmp_path: Path) -> None:
    requests = run_shipper(variant, tmp_path)
    needs = {access(r) for r in requests}
    assert any(n.resource == "widgets" and n.verb == "watch" for n in needs), "CRD not watched"
    assert any(n.resource == "secrets" and n.verb == "watch" for n in needs)
    assert any(n.group is None for n in needs), "discovery requests expected"
    denied = sorted(str(n) for n in needs if not allows(cluster_role(variant), n))
    assert not denied, "\n".join(denied)


def test_no_secrets_role_denies_secrets_and_grants_every_builtin_group() -> None:
    rules = cluster_role("embedded+no-secrets")
    for verb in READ_VERBS:
        assert not allows(rules, Access(verb, "", "secrets"))
        for resource in CORE_RESOURCES - {"secrets"}:
            assert allows(rules, Access(verb, "", resource)), (resource, verb)
    granted_groups = {g for rule in rules for g in rule.get("apiGroups") or []}
    assert "*" not in granted_groups, "a wildcard group would include the core group's Secrets"
    assert granted_groups == set(BUILTIN_GROUPS), (
        "every API group the shipper treats as built-in, no more, no less"
    )
    for group in BUILTIN_GROUPS - {""}:
        assert allows(rules, Access("watch", group, "anything")), group


def test_no_secrets_shipper_never_asks_for_secrets(tmp_path: Path) -> None:
    variant = "embedded+no-secrets"
    assert "secrets" in shipper_config(variant).exclude
    requests = run_shipper(variant, tmp_path)
    needs = {access(r) for r in requests}
    assert not [n for n in needs if n.resource == "secrets"]
    rules = cluster_role(variant)
    denied = {n for n in needs if not allows(rules, n)}
    # only the custom resource's group is outside the explicit list (documented: add yours)
    assert {n.group for n in denied} <= {"example.com"}, denied


@pytest.mark.parametrize("variant", VARIANTS)
def test_only_the_shipper_has_a_token_and_the_bound_account(variant: str) -> None:
    docs = render(variant)
    bound = {s["name"] for b in find(docs, "ClusterRoleBinding") for s in b["subjects"]}
    assert bound == {"kubetrail"}
    for c in containers(docs):
        if not c.is_kubetrail:
            assert c.pod.get("automountServiceAccountToken") is False, c.where
            continue
        ships = c.args[:1] == ["ship"]
        assert c.pod["serviceAccountName"] == ("kubetrail" if ships else "kubetrail-api"), c.where
        assert c.pod["automountServiceAccountToken"] is ships, c.where
    for sa in find(docs, "ServiceAccount"):
        assert sa["automountServiceAccountToken"] is False
