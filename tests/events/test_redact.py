import base64
import hashlib
import hmac
import pickle
import re

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from kubetrail.events.normalize import normalize
from kubetrail.events.redact import LAST_APPLIED, RedactionPolicy, RedactionRule, is_marker, redact
from kubetrail.events.text import search_text
from tests.k8s_objects import pod, secret

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
    assert out["metadata"]["annotations"]["team"] == "payments"  # the rest stays
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
