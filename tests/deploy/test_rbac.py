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
from kubetrail.store.sqlite import open_embedded
from tests.support.fake_apiserver import FakeApiServer, RequestRecord
from tests.support.manifests import VARIANTS, containers, find, one, render

READ_VERBS = {"get", "list", "watch"}
#: what the shipper does with every resource; `get` only where it reads one object
LIST_WATCH = {"list", "watch"}
#: what an exec (also over WebSocket: a GET), attach, port-forward or a proxy to a kubelet,
#: a pod or a Service is authorized as: none of them may be granted
DANGEROUS_SUBRESOURCES = (
    "pods/exec",
    "pods/attach",
    "pods/portforward",
    "pods/proxy",
    "nodes/proxy",
    "services/proxy",
)

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
        store = open_embedded(tmp_path / "kubetrail.db")
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
        elif "get" in rule["verbs"]:
            # one object read: the kube-system namespace (its uid names the cluster)
            assert rule["apiGroups"] == [""] and rule["resources"] == ["namespaces"], rule
            assert rule["verbs"] == ["get"], rule


@pytest.mark.parametrize("variant", VARIANTS)
def test_cluster_role_grants_no_exec_attach_or_proxy(variant: str) -> None:
    rules = cluster_role(variant)
    dangerous = [Access(v, "", sub) for sub in DANGEROUS_SUBRESOURCES for v in ("get", "create")]
    granted = [str(a) for a in dangerous if allows(rules, a)]
    assert not granted, granted
    assert allows(rules, Access("get", "", "namespaces"))


def test_full_role_reads_every_resource_and_crd() -> None:
    rules = cluster_role("embedded")
    for group in [*BUILTIN_GROUPS, "example.com", "monitoring.coreos.com"]:
        for verb in LIST_WATCH:
            assert allows(rules, Access(verb, group, "anything")), (group, verb)
        assert not allows(rules, Access("get", group, "anything")), group


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
    for verb in LIST_WATCH:
        for resource in CORE_RESOURCES - {"secrets"}:
            assert allows(rules, Access(verb, "", resource)), (resource, verb)
    granted_groups = {g for rule in rules for g in rule.get("apiGroups") or []}
    assert "*" not in granted_groups, "a wildcard group would include the core group's Secrets"
    assert granted_groups == set(BUILTIN_GROUPS), (
        "every API group the shipper treats as built-in, no more, no less"
    )
    for group in BUILTIN_GROUPS - {""}:
        assert allows(rules, Access("watch", group, "anything")), group


def test_no_secrets_role_denies_only_secrets_and_unlisted_custom_resources(
    tmp_path: Path,
) -> None:
    """The shipper asks; the API server answers 403 for Secrets and for custom resources of
    groups not added (on a real API server: test_real_apiserver.py, logged once each)."""
    variant = "embedded+no-secrets"
    requests = run_shipper(variant, tmp_path)
    needs = {access(r) for r in requests}
    rules = cluster_role(variant)
    denied = {n for n in needs if not allows(rules, n)}
    assert {(n.group, n.resource) for n in denied} == {("", "secrets"), ("example.com", "widgets")}


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
