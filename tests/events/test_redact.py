import base64
import copy
import hashlib
import hmac
import pickle
import re

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubetrail.events.normalize import normalize
from kubetrail.events.redact import (
    LAST_APPLIED,
    RedactionPolicy,
    RedactionRule,
    is_marker,
    is_secret,
    redact,
)
from kubetrail.events.text import search_text
from tests.support.k8s_objects import pod, secret

CANARY = "canary-Zx81-do-not-leak"


def _leaks(obj) -> bool:
    raw = orjson.dumps(obj).decode()
    b64 = base64.b64encode(CANARY.encode()).decode()
    return CANARY in raw or b64 in raw


def test_secret_data_string_data_and_last_applied_are_redacted():
    obj = secret(password=CANARY)
    obj["stringData"] = {"token": CANARY}
    out = redact(obj)
    assert not _leaks(out)
    assert all(is_marker(v) for v in out["data"].values())
    assert all(is_marker(v) for v in out["stringData"].values())
    assert is_marker(out["metadata"]["annotations"][LAST_APPLIED])
    # other annotations of a Secret are redacted too (hardening issue #15, item 5; this
    # asserted "payments" before): only well-known keys stay, see test_secret_annotations_*
    assert is_marker(out["metadata"]["annotations"]["team"])
    assert out["metadata"]["name"] == "payment-db-credentials"  # the rest stays
    assert set(out["data"]) == {"password", "username"}  # key names stay visible


def test_a_rotation_stays_visible_as_a_different_marker():
    a = redact(secret(password="one"))["data"]["password"]
    b = redact(secret(password="two"))["data"]["password"]
    assert a != b
    assert a == redact(secret(password="one"))["data"]["password"]


def test_the_key_changes_the_hash():
    plain = redact(secret(password="1234"))["data"]["password"]
    keyed = redact(secret(password="1234"), RedactionPolicy(key=b"site-key"))["data"]["password"]
    assert plain != keyed


def test_redacting_twice_changes_nothing():
    once = redact(secret(password=CANARY))
    assert redact(once) == once


def test_env_values_with_secret_names_are_redacted_by_default_and_last_applied_too():
    obj = pod(
        env=[{"name": "DB_PASSWORD", "value": CANARY}, {"name": "LOG_LEVEL", "value": "debug"}]
    )
    obj["metadata"]["annotations"] = {LAST_APPLIED: '{"env": "' + CANARY + '"}'}
    out = redact(obj)
    env = out["spec"]["containers"][0]["env"]
    assert is_marker(env[0]["value"])
    assert env[1]["value"] == "debug"
    assert not _leaks(out)


def test_env_in_deployment_and_cronjob_templates():
    containers = [{"name": "app", "env": [{"name": "API_TOKEN", "value": CANARY}]}]
    deploy = {"kind": "Deployment", "spec": {"template": {"spec": {"containers": containers}}}}
    cron = {
        "kind": "CronJob",
        "spec": {"jobTemplate": {"spec": {"template": {"spec": {"initContainers": containers}}}}},
    }
    assert not _leaks(redact(deploy))
    assert not _leaks(redact(cron))
    assert (
        deploy["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] == CANARY
    )  # input untouched


def test_configured_rule_for_configmap_keys():
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"DSN": CANARY, "mode": "x"},
    }
    policy = RedactionPolicy(
        rules=(RedactionRule.from_config({"kinds": ["ConfigMap"], "dataKeys": "^DSN$"}),)
    )
    out = redact(cm, policy)
    assert is_marker(out["data"]["DSN"]) and out["data"]["mode"] == "x"
    assert redact(cm, RedactionPolicy(rules=()))["data"]["DSN"] == CANARY


def test_canary_never_reaches_a_document_or_its_search_text():
    obj = secret(password=CANARY)
    doc = normalize("MODIFIED", obj)
    assert not _leaks(doc)
    assert CANARY not in search_text(doc["objectChanges"])


def test_marker_shape():
    marker = redact(secret(password="x"))["data"]["password"]
    assert re.fullmatch(r"\[REDACTED hmac-sha256:[0-9a-f]{12}\]", marker)


