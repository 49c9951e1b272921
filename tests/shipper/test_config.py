"""resources.yaml: the original tool's keys keep working, kubetrail's are checked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubetrail.events.redact import RedactionPolicy
from kubetrail.shipper.config import ResourceSpec, ShipperConfigError, load_config, parse_config
from tests.support.strategies import json_values

ORIGINAL = """\
discoverCRDs: true
retentionDays: 14
serverPort: 8080
maxQueryLimit: 1000
resources:
  - group: ""
    version: v1
    kind: Pod
    plural: pods
    namespaced: true
  - group: apps
    version: v1
    kind: Deployment
    plural: deployments
    namespaced: true
  - group: ""
    version: v1
    kind: Node
    plural: nodes
    namespaced: false
"""


def test_the_original_resources_yaml(tmp_path: Path) -> None:
    path = tmp_path / "resources.yaml"
    path.write_text(ORIGINAL)
    cfg = load_config(str(path))
    assert (cfg.discover_crds, cfg.retention_days, cfg.server_port, cfg.max_query_limit) == (
        True,
        14,
        8080,
        1000,
    )
    assert cfg.resources[1] == ResourceSpec("apps", "v1", "Deployment", "deployments", True)
    assert cfg.resources[2].list_path() == "/api/v1/nodes"
    assert cfg.resources[1].list_path("shop") == "/apis/apps/v1/namespaces/shop/deployments"
    assert cfg.resources[1].key == "deployments.apps"


def test_kubetrail_keys() -> None:
    cfg = parse_config(
        {
            "store": "sqlite:////data/k.db",
            "include": ["pods", "deployments.apps"],
            "exclude": ["events"],
            "namespaces": ["shop"],
            "redaction": [{"kinds": ["ConfigMap"], "dataKeys": "(?i)password"}],
            "batchSize": 100,
            "flushInterval": 0.5,
            "spoolDir": "/data/spool",
            "suppressHeartbeats": False,
        }
    )
    assert cfg.include == ("pods", "deployments.apps") and cfg.namespaces == ("shop",)
    assert (cfg.batch_size, cfg.flush_interval, cfg.suppress_heartbeats) == (100, 0.5, False)
    policy = cfg.redaction_policy()
    assert len(policy.rules) == len(type(policy)().rules) + 1


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"batchSize": "lots"}, "batchSize must be a number"),
        ({"batchSize": 2.5}, "batchSize must be a whole number"),
        ({"flushInterval": float("nan")}, "flushInterval must be above 0"),
        ({"serverPort": 70000}, "serverPort must be at most 65535"),
        ({"spoolDir": ["a"]}, "spoolDir must be a non-empty string"),
        ({"resources": 5}, "resources must be a list of mappings"),
        (
            {"resources": [{"kind": "Pod", "version": "v1", "plural": "pods", "namespaced": "no"}]},
            "resources[0].namespaced must be true or false",
        ),
        ({"batchSize": 0}, "batchSize must be at least 1"),
        ({"discoverCRDs": "yes"}, "discoverCRDs must be true or false"),
        ({"include": "pods"}, "include must be a list of strings"),
        ({"resources": [{"kind": "Pod"}]}, "resources[0] needs version, plural"),
        ({"redaction": [{"dataKeys": "("}]}, "invalid redaction pattern"),
        (
            {"redaction": {"urlCredentials": "no"}},
            "redaction: urlCredentials must be true or false",
        ),
        (
            {"redaction": {"customResourceFields": "("}},
            "redaction: customResourceFields: invalid redaction pattern",
        ),
        ({"redaction": {"secretAnnotationsKept": 3}}, "redaction: secretAnnotationsKept must be"),
        ({"redaction": {"configLine": False}}, "redaction: unknown key 'configLine'"),
        ({"redaction": "all"}, "redaction: must be a list of rules or a mapping"),
    ],
)
def test_bad_values_name_the_key(raw: dict, message: str) -> None:
    with pytest.raises(ShipperConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_config(raw)


def test_the_redaction_section_has_switches_with_all_on_by_default() -> None:
    assert parse_config({}).redaction_policy() == RedactionPolicy()
    cfg = parse_config(
        {
            "redaction": {
                "urlCredentials": False,
                "commandLineFlags": True,
                "configLines": False,
                "customResourceFields": "(?i)^pin$",
                "secretAnnotationsKept": ["team", "meta.helm.sh/*"],
                "rules": [{"kinds": ["ConfigMap"], "dataKeys": "(?i)dsn"}],
            }
        }
    )
    policy = cfg.redaction_policy(b"site-key")
    assert (policy.url_credentials, policy.command_line_flags, policy.config_lines) == (
        False,
        True,
        False,
    )
    assert policy.custom_resource_fields is not None
    assert policy.custom_resource_fields.pattern == "(?i)^pin$"
    assert policy.keeps_annotation("team") and policy.keeps_annotation("meta.helm.sh/x")
    assert not policy.keeps_annotation("kubernetes.io/service-account.name")
    assert len(policy.rules) == len(RedactionPolicy().rules) + 1
    assert policy.key == b"site-key"


def test_unknown_keys_are_kept_for_a_warning() -> None:
    assert parse_config({"colour": "blue"}).extra == {"colour": "blue"}


def test_missing_explicit_file_is_an_error_but_the_default_path_is_optional(
    tmp_path: Path, monkeypatch
) -> None:
    with pytest.raises(ShipperConfigError, match="does not exist"):
        load_config(str(tmp_path / "nope.yaml"))
    monkeypatch.delenv("CONFIG_PATH", raising=False)
    assert load_config(None).batch_size == 500  # /config/resources.yaml absent: defaults


def test_not_yaml_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("resources: [unclosed\n")
    with pytest.raises(ShipperConfigError, match="cannot read"):
        load_config(str(path))


_ANY = json_values(max_leaves=8, floats=True, text=12)
_CONFIG_KEYS = st.sampled_from(
    [
        "batchSize",
        "flushInterval",
        "spoolDir",
        "suppressHeartbeats",
        "discoverCRDs",
        "include",
        "exclude",
        "namespaces",
        "resources",
        "redaction",
        "watchTimeout",
        "stallTimeout",
        "colour",
    ]
)


@settings(max_examples=int(os.environ.get("KUBETRAIL_CONFIG_EXAMPLES", "300")), deadline=None)
@given(raw=st.dictionaries(_CONFIG_KEYS, _ANY, max_size=4))
def test_any_config_is_accepted_or_refused_with_one_line(raw: dict) -> None:
    try:
        parse_config(raw)
    except ShipperConfigError as exc:
        message = str(exc)
        assert message and "\n" not in message
        assert any(key in message for key in raw), message


def test_the_file_section_wins_over_the_environment_which_wins_over_the_defaults() -> None:
    from_env = RedactionPolicy.from_config({"urlCredentials": False})
    assert from_env != RedactionPolicy()
    # no section in the file: $KUBETRAIL_REDACTION's policy, keyed with the redaction key
    policy = parse_config({}).redaction_policy(b"k", otherwise=from_env)
    assert policy == RedactionPolicy.from_config({"urlCredentials": False}, key=b"k")
    assert policy.key == b"k" and policy.url_credentials is False
    # a section in the file: it, whatever the environment says
    from_file = parse_config({"redaction": {"configLines": False}})
    assert from_file.redaction_policy(otherwise=from_env) == from_file.redaction_policy()
    assert from_file.redaction_policy() != from_env
