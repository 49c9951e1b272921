"""Every overlay (and the components) renders with `kubectl kustomize`, every object is valid
against the Kubernetes OpenAPI schemas (offline, strict: no unknown field), and the objects
fit together: names, namespaces, selectors, references."""

from __future__ import annotations

import base64

import pytest

from kubetrail import __version__
from tests.support.manifests import (
    VARIANTS,
    containers,
    find,
    kubetrail_containers,
    one,
    pod_template,
    render,
)

kubernetes_validate = pytest.importorskip(
    "kubernetes_validate", reason="pip install kubernetes-validate (in the 'test' extra)"
)

#: the oldest Kubernetes the manifests support, and the newest the validator knows
K8S_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding"}


@pytest.mark.parametrize("variant", VARIANTS)
def test_renders(variant: str) -> None:
    docs = render(variant)
    assert docs, f"{variant} rendered nothing"
    keys = [(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in docs]
    assert len(keys) == len(set(keys)), "an object is rendered twice"


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_objects_validate_against_kubernetes_schemas(variant: str, version: str) -> None:
    errors = []
    for obj in render(variant):
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = "/".join(str(p) for p in exc.path)
            errors.append(f"{obj['kind']}/{obj['metadata']['name']} at {path}: {exc.message}")
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("variant", VARIANTS)
def test_everything_in_the_kubetrail_namespace(variant: str) -> None:
    docs = render(variant)
    for obj in docs:
        ns = obj["metadata"].get("namespace")
        if obj["kind"] in CLUSTER_SCOPED:
            assert ns is None, obj["metadata"]["name"]
        else:
            assert ns == "kubetrail", f"{obj['kind']}/{obj['metadata']['name']} in {ns}"
    binding = one(docs, "ClusterRoleBinding", "kubetrail")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "kubetrail", "namespace": "kubetrail"}
    ]
    one(docs, "Namespace", "kubetrail")


@pytest.mark.parametrize("variant", VARIANTS)
def test_image_is_this_version(variant: str) -> None:
    for c in kubetrail_containers(render(variant)):
        assert c.spec["image"].rsplit(":", 1)[1] == __version__, c.where


def test_embedded_is_one_statefulset_serving_shipper_and_api() -> None:
    docs = render("embedded")
    sts = one(docs, "StatefulSet", "kubetrail")
    assert sts["spec"]["replicas"] == 1
    assert not find(docs, "Deployment")
    claim = sts["spec"]["volumeClaimTemplates"][0]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    # the shipper enforces the retention itself: no second pod opens the SQLite file
    assert not find(docs, "CronJob")
    assert not find(docs, "Job")


@pytest.mark.parametrize("variant", VARIANTS)
def test_no_prune_cronjob(variant: str) -> None:
    """The shipper deletes expired events itself (retentionDays, hourly)."""
    assert not find(render(variant), "CronJob")


def test_opensearch_shipper_api_setup() -> None:
    docs = render("opensearch")
    shipper = one(docs, "Deployment", "kubetrail-shipper")
    assert shipper["spec"]["replicas"] == 1
    assert shipper["spec"]["strategy"]["type"] == "Recreate"
    api = one(docs, "Deployment", "kubetrail-api")
    assert api["spec"]["replicas"] >= 2
    one(docs, "Job", "kubetrail-setup")
    assert not find(docs, "StatefulSet")
    assert not find(docs, "Secret"), "the OpenSearch Secret is the user's, not rendered"
    spool = next(v for v in shipper["spec"]["template"]["spec"]["volumes"] if v["name"] == "data")
    one(docs, "PersistentVolumeClaim", spool["persistentVolumeClaim"]["claimName"])