@settings(max_examples=200)
@given(
    key=st.binary(max_size=200),
    value=st.one_of(st.text(max_size=300), st.integers(), st.floats(allow_nan=False), st.none()),
)
def test_markers_are_hmac_sha256_of_the_value(key, value):
    # the marker is computed from precomputed HMAC pads: it must equal the standard HMAC
    raw = value if isinstance(value, str) else repr(value)
    digest = hmac.new(key, raw.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    assert RedactionPolicy(key=key).marker(value) == f"[REDACTED hmac-sha256:{digest[:12]}]"


def test_a_policy_survives_pickling_for_worker_processes():
    policy = RedactionPolicy(key=b"k" * 100)
    copy = pickle.loads(pickle.dumps(policy))
    assert copy == policy
    assert copy.marker("s3cret") == policy.marker("s3cret")


def test_the_env_name_cache_answers_like_the_pattern():
    rule = RedactionRule(env_names=re.compile(r"(?i)token"))
    policy = RedactionPolicy(rules=(rule,))
    obj = pod()
    env = obj["spec"]["containers"][0].setdefault("env", [])
    env[:] = [{"name": n, "value": CANARY} for n in ("API_TOKEN", "PLAIN", "api_token", "TOKEN_2")]
    for _ in range(2):  # the second time, every answer comes from the cache
        out = redact(obj, policy)
        values = [v["value"] for v in out["spec"]["containers"][0]["env"]]
        assert [is_marker(v) for v in values] == [True, False, True, True]
        assert obj["spec"]["containers"][0]["env"][0]["value"] == CANARY  # input untouched


# -- Secret-ness is decided once, defensively (hardening issue: odd spellings) ------------


@pytest.mark.parametrize("kind", ["Secret", "secret", "SECRET", " Secret", "Secret\t", "sEcReT"])
def test_every_spelling_of_the_secret_kind_is_redacted(kind: str) -> None:
    obj = secret(password=CANARY)
    obj["kind"] = kind
    obj["stringData"] = {"token": CANARY}
    out = redact(obj)
    assert is_secret(obj)
    assert not _leaks(out)
    assert is_marker(out["metadata"]["annotations"][LAST_APPLIED])


@pytest.mark.parametrize(
    "shape",
    [
        [CANARY],
        CANARY,
        base64.b64encode(CANARY.encode()).decode(),
        [{"password": CANARY}],
        {"nested": {"password": CANARY}},
        12345,
    ],
    ids=["list", "plain-string", "base64-string", "list-of-maps", "nested-map", "number"],
)
@pytest.mark.parametrize("field", ["data", "stringData", "binaryData"])
def test_secret_data_of_any_shape_is_hidden_whole(shape, field: str) -> None:
    obj = secret(password="x")
    obj[field] = shape
    out = redact(obj)
    assert not _leaks(out)
    if isinstance(shape, dict):
        assert set(out[field]) == set(shape)  # a map keeps its key names
        assert all(is_marker(v) for v in out[field].values())
    else:
        assert is_marker(out[field])
    # redacting again (re-ingesting an export) changes nothing
    assert redact(out) == out


def test_a_kind_that_only_contains_secret_is_not_a_secret() -> None:
    for kind in ("SecretStore", "SealedSecret", "ExternalSecret", ""):
        assert not is_secret({"kind": kind})
    assert not is_secret({"kind": None})


# -- Redaction beyond Secrets (hardening issue #15, item 5) ----------------------------------
#
# Each rule: the secret part becomes a marker of the same HMAC form (a rotation stays visible),
# the rest stays readable, look-alikes stay as they are, and redacting again changes nothing.

MARK = RedactionPolicy().marker(CANARY)  # what the canary becomes wherever it is hidden


def _redacted_and_stable(obj, policy: RedactionPolicy | None = None):
    policy = policy or RedactionPolicy()
    before = copy.deepcopy(obj)
    out = redact(obj, policy)
    assert obj == before  # the input is never mutated
    assert not _leaks(out)
    assert redact(out, policy) == out  # idempotent: re-ingesting an export changes nothing
    return out


def _pod_env(*pairs: tuple[str, str]):
    return pod(env=[{"name": n, "value": v} for n, v in pairs])


@pytest.mark.parametrize(
    "name",
    [
        "DB_PASS",
        "PGPASS",
        "PGPASSWORD",
        "MYSQL_PWD",
        "MYSQL_ROOT_PASSWORD",
        "RABBITMQ_DEFAULT_PASS",
        "HTPASSWD",
        "dbPass",
        "dbPwd",
        "db.password",
        "PASSPHRASE",
        "AUTH_TOKEN",
        "AUTHORIZATION",
        "OAUTH_CLIENT_SECRET",
        "SIGNING_KEY",
        "STRIPE_API_KEY",
    ],
)
def test_env_names_that_mean_a_credential_are_redacted(name: str) -> None:
    out = _redacted_and_stable(_pod_env((name, CANARY)))
    assert out["spec"]["containers"][0]["env"][0] == {"name": name, "value": MARK}


@pytest.mark.parametrize(
    "name",
    [
        "BYPASS_CACHE",
        "PASSENGER_COUNT",
        "PASS_THROUGH",
        "COMPASS_HEADING",
        "bypassCache",
        "AUTHOR",
        "AUTHORITY",
        "PWD",  # the working directory
        "OLDPWD",
        "TOKENIZERS_PARALLELISM",
        "LOG_LEVEL",
    ],
)
def test_names_that_only_look_like_a_credential_stay(name: str) -> None:
    out = redact(_pod_env((name, "visible")))
    assert out["spec"]["containers"][0]["env"][0]["value"] == "visible"
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "data": {name: "visible"}}
    assert redact(cm)["data"][name] == "visible"


