"""Security for real: a secured OpenSearch node and kubetrail's roles, each proven alone.

The module starts its own node with ``scripts/opensearch-node start --security`` (port
9270, TLS on HTTP and transport with certificates the script generates, basic auth, the
security plugin from Maven Central), applies the roles of
``deploy/opensearch-security/roles.yml`` with the security REST API as admin, creates one
user per role, and runs kubetrail's commands as those users, with the CA certificate
(``KUBETRAIL_OPENSEARCH_CA_CERT``) and the credentials
(``KUBETRAIL_OPENSEARCH_USER``/``_PASSWORD``, or in the store URL) from the environment:

- ``kubetrail setup`` works with the setup role alone;
- ``kubetrail ingest`` and ``kubetrail ship`` work with the writer role alone, which may
  not delete an index (403); ingest keeps audit events and joins them to stored versions;
- ``kubetrail api`` works with the reader role alone, which may not write (403);
- on a cluster without ISM, retention needs the lifecycle role too: the writer alone is
  refused the rollover in one line, writer + lifecycle rolls over and deletes the
  expired index;
- no password ever appears in what kubetrail prints or logs.

It skips only when this machine cannot fetch OpenSearch or the security plugin from Maven
Central (``scripts/opensearch-node`` exits 3), saying so, or when ``OPENSEARCH_URL=skip``
asks to skip the real-node cases. Run it alone with
``python -m pytest tests/store/test_opensearch_security.py`` (about two minutes, most of
it the node's first start).
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from opensearchpy import OpenSearch
from opensearchpy.exceptions import AuthorizationException

from tests.support.audit_events import audit_event
from tests.support.fake_apiserver import FakeApiServer
from tests.support.k8s_objects import pod
from tests.support.servers import free_port
from tests.support.shipping import wait_until

REPO = Path(__file__).resolve().parents[2]
NODE_SCRIPT = REPO / "scripts" / "opensearch-node"
ROLES_FILE = REPO / "deploy" / "opensearch-security" / "roles.yml"
MAPPING_FILE = REPO / "deploy" / "opensearch-security" / "roles_mapping.yml"
#: scripts/opensearch-node's exit status when this machine cannot fetch what it needs
EXIT_CANNOT_FETCH = 3
PORT = 9270
#: this run's node; the lock keeps two runs of this module (two pytest sessions in one tree)
#: from sharing port 9270: the second waits
DATA_DIR = Path("/var/tmp/kubetrail/security-test") / f"{PORT}-{os.getpid()}"
LOCK = Path("/var/tmp/kubetrail/security-test") / f"{PORT}.lock"
LOCK_WAIT = 1200.0
PREFIX = "kubetrail-events"  # the prefix roles.yml is written for
AGED = "kubetrail-aged"  # a second install: roles.yml with its patterns replaced
HOW_TO_RUN = (
    "`scripts/opensearch-node start --security` fetches OpenSearch and "
    "org.opensearch.plugin:opensearch-security from Maven Central (needs mvn, Java 17, openssl)"
)


@dataclass(frozen=True)
class User:
    name: str
    password: str


@dataclass
class Secured:
    url: str  # https://127.0.0.1:9270
    ca_cert: str
    admin: OpenSearch
    users: dict[str, User]  # "setup", "writer", "reader", "janitor", "aged-…"
    passwords: list[str]  # every password of the node: none may ever be printed
    start_seconds: float

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_cert)

    @property
    def store(self) -> str:
        return "opensearch+" + self.url

    def client(self, user: str) -> OpenSearch:
        u = self.users[user]
        return OpenSearch(
            hosts=[{"host": "127.0.0.1", "port": PORT}],
            use_ssl=True,
            verify_certs=True,
            ca_certs=self.ca_cert,
            http_auth=(u.name, u.password),
            timeout=60,
        )

    def env(self, user: str | None, **extra: str) -> dict[str, str]:
        """The environment of a kubetrail command run as ``user`` (credentials and CA from
        the environment); ``user=None``: none of them."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBETRAIL_")}
        env.update(KUBETRAIL_STORE=self.store, CONFIG_PATH="")
        if user is not None:
            env.update(
                KUBETRAIL_OPENSEARCH_CA_CERT=self.ca_cert,
                KUBETRAIL_OPENSEARCH_USER=self.users[user].name,
                KUBETRAIL_OPENSEARCH_PASSWORD=self.users[user].password,
            )
        env.update(extra)
        return env

    def kubetrail(
        self, *args: str, user: str | None, timeout: float = 300, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "kubetrail", *args],
            env=self.env(user, **extra),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        self.assert_no_password(proc.stdout + proc.stderr)
        return proc

    def assert_no_password(self, text: str) -> None:
        for password in self.passwords:
            assert password not in text, "a password appears in kubetrail's output"


