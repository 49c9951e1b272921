"""Redaction: secret values never leave the normaliser.

Every object passes through :func:`redact` before anything else sees it (the
store, the search text, a log line). What is replaced:

- **Secrets** (:func:`is_secret`: any spelling of the kind): every value of
  ``data``, ``stringData`` and ``binaryData`` (a field of another shape than a
  map is replaced whole), and the ``kubectl.kubernetes.io/last-applied-configuration``
  annotation (``kubectl apply`` copies the whole manifest, plain values included,
  into it). Always; no rule can turn this off.
- **Names** (configurable rules, see :class:`RedactionRule`): values of ``data`` /
  ``stringData`` / ``binaryData`` keys matching a pattern (by default a ConfigMap's
  ``DB_PASSWORD``), and container ``env[].value`` whose variable name matches a
  pattern (by default :data:`~kubetrail.events.credentials.DEFAULT_SENSITIVE_NAMES`:
  ``DB_PASSWORD``, ``PGPASS``, ``MYSQL_PWD``, ``API_TOKEN``…), in pods and in every
  pod template (Deployments, Jobs, CronJobs...).
- **Credentials inside values** (switches of :class:`RedactionPolicy`, all on by
  default; :mod:`~kubetrail.events.credentials` finds them): the password of a URL
  (``postgres://u:pw@host``) in env values, container ``args``/``command`` and
  ConfigMap values; secret flag values (``--password=pw``, ``--token pw``) in
  ``args``/``command``, env values (``JAVA_OPTS``) and ConfigMap values; ``password: pw``
  / ``db.password=pw`` lines in ConfigMap values. Only the secret part becomes a marker;
  the rest stays readable.
- **Custom resources** (an API group not in
  :data:`~kubetrail.events.resources.BUILTIN_GROUPS`): string fields under ``spec``
  whose name ends in a secret word (``password``, ``adminPassword``, ``token``,
  ``apiKey``, ``clientSecret``; not ``secretName``), at any depth.
- **Secret annotations**: every annotation value of a Secret except a list of
  well-known keys (:data:`DEFAULT_SECRET_ANNOTATIONS_KEPT`).

Whenever anything of an object is redacted, its last-applied annotation is
redacted too, since it holds the same value in plain text. Event messages are
not redacted (they are written by controllers, and a diagnosis needs them).

A redacted value becomes a marker ``[REDACTED hmac-sha256:<12 hex>]`` (a keyed
hash, see :mod:`~kubetrail.events.redact_policy`). Markers are recognised and
kept as they are, so redacting twice (re-ingesting exported documents) changes
nothing.

The input object is never mutated: containers along a redacted path are copied.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from kubetrail.events.credentials import (
    command_line,
    hide_credentials,
    may_hold_credentials,
    url_credentials,
)
from kubetrail.events.redact_policy import (
    DEFAULT_POLICY,
    DEFAULT_SECRET_ANNOTATIONS_KEPT,
    MARKER_PREFIX,
    RedactionPolicy,
    RedactionRule,
    default_rules,
    is_marker,
)
from kubetrail.events.resources import BUILTIN_GROUPS

__all__ = [
    "DEFAULT_POLICY",
    "DEFAULT_SECRET_ANNOTATIONS_KEPT",
    "LAST_APPLIED",
    "MARKER_PREFIX",
    "RedactionPolicy",
    "RedactionRule",
    "default_rules",
    "is_marker",
    "is_secret",
    "redact",
]

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_DATA_FIELDS = ("data", "stringData", "binaryData")
_POD_SPEC_PATHS: tuple[tuple[str, ...], ...] = (
    ("spec",),  # Pod
    ("spec", "template", "spec"),  # Deployment, StatefulSet, DaemonSet, ReplicaSet, Job
    ("spec", "jobTemplate", "spec", "template", "spec"),  # CronJob
    ("template", "spec"),  # PodTemplate
)
_POD_ONLY = _POD_SPEC_PATHS[:1]
_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


def is_secret(obj: Mapping[str, Any]) -> bool:
    """Whether ``obj`` is a Secret, decided defensively: a recorded file may spell the kind
    ``secret``, ``SECRET`` or `` Secret``, and all of them are treated as one. The API group
    is not checked either: a custom kind named Secret is redacted like the core one."""
    kind = obj.get("kind")
    return isinstance(kind, str) and kind.strip().casefold() == "secret"


def redact(obj: Mapping[str, Any], policy: RedactionPolicy = DEFAULT_POLICY) -> dict[str, Any]:
    """Return ``obj`` with secret values replaced by markers (see module docstring)."""
    out = dict(obj)
    raw_kind = obj.get("kind")
    kind = raw_kind if isinstance(raw_kind, str) else ""
    touched = False
    if is_secret(obj):
        for name in _DATA_FIELDS:
            values = out.get(name)
            if isinstance(values, dict):
                out[name] = {k: policy.marker(v) for k, v in values.items()}
            elif values is not None:  # a shape no API server sends: hidden whole
                out[name] = policy.marker(values)
        _redact_secret_annotations(out, policy)
        touched = True
    env_names: list[re.Pattern[str]] = []
    for rule in policy.rules:
        if not rule.applies_to(kind):
            continue
        if rule.data_keys is not None:
            touched |= _redact_data_keys(out, rule.data_keys, policy)
        if rule.env_names is not None:
            env_names.append(rule.env_names)
    if env_names or policy.url_credentials or policy.command_line_flags:
        touched |= _redact_pod_specs(out, lambda cs: _redact_containers(cs, env_names, policy))
    if kind == "ConfigMap" and (
        policy.url_credentials or policy.command_line_flags or policy.config_lines
    ):
        touched |= _redact_config_values(out, policy)
    if (policy.custom_resource_fields is not None or policy.url_credentials) and _is_custom(obj):
        touched |= _redact_custom_spec(out, policy)
    if touched:
        _redact_last_applied(out, policy)
    return out


def _redact_data_keys(
    out: dict[str, Any], pattern: re.Pattern[str], policy: RedactionPolicy
) -> bool:
    touched = False
    cache = _name_cache(pattern)
    for name in _DATA_FIELDS:
        values = out.get(name)
        if not isinstance(values, dict):
            continue
        hits = []
        for k in values:
            if isinstance(k, str):
                secret = cache.get(k)
                if secret is None:
                    secret = _remember(cache, k, pattern)
                if secret:
                    hits.append(k)
        if hits:
            out[name] = new = dict(values)
            for k in hits:
                new[k] = policy.marker(values[k])
            touched = True
    return touched


def _redact_secret_annotations(out: dict[str, Any], policy: RedactionPolicy) -> None:
    meta = out.get("metadata")
    if not isinstance(meta, dict) or meta.get("annotations") is None:
        return
    annotations = meta["annotations"]
    hidden: Any
    if isinstance(annotations, dict):
        keep = policy.keeps_annotation
        hidden = {k: v if keep(k) else policy.marker(v) for k, v in annotations.items()}
    else:  # a shape no API server sends: hidden whole
        hidden = policy.marker(annotations)
    out["metadata"] = {**meta, "annotations": hidden}


def _redact_pod_specs(
    out: dict[str, Any], redact_containers: Callable[[list[Any]], list[Any] | None]
) -> bool:
    """Apply ``redact_containers`` to every container list of every pod spec in ``out``."""
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
            new_containers = redact_containers(containers)
            if new_containers is not None:
                new_spec = new_spec if new_spec is not None else dict(spec)
                new_spec[list_key] = new_containers
        if new_spec is not None:
            _set_path(out, path, new_spec)
            touched = True
    return touched


def _redact_containers(
    containers: list[Any], env_names: list[re.Pattern[str]], policy: RedactionPolicy
) -> list[Any] | None:
    """Env values whose variable name matches one of ``env_names``, then the credentials
    inside env values, ``command`` and ``args``; ``None`` when nothing was redacted."""
    # Hot path (every pod, every update): one pass over the env, one pre-check of all the
    # container's strings at once, and a copy only of what must change.
    result: list[Any] | None = None
    caches = [(pattern, _name_cache(pattern)) for pattern in env_names]
    # the default is one pattern: its lookup inline, without a call per variable
    pattern, known = caches[0] if len(caches) == 1 else (None, {})
    scrub = policy.url_credentials or policy.command_line_flags
    for i, container in enumerate(containers):
        if not isinstance(container, dict):
            continue
        env = container.get("env")
        new_env: list[Any] | None = None
        strings: list[Any] = []  # the values not redacted by name, for the pre-check
        if isinstance(env, list):
            for j, var in enumerate(env):
                if not isinstance(var, dict) or "value" not in var:
                    continue
                value = var["value"]
                name = var.get("name")
                secret: bool | None = False
                if isinstance(name, str):
                    secret = known.get(name)
                    if secret is None:
                        secret = (
                            _remember(known, name, pattern)
                            if pattern is not None
                            else _named_secret(name, caches)
                        )
                if secret:
                    if not is_marker(value):
                        new_env = new_env or list(env)
                        new_env[j] = {**var, "value": policy.marker(value)}
                elif type(value) is str:
                    strings.append(value)
        changes = {"env": new_env} if new_env is not None else {}
        if scrub:
            for key in ("command", "args"):
                if isinstance(container.get(key), list):
                    strings += container[key]
            try:
                check = bool(strings) and may_hold_credentials("\n".join(strings))
            except TypeError:  # not all strings: a shape no API server sends; check each
                check = True
            if check:
                _redact_inside_container(container, new_env or env, policy, changes)
        if changes:
            result = result or list(containers)
            result[i] = {**container, **changes}
    return result


def _redact_inside_container(
    container: dict[str, Any], env: Any, policy: RedactionPolicy, changes: dict[str, Any]
) -> None:
    """URL passwords and secret flag values in env values, ``command`` and ``args``."""
    if isinstance(env, list):
        new_env = list(env)
        for j, var in enumerate(env):
            value = var.get("value") if isinstance(var, dict) else None
            if type(value) is str:
                new = _scrub(value, policy)
                if new is not value:
                    new_env[j] = {**var, "value": new}
                    changes["env"] = new_env
    for key in ("command", "args"):
        args = container.get(key)
        if isinstance(args, list):
            flags, urls = policy.command_line_flags, policy.url_credentials
            new_args = command_line(args, policy.marker, flags=flags, urls=urls)
            if new_args is not None:
                changes[key] = new_args


def _named_secret(name: str, caches: list[tuple[re.Pattern[str], dict[str, bool]]]) -> bool:
    for pattern, cache in caches:
        answer = cache.get(name)
        if answer is None:
            answer = _remember(cache, name, pattern)
        if answer:
            return True
    return False


def _scrub(value: str, policy: RedactionPolicy, *, lines: bool = False) -> str:
    """``value`` with the credentials inside it hidden, as the policy's switches say."""
    return hide_credentials(
        value,
        policy.marker,
        urls=policy.url_credentials,
        flags=policy.command_line_flags,
        lines=lines and policy.config_lines,
    )


