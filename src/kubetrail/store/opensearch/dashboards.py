"""OpenSearch Dashboards saved objects: render them from the jinja2 files, import them.

The objects live once, in ``saved_objects/*.json.j2`` next to this module (with a
README), one saved object per file:

- ``index-pattern``: the index pattern (``kubetrail-events-0*``: the install's numbered
  indices, not another install's ``kubetrail-events-dev-*``; time field ``timestamp``);
- ``search-*``: saved searches for Discover ("Warnings", "Changes", "Pod failures",
  "Node events", "Object history");
- ``vis-*``: the visualizations of the dashboard;
- ``triage``: the dashboard "Kubernetes incident triage".

A file's name without ``.json.j2`` is the object's name; its id is ``<prefix>-<name>``
(``kubetrail-events-triage`` for the default prefix), so ids are stable across renders
and two prefixes on one Dashboards do not overwrite each other. Templates write the
attributes OpenSearch Dashboards stores as JSON *strings* (``visState``,
``uiStateJSON``, ``panelsJSON``, ``optionsJSON``, ``fields``,
``kibanaSavedObjectMeta.searchSourceJSON``) as plain JSON; :func:`render_objects`
serialises them, copies each visualization's title into its ``visState`` and adds
``migrationVersion`` (:data:`MIGRATION_VERSIONS`). There is no ``coreMigrationVersion``:
that field is Kibana's (7.12+, after the fork); OpenSearch Dashboards 2.x neither reads
nor stores it.

:func:`import_saved_objects` sends the ndjson to ``POST /api/saved_objects/_import
?overwrite=true`` (``kubetrail setup --dashboards-url``). Run this module to write the
ndjson for a manual import (Dashboards Management > Saved objects > Import)::

    python -m kubetrail.store.opensearch.dashboards [--prefix P] > kubetrail-dashboards.ndjson
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from kubetrail.store.opensearch import DEFAULT_PREFIX, index_pattern
from kubetrail.store.opensearch.errors import root_reason
from kubetrail.store.opensearch.templates import (
    TemplateError,
    TemplateParams,
    render_all,
    render_json,
)

TEMPLATE_PACKAGE = "kubetrail.store.opensearch"
TEMPLATE_DIR = "saved_objects"

DEFAULT_TIME_FIELD = "timestamp"

#: The newest migration OpenSearch Dashboards 2.x registers for each type (its
#: ``*_migrations.ts``; unchanged since the fork from Kibana 7.10.2). An object stamped with
#: these runs no migration on import; a newer one is refused as "belongs to a more recent
#: version of OpenSearch Dashboards".
MIGRATION_VERSIONS: dict[str, str] = {
    "index-pattern": "7.6.0",
    "search": "7.9.3",
    "visualization": "7.10.0",
    "dashboard": "7.9.3",
}

#: ``version`` of each dashboard panel (the Dashboards version that wrote it: 2.x).
PANEL_VERSION = "2.0.0"

#: Object name (template file without ``.json.j2``) -> saved object type, in import order.
OBJECTS: dict[str, str] = {
    "index-pattern": "index-pattern",
    "search-warnings": "search",
    "search-changes": "search",
    "search-pod-failures": "search",
    "search-node-events": "search",
    "search-object-history": "search",
    "vis-events-by-verb": "visualization",
    "vis-warnings-by-reason": "visualization",
    "vis-warning-namespaces": "visualization",
    "vis-pod-signals": "visualization",
    "vis-node-conditions": "visualization",
    "vis-workload-changes": "visualization",
    "vis-pvc-problems": "visualization",
    "vis-triage-help": "visualization",
    "triage": "dashboard",
}

DASHBOARD = "triage"
DASHBOARD_TITLE = "Kubernetes incident triage"

#: Attributes stored as JSON strings, serialised at render time.
_JSON_STRING_ATTRIBUTES = ("visState", "uiStateJSON", "panelsJSON", "optionsJSON", "fields")

_INDEX_PATTERN_RE = re.compile(r"[a-z0-9*][a-z0-9_.*:,-]*")
_FIELD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_DATE_TYPES = frozenset({"date", "date_nanos"})
IMPORT_PATH = "/api/saved_objects/_import"
ERROR_CHARS = 300


def object_id(name: str, prefix: str = DEFAULT_PREFIX) -> str:
    """The saved object id of an :data:`OBJECTS` name for an index prefix."""
    return f"{prefix}-{name}"


@dataclass(frozen=True)
class DashboardParams:
    """What the templates are rendered from. Invalid values raise :class:`ValueError`."""

    prefix: str = DEFAULT_PREFIX
    #: the index pattern's title; default ``<prefix>-0*`` (every index of this install,
    #: the ones the store reads: see :func:`~kubetrail.store.opensearch.index_pattern`)
    index_pattern: str | None = None
    time_field: str = DEFAULT_TIME_FIELD

    def __post_init__(self) -> None:
        TemplateParams(prefix=self.prefix)  # the same rule as the index templates
        pattern = self.pattern
        if not isinstance(pattern, str) or not _INDEX_PATTERN_RE.fullmatch(pattern):
            raise ValueError(
                f"index pattern {pattern!r} is not valid: lowercase index names, '*' "
                "wildcards, comma-separated"
            )
        field = self.time_field
        if not isinstance(field, str) or not _FIELD_RE.fullmatch(field):
            raise ValueError(f"time field {field!r} is not a field name")
        if mapped_type(field) not in _DATE_TYPES:
            raise ValueError(
                f"time field {field!r} is not a date field of the kubetrail index mappings"
            )

    @property
    def pattern(self) -> str:
        if self.index_pattern is not None:
            return self.index_pattern
        return index_pattern(self.prefix)

    @property
    def ids(self) -> dict[str, str]:
        return {name: object_id(name, self.prefix) for name in OBJECTS}

    @property
    def title_suffix(self) -> str:
        """Appended to titles for a non-default prefix, so two sets can be told apart."""
        return "" if self.prefix == DEFAULT_PREFIX else f" ({self.prefix})"


def mapped_type(field: str) -> str | None:
    """The type of a dotted field in the rendered ``kubetrail-events-mappings``."""
    props: Mapping[str, Any] = render_all()["component-mappings"]["template"]["mappings"][
        "properties"
    ]
    parts = field.split(".")
    for i, part in enumerate(parts):
        entry = props.get(part)
        if not isinstance(entry, Mapping):
            return None
        if i == len(parts) - 1:
            return entry.get("type", "object")
        props = entry.get("properties") or entry.get("fields") or {}
    return None


# -- rendering ---------------------------------------------------------------------


def template_source(name: str) -> str:
    """The text of one object's template file shipped in the package."""
    return (
        resources.files(TEMPLATE_PACKAGE)
        .joinpath(TEMPLATE_DIR, f"{name}.json.j2")
        .read_text("utf-8")
    )


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _render_one(name: str, saved_type: str, params: DashboardParams) -> dict[str, Any]:
    context = {
        "prefix": params.prefix,
        "index_pattern": params.pattern,
        "time_field": params.time_field,
        "ids": params.ids,
        "panel_version": PANEL_VERSION,
    }
    body = render_json(template_source(name), context, label=f"dashboards template {name}")
    if not isinstance(body, dict) or not isinstance(body.get("attributes"), dict):
        raise TemplateError(f"dashboards template {name} has no attributes object")
    if body.get("type") != saved_type:
        raise TemplateError(
            f"dashboards template {name} is a {body.get('type')!r}, expected {saved_type!r}"
        )
    attributes: dict[str, Any] = body["attributes"]
    if saved_type != "index-pattern" and params.title_suffix:
        attributes["title"] = f"{attributes['title']}{params.title_suffix}"
    if isinstance(attributes.get("visState"), dict):
        attributes["visState"] = {"title": attributes["title"], **attributes["visState"]}
    for key in _JSON_STRING_ATTRIBUTES:
        if key in attributes and not isinstance(attributes[key], str):
            attributes[key] = _compact(attributes[key])
    meta = attributes.get("kibanaSavedObjectMeta")
    if isinstance(meta, dict) and not isinstance(meta.get("searchSourceJSON"), str):
        meta["searchSourceJSON"] = _compact(meta.get("searchSourceJSON") or {})
    return {
        "id": object_id(name, params.prefix),
        "type": saved_type,
        "attributes": attributes,
        "references": body.get("references") or [],
        "migrationVersion": {saved_type: MIGRATION_VERSIONS[saved_type]},
    }


