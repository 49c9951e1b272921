"""``kubetrail setup``: create or update everything an OpenSearch store needs.

Objects (names for the default prefix ``kubetrail-events``), in this order:

1. component templates ``kubetrail-events-settings`` and ``kubetrail-events-mappings``;
2. index template ``kubetrail-events`` (``kubetrail-events-0*``, composed of the two);
3. ISM policy ``kubetrail-events-14d`` (rollover, then delete after the retention);
4. bootstrap index ``kubetrail-events-000001`` with the write alias ``kubetrail-events``
   (left alone when the alias exists: after rollovers it points elsewhere);
5. index ``kubetrail-events-audit`` for the API server's audit records (created when
   missing, see :mod:`kubetrail.events.audit`);
6. the policy attached to existing ``kubetrail-events-0*`` indices that have none.

Only ``<prefix>-<digits>`` indices are this install's (see
:func:`~kubetrail.store.opensearch.is_own_index`): another install's indices that the
pattern happens to match (a prefix nested in this one, ``kubetrail-events-0b``) are never
given the alias or the policy.

:func:`setup` is idempotent and reports one line per object: ``created``, ``updated``
or ``unchanged``. It compares what it would send with what the cluster returns,
after normalising OpenSearch's way of returning settings (nested ``index.`` keys,
numbers and booleans as strings).

What the cluster lacks is detected and said in one line, never failed on silently:

- Elasticsearch instead of OpenSearch, or OpenSearch without the ISM plugin
  (``opensearch-index-management``): the templates are applied without the rollover
  alias setting, no policy is created, and the index template's ``_meta.retention``
  says ``"fallback"``. kubetrail's own retention run (the shipper's, or
  ``kubetrail prune``) then does ISM's job:
  :func:`~kubetrail.store.opensearch.retention.manage_indices` rolls the write index
  over at the ages, size and count setup recorded in ``_meta`` and deletes whole
  indices whose newest event is older than the recorded retention (never the write
  index).
- OpenSearch older than 2.7 (no ``flat_object``): ``labels`` and ``annotations``
  are stored but not indexed, so they cannot be searched; everything else works.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError, TransportError

from kubetrail.store.opensearch import is_own_index
from kubetrail.store.opensearch.errors import answer_reason, request_failed
from kubetrail.store.opensearch.templates import TemplateParams, render_all

ISM_PLUGIN = "opensearch-index-management"
FLAT_OBJECT_SINCE = (2, 7)
SUMMARY_CHARS = 160

#: Where setup says what it does, one line per step (print by default).
Progress = Callable[[str], None]


class SetupError(Exception):
    """Setup cannot continue; the message is one line a user can act on."""


# -- what the cluster is -------------------------------------------------------


@dataclass(frozen=True)
class ClusterInfo:
    distribution: str  # "opensearch", or "elasticsearch" for anything else
    version: str
    name: str = ""

    @property
    def is_opensearch(self) -> bool:
        return self.distribution == "opensearch"

    @property
    def version_tuple(self) -> tuple[int, ...]:
        return parse_version(self.version)

    @property
    def has_flat_object(self) -> bool:
        return self.is_opensearch and self.version_tuple >= FLAT_OBJECT_SINCE

    def describe(self) -> str:
        product = "OpenSearch" if self.is_opensearch else "Elasticsearch"
        named = f" (cluster {self.name})" if self.name else ""
        return f"{product} {self.version}{named}"


def parse_version(text: str) -> tuple[int, ...]:
    """``"2.11.1-SNAPSHOT"`` -> ``(2, 11, 1)``; unparseable -> ``()``."""
    parts: list[int] = []
    for piece in text.split("-", 1)[0].split("."):
        if not piece.isdigit():
            break
        parts.append(int(piece))
    return tuple(parts)


def cluster_info(root: Mapping[str, Any]) -> ClusterInfo:
    """What ``GET /`` says. Anything without ``distribution: opensearch`` is Elasticsearch."""
    raw = root.get("version")
    version: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
    distribution = str(version.get("distribution") or "elasticsearch").lower()
    if distribution != "opensearch":
        distribution = "elasticsearch"
    return ClusterInfo(
        distribution=distribution,
        version=str(version.get("number") or "unknown"),
        name=str(root.get("cluster_name") or ""),
    )


def plugins_have_ism(plugins: Any) -> bool | None:
    """``GET _cat/plugins?format=json`` -> has ISM; ``None`` when the answer is unusable."""
    if not isinstance(plugins, list):
        return None
    return any(isinstance(p, dict) and p.get("component") == ISM_PLUGIN for p in plugins)


def is_no_handler(exc: TransportError) -> bool:
    """OpenSearch's answer for a route no plugin serves (400 "no handler found for uri")."""
    return exc.status_code == 400 and "no handler found" in answer_reason(exc).lower()


