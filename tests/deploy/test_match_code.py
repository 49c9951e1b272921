"""What the manifests say agrees with the code: commands and flags exist, ports are the ones
the commands listen on, probes hit endpoints that exist, environment variables are ones the
code reads, resources.yaml parses with the shipper's own parser and agrees with the flags and
the environment."""

from __future__ import annotations

import posixpath
import re
from functools import cache
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from kubetrail.shipper.config import DEFAULT_CONFIG_PATH, ShipperConfig, parse_config
from kubetrail.store import parse_store_url
from tests.support.manifests import (
    DEPLOY,
    REPO,
    VARIANTS,
    Container,
    find,
    kubetrail_containers,
    parse_args,
    pod_template,
    render,
)

ORIGINAL_KEYS = ("discoverCRDs", "retentionDays", "serverPort", "maxQueryLimit")
SHIPPER_PROBE_PATHS = {"/healthz", "/readyz"}


@cache
def source_text() -> str:
    return "\n".join(p.read_text() for p in sorted((REPO / "src" / "kubetrail").rglob("*.py")))


def config_of(variant: str) -> ShipperConfig:
    (cm,) = find(render(variant), "ConfigMap")
    return parse_config(yaml.safe_load(cm["data"]["resources.yaml"]), source="resources.yaml")


def probes(c: Container) -> dict[str, dict]:
    return {
        k: c.spec[k] for k in ("startupProbe", "livenessProbe", "readinessProbe") if k in c.spec
    }


def writable_mounts(c: Container) -> list[str]:
    return [path for path, m in c.mounts().items() if not m.get("readOnly")]


def under(path: str, directory: str) -> bool:
    return posixpath.commonpath([path, directory]) == directory


@pytest.mark.parametrize("variant", VARIANTS)
def test_commands_and_flags_exist(variant: str) -> None:
    for c in kubetrail_containers(render(variant)):
        assert not c.spec.get("command"), f"{c.where}: the image's entrypoint is kubetrail"
        parse_args(c.args)  # raises with argparse's message on an unknown command or flag


def test_parse_args_rejects_what_kubetrail_rejects() -> None:
    with pytest.raises(AssertionError, match="unrecognized arguments: --no-such-flag"):
        parse_args(["api", "--no-such-flag"])
    with pytest.raises(AssertionError, match="invalid choice"):
        parse_args(["serve"])


@pytest.mark.parametrize("variant", VARIANTS)
def test_shipper_ports_probes_and_paths(variant: str) -> None:
    shippers = [c for c in kubetrail_containers(render(variant)) if c.args[0] == "ship"]
    assert len(shippers) == 1
    (c,) = shippers
    args = parse_args(c.args)
    config = config_of(variant)
    assert c.port("metrics") == args.metrics_port
    assert args.metrics_host == "0.0.0.0"
    http_probes = {k: p["httpGet"] for k, p in probes(c).items() if "httpGet" in p}
    assert {"startupProbe", "livenessProbe", "readinessProbe"} <= set(probes(c))
    for kind, probe in http_probes.items():
        port = c.port(probe["port"])
        if port == args.metrics_port:
            assert probe["path"] in SHIPPER_PROBE_PATHS, (c.where, kind)
        else:
            assert port == args.api_port and probe["path"] == "/health", (c.where, kind)
    assert http_probes["livenessProbe"]["path"] == "/healthz"
    if args.api_port:  # embedded: the Service routes API requests here
        assert c.port("http") == args.api_port == config.server_port
        assert args.api_host == "0.0.0.0"
        assert c.pod["terminationGracePeriodSeconds"] >= 10
    else:
        assert http_probes["readinessProbe"]["path"] == "/readyz"
    # resources.yaml at the default CONFIG_PATH, from the ConfigMap, read-only
    assert "CONFIG_PATH" not in c.env()
    config_dir = posixpath.dirname(DEFAULT_CONFIG_PATH)
    mount = c.mounts()[config_dir]
    assert mount.get("readOnly") is True
    assert "configMap" in c.volume(mount["name"])
    # the spool and the embedded store are on a writable volume that outlives the container
    spool = args.spool_dir or config.spool_dir
    assert spool == config.spool_dir, "flag and resources.yaml should agree"
    assert any(under(spool, m) and m != "/tmp" for m in writable_mounts(c)), spool
    url = args.store or config.store or c.env()["KUBETRAIL_STORE"]
    if isinstance(url, str) and url.startswith("sqlite:"):
        db = str(parse_store_url(url).path)
        data = next(m for m in writable_mounts(c) if under(db, m))
        name = c.mounts()[data]["name"]
        claims = [t["metadata"]["name"] for t in c.owner["spec"].get("volumeClaimTemplates", [])]
        assert name in claims or "persistentVolumeClaim" in c.volume(name), "store not persistent"
    else:
        assert c.env()["KUBETRAIL_STORE"]["valueFrom"]["secretKeyRef"]["key"] == "url"