def test_configmap_keys_with_the_wider_names() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"PGPASS": CANARY, "mode": "x"}}
    out = _redacted_and_stable(cm)
    assert out["data"] == {"PGPASS": MARK, "mode": "x"}


def test_url_passwords_in_env_args_and_configmaps() -> None:
    url = f"postgres://app:{CANARY}@db.shop.svc:5432/shop?sslmode=require"
    shown = f"postgres://app:{MARK}@db.shop.svc:5432/shop?sslmode=require"
    obj = _pod_env(("DATABASE_URL", url), ("CACHE", f"redis://:{CANARY}@redis:6379/0"))
    obj["spec"]["containers"][0]["args"] = ["--db", url, f"--amqp=amqp://guest:{CANARY}@mq//"]
    out = _redacted_and_stable(obj)
    container = out["spec"]["containers"][0]
    assert container["env"][0]["value"] == shown  # scheme, user, host, path stay visible
    assert container["env"][1]["value"] == f"redis://:{MARK}@redis:6379/0"
    assert container["args"] == ["--db", shown, f"--amqp=amqp://guest:{MARK}@mq//"]
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "data": {"app.conf": f"upstream = {url}\nworkers = 4\n"},
    }
    assert _redacted_and_stable(cm)["data"]["app.conf"] == f"upstream = {shown}\nworkers = 4\n"


def test_a_password_with_an_unencoded_at_sign_is_hidden_whole() -> None:
    out = _redacted_and_stable(_pod_env(("DSN", f"mysql://root:{CANARY}@x@db/app")))
    marker = RedactionPolicy().marker(f"{CANARY}@x")
    assert out["spec"]["containers"][0]["env"][0]["value"] == f"mysql://root:{marker}@db/app"


@pytest.mark.parametrize(
    "value",
    [
        "http://checkout.shop.svc:8080/health",
        "https://ghp_user@github.com/org/repo.git",  # a user alone: nothing after a colon
        "containerd://4f2a",
        "ops@example.com, see http://wiki/x",
        "mailto:ops@example.com",
    ],
)
def test_urls_without_a_password_stay(value: str) -> None:
    obj = _pod_env(("LINK", value))
    obj["spec"]["containers"][0]["args"] = [value]
    out = redact(obj)
    assert out["spec"]["containers"][0]["env"][0]["value"] == value
    assert out["spec"]["containers"][0]["args"] == [value]


def _with_args(obj, args=None, command=None):
    containers = obj["spec"]["template"]["spec"]["containers"]
    if args is not None:
        containers[0]["args"] = args
    if command is not None:
        containers[0]["command"] = command
    return obj


def _deployment(args=None, command=None):
    return _with_args(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "api", "annotations": {LAST_APPLIED: '{"x": "' + CANARY + '"}'}},
            "spec": {"template": {"spec": {"containers": [{"name": "api", "image": "api:1"}]}}},
        },
        args,
        command,
    )