# -- the node and its users --------------------------------------------------------


def _node(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(NODE_SCRIPT), *args, "--data-dir", str(DATA_DIR)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _roles(prefix: str, name_prefix: str = "") -> dict[str, dict[str, Any]]:
    """roles.yml's roles, for ``prefix`` (the file's patterns replaced, as it says to)."""
    roles = yaml.safe_load(ROLES_FILE.read_text())
    roles.pop("_meta")
    text = json.dumps(roles).replace(PREFIX, prefix)
    return {name_prefix + name: body for name, body in json.loads(text).items()}


def _put(admin: OpenSearch, path: str, body: dict[str, Any]) -> None:
    admin.transport.perform_request("PUT", f"/_plugins/_security/api/{path}", body=body)


def _password() -> str:
    return "Kt-" + secrets.token_urlsafe(24)  # strong enough for the plugin's zxcvbn check


def _apply(admin: OpenSearch) -> dict[str, User]:
    """The roles of both installs, one user per role (``janitor``: writer + lifecycle, what
    a shipper needs on a cluster without ISM), mapped by the REST API as admin."""
    mapping: dict[str, list[str]] = {}
    users: dict[str, User] = {}

    def user(key: str, *roles: str) -> None:
        users[key] = User(f"kt-{key}", _password())
        _put(admin, f"internalusers/kt-{key}", {"password": users[key].password})
        for role in roles:
            mapping.setdefault(role, []).append(f"kt-{key}")

    for name, body in {**_roles(PREFIX), **_roles(AGED, "aged_")}.items():
        _put(admin, f"roles/{name}", body)
    user("setup", "kubetrail_setup")
    user("writer", "kubetrail_writer")
    user("reader", "kubetrail_reader")
    user("janitor", "kubetrail_writer", "kubetrail_lifecycle")
    user("aged-setup", "aged_kubetrail_setup")
    user("aged-writer", "aged_kubetrail_writer")
    user("aged-janitor", "aged_kubetrail_writer", "aged_kubetrail_lifecycle")
    for role, names in mapping.items():
        _put(admin, f"rolesmapping/{role}", {"users": names})
    return users


@contextmanager
def _port_lock() -> Iterator[None]:
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with LOCK.open("a") as f:
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"port {PORT} stayed locked by another run ({LOCK}) for {LOCK_WAIT:.0f}s"
                    )
                time.sleep(2)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@pytest.fixture(scope="module")
def secured() -> Iterator[Secured]:
    if os.environ.get("OPENSEARCH_URL") == "skip":  # the suite's switch for real-node cases
        pytest.skip(
            f"OPENSEARCH_URL=skip: the secured node's cases skipped on request; {HOW_TO_RUN}"
        )
    with _port_lock():
        yield from _secured()