@pytest.mark.parametrize("variant", VARIANTS)
def test_api_ports_and_probes(variant: str) -> None:
    for c in kubetrail_containers(render(variant)):
        if c.args[0] != "api":
            continue
        args = parse_args(c.args)
        assert args.host == "0.0.0.0"
        assert c.port("http") == args.port
        assert c.spec["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
        liveness = c.spec["livenessProbe"]
        assert liveness.get("tcpSocket", {}).get("port") == "http" or liveness["httpGet"] == {
            "path": "/health",
            "port": "http",
        }
        env = c.env()
        assert int(env["KUBETRAIL_MAX_QUERY_LIMIT"]["value"]) == config_of(variant).max_query_limit


@pytest.mark.parametrize("variant", ["embedded+mcp-http", "opensearch-demo+mcp-http"])
def test_mcp_http_server(variant: str) -> None:
    docs = render(variant)
    (c,) = [c for c in kubetrail_containers(docs) if c.args[0] == "mcp"]
    args = parse_args(c.args)
    assert args.http and not args.no_auth and args.host == "0.0.0.0"
    assert c.port("mcp") == args.port
    assert_api_token_file(c)  # required: it refuses to start without one
    for kind in ("livenessProbe", "readinessProbe"):
        assert c.spec[kind]["httpGet"]["path"] == "/health"
    # it answers from the API Service
    (svc,) = [s for s in find(docs, "Service") if s["metadata"]["name"] == "kubetrail-api"]
    port = svc["spec"]["ports"][0]["port"]
    assert args.api_url == f"http://kubetrail-api:{port}"
    transport = (REPO / "src/kubetrail/mcp/transport.py").read_text()
    assert 'custom_route("/health"' in transport


@pytest.mark.parametrize("variant", VARIANTS)
def test_setup_job(variant: str) -> None:
    config = config_of(variant)
    for c in kubetrail_containers(render(variant)):
        if c.args[0] != "setup":
            continue
        args = parse_args(c.args)
        days = args.retention_days or int(c.env()["KUBETRAIL_RETENTION_DAYS"]["value"])
        assert days == config.retention_days, f"{c.where}: the ISM policy keeps retentionDays"
        assert not args.dry_run and not args.insecure


@pytest.mark.parametrize("variant", VARIANTS)
def test_environment_variables_are_read_by_the_code(variant: str) -> None:
    known = set(re.findall(r"\b(?:KUBETRAIL|AUDIT)_[A-Z_]+\b", source_text()))
    for c in kubetrail_containers(render(variant)):
        for name in c.env():
            assert name in known, f"{c.where}: {name} is not read anywhere in src/kubetrail"


#: whose OpenSearch credentials each command gets: its own Secret, mapped to its own role
#: (deploy/opensearch-security/roles.yml); never the setup Job's for the API or the shipper
CREDENTIAL_SECRETS = {
    "setup": "kubetrail-opensearch",  # kubetrail_setup
    "ship": "kubetrail-opensearch-shipper",  # kubetrail_writer (+ kubetrail_lifecycle)
    "api": "kubetrail-opensearch-api",  # kubetrail_reader
}


def test_opensearch_credentials_come_from_each_components_own_secret() -> None:
    docs = render("opensearch")
    credentials = {
        "KUBETRAIL_OPENSEARCH_USER": "user",
        "KUBETRAIL_OPENSEARCH_PASSWORD": "password",
        "KUBETRAIL_OPENSEARCH_API_KEY": "api-key",
    }
    users = [c for c in kubetrail_containers(docs) if c.args[0] in CREDENTIAL_SECRETS]
    assert len(users) == 3
    for c in users:
        ref = c.env()["KUBETRAIL_STORE"]["valueFrom"]["secretKeyRef"]
        assert (ref["name"], ref["key"]) == ("kubetrail-opensearch", "url"), c.where
        for name, key in credentials.items():
            ref = c.env()[name]["valueFrom"]["secretKeyRef"]
            assert (ref["name"], ref["key"]) == (CREDENTIAL_SECRETS[c.args[0]], key), c.where
            # an OpenSearch without the security plugin needs none
            assert ref.get("optional") is True, c.where
        assert "--store" not in c.args, f"{c.where}: the URL may hold a password: env only"
    roles = yaml.safe_load((DEPLOY / "opensearch-security" / "roles_mapping.yml").read_text())
    assert roles["kubetrail_reader"]["users"] == ["kubetrail-api"]
    assert "kubetrail-api" not in roles["kubetrail_setup"]["users"]
    assert "kubetrail-api" not in roles["kubetrail_writer"]["users"]


#: where the API, the embedded server and the MCP server read the bearer token from
API_TOKEN_FILE = "/etc/kubetrail/api-token/token"


def assert_api_token_file(c: Container) -> None:
    """The token is a file of the Secret kubetrail-secrets (key api-token), required, mounted
    as a directory (a subPath mount would never see a rotated Secret), readable by the
    container's group only; never an environment variable."""
    env = c.env()
    assert "KUBETRAIL_API_TOKEN" not in env, f"{c.where}: the token belongs in a file"
    assert env["KUBETRAIL_API_TOKEN_FILE"]["value"] == API_TOKEN_FILE, c.where
    directory, name = posixpath.split(API_TOKEN_FILE)
    mount = c.mounts()[directory]
    assert mount.get("readOnly") is True and "subPath" not in mount, c.where
    secret = c.volume(mount["name"])["secret"]
    assert secret["secretName"] == "kubetrail-secrets", c.where
    assert secret["items"] == [{"key": "api-token", "path": name}], c.where
    assert not secret.get("optional"), f"{c.where}: without the file the server would not start"
    assert secret["defaultMode"] == 0o440, c.where
    pod_security = c.pod["securityContext"]
    assert pod_security["fsGroup"] == pod_security["runAsGroup"], c.where


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_http_server_reads_its_token_from_the_secret_file(variant: str) -> None:
    servers = [
        c
        for c in kubetrail_containers(render(variant))
        if c.args[0] in ("api", "mcp") or "--api-port" in c.args
    ]
    assert servers
    for c in servers:
        assert_api_token_file(c)


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_shipper_requires_the_redaction_key(variant: str) -> None:
    """The built-in key is public: the pod does not start without kubetrail-secrets'
    redaction-key (the kubelet reports the missing key), and nothing else gets it."""
    for c in kubetrail_containers(render(variant)):
        env = c.env()
        if c.args[0] != "ship":
            assert "KUBETRAIL_REDACTION_KEY" not in env, c.where
            continue
        ref = env["KUBETRAIL_REDACTION_KEY"]["valueFrom"]["secretKeyRef"]
        assert (ref["name"], ref["key"]) == ("kubetrail-secrets", "redaction-key"), c.where
        assert not ref.get("optional"), f"{c.where}: the redaction key must be required"


def test_private_ca_component() -> None:
    docs = render("opensearch+no-secrets+mcp-http+opensearch-ca")
    for c in kubetrail_containers(docs):
        if c.args[0] == "mcp":
            continue
        mount = c.mounts()["/etc/kubetrail/opensearch"]
        volume = c.volume(mount["name"])
        assert volume["secret"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}]
        path = "/etc/kubetrail/opensearch/ca.crt"
        if c.args[0] == "setup":
            args = parse_args(c.args)
            assert args.ca_cert == path  # setup takes the CA as a flag
        else:
            assert c.env()["KUBETRAIL_OPENSEARCH_CA_CERT"]["value"] == path