def _redact_config_values(out: dict[str, Any], policy: RedactionPolicy) -> bool:
    data = out.get("data")
    if not isinstance(data, dict):
        return False
    new_data: dict[str, Any] | None = None
    for key, value in data.items():
        if type(value) is not str or not ("=" in value or ":" in value or "-" in value):
            continue  # neither a URL, nor a config line, nor a flag
        new = _scrub(value, policy, lines=True)
        if new is not value:
            new_data = new_data or dict(data)
            new_data[key] = new
    if new_data is None:
        return False
    out["data"] = new_data
    return True


def _is_custom(obj: Mapping[str, Any]) -> bool:
    """An object of a group that does not ship with Kubernetes (a custom resource)."""
    api_version = obj.get("apiVersion")
    return (
        isinstance(api_version, str)
        and "/" in api_version
        and api_version.rpartition("/")[0] not in BUILTIN_GROUPS
    )


def _redact_custom_spec(out: dict[str, Any], policy: RedactionPolicy) -> bool:
    """String fields of ``spec`` whose name matches ``customResourceFields``, at any depth
    (walked without recursion), and URL passwords in any string of ``spec``."""
    spec = out.get("spec")
    if not isinstance(spec, dict | list):
        return False
    pattern = policy.custom_resource_fields
    known = _name_cache(pattern) if pattern is not None else {}
    urls = policy.url_credentials
    hits: list[tuple[tuple[Any, ...], str]] = []
    stack: list[tuple[Any, tuple[Any, ...]]] = [(spec, ("spec",))]
    while stack:
        node, path = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for k, v in items:
            if type(v) is str:
                secret = None
                if pattern is not None and type(k) is str:
                    secret = known.get(k)
                    if secret is None:
                        secret = _remember(known, k, pattern)
                if secret:
                    new = policy.marker(v)
                elif urls and "@" in v and "://" in v:
                    new = url_credentials(v, policy.marker)
                else:
                    continue
                if new is not v:
                    hits.append(((*path, k), new))
            elif isinstance(v, dict | list):
                stack.append((v, (*path, k)))
    for path, value in hits:
        _set_path(out, path, value)
    return bool(hits)


def _remember(cache: dict[str, bool], name: str, pattern: re.Pattern[str]) -> bool:
    if len(cache) >= _NAME_CACHE_SIZE:
        cache.clear()  # a bound, not an LRU: names are few in any real cluster
    answer = cache[name] = pattern.search(name) is not None
    return answer


_NAME_CACHE_SIZE = 65536
_name_caches: dict[int, tuple[re.Pattern[str], dict[str, bool]]] = {}


def _name_cache(pattern: re.Pattern[str]) -> dict[str, bool]:
    """Names repeat on every update of every pod: remember each pattern's answers."""
    # keyed by id (hashing a Pattern hashes its compiled code); the entry keeps it alive
    entry = _name_caches.get(id(pattern))
    if entry is None:
        entry = _name_caches[id(pattern)] = (pattern, {})
    return entry[1]


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


def _set_path(out: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    """Set ``value`` at ``path`` (keys and list indexes), copying every container on the
    way (copy-on-write: the input is never mutated)."""
    cur: Any = out
    for key in path[:-1]:
        nxt = cur[key]
        nxt = dict(nxt) if isinstance(nxt, dict) else list(nxt)
        cur[key] = nxt
        cur = nxt
    cur[path[-1]] = value
