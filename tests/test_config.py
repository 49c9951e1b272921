"""Settings from the environment: defaults, and one clear error per bad value."""

from __future__ import annotations

import pytest

from kubetrail.config import ConfigError, Settings
from kubetrail.events.redact import RedactionPolicy


def test_defaults() -> None:
    assert Settings.from_env({}).retention_days == 14


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "must be at least 1"),
        ("two weeks", "is not a whole number"),
        ("739946", "must be at most 36500"),  # a cutoff before year 1
    ],
)
def test_retention_days_outside_what_a_store_can_keep(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        Settings.from_env({"KUBETRAIL_RETENTION_DAYS": value})
    assert "KUBETRAIL_RETENTION_DAYS" in str(err.value)


def test_the_longest_retention_still_works() -> None:
    assert Settings.from_env({"KUBETRAIL_RETENTION_DAYS": "36500"}).retention_days == 36500


def test_redaction_switches_from_the_environment() -> None:
    settings = Settings.from_env(
        {"KUBETRAIL_REDACTION": '{"configLines": false}', "KUBETRAIL_REDACTION_KEY": "k"}
    )
    policy = settings.redaction_policy()
    assert policy.config_lines is False and policy.url_credentials is True
    assert policy.key == b"k"
    assert Settings.from_env({}).redaction_policy() == RedactionPolicy()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{nope", "is not JSON"),
        ('{"urlCredentials": "no"}', "urlCredentials must be true or false"),
        ('{"colour": 1}', "unknown key 'colour'"),
    ],
)
def test_a_bad_redaction_setting_names_the_variable_and_key(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        Settings.from_env({"KUBETRAIL_REDACTION": value})
    assert "KUBETRAIL_REDACTION" in str(err.value)
