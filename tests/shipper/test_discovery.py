"""Which resources get watched (pure selection) and discovery against the fake API server."""

from __future__ import annotations

from kubetrail.shipper.config import ResourceSpec
from kubetrail.shipper.discovery import BUILTIN_GROUPS, discover, select
from kubetrail.shipper.kube import Kube, load_client
from tests.support.shipping import Cluster

PODS = ResourceSpec("", "v1", "Pod", "pods", True)
EVENTS = ResourceSpec("", "v1", "Event", "events", True)
NEW_EVENTS = ResourceSpec("events.k8s.io", "v1", "Event", "events", True)
LEASES = ResourceSpec("coordination.k8s.io", "v1", "Lease", "leases", True)
WIDGETS = ResourceSpec("example.com", "v1", "Widget", "widgets", True)
DEPLOYMENTS = ResourceSpec("apps", "v1", "Deployment", "deployments", True)


def keys(resources) -> list[str]:
    return [r.key for r in resources]


def test_core_events_once_and_leases_excluded_by_default() -> None:
    chosen = select(
        [PODS, EVENTS, NEW_EVENTS, LEASES, WIDGETS], exclude=("leases.coordination.k8s.io",)
    )
    assert keys(chosen) == ["events", "pods", "widgets.example.com"]


def test_include_exclude_and_explicit() -> None:
    assert keys(select([PODS, DEPLOYMENTS, WIDGETS], include=("pods", "Widget"))) == [
        "pods",
        "widgets.example.com",
    ]
    assert keys(select([PODS, DEPLOYMENTS], exclude=("deployments.apps",))) == ["pods"]
    assert keys(select([PODS], explicit=(DEPLOYMENTS,))) == ["deployments.apps", "pods"]


def test_without_crd_discovery_only_builtin_groups() -> None:
    chosen = select([PODS, WIDGETS], discover_crds=False, builtin_groups=BUILTIN_GROUPS)
    assert keys(chosen) == ["pods"]


def test_discovery_over_http_skips_subresources_and_unwatchable(cluster: Cluster) -> None:
    found = discover(Kube(load_client(kubeconfig=str(cluster.kubeconfig))))
    got = set(keys(found.resources))
    assert {
        "pods",
        "nodes",
        "deployments.apps",
        "customresourcedefinitions.apiextensions.k8s.io",
    } <= got
    assert not any("/" in k for k in got)  # pods/status, deployments/scale
    assert "bindings" not in got  # create-only
    assert found.failed_groups == ()
