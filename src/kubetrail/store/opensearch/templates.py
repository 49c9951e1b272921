"""OpenSearch index templates and ISM policy, rendered from the jinja2 files.

The JSON lives once, in ``index_templates/*.json.j2`` next to this module; this
module only validates the parameters, renders the files with
:class:`jinja2.StrictUndefined` and parses the result. ``kubetrail setup``
(:mod:`kubetrail.store.opensearch.setup`) applies what :func:`render_all` returns.

Every object is named after the index prefix
(:data:`~kubetrail.store.opensearch.DEFAULT_PREFIX` unless ``--prefix`` says
otherwise). Objects, for the default prefix ``kubetrail-events``:

- component templates ``kubetrail-events-settings`` and ``kubetrail-events-mappings``;
- index template ``kubetrail-events`` for ``kubetrail-events-0*`` (the numbered indices
  only, see :func:`~kubetrail.store.opensearch.index_pattern`), at a priority that grows
  with the prefix's length (:attr:`TemplateParams.index_priority`);
- ISM policy ``kubetrail-events-14d``;
- bootstrap index ``kubetrail-events-000001`` carrying the write alias ``kubetrail-events``;
- index ``kubetrail-events-audit``: the API server's audit records
  (:mod:`kubetrail.events.audit`), outside ``kubetrail-events-0*``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from importlib import resources
from typing import Any

import jinja2

from kubetrail import __version__
from kubetrail.store.opensearch import DEFAULT_PREFIX, audit_index, index_pattern
from kubetrail.store.url import MAX_RETENTION_DAYS

TEMPLATE_PACKAGE = "kubetrail.store.opensearch"
TEMPLATE_DIR = "index_templates"

#: Rendered object -> template file.
TEMPLATE_FILES: dict[str, str] = {
    "component-settings": "component-settings.json.j2",
    "component-mappings": "component-mappings.json.j2",
    "index-template": "index-template.json.j2",
    "ism-policy": "ism-policy.json.j2",
    "bootstrap-index": "bootstrap-index.json.j2",
    "audit-index": "audit-index.json.j2",
}

# Index names: lowercase, no \ / * ? " < > | , # : or space, not starting with _ - + .
_PREFIX_RE = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_MAX_PREFIX = 200
_AGE_RE = re.compile(r"[1-9][0-9]*(d|h|m|s)")
_SIZE_RE = re.compile(r"[1-9][0-9]*(b|kb|mb|gb|tb|pb)")
_REFRESH_RE = re.compile(r"-1|[1-9][0-9]*(ms|s|m|h)")
#: Priorities of the index template and of the ISM policy's ``ism_template``, before the
#: prefix length is added (see :attr:`TemplateParams.index_priority`).
INDEX_TEMPLATE_PRIORITY = 200
ISM_TEMPLATE_PRIORITY = 100


_AGE_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_age(text: str) -> timedelta:
    """``14d``, ``12h``, ``30m``, ``45s`` (OpenSearch's time units, whole numbers) as a
    :class:`~datetime.timedelta`; anything else raises :class:`ValueError`."""
    if not isinstance(text, str) or not _AGE_RE.fullmatch(text):
        raise ValueError(f"{text!r} is not a time like 14d, 12h, 30m or 45s")
    return timedelta(seconds=int(text[:-1]) * _AGE_UNITS[text[-1]])


class TemplateError(ValueError):
    """A template file does not render to valid JSON (a packaging or editing bug)."""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class TemplateParams:
    """What the templates are rendered from. Invalid values raise :class:`ValueError`."""

    prefix: str = DEFAULT_PREFIX
    #: delete an index this long after its rollover (``14d``, ``36h``, ``3m``)
    retention: str = "14d"
    rollover_age: str = "1d"
    rollover_size: str = "30gb"
    #: also roll over at this many documents (None: age and size only)
    rollover_docs: int | None = None
    shards: int = 1
    replicas: int = 1
    refresh_interval: str = "5s"
    #: map labels/annotations as ``flat_object`` (OpenSearch >= 2.7)
    flat_object: bool = True
    #: the cluster has the ISM plugin: set the rollover alias, ``_meta.retention: ism``
    ism: bool = True

    def __post_init__(self) -> None:
        p = self.prefix
        if not isinstance(p, str) or not _PREFIX_RE.fullmatch(p) or len(p) > _MAX_PREFIX:
            raise ValueError(
                f"prefix {p!r} is not a valid index name prefix: use lowercase letters, digits, "
                f"'-', '_' or '.', starting with a letter or digit, at most {_MAX_PREFIX} "
                "characters"
            )
        if (
            not isinstance(self.retention, str)
            or not _AGE_RE.fullmatch(self.retention)
            or parse_age(self.retention) > timedelta(days=MAX_RETENTION_DAYS)
        ):
            raise ValueError(
                f"retention {self.retention!r} must be a positive time like 14d, 36h or 30m, "
                f"at most {MAX_RETENTION_DAYS}d"
            )
        if self.rollover_docs is not None and (
            not _is_int(self.rollover_docs) or self.rollover_docs < 1
        ):
            raise ValueError(
                f"rollover documents {self.rollover_docs!r} must be a positive whole number"
            )
        if not isinstance(self.rollover_age, str) or not _AGE_RE.fullmatch(self.rollover_age):
            raise ValueError(
                f"rollover age {self.rollover_age!r} must be a positive time like 1d, 12h, 30m"
            )
        if not isinstance(self.rollover_size, str) or not _SIZE_RE.fullmatch(self.rollover_size):
            raise ValueError(
                f"rollover size {self.rollover_size!r} must be a positive size like 30gb, 500mb"
            )
        if not _is_int(self.shards) or not 1 <= self.shards <= 1024:
            raise ValueError(f"shards {self.shards!r} must be a whole number from 1 to 1024")
        if not _is_int(self.replicas) or not 0 <= self.replicas <= 64:
            raise ValueError(f"replicas {self.replicas!r} must be a whole number from 0 to 64")
        if not isinstance(self.refresh_interval, str) or not _REFRESH_RE.fullmatch(
            self.refresh_interval
        ):
            raise ValueError(
                f"refresh interval {self.refresh_interval!r} must be a time like 5s, 500ms, 1m "
                "or -1 (no refresh)"
            )
        for name in ("flat_object", "ism"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, not {getattr(self, name)!r}")

    @property
    def retention_age(self) -> timedelta:
        return parse_age(self.retention)

    @property
    def alias(self) -> str:
        """The write alias: the prefix itself (indices are ``<prefix>-000001``...)."""
        return self.prefix

    @property
    def settings_name(self) -> str:
        return f"{self.prefix}-settings"

    @property
    def mappings_name(self) -> str:
        return f"{self.prefix}-mappings"

    @property
    def index_template_name(self) -> str:
        return self.prefix

    @property
    def policy_id(self) -> str:
        return f"{self.prefix}-{self.retention}"

    @property
    def bootstrap_index(self) -> str:
        return f"{self.prefix}-000001"

    @property
    def index_pattern(self) -> str:
        """``<prefix>-0*``: this install's numbered indices, not another prefix's."""
        return index_pattern(self.prefix)

    @property
    def audit_index(self) -> str:
        """``<prefix>-audit``: the audit records (outside :attr:`index_pattern`)."""
        return audit_index(self.prefix)

    @property
    def index_priority(self) -> int:
        """The index template's priority: 200 plus the prefix's length.

        OpenSearch refuses two composable templates whose patterns overlap at the same
        priority. ``<prefix>-0*`` patterns of two installs overlap only when one prefix
        is the other's followed by ``-0`` (``a`` and ``a-0b``); the longer one then gets the
        higher priority, so both set up and the more specific template wins its indices.
        Two different prefixes of the same length never overlap."""
        return INDEX_TEMPLATE_PRIORITY + len(self.prefix)

    @property
    def ism_priority(self) -> int:
        """The ISM ``ism_template`` priority, by the same rule (ISM refuses overlapping
        ``ism_template`` patterns at one priority just the same)."""
        return ISM_TEMPLATE_PRIORITY + len(self.prefix)


@dataclass(frozen=True)
class RenderedTemplates(Mapping[str, dict[str, Any]]):
    """Rendered bodies keyed like :data:`TEMPLATE_FILES`, plus the object names."""

    params: TemplateParams
    bodies: dict[str, dict[str, Any]] = field(repr=False)

    def __getitem__(self, key: str) -> dict[str, Any]:
        return self.bodies[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.bodies)

    def __len__(self) -> int:
        return len(self.bodies)

    @property
    def names(self) -> dict[str, str]:
        p = self.params
        return {
            "component-settings": p.settings_name,
            "component-mappings": p.mappings_name,
            "index-template": p.index_template_name,
            "ism-policy": p.policy_id,
            "bootstrap-index": p.bootstrap_index,
            "audit-index": p.audit_index,
            "alias": p.alias,
        }

    @property
    def component_templates(self) -> dict[str, dict[str, Any]]:
        """Component template name -> body, in the order they must be created."""
        return {
            self.params.settings_name: self.bodies["component-settings"],
            self.params.mappings_name: self.bodies["component-mappings"],
        }

    @property
    def index_template(self) -> dict[str, Any]:
        return self.bodies["index-template"]

    @property
    def ism_policy(self) -> dict[str, Any]:
        return self.bodies["ism-policy"]

    @property
    def bootstrap(self) -> dict[str, Any]:
        return self.bodies["bootstrap-index"]

    @property
    def audit(self) -> dict[str, Any]:
        return self.bodies["audit-index"]


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # JSON, not HTML: strings are escaped with |tojson
        keep_trailing_newline=True,
    )


def render_json(source: str, context: Mapping[str, Any], *, label: str) -> Any:
    """Render a jinja2 JSON template (undefined variables are errors) and parse it;
    every failure is one :class:`TemplateError` naming ``label`` and the position."""
    try:
        text = _environment().from_string(source).render(context)
    except jinja2.TemplateError as exc:
        raise TemplateError(f"{label} does not render: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise TemplateError(
            f"{label} does not render to valid JSON: {exc.msg} "
            f"at line {exc.lineno} column {exc.colno}"
        ) from None


def template_source(name: str) -> str:
    """The text of one template file shipped in the package."""
    return resources.files(TEMPLATE_PACKAGE).joinpath(TEMPLATE_DIR, name).read_text("utf-8")


def render(name: str, params: TemplateParams) -> dict[str, Any]:
    """Render one template file (a :data:`TEMPLATE_FILES` value) and parse its JSON."""
    context = asdict(params) | {
        "alias": params.alias,
        "settings_name": params.settings_name,
        "mappings_name": params.mappings_name,
        "policy_id": params.policy_id,
        "index_pattern": params.index_pattern,
        "index_priority": params.index_priority,
        "ism_priority": params.ism_priority,
        "kubetrail_version": __version__,
    }
    body = render_json(template_source(name), context, label=f"index template {name}")
    if not isinstance(body, dict):
        raise TemplateError(
            f"index template {name} renders to {type(body).__name__}, not an object"
        )
    return body


def render_all(params: TemplateParams | None = None) -> RenderedTemplates:
    params = params or TemplateParams()
    return RenderedTemplates(
        params=params, bodies={key: render(f, params) for key, f in TEMPLATE_FILES.items()}
    )
