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
                secret = volume["secret"]
                keys = {(secret["secretName"], i["key"]) for i in secret["items"]}
                files = {("kubetrail-opensearch", "ca.crt"), ("kubetrail-secrets", "api-token")}
                assert keys <= files, (c.where, keys)
        for env in c.spec.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("secretKeyRef")
            if not ref:
                continue
            key = (ref["name"], ref["key"])
            assert key in SECRET_KEYS_REQUIRED or key in SECRET_KEYS_OPTIONAL, (c.where, ref)
            required = not ref.get("optional", False)
            assert required == (key in SECRET_KEYS_REQUIRED), (c.where, ref)


#: the Secrets the user creates (deploy/README.md): these keys are required...
SECRET_KEYS_REQUIRED = {
    ("kubetrail-opensearch", "url"),
    ("kubetrail-secrets", "redaction-key"),  # the built-in key is public
    ("kubetrail-secrets", "api-token"),  # mounted as a file (KUBETRAIL_API_TOKEN_FILE)
}
#: ... and these optional (an OpenSearch without the security plugin needs no credentials)
SECRET_KEYS_OPTIONAL = {
    (secret, key)
    for secret in (
        "kubetrail-opensearch",
        "kubetrail-opensearch-shipper",
        "kubetrail-opensearch-api",
    )
    for key in ("user", "password", "api-key")
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_everything_is_labelled_part_of_kubetrail(variant: str) -> None:
    """deploy/README.md's uninstall and "delete only the workloads" select this label."""
    for obj in render(variant):
        labels = obj["metadata"].get("labels") or {}
        assert labels.get("app.kubernetes.io/part-of") == "kubetrail", (
            f"{obj['kind']}/{obj['metadata']['name']}"
        )


@pytest.mark.parametrize("variant", VARIANTS)
def test_statefulsets_are_governed_by_a_headless_service(variant: str) -> None:
    docs = render(variant)
    for sts in find(docs, "StatefulSet"):
        svc = one(docs, "Service", sts["spec"]["serviceName"])
        assert svc["spec"].get("clusterIP") == "None", f"{svc['metadata']['name']} is not headless"
        labels = sts["spec"]["template"]["metadata"]["labels"]
        assert svc["spec"]["selector"].items() <= labels.items()


def _selects(policy: dict, labels: dict[str, str]) -> bool:
    selector = policy["spec"]["podSelector"]
    if (selector.get("matchLabels") or {}).items() - labels.items():
        return False
    for expr in selector.get("matchExpressions") or []:
        assert expr["operator"] == "In", f"unhandled selector {expr}"
        if labels.get(expr["key"]) not in expr["values"]:
            return False
    return True


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_listening_pod_is_behind_a_network_policy(variant: str) -> None:
    """Every pod with a container port has an ingress NetworkPolicy, and its rules name
    those ports: nothing listens open to the whole cluster."""
    docs = render(variant)
    policies = find(docs, "NetworkPolicy")
    for c in containers(docs):
        ports = {p["containerPort"] for p in c.spec.get("ports") or []}
        if not ports:
            continue
        labels = pod_template(c.owner)["metadata"]["labels"]
        covering = [p for p in policies if _selects(p, labels)]
        assert covering, f"{c.where} listens on {sorted(ports)} without a NetworkPolicy"
        allowed = {
            port["port"]
            for p in covering
            for rule in p["spec"]["ingress"]
            for port in rule["ports"]
        }
        assert ports <= allowed, (c.where, ports, allowed)


def test_demo_opensearch_and_dashboards_are_not_open_to_the_namespace() -> None:
    """Without the security plugin, whoever reaches OpenSearch (or Dashboards' console)
    may delete everything: only the pods that need them get in."""
    docs = render("opensearch-demo+mcp-http")
    for name in ("opensearch", "opensearch-dashboards"):
        policy = one(docs, "NetworkPolicy", name)
        sources = [src for rule in policy["spec"]["ingress"] for src in rule["from"]]
        assert sources and {"podSelector": {}} not in sources, name
        assert all("namespaceSelector" not in src for src in sources), name
    reaching_opensearch = one(docs, "NetworkPolicy", "opensearch")["spec"]["ingress"][0]["from"]
    mcp = one(docs, "Deployment", "kubetrail-mcp")["spec"]["template"]["metadata"]["labels"]
    for src in reaching_opensearch:
        assert not _selects({"spec": src}, mcp), "the MCP server asks the API, not OpenSearch"
