"""Settings read from the environment, in one typed object.

This is the only module that reads environment variables: commands read
:class:`Settings` once (:meth:`Settings.from_env`) and hand the parts on.

| variable | default | meaning |
| --- | --- | --- |
| ``KUBETRAIL_STORE`` | ``sqlite:///./kubetrail.db`` | store URL (``--store`` wins) |
| ``KUBETRAIL_MAX_QUERY_LIMIT`` | ``5000`` | largest ``limit`` the API accepts |
| ``KUBETRAIL_RETENTION_DAYS`` | ``14`` | how long events are kept |
| ``KUBETRAIL_REDACTION_KEY`` | built-in | key of the redaction hashes (set it!) |
| ``KUBETRAIL_REDACTION`` | all on | JSON: what is redacted beyond Secrets (README) |
| ``KUBETRAIL_API_TOKEN`` | none | bearer token of the REST API and the MCP server |
| ``KUBETRAIL_API_TOKEN_FILE`` | none | file with the API's token (re-read on change) |
| ``AUDIT_API_URL`` | ``http://localhost:8080`` | the REST API the MCP server asks |
| ``CONFIG_PATH`` | ``/config/resources.yaml`` | the shipper's config file |
| ``KUBETRAIL_OPENSEARCH_USER``, ``…_PASSWORD`` | none | basic auth if the URL has none |
| ``KUBETRAIL_OPENSEARCH_API_KEY`` | none | API key instead of basic auth |
| ``KUBETRAIL_OPENSEARCH_CA_CERT`` | none | CA certificate (PEM) to verify TLS with |
| ``KUBETRAIL_OPENSEARCH_INSECURE`` | ``false`` | ``true``: no TLS certificate checks |
| ``KUBETRAIL_OPENSEARCH_PREFIX`` | ``kubetrail-events`` | index prefix and write alias |

``KUBETRAIL_API_TOKEN``: the API requires it (``/health`` stays open); the MCP server
sends it to the API and requires it over HTTP. A command-line option wins over its
variable (``--store``, ``--api-url``, ``--config``, ``setup --api-key``).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from kubetrail.events.redact import RedactionPolicy

DEFAULT_STORE_URL = "sqlite:///./kubetrail.db"
#: The longest retention any store accepts (a century: times before year 1 do not exist).
MAX_RETENTION_DAYS = 36500
DEFAULT_LIMIT = 1000
DEFAULT_API_URL = "http://localhost:8080"


class ConfigError(ValueError):
    """A setting has a value that cannot be used; the message names it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenSearchSettings:
    """How to reach OpenSearch beyond what the store URL says."""

    user: str | None = None
    password: str | None = None
    api_key: str | None = None
    ca_cert: str | None = None
    insecure: bool = False
    prefix: str | None = None  # None: the store's default prefix

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OpenSearchSettings:
        env = os.environ if env is None else env
        return cls(
            user=env.get("KUBETRAIL_OPENSEARCH_USER") or None,
            password=env.get("KUBETRAIL_OPENSEARCH_PASSWORD") or None,
            api_key=env.get("KUBETRAIL_OPENSEARCH_API_KEY") or None,
            ca_cert=env.get("KUBETRAIL_OPENSEARCH_CA_CERT") or None,
            insecure=env.get("KUBETRAIL_OPENSEARCH_INSECURE", "").lower() in ("1", "true", "yes"),
            prefix=env.get("KUBETRAIL_OPENSEARCH_PREFIX") or None,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """What the commands, the API and the MCP server are configured with (table above)."""

    store_url: str = DEFAULT_STORE_URL
    default_limit: int = DEFAULT_LIMIT
    max_query_limit: int = 5000
    retention_days: int = 14
    redaction_key: bytes | None = None
    #: ``KUBETRAIL_REDACTION`` (JSON, the keys of the shipper config's ``redaction`` section)
    redaction: RedactionPolicy | None = None
    api_token: str | None = None
    api_token_file: str | None = None
    max_request_bytes: int = 1024 * 1024
    #: ``POST /api/v1/audit`` (the API server's webhook batches): taken only when the store
    #: may be written (``kubetrail api --accept-audit``, ``kubetrail ship --api-port``), up to
    #: ``max_audit_bytes`` a request
    accept_audit: bool = False
    max_audit_bytes: int = 64 * 1024 * 1024
    api_url: str = DEFAULT_API_URL
    shipper_config_path: str | None = None
    #: Host names the servers answer besides IPs, localhost and cluster names (hosts.py).
    allowed_hosts: tuple[str, ...] = ()
    opensearch: OpenSearchSettings = field(default_factory=OpenSearchSettings)

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
            redaction=_redaction(env),
            api_token=env.get("KUBETRAIL_API_TOKEN") or None,
            api_token_file=env.get("KUBETRAIL_API_TOKEN_FILE") or None,
            api_url=env.get("AUDIT_API_URL") or DEFAULT_API_URL,
            shipper_config_path=env.get("CONFIG_PATH") or None,
            allowed_hosts=tuple(
                h.strip() for h in env.get("KUBETRAIL_ALLOWED_HOSTS", "").split(",") if h.strip()
            ),
            opensearch=OpenSearchSettings.from_env(env),
        )

    def redaction_policy(self) -> RedactionPolicy:
        base = self.redaction or RedactionPolicy()
        return dataclasses.replace(base, key=self.redaction_key) if self.redaction_key else base


def _redaction(env: Mapping[str, str]) -> RedactionPolicy | None:
    raw = env.get("KUBETRAIL_REDACTION")
    if not raw:
        return None
    try:
        return RedactionPolicy.from_config(json.loads(raw))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"KUBETRAIL_REDACTION is not JSON: {exc}") from None
    except ValueError as exc:
        raise ConfigError(f"KUBETRAIL_REDACTION: {exc}") from None


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