def test_secret_flags_in_args_and_command() -> None:
    out = _redacted_and_stable(
        _deployment(
            args=["--password=" + CANARY, "--db-password", CANARY, "--port", "8080", "-v"],
            command=["sh", "-c", f"exec /app --api-key {CANARY} --token='{CANARY}' --debug"],
        )
    )
    container = out["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == [
        "--password=" + MARK,
        "--db-password",
        MARK,
        "--port",
        "8080",
        "-v",
    ]
    assert container["command"] == [
        "sh",
        "-c",
        f"exec /app --api-key {MARK} --token='{MARK}' --debug",
    ]
    assert is_marker(out["metadata"]["annotations"][LAST_APPLIED])  # it holds the same args


def test_secret_flags_in_every_pod_template_and_in_env_options() -> None:
    containers = [{"name": "c", "args": [f"-password={CANARY}"]}]
    cron = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "spec": {"jobTemplate": {"spec": {"template": {"spec": {"initContainers": containers}}}}},
    }
    out = _redacted_and_stable(cron)
    init = out["spec"]["jobTemplate"]["spec"]["template"]["spec"]["initContainers"][0]
    assert init["args"] == [f"-password={MARK}"]
    java = _pod_env(("JAVA_OPTS", f"-Xmx1g -Dspring.datasource.password={CANARY} -Dx=1"))
    env = _redacted_and_stable(java)["spec"]["containers"][0]["env"]
    assert env[0]["value"] == f"-Xmx1g -Dspring.datasource.password={MARK} -Dx=1"


@pytest.mark.parametrize(
    "args",
    [
        ["--token-ttl=5m", "--bypass-cache=true", "--password-file=/etc/db/password"],
        ["--password=$(DB_PASSWORD)", "--token", "${API_TOKEN}"],  # references, not values
        ["--password", "--verbose"],  # a flag without its value hides no other flag
        ["--authorization-mode=Node,RBAC", "--service-account-key-file=/etc/sa.pub"],
    ],
)
def test_flags_that_hold_no_secret_stay(args: list[str]) -> None:
    out = redact(_deployment(args=list(args)))
    assert out["spec"]["template"]["spec"]["containers"][0]["args"] == args
    assert not is_marker(out["metadata"]["annotations"][LAST_APPLIED])  # nothing was hidden


# a YAML block (``privateKey: |``) is hidden whole, lines and all
PEM_MARK = RedactionPolicy().marker(f"-----BEGIN KEY-----\n    {CANARY}\n    -----END KEY-----")
CONFIG_FILES = {
    "application.yaml": (
        "spring:\n  datasource:\n    url: jdbc:postgresql://db/shop\n"
        f"    username: app\n    password: {CANARY}\n  token_ttl: 5m\n",
        "spring:\n  datasource:\n    url: jdbc:postgresql://db/shop\n"
        f"    username: app\n    password: {MARK}\n  token_ttl: 5m\n",
    ),
    "app.properties": (
        f"db.user=app\ndb.password = {CANARY}\noauth.clientSecret: '{CANARY}'\ncache=on\n",
        f"db.user=app\ndb.password = {MARK}\noauth.clientSecret: '{MARK}'\ncache=on\n",
    ),
    ".env": (
        f'DB_HOST=db\nexport DB_PASSWORD={CANARY}\nAPI_TOKEN="{CANARY}"\nPWD=/app\n',
        f'DB_HOST=db\nexport DB_PASSWORD={MARK}\nAPI_TOKEN="{MARK}"\nPWD=/app\n',
    ),
    "tls.yaml": (
        f"tls:\n  privateKey: |\n    -----BEGIN KEY-----\n    {CANARY}\n    -----END KEY-----\n"
        "  cert: visible\n",
        f"tls:\n  privateKey: |\n    {PEM_MARK}\n  cert: visible\n",
    ),
    "config.json": (
        f'{{\n  "user": "app",\n  "apiKey": "{CANARY}",\n  "secret": "{CANARY}"\n}}\n',
        f'{{\n  "user": "app",\n  "apiKey": "{MARK}",\n  "secret": "{MARK}"\n}}\n',
    ),
}


@pytest.mark.parametrize("name", sorted(CONFIG_FILES))
def test_secret_lines_inside_configmap_values(name: str) -> None:
    text, expected = CONFIG_FILES[name]
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {name: text}}
    assert _redacted_and_stable(cm)["data"][name] == expected


