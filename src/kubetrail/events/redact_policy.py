"""What redaction hides beyond Secrets, and how: :class:`RedactionPolicy`.

A policy holds the key of the markers, the name rules (:class:`RedactionRule`:
env variables and data keys whose *name* says credential) and one switch per
kind of credential found *inside* values (URLs, command-line flags, config
lines, custom-resource fields, Secret annotations). The defaults hide all they
can; :meth:`RedactionPolicy.from_config` reads a config file's ``redaction``
section (the shipper's ``resources.yaml``, ``KUBETRAIL_REDACTION``).

A redacted value becomes a marker ``[REDACTED hmac-sha256:<12 hex>]``: a keyed
hash of the value, so a rotation is still visible as a change while the value
is not recoverable. The key (``KUBETRAIL_REDACTION_KEY``) keeps short values
such as PINs from being guessed by hashing candidates; without one, a built-in
key is used and the README says to set one. :meth:`RedactionPolicy.marker`
returns a marker as it is, so redacting twice changes nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubetrail.events.credentials import DEFAULT_SENSITIVE_NAMES, SENSITIVE_FIELDS

MARKER_PREFIX = "[REDACTED hmac-sha256:"
_MARKER = re.compile(r"^\[REDACTED hmac-sha256:[0-9a-f]{12}\]$")
_DEFAULT_KEY = b"kubetrail-default-redaction-key"

#: Annotations of a Secret that stay visible (a trailing ``*`` keeps every key with that prefix).
DEFAULT_SECRET_ANNOTATIONS_KEPT = (
    "kubernetes.io/service-account.name",
    "kubernetes.io/service-account.uid",
    "meta.helm.sh/*",
    "app.kubernetes.io/*",
    "cert-manager.io/*",
)
_DEFAULT_FIELDS = re.compile(SENSITIVE_FIELDS)


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
    def from_config(cls, raw: Any) -> RedactionRule:
        """From config: ``{kinds: [ConfigMap], dataKeys: "<regex>", envNames: "<regex>"}``."""
        if not isinstance(raw, Mapping):
            raise ValueError(f"a rule must be a mapping, got {raw!r}")
        unknown = sorted(str(k) for k in raw if k not in ("kinds", "dataKeys", "envNames"))
        if unknown:
            raise ValueError(f"unknown rule key {unknown[0]!r} (known: kinds, dataKeys, envNames)")
        kinds = raw.get("kinds", ["*"])
        if isinstance(kinds, str):
            kinds = [kinds]
        if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
            raise ValueError(f"kinds must be a kind or a list of kinds, got {kinds!r}")
        return cls(
            kinds=tuple(kinds),
            data_keys=_pattern(raw, "dataKeys"),
            env_names=_pattern(raw, "envNames"),
        )


def _pattern(raw: Mapping[str, Any], key: str) -> re.Pattern[str] | None:
    value = raw.get(key)
    if value is None or value is False or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a regular expression, got {value!r}")
    try:
        return re.compile(value)
    except re.error as exc:
        raise ValueError(f"{key}: invalid redaction pattern: {exc}") from None


def default_rules(names: re.Pattern[str] | None = None) -> tuple[RedactionRule, ...]:
    """Env values in any kind and ConfigMap values whose name matches ``names``
    (default :data:`~kubetrail.events.credentials.DEFAULT_SENSITIVE_NAMES`)."""
    names = names or re.compile(DEFAULT_SENSITIVE_NAMES)
    return (
        RedactionRule(kinds=("*",), env_names=names),
        RedactionRule(kinds=("ConfigMap",), data_keys=names),
    )


@dataclass(frozen=True, slots=True)
class RedactionPolicy:
    """What :func:`redact` hides beyond Secrets (the defaults hide all it can), and the key
    of the markers. :meth:`from_config` reads it from a config file's ``redaction`` section."""

    key: bytes = _DEFAULT_KEY
    rules: tuple[RedactionRule, ...] = field(default_factory=default_rules)
    url_credentials: bool = True
    command_line_flags: bool = True
    config_lines: bool = True
    custom_resource_fields: re.Pattern[str] | None = _DEFAULT_FIELDS
    secret_annotations_kept: tuple[str, ...] = DEFAULT_SECRET_ANNOTATIONS_KEPT
    _pads: tuple[Any, Any] = field(init=False, repr=False, compare=False)
    _kept: tuple[frozenset[str], tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_pads", _hmac_pads(self.key))
        kept = self.secret_annotations_kept
        exact = frozenset(k for k in kept if not k.endswith("*"))
        object.__setattr__(self, "_kept", (exact, tuple(k[:-1] for k in kept if k.endswith("*"))))

    def __reduce__(self) -> tuple[Any, ...]:
        # hash states do not pickle: the pads are computed again from the key
        return (
            RedactionPolicy,
            (
                self.key,
                self.rules,
                self.url_credentials,
                self.command_line_flags,
                self.config_lines,
                self.custom_resource_fields,
                self.secret_annotations_kept,
            ),
        )

    @classmethod
    def from_config(cls, raw: Any, *, key: bytes | None = None) -> RedactionPolicy:
        """From a ``redaction`` section: a mapping of the keys below, or (as before) a list
        of rules; every key is optional and the defaults hide all they can::

            rules: [{kinds: [ConfigMap], dataKeys: "(?i)dsn"}]  # added to the name rules
            sensitiveNames: "<regex>"    # env / ConfigMap key names (false: none, true: default)
            urlCredentials: true         # scheme://user:PASSWORD@host
            commandLineFlags: true       # --password=…, --token …
            configLines: true            # password: … lines in ConfigMap values
            customResourceFields: "<regex>"   # false: none, true: the default
            secretAnnotationsKept: [kubernetes.io/service-account.name, meta.helm.sh/*]

        Raises ``ValueError`` naming the key."""
        options = {"rules": raw} if raw is None or isinstance(raw, list) else raw
        if not isinstance(options, Mapping):
            raise ValueError(f"must be a list of rules or a mapping, got {raw!r}")
        unknown = sorted(str(k) for k in options if k not in _CONFIG_KEYS)
        if unknown:
            raise ValueError(f"unknown key {unknown[0]!r} (known: {', '.join(_CONFIG_KEYS)})")
        rules = options.get("rules") or []
        if not isinstance(rules, list):
            raise ValueError(f"rules must be a list of mappings, got {rules!r}")
        extra = []
        for i, rule in enumerate(rules):
            try:
                extra.append(RedactionRule.from_config(rule))
            except ValueError as exc:
                raise ValueError(f"rules[{i}]: {exc}") from None
        names = options.get("sensitiveNames", True)
        if names is True:
            base = default_rules()
        else:
            pattern = _pattern(options, "sensitiveNames")
            base = default_rules(pattern) if pattern else ()
        fields = options.get("customResourceFields", True)
        fields = _DEFAULT_FIELDS if fields is True else _pattern(options, "customResourceFields")
        kept = options.get("secretAnnotationsKept", DEFAULT_SECRET_ANNOTATIONS_KEPT)
        if not isinstance(kept, list | tuple) or not all(isinstance(k, str) and k for k in kept):
            raise ValueError(f"secretAnnotationsKept must be a list of keys, got {kept!r}")
        return cls(
            key=key or _DEFAULT_KEY,
            rules=(*base, *extra),
            url_credentials=_switch(options, "urlCredentials"),
            command_line_flags=_switch(options, "commandLineFlags"),
            config_lines=_switch(options, "configLines"),
            custom_resource_fields=fields,
            secret_annotations_kept=tuple(kept),
        )

    def keeps_annotation(self, name: Any) -> bool:
        """Whether a Secret's annotation ``name`` stays visible (``secretAnnotationsKept``)."""
        exact, prefixes = self._kept
        return isinstance(name, str) and (name in exact or name.startswith(prefixes))

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


_CONFIG_KEYS = (
    "rules",
    "sensitiveNames",
    "urlCredentials",
    "commandLineFlags",
    "configLines",
    "customResourceFields",
    "secretAnnotationsKept",
)


def _switch(options: Mapping[str, Any], key: str) -> bool:
    value = options.get(key, True)
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false, got {value!r}")
    return value


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
