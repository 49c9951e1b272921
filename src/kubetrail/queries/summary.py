"""A summary of the events matching a filter: how many, counted by a few keys, the newest.

What a person or a model needs first about "the events of namespace shop today"
is not 638 documents but their shape: how many, of which kinds, verbs and
signals, and the newest few changes. Each count is one aggregation in the store
(never "fetch everything and count"); the newest are one search in descending
order, reduced to a sparse fieldset. ``GET /api/v1/summary`` serves it and the
MCP resources are built on it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kubetrail.events.model import EventDocument
from kubetrail.events.timing import format_rfc3339
from kubetrail.queries.errors import InvalidParameter
from kubetrail.queries.events import CLUSTER_SCOPE
from kubetrail.store.base import GROUP_KEYS, AggregateQuery, EventFilter, EventQuery, Store

DEFAULT_BY = ("kind", "verb", "signal")
DEFAULT_TOP = 10
MAX_TOP = 100
MAX_NEWEST = 100
#: The fields of each of the newest events: enough to say what happened, no object.
NEWEST_FIELDS = (
    "timestamp",
    "verb",
    "namespace",
    "resourceType",
    "resourceName",
    "kind",
    "user",
    "fieldManager",
    "snapshot",
    "signals",
    "message",
    "involvedObject",
    "reason",
    "eventType",
    "count",
    "objectChanges.message",
    "objectChanges.note",
)
_NAMESPACE_KEYS = frozenset({"namespace", "involvedObject.namespace"})


@dataclass(frozen=True, slots=True, kw_only=True)
class SummaryOptions:
    by: tuple[str, ...] = DEFAULT_BY  # group keys counted
    top: int = DEFAULT_TOP  # values listed per key
    newest: int = 0  # newest changes listed

    @classmethod
    def from_mapping(cls, params: Mapping[str, Any]) -> SummaryOptions:
        """The options among query parameters given as a mapping (``by``, ``top``,
        ``newest``; one value or a list; ``None`` and ``""`` mean absent)."""
        by = params.get("by")
        values = [by] if isinstance(by, str) else [str(v) for v in by or ()]
        return summary_options(values, _integer(params, "top"), _integer(params, "newest"))


@dataclass(frozen=True, slots=True)
class Summary:
    start: datetime | None
    end: datetime | None
    total: int
    counts: dict[str, dict[str, int]]  # key → value → events, most first
    more_values: list[str]  # keys with more values than listed
    newest: list[EventDocument]

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``GET /api/v1/summary``."""
        out: dict[str, Any] = {
            "range": {
                "start": format_rfc3339(self.start) if self.start else None,
                "end": format_rfc3339(self.end) if self.end else None,
            },
            "total": self.total,
            "counts": self.counts,
        }
        if self.more_values:
            out["moreValues"] = self.more_values
        out["newest"] = self.newest
        return out


def summary_options(
    by: Iterable[str] = (), top: int | None = None, newest: int | None = None
) -> SummaryOptions:
    """Validated options; ``by`` values may be comma-separated. :class:`InvalidParameter`
    names a bad one."""
    keys = tuple(dict.fromkeys(k.strip() for v in by for k in v.split(",") if k.strip()))
    unknown = [k for k in keys if k not in GROUP_KEYS]
    if unknown:
        raise InvalidParameter(
            f"by: cannot count by {', '.join(unknown)}; one of {', '.join(GROUP_KEYS)}",
            {"by": unknown},
        )
    if top is not None and not 1 <= top <= MAX_TOP:
        raise InvalidParameter(f"top must be between 1 and {MAX_TOP}", {"top": top})
    if newest is not None and not 0 <= newest <= MAX_NEWEST:
        raise InvalidParameter(f"newest must be between 0 and {MAX_NEWEST}", {"newest": newest})
    return SummaryOptions(
        by=keys or DEFAULT_BY,
        top=DEFAULT_TOP if top is None else top,
        newest=0 if newest is None else newest,
    )


def summarize(store: Store, flt: EventFilter, options: SummaryOptions) -> Summary:
    """Counts of the events matching ``flt`` by each key of ``options.by`` and the newest
    ``options.newest`` changes (listings left out unless ``flt`` asks for them)."""
    per_verb = store.aggregate(
        AggregateQuery(filter=flt, group_by=("verb",), latest=False, limit=10)
    )
    total = sum(b.count for b in per_verb.buckets)
    counts: dict[str, dict[str, int]] = {}
    more: list[str] = []
    for key in options.by:
        result = store.aggregate(
            AggregateQuery(filter=flt, group_by=(key,), latest=False, limit=options.top)
        )
        counts[key] = {_shown(key, b.key[key]): b.count for b in result.buckets}
        if result.truncated:
            more.append(key)
    newest: list[EventDocument] = []
    if options.newest:
        changes = flt if flt.snapshot is not None else dataclasses.replace(flt, snapshot=False)
        newest = store.search(
            EventQuery(filter=changes, order="desc", limit=options.newest, fields=NEWEST_FIELDS)
        ).items
    return Summary(
        start=flt.start, end=flt.end, total=total, counts=counts, more_values=more, newest=newest
    )


def _integer(params: Mapping[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidParameter(f"{name} must be an integer, got {value!r}") from None


def _shown(key: str, value: str) -> str:
    return CLUSTER_SCOPE if key in _NAMESPACE_KEYS and value == "" else value