def test_resources_yaml_parses_with_the_shippers_parser() -> None:
    text = (DEPLOY / "base" / "resources.yaml").read_text()
    raw = yaml.safe_load(text)
    for key in ORIGINAL_KEYS:
        assert key in raw, f"the original tool's key {key} is missing"
    config = parse_config(raw, source="resources.yaml")
    assert config.extra == {}, f"unknown keys: {config.extra}"
    assert config.server_port == 8080
    assert config.retention_interval == 3600, "the shipper's hourly retention run"
    assert config.store is None, "the store is chosen per overlay (flag or Secret)"
    assert "leases.coordination.k8s.io" in config.exclude


def test_no_secrets_changes_only_the_role_not_the_shippers_config() -> None:
    """The API server says what may not be read (a 403, logged once: test_real_apiserver.py);
    a configuration of the user's own is not replaced by the component."""
    assert config_of("embedded+no-secrets") == config_of("embedded")
    assert "secrets" not in config_of("embedded").exclude


def test_probe_endpoints_answer_in_the_code(tmp_path: Path) -> None:
    """The paths the probes use are served: the API's /health (200 on a working store), the
    shipper's /healthz and /readyz (not 404) on its metrics endpoint."""
    import urllib.error
    import urllib.request

    from kubetrail.api.app import create_app
    from kubetrail.config import Settings
    from kubetrail.events.redact import RedactionPolicy
    from kubetrail.shipper.service import Shipper
    from kubetrail.store.sqlite import open_embedded

    store = open_embedded(tmp_path / "kubetrail.db")
    try:
        client = TestClient(create_app(store, Settings()))
        assert client.get("/health").status_code == 200
        shipper = Shipper(
            kube=None,  # type: ignore[arg-type]  # the endpoints do not talk to the cluster
            store=store,
            config=ShipperConfig(spool_dir=str(tmp_path / "spool")),
            policy=RedactionPolicy(),
        )
        port = shipper.serve_endpoints("127.0.0.1", 0)
        try:
            for path, expect in (("/healthz", {200, 503}), ("/readyz", {503}), ("/nope", {404})):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                        status = r.status
                except urllib.error.HTTPError as exc:
                    status = exc.code
                assert status in expect, (path, status)
        finally:
            shipper._endpoint.server.shutdown()  # type: ignore[union-attr]
            shipper._endpoint.server.server_close()  # type: ignore[union-attr]
    finally:
        store.close()


