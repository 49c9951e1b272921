"""Redaction: secret values never leave the normaliser.

Every object passes through :func:`redact` before anything else sees it (the
store, the search text, a log line). What is replaced:

- **Secrets**: every value of ``data`` and ``stringData``, and the
  ``kubectl.kubernetes.io/last-applied-configuration`` annotation (``kubectl
  apply`` copies the whole manifest, plain values included, into it). Always;
  no rule can turn this off.
- **Rules** (configurable, see :class:`RedactionRule`): values of ``data`` /
  ``stringData`` / ``binaryData`` keys matching a pattern (e.g. a ConfigMap's
  ``DB_PASSWORD``), and container ``env[].value`` whose variable name matches a
  pattern, in pods and in every pod template (Deployments, Jobs, CronJobs...).
  Whenever a rule redacts a value of an object, that object's last-applied
  annotation is redacted too, since it holds the same value in plain text.

A redacted value becomes a marker ``[REDACTED hmac-sha256:<12 hex>]``: a keyed
hash of the value, so a rotation is still visible as a change while the value
is not recoverable. The key (``KUBETRAIL_REDACTION_KEY``) keeps short values
such as PINs from being guessed by hashing candidates; without one, a built-in
key is used and the README says to set one. Markers are recognised and kept
as they are, so redacting twice (re-ingesting exported documents) changes
nothing.

The input object is never mutated: containers along a redacted path are copied.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MARKER_PREFIX = "[REDACTED hmac-sha256:"
_MARKER = re.compile(r"^\[REDACTED hmac-sha256:[0-9a-f]{12}\]$")
_DEFAULT_KEY = b"kubetrail-default-redaction-key"

#: Variable / key names that hold credentials in practice.
DEFAULT_SENSITIVE_NAMES = (
    r"(?i)(passw(or)?d|passwd|secret|token|api[-_]?key|credential|private[-_]?key|auth)"
)

_DATA_FIELDS = ("data", "stringData", "binaryData")
_POD_SPEC_PATHS: tuple[tuple[str, ...], ...] = (
    ("spec",),  # Pod
    ("spec", "template", "spec"),  # Deployment, StatefulSet, DaemonSet, ReplicaSet, Job
    ("spec", "jobTemplate", "spec", "template", "spec"),  # CronJob
    ("template", "spec"),  # PodTemplate
)
_POD_ONLY = _POD_SPEC_PATHS[:1]
_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


@dataclass(frozen=True, slots=True)
class RedactionRule:
    """Redact values in objects of ``kinds`` (``"*"`` = any kind).

    ``data_keys``: a regex; matching keys of data/stringData/binaryData are redacted.
    ``env_names``: a regex; matching container env variables have their value redacted.
    """

    kinds: tuple[str, ...] = ("*",)
    data_keys: re.Pattern[str] | None = None
    env_names: re.Pattern[str] | None = None

    def applies_to(self, kind: str) -> bool:
        return "*" in self.kinds or kind in self.kinds

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> RedactionRule:
        """From config: ``{kinds: [ConfigMap], dataKeys: "<regex>", envNames: "<regex>"}``."""
        kinds = raw.get("kinds", ["*"])
        if isinstance(kinds, str):
            kinds = [kinds]
        try:
            data_keys = re.compile(raw["dataKeys"]) if raw.get("dataKeys") else None
            env_names = re.compile(raw["envNames"]) if raw.get("envNames") else None
        except re.error as exc:
            raise ValueError(f"invalid redaction pattern: {exc}") from None
        return cls(kinds=tuple(kinds), data_keys=data_keys, env_names=env_names)


def default_rules() -> tuple[RedactionRule, ...]:
    names = re.compile(DEFAULT_SENSITIVE_NAMES)
    return (
        RedactionRule(kinds=("*",), env_names=names),
        RedactionRule(kinds=("ConfigMap",), data_keys=names),
    )


@dataclass(frozen=True, slots=True)
class RedactionPolicy:
    key: bytes = _DEFAULT_KEY
    rules: tuple[RedactionRule, ...] = field(default_factory=default_rules)
    _pads: tuple[Any, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_pads", _hmac_pads(self.key))

    def __reduce__(self) -> tuple[Any, ...]:
        return (RedactionPolicy, (self.key, self.rules))  # hash states do not pickle

    def marker(self, value: Any) -> str:
        if isinstance(value, str) and value.startswith(MARKER_PREFIX) and _MARKER.match(value):
            return value
        raw = value if isinstance(value, str) else repr(value)
        # HMAC-SHA256 (RFC 2104) from the key's precomputed inner and outer states:
        # the same digest as hmac.new(key, raw, sha256), without its per-call setup
        inner_pad, outer_pad = self._pads
        inner = inner_pad.copy()
        inner.update(raw.encode("utf-8", "surrogatepass"))
        outer = outer_pad.copy()
        outer.update(inner.digest())
        return f"{MARKER_PREFIX}{outer.hexdigest()[:12]}]"


def _hmac_pads(key: bytes) -> tuple[Any, Any]:
    block = hashlib.sha256().block_size
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    return inner, outer


DEFAULT_POLICY = RedactionPolicy()


def is_marker(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(MARKER_PREFIX) and bool(_MARKER.match(value))


def redact(obj: Mapping[str, Any], policy: RedactionPolicy = DEFAULT_POLICY) -> dict[str, Any]:
    """Return ``obj`` with secret values replaced by markers (see module docstring)."""
    out = dict(obj)
    kind = obj.get("kind") if isinstance(obj.get("kind"), str) else ""
    touched = False
    if kind == "Secret":
        for name in _DATA_FIELDS:
            values = out.get(name)
            if isinstance(values, dict):
                out[name] = {k: policy.marker(v) for k, v in values.items()}
        touched = True
    for rule in policy.rules:
        if not rule.applies_to(kind):
            continue
        if rule.data_keys is not None:
            touched |= _redact_data_keys(out, rule.data_keys, policy)
        if rule.env_names is not None:
            touched |= _redact_env(out, rule.env_names, policy)
    if touched:
        _redact_last_applied(out, policy)
    return out


def _redact_data_keys(
    out: dict[str, Any], pattern: re.Pattern[str], policy: RedactionPolicy
) -> bool:
    touched = False
    for name in _DATA_FIELDS:
        values = out.get(name)
        if not isinstance(values, dict):
            continue
        if any(isinstance(k, str) and pattern.search(k) for k in values):
            out[name] = {
                k: policy.marker(v) if isinstance(k, str) and pattern.search(k) else v
                for k, v in values.items()
            }
            touched = True
    return touched


def _redact_env(out: dict[str, Any], pattern: re.Pattern[str], policy: RedactionPolicy) -> bool:
    touched = False
    # a Pod's own spec is the only place its containers can be (the hot case)
    for path in _POD_ONLY if out.get("kind") == "Pod" else _POD_SPEC_PATHS:
        spec = _get_path(out, path)
        if not isinstance(spec, dict):
            continue
        new_spec: dict[str, Any] | None = None
        for list_key in _CONTAINER_LISTS:
            containers = spec.get(list_key)
            if not isinstance(containers, list):
                continue
            new_containers = _redact_container_env(containers, pattern, policy)
            if new_containers is not None:
                new_spec = new_spec if new_spec is not None else dict(spec)
                new_spec[list_key] = new_containers
        if new_spec is not None:
            _set_path(out, path, new_spec)
            touched = True
    return touched


def _redact_container_env(
    containers: list[Any], pattern: re.Pattern[str], policy: RedactionPolicy
) -> list[Any] | None:
    # Hot path (every pod, every update): scan first, copy only what must change.
    result: list[Any] | None = None
    sensitive = _name_cache(pattern)
    for i, container in enumerate(containers):
        env = container.get("env") if isinstance(container, dict) else None
        if not isinstance(env, list):
            continue
        hits = None
        for j, var in enumerate(env):
            if not isinstance(var, dict) or "value" not in var:
                continue
            name = var.get("name")
            if not isinstance(name, str):
                continue
            secret = sensitive.get(name)
            if secret is None:
                if len(sensitive) >= _NAME_CACHE_SIZE:
                    sensitive.clear()  # a bound, not an LRU: names are few in any real cluster
                secret = sensitive[name] = pattern.search(name) is not None
            if secret and not is_marker(var["value"]):
                hits = [j] if hits is None else [*hits, j]
        if hits is None:
            continue
        new_env = list(env)
        for j in hits:
            new_env[j] = {**env[j], "value": policy.marker(env[j]["value"])}
        if result is None:
            result = list(containers)
        result[i] = {**container, "env": new_env}
    return result


_NAME_CACHE_SIZE = 65536
_name_caches: dict[re.Pattern[str], dict[str, bool]] = {}


def _name_cache(pattern: re.Pattern[str]) -> dict[str, bool]:
    """Names repeat on every update of every pod: remember each pattern's answers."""
    cache = _name_caches.get(pattern)
    if cache is None:
        cache = _name_caches[pattern] = {}
    return cache


def _redact_last_applied(out: dict[str, Any], policy: RedactionPolicy) -> None:
    meta = out.get("metadata")
    if not isinstance(meta, dict):
        return
    annotations = meta.get("annotations")
    if isinstance(annotations, dict) and LAST_APPLIED in annotations:
        out["metadata"] = {
            **meta,
            "annotations": {**annotations, LAST_APPLIED: policy.marker(annotations[LAST_APPLIED])},
        }


def _get_path(obj: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    cur: Any = obj
    for key in path:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(key)
    return cur


def _set_path(out: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """Set ``value`` at ``path`` copying every mapping on the way (copy-on-write)."""
    cur = out
    for key in path[:-1]:
        nxt = dict(cur[key])
        cur[key] = nxt
        cur = nxt
    cur[path[-1]] = value