def test_opensearch_demo_brings_opensearch_dashboards_and_the_secret() -> None:
    docs = render("opensearch-demo")
    one(docs, "StatefulSet", "opensearch")
    one(docs, "Deployment", "opensearch-dashboards")
    os_port = one(docs, "Service", "opensearch")["spec"]["ports"][0]["port"]
    dash_port = one(docs, "Service", "opensearch-dashboards")["spec"]["ports"][0]["port"]
    secret = one(docs, "Secret", "kubetrail-opensearch")
    assert secret["data"]["url"]  # base64 of the URL
    url = base64.b64decode(secret["data"]["url"]).decode()
    assert url == f"opensearch+http://opensearch:{os_port}"
    setup = one(docs, "Job", "kubetrail-setup")["spec"]["template"]["spec"]["containers"][0]
    args = setup["args"]
    assert args[args.index("--dashboards-url") + 1] == f"http://opensearch-dashboards:{dash_port}"
    assert not find(docs, "PodDisruptionBudget"), "one API replica: a PDB would block drains"


@pytest.mark.parametrize("variant", VARIANTS)
def test_services_select_pods_with_their_target_ports(variant: str) -> None:
    docs = render(variant)
    for svc in find(docs, "Service"):
        selector = svc["spec"]["selector"]
        selected = [
            c
            for c in containers(docs)
            if selector.items() <= (pod_template(c.owner)["metadata"].get("labels") or {}).items()
        ]
        assert selected, f"Service {svc['metadata']['name']} selects no pod"
        for port in svc["spec"]["ports"]:
            target = port["targetPort"]
            for c in selected:
                assert c.port(target) == port["port"], (svc["metadata"]["name"], c.where)


@pytest.mark.parametrize("variant", VARIANTS)
def test_network_policy_covers_the_api_pods(variant: str) -> None:
    docs = render(variant)
    policy = one(docs, "NetworkPolicy", "kubetrail-api")
    selector = policy["spec"]["podSelector"]["matchLabels"]
    service = one(docs, "Service", "kubetrail-api")["spec"]["selector"]
    assert selector == service, "the policy must protect exactly the pods the Service reaches"
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = policy["spec"]["ingress"]
    sources = rule["from"]
    # the namespace itself, and pods labelled kubetrail-client anywhere; nothing else
    assert {"podSelector": {}} in sources
    assert {
        "namespaceSelector": {},
        "podSelector": {"matchLabels": {"kubetrail-client": "true"}},
    } in sources
    assert len(sources) == 2
    assert {p["port"] for p in rule["ports"]} == {8080, 9090}


def test_pod_disruption_budget_keeps_an_api_pod() -> None:
    docs = render("opensearch")
    pdb = one(docs, "PodDisruptionBudget", "kubetrail-api")
    api = one(docs, "Deployment", "kubetrail-api")
    assert pdb["spec"]["selector"] == api["spec"]["selector"]
    assert 1 <= pdb["spec"]["minAvailable"] < api["spec"]["replicas"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_references_resolve(variant: str) -> None:
    """ConfigMaps and ServiceAccounts referenced exist; Secrets are the documented ones."""
    docs = render(variant)
    configmaps = {d["metadata"]["name"] for d in find(docs, "ConfigMap")}
    accounts = {d["metadata"]["name"] for d in find(docs, "ServiceAccount")}
    for c in containers(docs):
        account = c.pod.get("serviceAccountName")
        if c.is_kubetrail:
            assert account in accounts, c.where
        for volume in c.pod.get("volumes") or []:
            if "configMap" in volume:
                assert volume["configMap"]["name"] in configmaps, c.where
            if "secret" in volume:
                assert volume["secret"]["secretName"] == "kubetrail-opensearch", c.where
        for env in c.spec.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("secretKeyRef")
            if not ref:
                continue
            assert (ref["name"], ref["key"]) in {
                ("kubetrail-opensearch", "url"),
                ("kubetrail-opensearch", "user"),
                ("kubetrail-opensearch", "password"),
                ("kubetrail-opensearch", "api-key"),
                ("kubetrail-secrets", "redaction-key"),
                ("kubetrail-secrets", "api-token"),
            }, (c.where, ref)
            # only the store URL is required (and the MCP server's token: it refuses to
            # start without one)
            required = not ref.get("optional", False)
            assert required == (ref["key"] == "url" or c.args[:1] == ["mcp"]), (c.where, ref)