def test_config_lines_that_hold_no_secret_stay() -> None:
    text = (
        "location / { proxy_pass http://backend:8080; }\n"
        "  proxy_pass http://backend;\n"
        "passwordFile: /etc/db/password\n"
        "bypass: true\n"
        "secretName: db-credentials\n"
        "password: ${DB_PASSWORD}\n"
        "password:\n"
        "  secretRef: db\n"
    )
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"x": text}}
    assert redact(cm)["data"]["x"] == text


def _custom(spec):
    return {
        "apiVersion": "databases.example.com/v1",
        "kind": "PostgresCluster",
        "metadata": {"name": "shop", "annotations": {LAST_APPLIED: '{"p": "' + CANARY + '"}'}},
        "spec": spec,
    }


def test_custom_resource_fields_named_like_credentials() -> None:
    obj = _custom(
        {
            "replicas": 3,
            "adminPassword": CANARY,
            "users": [{"name": "app", "token": CANARY}, {"name": "ro", "passwordFile": "/p"}],
            "backup": {"s3": {"apiKey": CANARY, "secretName": "s3-creds", "endpoint": "s3.local"}},
            "existingSecret": "shop-admin",  # names a Secret: stays
            "password": {"secretKeyRef": {"name": "pg", "key": "password"}},  # not a string
            "monitoring": {"url": f"https://metrics:{CANARY}@prom:9090"},
        }
    )
    out = _redacted_and_stable(obj)
    spec = out["spec"]
    assert spec["adminPassword"] == MARK
    assert spec["users"] == [{"name": "app", "token": MARK}, {"name": "ro", "passwordFile": "/p"}]
    assert spec["backup"]["s3"] == {
        "apiKey": MARK,
        "secretName": "s3-creds",
        "endpoint": "s3.local",
    }
    assert spec["existingSecret"] == "shop-admin"
    assert spec["password"] == {"secretKeyRef": {"name": "pg", "key": "password"}}
    assert spec["monitoring"]["url"] == f"https://metrics:{MARK}@prom:9090"
    assert spec["replicas"] == 3 and out["metadata"]["name"] == "shop"
    assert is_marker(out["metadata"]["annotations"][LAST_APPLIED])


def test_built_in_kinds_are_not_custom_resources() -> None:
    for api_version in ("v1", "apps/v1", "networking.k8s.io/v1"):
        obj = {"apiVersion": api_version, "kind": "Thing", "spec": {"token": "visible"}}
        assert redact(obj)["spec"]["token"] == "visible"


def test_a_deep_custom_resource_is_walked_without_recursion() -> None:
    spec: dict = {"token": CANARY}
    for _ in range(5000):
        spec = {"nested": spec}
    out = redact(_custom(spec))
    assert "nested" in out["spec"]  # no RecursionError; and the canary is gone:
    inner = out["spec"]
    while "nested" in inner:
        inner = inner["nested"]
    assert inner == {"token": MARK}


def test_secret_annotations_are_redacted_except_well_known_keys() -> None:
    obj = secret(password=CANARY)
    kept = {
        "kubernetes.io/service-account.name": "builder",
        "kubernetes.io/service-account.uid": "5f1c",
        "meta.helm.sh/release-name": "shop",
        "meta.helm.sh/release-namespace": "payments",
        "app.kubernetes.io/managed-by": "Helm",
        "cert-manager.io/issuer-name": "letsencrypt",
    }
    obj["metadata"]["annotations"].update(kept)
    obj["metadata"]["annotations"]["vault.example.com/seed"] = CANARY
    out = _redacted_and_stable(obj)
    annotations = out["metadata"]["annotations"]
    assert {k: annotations[k] for k in kept} == kept
    assert annotations["vault.example.com/seed"] == MARK
    assert is_marker(annotations["team"]) and is_marker(annotations[LAST_APPLIED])
    # the list is configurable, and a shape no API server sends is hidden whole
    policy = RedactionPolicy(secret_annotations_kept=("team",))
    assert redact(secret(password="x"), policy)["metadata"]["annotations"]["team"] == "payments"
    odd = secret(password="x")
    odd["metadata"]["annotations"] = [CANARY]
    assert is_marker(_redacted_and_stable(odd)["metadata"]["annotations"])


def test_event_messages_stay_as_they_are() -> None:
    # documented: Event messages are written by controllers and a diagnosis needs them
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "e", "namespace": "shop"},
        "message": "Back-off restarting failed container: --password=hunter2 rejected",
    }
    assert redact(event) == event


