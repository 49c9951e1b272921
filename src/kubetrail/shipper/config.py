"""Shipper configuration: the original tool's ``resources.yaml``, plus kubetrail's keys.

The original keys keep their meaning::

    discoverCRDs: true        # watch CRDs found at runtime
    retentionDays: 14
    serverPort: 8080          # REST API port of `kubetrail ship --api-port` (no number given)
    maxQueryLimit: 5000
    resources:                # extra or explicit resources (always watched)
      - {group: apps, version: v1, kind: Deployment, plural: deployments, namespaced: true}

kubetrail's own keys (all optional)::

    store: sqlite:////data/kubetrail.db     # or opensearch+https://…
    include: [pods, deployments.apps]       # only these (plural or plural.group); empty = all
    exclude: [leases.coordination.k8s.io]   # never these (default: Leases, heartbeat noise)
    namespaces: [shop, payments]            # only these namespaces; empty = all
    redaction:                              # beyond Secrets (always redacted); defaults: all on
      urlCredentials: true                  #   postgres://user:PASSWORD@host
      commandLineFlags: true                #   --password=…, --token … in args/command
      configLines: true                     #   password: … lines in ConfigMap values
      customResourceFields: "<regex>"       #   custom resources' spec fields (false: none)
      secretAnnotationsKept: [meta.helm.sh/*]   # a Secret's annotations left visible
      sensitiveNames: "<regex>"             #   env / ConfigMap key names (replaces the default)
      rules:                                #   extra name rules (a list alone: rules, as before)
        - {kinds: [ConfigMap], dataKeys: "(?i)dsn"}
    batchSize: 500                          # documents per store write
    flushInterval: 1.0                      # seconds before a partial batch is written
    queueSize: 10000                        # events buffered between watchers and delivery
    spoolDir: /data/spool                   # where batches wait while the store is down
    suppressHeartbeats: true                # drop updates that change only heartbeat times
    watchTimeout: 300                       # seconds per watch request before renewal
    stallTimeout: 90                        # no line (not even a bookmark) for this long: restart
    retentionInterval: 3600                 # seconds between retention runs (retentionDays)

``--config`` or ``CONFIG_PATH`` (read into :class:`~kubetrail.config.Settings`;
default ``/config/resources.yaml``) names the file; a missing file at the default
path means defaults, at an explicit path it is an error.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kubetrail.events.redact import RedactionPolicy
from kubetrail.store.url import MAX_RETENTION_DAYS

DEFAULT_CONFIG_PATH = "/config/resources.yaml"
DEFAULT_EXCLUDE = ("leases.coordination.k8s.io",)


class ShipperConfigError(ValueError):
    """The configuration cannot be used; the message names the key."""


@dataclass(frozen=True, slots=True)
class ResourceSpec:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def key(self) -> str:
        """``plural`` for the core group, else ``plural.group`` (kubectl's notation)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def list_path(self, namespace: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if namespace and self.namespaced:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ShipperConfig:
    discover_crds: bool = True
    retention_days: int = 14
    server_port: int = 8080
    max_query_limit: int = 5000
    resources: tuple[ResourceSpec, ...] = ()
    store: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    namespaces: tuple[str, ...] = ()
    # the config file's redaction section; None: not given (the environment's or the defaults)
    redaction: RedactionPolicy | None = None
    batch_size: int = 500
    flush_interval: float = 1.0
    queue_size: int = 10_000
    spool_dir: str = "./kubetrail-spool"
    suppress_heartbeats: bool = True
    watch_timeout: int = 300
    stall_timeout: float = 90.0
    retention_interval: float = 3600.0
    extra: dict[str, Any] = field(default_factory=dict)  # unknown keys, reported once

    def redaction_policy(
        self, key: bytes | None = None, *, otherwise: RedactionPolicy | None = None
    ) -> RedactionPolicy:
        """The ``redaction`` section's policy (``otherwise``, else the defaults, when the file
        has none), its markers keyed with ``key`` if given."""
        policy = self.redaction or otherwise or RedactionPolicy()
        return dataclasses.replace(policy, key=key) if key else policy


_KEYS = {
    "discoverCRDs": ("discover_crds", bool),
    "retentionDays": ("retention_days", int),
    "serverPort": ("server_port", int),
    "maxQueryLimit": ("max_query_limit", int),
    "store": ("store", str),
    "batchSize": ("batch_size", int),
    "flushInterval": ("flush_interval", float),
    "queueSize": ("queue_size", int),
    "spoolDir": ("spool_dir", str),
    "suppressHeartbeats": ("suppress_heartbeats", bool),
    "watchTimeout": ("watch_timeout", int),
    "stallTimeout": ("stall_timeout", float),
    "retentionInterval": ("retention_interval", float),
}


def load_config(path: str | None = None) -> ShipperConfig:
    """Read ``path`` (``--config`` or ``$CONFIG_PATH``), else the default path if it exists."""
    target = Path(path or DEFAULT_CONFIG_PATH)
    if not target.exists():
        if path:
            raise ShipperConfigError(f"config file {target} does not exist")
        return ShipperConfig()
    try:
        raw = yaml.safe_load(target.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ShipperConfigError(f"cannot read {target}: {str(exc).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise ShipperConfigError(f"{target}: expected a mapping at the top level")
    return parse_config(raw, source=str(target))


def parse_config(raw: dict[str, Any], *, source: str = "config") -> ShipperConfig:
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _KEYS:
            name, typ = _KEYS[key]
            values[name] = _typed(source, key, value, typ)
        elif key == "resources":
            if value is not None and not isinstance(value, list):
                raise ShipperConfigError(f"{source}: resources must be a list of mappings")
            values["resources"] = tuple(_resource(source, i, r) for i, r in enumerate(value or []))
        elif key in ("include", "exclude", "namespaces"):
            values[key] = _strings(source, key, value)
        elif key == "redaction":
            try:
                values["redaction"] = RedactionPolicy.from_config(value)
            except ValueError as exc:
                raise ShipperConfigError(f"{source}: redaction: {exc}") from None
        else:
            extra[key] = value
    return ShipperConfig(**values, extra=extra)


_AT_MOST = {"retentionDays": MAX_RETENTION_DAYS, "serverPort": 65535}
#: Numbers with a floor (every other number must be above zero).
_AT_LEAST_ONE = frozenset({"batchSize", "queueSize", "watchTimeout", "retentionDays", "serverPort"})


def _typed(source: str, key: str, value: Any, typ: type) -> Any:
    if typ is bool:
        if isinstance(value, bool):
            return value
        raise ShipperConfigError(f"{source}: {key} must be true or false, got {value!r}")
    if typ is str:
        if isinstance(value, str) and value:
            return value
        raise ShipperConfigError(f"{source}: {key} must be a non-empty string, got {value!r}")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ShipperConfigError(f"{source}: {key} must be a number, got {value!r}")
    try:
        number = typ(value)
    except (TypeError, ValueError, OverflowError):
        raise ShipperConfigError(f"{source}: {key} must be a number, got {value!r}") from None
    if typ is int and number != float(value):  # 2.5 is not a batch size
        raise ShipperConfigError(f"{source}: {key} must be a whole number, got {value!r}")
    if not math.isfinite(number) or number <= 0 or (key in _AT_LEAST_ONE and number < 1):
        floor = "at least 1" if key in _AT_LEAST_ONE else "above 0"
        raise ShipperConfigError(f"{source}: {key} must be {floor}, got {value!r}")
    most = _AT_MOST.get(key)
    if most is not None and number > most:
        raise ShipperConfigError(f"{source}: {key} must be at most {most}, got {value!r}")
    return number


def _strings(source: str, key: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ShipperConfigError(f"{source}: {key} must be a list of strings")
    return tuple(value)


def _resource(source: str, index: int, raw: Any) -> ResourceSpec:
    if not isinstance(raw, dict):
        raise ShipperConfigError(f"{source}: resources[{index}] must be a mapping")
    missing = [k for k in ("version", "kind", "plural") if not raw.get(k)]
    if missing:
        raise ShipperConfigError(f"{source}: resources[{index}] needs {', '.join(missing)}")
    return ResourceSpec(
        group=str(raw.get("group") or ""),
        version=str(raw["version"]),
        kind=str(raw["kind"]),
        plural=str(raw["plural"]),
        namespaced=_namespaced(source, index, raw.get("namespaced", True)),
    )


def _namespaced(source: str, index: int, value: Any) -> bool:
    if not isinstance(value, bool):  # "false" would be truthy
        raise ShipperConfigError(
            f"{source}: resources[{index}].namespaced must be true or false, got {value!r}"
        )
    return value