def test_demo_supports_what_compose_and_the_guide_use() -> None:
    args = parse_args(["demo", "--host", "0.0.0.0", "--store", "opensearch+http://opensearch:9200"])
    assert args.host == "0.0.0.0"


@pytest.mark.parametrize("variant", VARIANTS)
def test_servers_answer_their_services_in_cluster_names(variant: str) -> None:
    """The Host check against DNS rebinding (kubetrail.hosts) must let through every name a
    client in the cluster uses for a kubetrail Service: `svc`, `svc.ns` (deploy/README.md's
    form) and `svc.ns.svc`."""
    from kubetrail.hosts import host_allowed

    docs = render(variant)
    checked = 0
    for svc in find(docs, "Service"):
        if svc["spec"].get("clusterIP") == "None":
            continue  # a StatefulSet's governing Service: pod names (*.svc), not a client address
        selector = svc["spec"].get("selector") or {}
        name, ns = svc["metadata"]["name"], svc["metadata"].get("namespace", "kubetrail")
        for c in kubetrail_containers(docs):
            labels = (pod_template(c.owner) or {}).get("metadata", {}).get("labels") or {}
            serves_http = c.args[0] in ("api", "mcp") or "--api-port" in c.args
            if not serves_http or not selector or selector.items() - labels.items():
                continue
            raw = c.env().get("KUBETRAIL_ALLOWED_HOSTS", {}).get("value", "")
            allowed = [h for h in raw.split(",") if h]
            for host in (name, f"{name}.{ns}", f"{name}.{ns}.svc"):
                assert host_allowed(f"{host}:8080", allowed), (c.where, host)
            checked += 1
    assert checked, "no kubetrail HTTP server behind a Service"