def _secured() -> Iterator[Secured]:
    shutil.rmtree(DATA_DIR, ignore_errors=True)
    t0 = time.monotonic()
    try:
        started = _node("start", "--security", "--port", str(PORT), timeout=900)
        seconds = time.monotonic() - t0
        if started.returncode == EXIT_CANNOT_FETCH:
            lines = [ln for ln in started.stderr.splitlines() if ln.strip()]
            pytest.skip(
                f"this machine cannot fetch a secured OpenSearch "
                f"({lines[-1] if lines else 'no message'}); {HOW_TO_RUN}"
            )
        assert started.returncode == 0, started.stderr[-4000:]
        url = started.stdout.strip().splitlines()[-1]
        assert url == f"https://127.0.0.1:{PORT}"
        state = json.loads((DATA_DIR / "security.json").read_text())
        assert f"CA certificate {state['ca_cert']}" in started.stderr
        assert f"password in {state['password_file']}" in started.stderr
        admin_password = Path(state["password_file"]).read_text().strip()
        assert admin_password not in started.stdout + started.stderr
        admin = OpenSearch(
            hosts=[{"host": "127.0.0.1", "port": PORT}],
            use_ssl=True,
            verify_certs=True,
            ca_certs=state["ca_cert"],
            http_auth=(state["user"], admin_password),
            timeout=60,
        )
        users = _apply(admin)
        yield Secured(
            url=url,
            ca_cert=state["ca_cert"],
            admin=admin,
            users=users,
            passwords=[admin_password, *(u.password for u in users.values())],
            start_seconds=seconds,
        )
        admin.close()
    finally:
        _node("stop", timeout=120)
        shutil.rmtree(DATA_DIR, ignore_errors=True)


@pytest.fixture(scope="module")
def set_up(secured: Secured) -> list[subprocess.CompletedProcess[str]]:
    """``kubetrail setup`` as the setup user, twice (the second changes nothing)."""
    return [secured.kubetrail("setup", "--replicas", "0", user="setup") for _ in range(2)]