# -- normalising what the cluster returns ----------------------------------------


def _scalar(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def normalize(value: Any) -> Any:
    """Scalars as OpenSearch returns them (strings); empty containers and ``None`` dropped."""
    if isinstance(value, dict):
        out = {k: normalize(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    return _scalar(value)


def flatten_settings(settings: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"index": {"number_of_shards": "1"}}`` and ``{"index.number_of_shards": 1}``
    both become ``{"number_of_shards": "1"}``."""
    out: dict[str, Any] = {}
    for key, value in settings.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten_settings(value, f"{path}."))
        else:
            name = path.removeprefix("index.")
            out[name] = [_scalar(v) for v in value] if isinstance(value, list) else _scalar(value)
    return out


def normalize_template(body: Mapping[str, Any]) -> dict[str, Any]:
    """A component or index template body, comparable with what GET returns."""
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key == "template" and isinstance(value, dict):
            tpl: dict[str, Any] = {}
            for part, content in value.items():
                if part == "settings" and isinstance(content, dict):
                    tpl[part] = flatten_settings(content)
                elif part == "mappings" and isinstance(content, dict):
                    if set(content) == {"_doc"} and isinstance(content["_doc"], dict):
                        content = content["_doc"]
                    tpl[part] = normalize(content)
                else:
                    tpl[part] = normalize(content)
            out[key] = {k: v for k, v in tpl.items() if v not in (None, {}, [])}
        else:
            out[key] = normalize(value)
    return {k: v for k, v in out.items() if v not in (None, {}, [])}


def contains(actual: Any, expected: Any) -> bool:
    """``expected`` is part of ``actual``: same keys with equal values, extra keys in
    ``actual`` allowed (the cluster adds defaults such as ISM's ``retry``)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and contains(actual[k], v) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(contains(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return _scalar(actual) == _scalar(expected)


def _policy_comparable(policy: Mapping[str, Any]) -> dict[str, Any]:
    """An ISM policy with ``ism_template`` always a list (OpenSearch returns a list)."""
    out = dict(policy)
    tpl = out.get("ism_template")
    if isinstance(tpl, dict):
        out["ism_template"] = [tpl]
    return out


def policy_unchanged(existing: Mapping[str, Any], rendered: Mapping[str, Any]) -> bool:
    return contains(
        _policy_comparable(existing.get("policy") or {}),
        _policy_comparable(rendered.get("policy") or {}),
    )


# -- requests --------------------------------------------------------------------


def summarize(body: Any) -> str:
    if body is None:
        return ""
    text = json.dumps(body, separators=(",", ":"), sort_keys=False)
    if len(text) <= SUMMARY_CHARS:
        return text
    return f"{text[:SUMMARY_CHARS]}… ({len(text)} bytes)"


@dataclass
class _Api:
    client: OpenSearch
    dry_run: bool
    report: Progress
    writes: list[tuple[str, str, Any]] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # dry run: request lines to print

    def flush(self) -> None:
        for line in self.pending:
            self.report(line)
        self.pending.clear()

    def read(self, method: str, path: str, params: dict[str, str] | None = None) -> Any:
        """A read; ``None`` for 404. Other errors raise :class:`SetupError`."""
        try:
            return self.client.transport.perform_request(method, path, params=params)
        except NotFoundError:
            return None
        except TransportError as exc:
            if isinstance(exc.status_code, int):
                raise SetupError(request_failed(method, path, exc)) from None
            raise  # connection errors: the caller says "cannot reach"

    def write(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        self.writes.append((method, path, body))
        if self.dry_run:
            query = "?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else ""
            self.pending.append(f"  would send: {method} {path}{query} {summarize(body)}".rstrip())
            return None
        try:
            return self.client.transport.perform_request(method, path, params=params, body=body)
        except TransportError as exc:
            if isinstance(exc.status_code, int):
                raise SetupError(request_failed(method, path, exc)) from None
            raise


# -- setup -----------------------------------------------------------------------


@dataclass
class SetupResult:
    cluster: ClusterInfo
    params: TemplateParams  # as applied (flat_object / ism as detected)
    retention: str  # "ism" or "fallback"
    #: object (a TEMPLATE_FILES key, or "ism-attach") -> created|updated|unchanged|skipped
    statuses: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    attached: list[str] = field(default_factory=list)  # indices the policy was attached to
    writes: list[tuple[str, str, Any]] = field(default_factory=list)  # sent (or planned)
    dry_run: bool = False


def _verb(status: str, dry_run: bool) -> str:
    if not dry_run or status == "unchanged":
        return status
    return {"created": "would be created", "updated": "would be updated"}.get(status, status)


def setup(
    client: OpenSearch,
    params: TemplateParams | None = None,
    *,
    dry_run: bool = False,
    report: Progress = print,
) -> SetupResult:
    """Create or update the templates, policy, bootstrap index and alias. Idempotent.

    Raises :class:`SetupError` (one line) when the cluster refuses a request, and
    lets :class:`opensearchpy.ConnectionError` through when it cannot be reached.
    """
    params = params or TemplateParams()
    api = _Api(client, dry_run, report)
    root = api.read("GET", "/")
    if not isinstance(root, dict):
        raise SetupError("GET / did not return the cluster's description: is this OpenSearch?")
    info = cluster_info(root)
    report(f"cluster: {info.describe()}{' (dry run: nothing is written)' if dry_run else ''}")
    warnings: list[str] = []

    def warn(line: str) -> None:
        warnings.append(line)
        report(f"warning: {line}")

    for outer in nesting_prefixes(params.prefix):
        warn(
            f"prefix {params.prefix} nests in the prefix {outer}: a kubetrail install with "
            f"prefix {outer} on this cluster would read this one's events too (its indices "
            f"{outer}-0* include {params.bootstrap_index}); choose a prefix without '-0'"
        )
    flat_object, ism = params.flat_object, params.ism
    existing_policy: dict[str, Any] | None = None
    if not info.is_opensearch:
        warn(
            f"this is {info.describe()}, not OpenSearch: no ISM and no flat_object; using the "
            "built-in retention fallback, labels and annotations are not searchable"
        )
        flat_object = ism = False
    else:
        if flat_object and not info.has_flat_object:
            warn(
                f"OpenSearch {info.version} has no flat_object (needs 2.7): labels and "
                "annotations are stored but not searchable; everything else works"
            )
            flat_object = False
        if ism:
            ism, existing_policy = _detect_ism(api, params.policy_id)
            if not ism:
                warn(
                    f"no ISM plugin ({ISM_PLUGIN}) on this cluster: kubetrail rolls the write "
                    f"index over and deletes indices older than {params.retention} itself, "
                    "whenever the shipper's retention runs or `kubetrail prune` does"
                )
    applied = replace(params, flat_object=flat_object, ism=ism)
    rendered = render_all(applied)
    result = SetupResult(
        cluster=info,
        params=applied,
        retention="ism" if ism else "fallback",
        warnings=warnings,
        dry_run=dry_run,
    )

    def status(key: str, label: str, value: str, note: str = "") -> None:
        result.statuses[key] = value
        report(f"{label}: {_verb(value, dry_run)}{note}")
        api.flush()

    for key in ("component-settings", "component-mappings"):
        name, body = rendered.names[key], rendered[key]
        path = f"/_component_template/{name}"
        current = first_template(api.read("GET", path), "component_templates", "component_template")
        state = _template_state(current, body)
        if state != "unchanged":
            api.write("PUT", path, body)
        note = " (new indices get it; existing ones keep theirs)" if state == "updated" else ""
        status(key, f"component template {name}", state, note)

    name = applied.index_template_name
    path = f"/_index_template/{name}"
    current = first_template(api.read("GET", path), "index_templates", "index_template")
    state = _template_state(current, rendered.index_template)
    if state != "unchanged":
        api.write("PUT", path, rendered.index_template)
    status("index-template", f"index template {name}", state, f" (retention: {result.retention})")

    if ism:
        _apply_policy(api, applied, rendered.ism_policy, existing_policy, status)
    else:
        status(
            "ism-policy",
            f"ISM policy {applied.policy_id}",
            "skipped",
            " (no ISM; built-in retention fallback)",
        )

    created_index = _apply_bootstrap(api, applied, rendered.bootstrap, status, warn)
    _apply_audit_index(api, applied, rendered.audit, status)

    if ism:
        result.attached = _attach_policy(api, applied, created_index, status)
    result.writes = api.writes
    return result


def nesting_prefixes(prefix: str) -> list[str]:
    """The prefixes whose index pattern ``<outer>-0*`` also matches this prefix's indices:
    every start of ``prefix`` that ``-0`` follows (``a`` for ``a-0b``)."""
    return [prefix[:i] for i in range(1, len(prefix)) if prefix.startswith("-0", i)]


def first_template(answer: Any, list_key: str, item_key: str) -> dict[str, Any] | None:
    """The first template of a ``GET _index_template/…`` or ``_component_template/…`` answer."""
    if not isinstance(answer, dict):
        return None
    items = answer.get(list_key) or []
    if items and isinstance(items[0], dict):
        return items[0].get(item_key)
    return None


def _template_state(current: Mapping[str, Any] | None, body: Mapping[str, Any]) -> str:
    if current is None:
        return "created"
    return "unchanged" if normalize_template(current) == normalize_template(body) else "updated"


def _detect_ism(api: _Api, policy_id: str) -> tuple[bool, dict[str, Any] | None]:
    """Has the cluster ISM? And the stored policy, when it has one."""
    try:
        plugins = api.client.transport.perform_request(
            "GET", "/_cat/plugins", params={"format": "json"}
        )
    except TransportError as exc:
        if not isinstance(exc.status_code, int):
            raise
        plugins = None  # e.g. 403 for a restricted user: ask ISM itself
    if plugins_have_ism(plugins) is False:
        return False, None
    path = f"/_plugins/_ism/policies/{policy_id}"
    try:
        policy = api.client.transport.perform_request("GET", path)
    except NotFoundError:
        return True, None
    except TransportError as exc:
        if not isinstance(exc.status_code, int):
            raise
        if is_no_handler(exc):
            return False, None
        raise SetupError(request_failed("GET", path, exc)) from None
    return True, policy if isinstance(policy, dict) else None


def _apply_policy(
    api: _Api,
    params: TemplateParams,
    body: dict[str, Any],
    existing: dict[str, Any] | None,
    status: Callable[..., None],
) -> None:
    key, label = "ism-policy", f"ISM policy {params.policy_id}"
    path = f"/_plugins/_ism/policies/{params.policy_id}"
    if existing is None:
        _write_policy(api, path, body, None, params)
        status(key, label, "created")
    elif policy_unchanged(existing, body):
        status(key, label, "unchanged")
    else:
        guard = {
            "if_seq_no": str(existing.get("_seq_no")),
            "if_primary_term": str(existing.get("_primary_term")),
        }
        _write_policy(api, path, body, guard, params)
        status(
            key,
            label,
            "updated",
            " (indices already managed keep the previous version until they change policy)",
        )


def _write_policy(
    api: _Api,
    path: str,
    body: dict[str, Any],
    guard: dict[str, str] | None,
    params: TemplateParams,
) -> None:
    try:
        api.write("PUT", path, body, guard)
    except SetupError as exc:
        text = str(exc)
        if " 409 " in text:
            raise SetupError(
                f"ISM policy {params.policy_id} was changed by someone else while setup ran; "
                "run setup again"
            ) from None
        if "ism template" in text.lower() or "ism_template" in text.lower():
            raise SetupError(
                f"{text} — another ISM policy already claims {params.index_pattern} "
                "(an older retention?): remove its ism_template or delete it, then run setup again"
            ) from None
        raise


def _apply_bootstrap(
    api: _Api,
    params: TemplateParams,
    body: dict[str, Any],
    status: Callable[..., None],
    warn: Callable[[str], None],
) -> str | None:
    """Bootstrap index and write alias; returns the index created now, if any."""
    alias = params.alias
    key, label = (
        "bootstrap-index",
        f"bootstrap index {params.bootstrap_index} + write alias {alias}",
    )
    # named by index pattern: a user may lack indices:admin/aliases/get on other indices
    holders = api.read("GET", f"/{params.index_pattern}/_alias/{alias}")
    if isinstance(holders, dict) and holders:
        writers = [
            index
            for index, entry in holders.items()
            if ((entry.get("aliases") or {}).get(alias) or {}).get("is_write_index") is True
        ]
        if not writers and len(holders) == 1:
            writers = list(holders)
        if writers:
            status(key, label, "unchanged", f" (alias exists; writes go to {writers[0]})")
        else:
            status(key, label, "unchanged", " (alias exists)")
            warn(
                f"alias {alias} points to {len(holders)} indices and none is its write index: "
                "writes will fail until one gets is_write_index"
            )
        return None
    if api.read("HEAD", f"/{alias}") is True:  # HEAD answers True/False
        raise SetupError(
            f"an index named {alias} exists where the write alias belongs (something wrote "
            "before setup ran): reindex it into the alias or delete it, then run setup again"
        )
    existing = _managed_indices(api, params)
    if existing:
        newest = existing[-1]
        action = {"add": {"index": newest, "alias": alias, "is_write_index": True}}
        api.write("POST", "/_aliases", {"actions": [action]})
        status(key, label, "created", f" (alias added to the existing {newest})")
        return None
    api.write("PUT", f"/{params.bootstrap_index}", body)
    status(key, label, "created")
    return params.bootstrap_index


def _apply_audit_index(
    api: _Api, params: TemplateParams, body: dict[str, Any], status: Callable[..., None]
) -> None:
    """The audit records' index, created once (its mapping only ever gains fields)."""
    label = f"audit index {params.audit_index}"
    if api.read("HEAD", f"/{params.audit_index}") is True:  # HEAD answers True/False
        status("audit-index", label, "unchanged")
        return
    api.write("PUT", f"/{params.audit_index}", body)
    status("audit-index", label, "created")


def _managed_indices(api: _Api, params: TemplateParams) -> list[str]:
    """Existing ``<prefix>-<digits>`` indices, oldest name first."""
    rows = api.read(
        "GET", f"/_cat/indices/{params.index_pattern}", params={"format": "json", "h": "index"}
    )
    names = [r["index"] for r in rows or [] if isinstance(r, dict) and r.get("index")]
    return sorted((n for n in names if is_own_index(params.prefix, n)), key=index_order)


def index_order(name: str) -> tuple[int, str]:
    """Sort key of ``<prefix>-000042``: by its number (rollover order), then by name."""
    match = re.search(r"-(\d+)$", name)
    return (int(match.group(1)) if match else -1, name)


def _attach_policy(
    api: _Api, params: TemplateParams, created_now: str | None, status: Callable[..., None]
) -> list[str]:
    key, label = "ism-attach", f"ISM policy on existing {params.index_pattern} indices"
    explained = api.read("GET", f"/_plugins/_ism/explain/{params.index_pattern}") or {}
    lacking: list[str] = []
    other: list[str] = []
    for index, entry in sorted(explained.items()):
        if not isinstance(entry, dict) or index == created_now:
            continue  # total_managed_indices; the index just created gets it from ism_template
        if not is_own_index(params.prefix, index):
            continue  # another install's, whose prefix nests in ours
        policy = (
            entry.get("index.plugins.index_state_management.policy_id")
            or entry.get("policy_id")
            or entry.get("index.opendistro.index_state_management.policy_id")
        )
        if not policy:
            lacking.append(index)
        elif policy != params.policy_id:
            other.append(f"{index}={policy}")
    note = f"; managed by another policy, left alone: {', '.join(other)}" if other else ""
    if not lacking:
        status(key, label, "unchanged", f" (none lacks it){note}")
        return []
    answer = api.write(
        "POST", f"/_plugins/_ism/add/{','.join(lacking)}", {"policy_id": params.policy_id}
    )
    failed = (answer or {}).get("failed_indices") or []
    if failed:
        reasons = "; ".join(f"{f.get('index_name')}: {f.get('reason')}" for f in failed)
        raise SetupError(f"attaching ISM policy {params.policy_id} failed for {reasons}")
    status(key, label, "updated", f" (attached to {', '.join(lacking)}){note}")
    return lacking