def test_every_switch_turns_its_rule_off() -> None:
    off = RedactionPolicy(
        url_credentials=False,
        command_line_flags=False,
        config_lines=False,
        custom_resource_fields=None,
    )
    obj = _pod_env(("DSN", f"postgres://u:{CANARY}@db/x"))
    obj["spec"]["containers"][0]["args"] = [f"--password={CANARY}"]
    assert redact(obj, off) == obj
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"f": f"password: {CANARY}"}}
    assert redact(cm, off) == cm
    custom = _custom({"token": CANARY})
    assert redact(custom, off) == custom


def test_a_policy_with_its_switches_survives_pickling() -> None:
    policy = RedactionPolicy.from_config(
        {"urlCredentials": False, "customResourceFields": "(?i)^pin$", "secretAnnotationsKept": []}
    )
    copy_ = pickle.loads(pickle.dumps(policy))
    assert copy_ == policy and copy_.keeps_annotation("team") is False
    assert redact(_custom({"pin": "1234"}), copy_)["spec"]["pin"] == policy.marker("1234")


def test_redaction_config_mapping_and_list_forms() -> None:
    assert RedactionPolicy.from_config(None) == RedactionPolicy()
    assert RedactionPolicy.from_config({}) == RedactionPolicy()
    legacy = RedactionPolicy.from_config([{"kinds": "ConfigMap", "dataKeys": "^DSN$"}])
    assert len(legacy.rules) == len(RedactionPolicy().rules) + 1
    no_names = RedactionPolicy.from_config({"sensitiveNames": False})
    env = redact(_pod_env(("DB_PASSWORD", "x")), no_names)["spec"]["containers"][0]["env"]
    assert env[0]["value"] == "x"
    keyed = RedactionPolicy.from_config({}, key=b"site")
    assert keyed.marker("x") == RedactionPolicy(key=b"site").marker("x")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (5, "must be a list of rules or a mapping"),
        ({"urlCredentials": "yes"}, "urlCredentials must be true or false"),
        ({"customResourceFields": "("}, "customResourceFields: invalid redaction pattern"),
        ({"sensitiveNames": 3}, "sensitiveNames must be a regular expression"),
        ({"secretAnnotationsKept": "team"}, "secretAnnotationsKept must be a list of keys"),
        ({"rules": [{"kinds": 1}]}, "rules[0]: kinds must be a kind or a list of kinds"),
        ({"rules": ["x"]}, "rules[0]: a rule must be a mapping"),
        ({"urlCredential": True}, "unknown key 'urlCredential'"),
    ],
)
def test_a_bad_redaction_config_names_the_key(raw, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        RedactionPolicy.from_config(raw)


def test_the_canary_leaks_into_no_document_and_no_search_text() -> None:
    url = f"postgres://app:{CANARY}@db/shop"
    deploy = _deployment(args=[f"--token={CANARY}", "--db", url])
    deploy["metadata"].update(namespace="shop", uid="u1", resourceVersion="1")
    objects = [
        _pod_env(("PGPASS", CANARY), ("DATABASE_URL", url)),
        deploy,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "shop"},
            "data": {"app.properties": f"db.password={CANARY}\nurl={url}\n"},
        },
        _custom({"auth": {"clientSecret": CANARY}}),
        secret(password=CANARY),
    ]
    for obj in objects:
        doc = normalize("MODIFIED", obj)
        assert not _leaks(doc), obj["kind"]
        assert CANARY not in search_text(doc["objectChanges"]), obj["kind"]


_FRAGMENTS = st.sampled_from(
    [
        "password",
        "Token",
        "db_",
        "apiKey",
        ":",
        "=",
        " ",
        "\n",
        "--",
        "-",
        "postgres://",
        "u",
        "@",
        "h",
        "/",
        "'",
        '"',
        "$(",
        ")",
        "pw",
        ",",
        "export ",
        "[REDACTED hmac-sha256:0123456789ab]",
        "PGPASS",
        "é",
        "İ",
    ]
)


@settings(max_examples=300)
@given(text=st.lists(_FRAGMENTS, max_size=12).map("".join))
def test_hiding_inside_values_is_idempotent(text: str) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"f": text}}
    once = redact(cm)
    assert redact(once) == once
    obj = _deployment(args=text.split(" "))
    once = redact(obj)
    assert redact(once) == once