@pytest.fixture(scope="module")
def ingested(
    secured: Secured, set_up: list[subprocess.CompletedProcess[str]], tmp_path_factory
) -> int:
    """The demo incident, ingested as the writer: the number of events."""
    events = tmp_path_factory.mktemp("security") / "events.jsonl"
    demo = subprocess.run(
        [
            sys.executable,
            "-m",
            "kubetrail",
            "demo",
            "--no-serve",
            "--store",
            f"sqlite:///{events.with_suffix('.db')}",
            "--write-events",
            str(events),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert demo.returncode == 0, demo.stderr
    proc = secured.kubetrail("ingest", "--workers", "1", str(events), user="writer")
    assert proc.returncode == 0, proc.stderr
    count = sum(1 for line in events.read_text().splitlines() if line.strip())
    assert f"read {count}, stored {count}, duplicates 0, rejected 0" in proc.stderr
    secured.admin.indices.refresh(index=f"{PREFIX}-*")
    return count


# -- the node -------------------------------------------------------------------------


def test_the_node_wants_tls_a_known_ca_and_a_password(secured: Secured) -> None:
    print(f"secured node started in {secured.start_seconds:.0f}s")
    url = secured.url
    with pytest.raises(httpx.HTTPError):  # plain HTTP is not spoken
        httpx.get(url.replace("https://", "http://"), timeout=10)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(url, timeout=10)  # the system CAs do not know the generated one
    assert httpx.get(url, verify=secured.tls(), timeout=10).status_code == 401
    bad = httpx.get(url, verify=secured.tls(), auth=("kt-reader", "wrong"), timeout=10)
    assert bad.status_code == 401
    ok = httpx.get(
        f"{url}/_plugins/_security/api/account",
        verify=secured.tls(),
        auth=(secured.users["reader"].name, secured.users["reader"].password),
        timeout=10,
    )
    assert ok.status_code == 200 and ok.json()["roles"] == ["kubetrail_reader"]


def test_the_admin_certificate_is_the_security_admin(secured: Secured) -> None:
    state = json.loads((DATA_DIR / "security.json").read_text())
    tls = secured.tls()
    tls.load_cert_chain(state["admin_cert"], state["admin_key"])
    answer = httpx.get(f"{secured.url}/_plugins/_security/api/account", verify=tls, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["user_name"] == "CN=kubetrail-admin,OU=kubetrail-test,O=kubetrail"


def test_the_mapping_in_deploy_names_only_roles_defined_there() -> None:
    roles = set(yaml.safe_load(ROLES_FILE.read_text())) - {"_meta"}
    mapped = set(yaml.safe_load(MAPPING_FILE.read_text())) - {"_meta"}
    assert (
        mapped
        == roles
        == {
            "kubetrail_setup",
            "kubetrail_writer",
            "kubetrail_reader",
            "kubetrail_lifecycle",
        }
    )


# -- setup ------------------------------------------------------------------------------


def test_setup_works_with_the_setup_role_alone(
    secured: Secured, set_up: list[subprocess.CompletedProcess[str]]
) -> None:
    first, second = set_up
    assert first.returncode == 0, first.stderr
    assert f"index template {PREFIX}: created" in first.stdout
    assert f"bootstrap index {PREFIX}-000001 + write alias {PREFIX}: created" in first.stdout
    assert second.returncode == 0, second.stderr
    assert "created" not in second.stdout and "updated" not in second.stdout, second.stdout
    aliases = secured.admin.indices.get_alias(name=PREFIX)
    assert aliases == {f"{PREFIX}-000001": {"aliases": {PREFIX: {"is_write_index": True}}}}


def test_setup_is_refused_to_the_writer_in_one_line(
    secured: Secured, set_up: list[subprocess.CompletedProcess[str]]
) -> None:
    proc = secured.kubetrail("setup", "--replicas", "0", user="writer")
    assert proc.returncode == 2
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.startswith("kubetrail: error:")]
    assert "403" in line and "kt-writer" in line


# -- writer -----------------------------------------------------------------------------


def test_ingest_works_with_the_writer_alone(secured: Secured, ingested: int) -> None:
    assert secured.admin.count(index=f"{PREFIX}-*")["count"] == ingested


def test_the_writer_may_not_delete_an_index_nor_change_templates(
    secured: Secured, ingested: int
) -> None:
    writer = secured.client("writer")
    for forbidden in (
        lambda: writer.indices.delete(index=f"{PREFIX}-000001"),
        lambda: writer.indices.create(index=f"{PREFIX}-999999"),
        lambda: writer.indices.delete_index_template(name=PREFIX),
        lambda: writer.indices.put_settings(
            index=f"{PREFIX}-000001", body={"index": {"number_of_replicas": 0}}
        ),
        lambda: writer.index(index="another-index", body={"x": 1}),
    ):
        with pytest.raises(AuthorizationException):
            forbidden()
    assert secured.admin.indices.exists(index=f"{PREFIX}-000001")
    writer.close()


def test_the_shipper_works_with_the_writer_alone(
    secured: Secured, ingested: int, tmp_path: Path
) -> None:
    with FakeApiServer(bookmark_interval=0.2) as server:
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        for i in range(5):
            server.apply("ADDED", pod(name=f"shipped-{i}", uid=f"u-shipped-{i}"))
        metrics = free_port()
        ship = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kubetrail",
                "ship",
                "--kubeconfig",
                str(kubeconfig),
                "--spool-dir",
                str(tmp_path / "spool"),
                "--metrics-host",
                "127.0.0.1",
                "--metrics-port",
                str(metrics),
            ],
            env=secured.env("writer"),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:

            def shipped() -> int:
                secured.admin.indices.refresh(index=f"{PREFIX}-*")
                body = {"query": {"prefix": {"resourceName": "shipped-"}}}
                return int(secured.admin.count(index=f"{PREFIX}-*", body=body)["count"])

            wait_until(lambda: shipped() == 5 or ship.poll() is not None, 90, "5 shipped pods")
            assert ship.poll() is None, ship.stdout.read() if ship.stdout else ""
            server.apply("ADDED", pod(name="shipped-late", uid="u-shipped-late"))
            wait_until(lambda: shipped() == 6, 60, "the pod created while shipping")
        finally:
            ship.send_signal(signal.SIGTERM)
            out, _ = ship.communicate(timeout=60)
        assert ship.returncode == 0, out
        secured.assert_no_password(out)


def test_the_writer_keeps_audit_events_and_joins_them(
    secured: Secured, ingested: int, tmp_path: Path
) -> None:
    """An audit log line and the version it made, ingested as the writer: the record goes
    to the audit index setup made, the stored version is updated with its user."""
    obj = pod(name="audited-0", uid="u-audited-0", rv="77")
    record = audit_event(
        audit_id="security-audit-1",
        verb="patch",
        resource="pods",
        namespace=obj["metadata"]["namespace"],
        name="audited-0",
        user="alice@example.com",
        level="RequestResponse",
        written=obj,
    )
    lines = tmp_path / "audit.jsonl"
    lines.write_text(json.dumps({"type": "MODIFIED", "object": obj}) + "\n" + json.dumps(record))
    proc = secured.kubetrail("ingest", "--workers", "1", str(lines), user="writer")
    assert proc.returncode == 0, proc.stderr
    assert "versions joined 1 exactly" in proc.stderr, proc.stderr
    secured.admin.indices.refresh(index=f"{PREFIX}-*")
    hits = secured.admin.search(
        index=f"{PREFIX}-0*", body={"query": {"term": {"id": "u-audited-0:77"}}}
    )["hits"]["hits"]
    assert [(h["_source"]["user"], h["_source"]["userSource"]) for h in hits] == [
        ("alice@example.com", "audit-exact")
    ]
    assert secured.admin.count(index=f"{PREFIX}-audit")["count"] == 1


# -- reader -----------------------------------------------------------------------------


def test_the_api_works_with_the_reader_alone(secured: Secured, ingested: int) -> None:
    port = free_port()
    api = subprocess.Popen(
        [sys.executable, "-m", "kubetrail", "api", "--port", str(port)],
        env=secured.env("reader"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            try:
                return httpx.get(f"{base}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return api.poll() is not None

        wait_until(up, 60, "the API")
        assert api.poll() is None, api.stdout.read() if api.stdout else ""
        health = httpx.get(f"{base}/health", timeout=30).json()
        assert health["status"] == "ok", health
        assert health["detail"]["events"] >= ingested
        assert "kt-reader:***@" in health["detail"]["url"]
        page = httpx.get(f"{base}/api/v1/events", params={"limit": 5}, timeout=30)
        assert page.status_code == 200 and len(page.json()) == 5
        history = httpx.get(f"{base}/api/v1/events/_/nodes/worker-3", timeout=30)
        assert history.status_code == 200 and history.json()["history"]
        pods = httpx.get(
            f"{base}/api/v1/diagnostics/check_pod_issues",
            params={"time_window": "24h"},
            timeout=60,
        )
        assert pods.status_code == 200
        assert pods.json()["summary"].get("CrashLoopBackOff"), pods.json()
        text = httpx.get(f"{base}/api/v1/events", params={"q": "OOMKilled"}, timeout=30)
        assert text.status_code == 200 and text.json()
    finally:
        api.send_signal(signal.SIGINT)
        out, _ = api.communicate(timeout=60)
    secured.assert_no_password(out)
    assert "POST https://127.0.0.1" in out  # the client's request log is there, without auth


def test_the_reader_may_not_write(secured: Secured, ingested: int) -> None:
    reader = secured.client("reader")
    for forbidden in (
        lambda: reader.index(index=PREFIX, body={"id": "x"}, op_type="create"),
        lambda: reader.delete_by_query(index=f"{PREFIX}-*", body={"query": {"match_all": {}}}),
        lambda: reader.indices.delete(index=f"{PREFIX}-000001"),
        lambda: reader.indices.put_alias(index=f"{PREFIX}-000001", name="elsewhere"),
        lambda: reader.bulk(body=[{"create": {"_index": PREFIX, "_id": "x"}}, {"id": "x"}]),
    ):
        with pytest.raises(AuthorizationException):
            forbidden()
    reader.close()


def test_the_reader_has_what_dashboards_asks(secured: Secured, ingested: int) -> None:
    reader = secured.client("reader")
    caps = reader.field_caps(index=f"{PREFIX}-*", fields="*")
    assert "timestamp" in caps["fields"]
    found = reader.msearch(
        body=[{"index": f"{PREFIX}-*"}, {"size": 0, "aggs": {"v": {"terms": {"field": "verb"}}}}]
    )
    assert found["responses"][0]["hits"]["total"]["value"] >= ingested
    reader.close()


def test_export_with_credentials_in_the_url_and_the_ca_from_the_environment(
    secured: Secured, ingested: int, tmp_path: Path
) -> None:
    reader = secured.users["reader"]
    url = f"opensearch+https://{reader.name}:{reader.password}@127.0.0.1:{PORT}"
    out = tmp_path / "export.jsonl"
    proc = secured.kubetrail(
        "export",
        "--store",
        url,
        "-o",
        str(out),
        user=None,
        KUBETRAIL_OPENSEARCH_CA_CERT=secured.ca_cert,
    )
    assert proc.returncode == 0, proc.stderr
    assert sum(1 for _ in out.open()) >= ingested


def test_failures_name_the_user_never_the_password(secured: Secured, ingested: int) -> None:
    wrong = "Wrong-" + secrets.token_urlsafe(12)
    secured.passwords.append(wrong)
    bad_password = secured.kubetrail(
        "export",
        "--store",
        f"opensearch+https://kt-reader:{wrong}@127.0.0.1:{PORT}",
        user=None,
        KUBETRAIL_OPENSEARCH_CA_CERT=secured.ca_cert,
    )
    assert bad_password.returncode == 2
    assert "401" in bad_password.stderr and "kt-reader:***@" in bad_password.stderr
    no_ca = secured.kubetrail("export", user="reader", KUBETRAIL_OPENSEARCH_CA_CERT="")
    assert no_ca.returncode == 2
    assert "TLS error: CERTIFICATE_VERIFY_FAILED" in no_ca.stderr, no_ca.stderr


# -- retention without ISM ----------------------------------------------------------------


def test_retention_without_ism_needs_the_lifecycle_role(secured: Secured, tmp_path: Path) -> None:
    """A second install (roles.yml for prefix kubetrail-aged): rollover at 3 documents,
    1-day retention; three events from 2020 land in -000001. The writer alone may not
    manage indices (one line, 403); writer + lifecycle rolls over and deletes -000001."""
    setup = secured.kubetrail(
        "setup",
        "--prefix",
        AGED,
        "--replicas",
        "0",
        "--rollover-docs",
        "3",
        "--retention",
        "1d",
        user="aged-setup",
    )
    assert setup.returncode == 0, setup.stderr
    assert "retention: fallback" in setup.stdout  # no ISM plugin on Maven Central
    events = tmp_path / "aged.jsonl"
    events.write_text(
        "".join(
            json.dumps(
                {
                    "type": "ADDED",
                    "timestamp": f"2020-01-0{i + 1}T00:00:00Z",
                    "object": {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {
                            "name": f"aged-{i}",
                            "namespace": "default",
                            "uid": f"u-aged-{i}",
                            "resourceVersion": str(100 + i),
                        },
                        "data": {"k": "v"},
                    },
                }
            )
            + "\n"
            for i in range(3)
        )
    )
    ingest = secured.kubetrail(
        "ingest",
        "--workers",
        "1",
        str(events),
        user="aged-writer",
        KUBETRAIL_OPENSEARCH_PREFIX=AGED,
    )
    assert ingest.returncode == 0, ingest.stderr
    secured.admin.indices.refresh(index=f"{AGED}-*")

    alone = secured.kubetrail("prune", user="aged-writer", KUBETRAIL_OPENSEARCH_PREFIX=AGED)
    assert "403 security_exception" in alone.stderr, alone.stderr  # said, in a line
    assert "Traceback" not in alone.stderr
    assert list(secured.admin.indices.get_alias(name=AGED)) == [f"{AGED}-000001"]  # no rollover

    janitor = secured.kubetrail("prune", user="aged-janitor", KUBETRAIL_OPENSEARCH_PREFIX=AGED)
    assert janitor.returncode == 0, janitor.stderr
    assert f"rolled the write index over to {AGED}-000002" in janitor.stderr
    assert f"deleted index {AGED}-000001" in janitor.stderr
    assert not secured.admin.indices.exists(index=f"{AGED}-000001")
    assert list(secured.admin.indices.get_alias(name=AGED)) == [f"{AGED}-000002"]
