"""Settings read from the environment, in one typed object.

| variable | default | meaning |
| --- | --- | --- |
| ``KUBETRAIL_STORE`` | ``sqlite:///./kubetrail.db`` | store URL (``--store`` wins) |
| ``KUBETRAIL_MAX_QUERY_LIMIT`` | ``5000`` | largest ``limit`` the API accepts |
| ``KUBETRAIL_RETENTION_DAYS`` | ``14`` | how long events are kept |
| ``KUBETRAIL_REDACTION_KEY`` | built-in | key of the redaction hashes (set it!) |
| ``KUBETRAIL_API_TOKEN`` | none | bearer token the REST API requires (``/health`` stays open) |
| ``KUBETRAIL_API_TOKEN_FILE`` | none | file with that token (a mounted Secret; re-read on change) |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from kubetrail.events.redact import RedactionPolicy
from kubetrail.store.url import DEFAULT_STORE_URL, MAX_RETENTION_DAYS

DEFAULT_LIMIT = 1000


class ConfigError(ValueError):
    """A setting has a value that cannot be used; the message names it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    store_url: str = DEFAULT_STORE_URL
    default_limit: int = DEFAULT_LIMIT
    max_query_limit: int = 5000
    retention_days: int = 14
    redaction_key: bytes | None = None
    api_token: str | None = None
    api_token_file: str | None = None
    max_request_bytes: int = 1024 * 1024

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        key = env.get("KUBETRAIL_REDACTION_KEY")
        return cls(
            store_url=env.get("KUBETRAIL_STORE") or DEFAULT_STORE_URL,
            max_query_limit=_positive_int(env, "KUBETRAIL_MAX_QUERY_LIMIT", 5000),
            retention_days=_positive_int(
                env, "KUBETRAIL_RETENTION_DAYS", 14, most=MAX_RETENTION_DAYS
            ),
            redaction_key=key.encode() if key else None,
            api_token=env.get("KUBETRAIL_API_TOKEN") or None,
            api_token_file=env.get("KUBETRAIL_API_TOKEN_FILE") or None,
        )

    def redaction_policy(self) -> RedactionPolicy:
        return RedactionPolicy(key=self.redaction_key) if self.redaction_key else RedactionPolicy()


def _positive_int(
    env: Mapping[str, str], name: str, default: int, *, most: int | None = None
) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value < 1:
        raise ConfigError(f"{name}={raw!r} must be at least 1")
    if most is not None and value > most:
        raise ConfigError(f"{name}={raw!r} must be at most {most}")
    return value