def render_objects(
    prefix: str = DEFAULT_PREFIX,
    *,
    index_pattern: str | None = None,
    time_field: str = DEFAULT_TIME_FIELD,
) -> list[dict[str, Any]]:
    """Every saved object, in import order (see :data:`OBJECTS`)."""
    params = DashboardParams(prefix=prefix, index_pattern=index_pattern, time_field=time_field)
    return [_render_one(name, saved_type, params) for name, saved_type in OBJECTS.items()]


def render_saved_objects(
    prefix: str = DEFAULT_PREFIX,
    *,
    index_pattern: str | None = None,
    time_field: str = DEFAULT_TIME_FIELD,
) -> bytes:
    """The saved objects as ndjson (one object per line), ready for the import API."""
    objects = render_objects(prefix, index_pattern=index_pattern, time_field=time_field)
    return "".join(_compact(obj) + "\n" for obj in objects).encode("utf-8")


def describe_objects(ndjson: bytes) -> list[str]:
    """``<type> <id> "<title>"`` per object, for a dry run."""
    lines = []
    for raw in ndjson.decode("utf-8").splitlines():
        if raw.strip():
            obj = json.loads(raw)
            lines.append(f'{obj["type"]} {obj["id"]} "{obj["attributes"].get("title", "")}"')
    return lines


def dashboard_url(base_url: str, prefix: str = DEFAULT_PREFIX) -> str:
    """Where the triage dashboard opens (credentials removed from the URL)."""
    base = redact_url(base_url).rstrip("/")
    return f"{base}/app/dashboards#/view/{quote(object_id(DASHBOARD, prefix))}"


# -- importing ---------------------------------------------------------------------


class DashboardsError(Exception):
    """The import did not happen; the message is one line a user can act on."""


class DashboardsUnreachable(DashboardsError):
    """No answer from OpenSearch Dashboards (connection refused, DNS, TLS, timeout)."""


class DashboardsImportError(DashboardsError):
    """Dashboards answered ``success: false``: :attr:`errors` has one line per object."""

    def __init__(self, message: str, errors: Sequence[str]) -> None:
        super().__init__(message)
        self.errors = list(errors)


def redact_url(url: str) -> str:
    """The URL without ``user:password@``."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


def check_url(url: str) -> str:
    """A usable Dashboards base URL, or :class:`ValueError` saying why not."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"Dashboards URL {redact_url(url)!r} must look like http(s)://host:5601[/base-path]"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"Dashboards URL {redact_url(url)!r} must not have a query or fragment")
    return url


def _answer_message(response: httpx.Response) -> str:
    """OSD's ``{"statusCode", "error", "message"}`` or the start of the body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and (body.get("message") or body.get("error")):
        return str(body.get("message") or body.get("error"))[:ERROR_CHARS]
    text = " ".join(response.text.split())
    return text[:ERROR_CHARS] or response.reason_phrase


def describe_import_error(entry: Mapping[str, Any]) -> str:
    """One failed object of an import answer as ``<type> <id> "<title>": <why>``."""
    title = entry.get("title") or (entry.get("meta") or {}).get("title") or ""
    who = f"{entry.get('type', '?')} {entry.get('id', '?')}" + (f' "{title}"' if title else "")
    raw = entry.get("error")
    error: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
    kind = error.get("type")
    if kind == "missing_references":
        refs = ", ".join(
            f"{r.get('type')} {r.get('id')}" for r in error.get("references") or [] if r
        )
        why = f"missing references: {refs or 'unknown'}"
    elif kind == "conflict":
        why = "conflict: an object with this id exists and was not overwritten"
    elif kind == "ambiguous_conflict":
        why = "ambiguous conflict: several existing objects match it"
    elif kind == "unsupported_type":
        why = "this Dashboards does not support the type (a plugin missing?)"
    elif kind == "unknown":
        status = error.get("statusCode")
        why = f"{error.get('message') or 'unknown error'}" + (f" ({status})" if status else "")
    else:
        why = _compact(error)[:ERROR_CHARS] if error else "no reason given"
    return f"{who}: {why}"


def import_saved_objects(
    url: str,
    ndjson: bytes,
    *,
    auth: tuple[str, str] | None = None,
    api_key: str | None = None,
    tenant: str | None = None,
    ca_cert: str | Path | None = None,
    insecure: bool = False,
    timeout: float = 60.0,
) -> list[str]:
    """Import ndjson saved objects into OpenSearch Dashboards, overwriting same ids.

    ``url`` is the Dashboards base URL (with its base path, if any); ``user:password@`` in
    it is used as basic auth unless ``auth`` is given. ``tenant`` selects the security
    plugin's tenant (``securitytenant`` header: ``global``, ``private`` or a name).

    Returns report lines: one per imported object, then a summary. Raises
    :class:`DashboardsUnreachable` when nothing answers, :class:`DashboardsImportError`
    when Dashboards refuses some objects (each listed), :class:`DashboardsError` for any
    other refusal (401, 404, not Dashboards).
    """
    check_url(url)
    parts = urlsplit(url)
    if auth is None and parts.username is not None:
        auth = (parts.username, parts.password or "")
    shown = redact_url(url).rstrip("/")
    if api_key is not None and not api_key.strip():
        raise ValueError("the API key is empty")
    if api_key and auth:
        raise ValueError("use either an API key or a user name and password, not both")
    if ca_cert and insecure:
        raise ValueError("--ca-cert and --insecure exclude each other")
    if ca_cert and not Path(ca_cert).is_file():
        raise ValueError(f"CA certificate {ca_cert} is not a file")
    headers = {"osd-xsrf": "true"}
    if tenant:
        headers["securitytenant"] = tenant
    if api_key:
        headers["Authorization"] = f"ApiKey {api_key.strip()}"
    verify: bool | str = False if insecure else (str(ca_cert) if ca_cert else True)
    target = f"{shown}{IMPORT_PATH}"
    files = {"file": ("kubetrail-dashboards.ndjson", ndjson, "application/ndjson")}
    try:
        with httpx.Client(verify=verify, timeout=timeout, auth=auth, trust_env=False) as client:
            response = client.post(
                target, params={"overwrite": "true"}, headers=headers, files=files
            )
    except httpx.TransportError as exc:
        raise DashboardsUnreachable(
            f"cannot reach OpenSearch Dashboards at {shown}: {root_reason(exc)}"
        ) from None
    status = response.status_code
    if status in (401, 403):
        raise DashboardsError(
            f"OpenSearch Dashboards at {shown} refused the import: {status} "
            f"{_answer_message(response)} (check the credentials"
            f"{' and the tenant' if tenant else ''})"
        )
    if status == 404:
        raise DashboardsError(
            f"no saved objects import API at {target} (404): is this OpenSearch Dashboards, "
            "and does it need its base path in the URL (e.g. /dashboards)?"
        )
    if status >= 400:
        raise DashboardsError(
            f"OpenSearch Dashboards at {shown} refused the import: {status} "
            f"{_answer_message(response)}"
        )
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or "success" not in answer:
        raise DashboardsError(
            f"{target} did not answer like OpenSearch Dashboards ({status}, "
            f"{response.headers.get('content-type', 'no content type')}): is the URL right?"
        )
    total = len([line for line in ndjson.splitlines() if line.strip()])
    if answer.get("success") is not True:
        errors = [
            describe_import_error(e) for e in answer.get("errors") or [] if isinstance(e, dict)
        ]
        if not errors:
            errors = ["no errors listed"]
        raise DashboardsImportError(
            f"OpenSearch Dashboards at {shown} did not import {len(errors)} of {total} saved "
            f"objects: {'; '.join(errors)}",
            errors,
        )
    lines = []
    for result in answer.get("successResults") or []:
        if not isinstance(result, dict):
            continue
        title = (result.get("meta") or {}).get("title") or ""
        named = f' "{title}"' if title else ""
        note = " (replaced the existing one)" if result.get("overwrite") else ""
        lines.append(f"saved object {result.get('type')} {result.get('id')}{named}: imported{note}")
    count = answer.get("successCount", len(lines))
    where = f" (tenant {tenant})" if tenant else ""
    lines.append(f"dashboards: imported {count} saved objects into {shown}{where}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Write the rendered ndjson to standard output."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m kubetrail.store.opensearch.dashboards",
        description="Print kubetrail's OpenSearch Dashboards saved objects as ndjson.",
    )
    parser.add_argument("--prefix", default=DEFAULT_PREFIX, help="index prefix")
    parser.add_argument("--index-pattern", help="index pattern title (default PREFIX-0*)")
    parser.add_argument("--time-field", default=DEFAULT_TIME_FIELD, help="time field")
    args = parser.parse_args(argv)
    try:
        data = render_saved_objects(
            args.prefix, index_pattern=args.index_pattern, time_field=args.time_field
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.buffer.write(data)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
