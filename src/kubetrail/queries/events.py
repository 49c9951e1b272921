"""From the parameters of ``GET /api/v1/events`` to an :class:`EventQuery`, validated once.

The REST route and the MCP server's store backend both take the API's parameter
names (``start``, ``end``, ``namespace``, ``resourceType``, ``verb``, ``name``,
``kind``, ``signal``, ``user``, ``q``, ``snapshot``, ``limit``, ``cursor``, ``fields``) and must
reject the same values with the same message, so the rules live here: times
are RFC3339, ``end`` defaults to now and ``start`` to ``end - 24h``, ``end``
may not precede ``start``, ``_`` selects cluster-scoped objects, verbs are
``create``/``update``/``delete``, ``q`` needs a word, ``limit`` is bounded and
a cursor must be one this API issued, ``fields`` names document fields
(:mod:`~kubetrail.queries.fields`). A bad value is an
:class:`InvalidParameter` whose message names it (and whose ``detail`` holds
the values, for the API's error body).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kubetrail.events.timing import InvalidTime, format_rfc3339, parse_query_time, utcnow
from kubetrail.queries.errors import InvalidParameter
from kubetrail.queries.fields import parse_fields
from kubetrail.store.base import Cursor, EventFilter, EventQuery, InvalidQuery

DEFAULT_WINDOW = timedelta(hours=24)
VERBS = ("create", "update", "delete")
#: How many values one filter parameter may repeat (``signal=a&signal=b…``): enough for any
#: real question, and far below what makes a store's query too large to plan.
MAX_FILTER_VALUES = 100
#: The namespace of cluster-scoped objects in parameters and paths (``/events/_/nodes/x``).
CLUSTER_SCOPE = "_"


@dataclass(frozen=True, slots=True, kw_only=True)
class EventParams:
    """The parameters of ``GET /api/v1/events``, as given (strings, not yet checked)."""

    start: str | None = None
    end: str | None = None
    namespace: tuple[str, ...] = ()
    resource_type: tuple[str, ...] = ()
    verb: tuple[str, ...] = ()
    name: tuple[str, ...] = ()
    kind: tuple[str, ...] = ()
    signal: tuple[str, ...] = ()
    user: tuple[str, ...] = ()
    q: str | None = None
    snapshot: bool | None = None
    limit: int | None = None
    cursor: str | None = None
    fields: tuple[str, ...] = ()  # ``fields=`` values, each comma-separated

    @classmethod
    def from_mapping(cls, params: Mapping[str, Any]) -> EventParams:
        """The parameters of a query string given as a mapping (REST names; one value or a
        list of them; ``None`` and ``""`` mean absent, as they do in a URL)."""

        def one(key: str) -> Any:
            value = params.get(key)
            return None if value is None or value == "" else value

        snapshot = one("snapshot")
        if isinstance(snapshot, str):
            snapshot = snapshot.lower() == "true"
        limit = one("limit")
        try:
            limit = None if limit is None else int(limit)
        except (TypeError, ValueError):
            raise InvalidParameter(f"limit must be an integer, got {limit!r}") from None
        return cls(
            start=one("start"),
            end=one("end"),
            namespace=_values(params.get("namespace")),
            resource_type=_values(params.get("resourceType")),
            verb=_values(params.get("verb")),
            name=_values(params.get("name")),
            kind=_values(params.get("kind")),
            signal=_values(params.get("signal")),
            user=_values(params.get("user")),
            q=one("q"),
            snapshot=snapshot if isinstance(snapshot, bool) else None,
            limit=limit,
            cursor=one("cursor"),
            fields=_values(params.get("fields")),
        )


def event_query(params: EventParams, *, default_limit: int, max_limit: int) -> EventQuery:
    """The :class:`EventQuery` of ``params``; :class:`InvalidParameter` names a bad one."""
    start, end = time_range(params.start, params.end)
    for name, values in (
        ("namespace", params.namespace),
        ("resourceType", params.resource_type),
        ("verb", params.verb),
        ("name", params.name),
        ("kind", params.kind),
        ("signal", params.signal),
        ("user", params.user),
    ):
        if len(values) > MAX_FILTER_VALUES:
            raise InvalidParameter(
                f"{name} takes at most {MAX_FILTER_VALUES} values, got {len(values)}: "
                "narrow the query or split it",
                {name: len(values)},
            )
    if params.q is not None and not params.q.split():
        raise InvalidParameter("q is empty: give at least one word to search for")
    return EventQuery(
        filter=EventFilter(
            start=start,
            end=end,
            namespace=namespaces(params.namespace),
            resource_type=non_empty(params.resource_type),
            verb=verbs(non_empty(params.verb)),
            name=non_empty(params.name),
            kind=non_empty(params.kind),
            signal=non_empty(params.signal),
            user=non_empty(params.user),
            text=params.q,
            snapshot=params.snapshot,
        ),
        limit=limit_value(params.limit, default=default_limit, maximum=max_limit),
        after=cursor_value(params.cursor),
        fields=parse_fields(params.fields),
    )


def parse_time(name: str, value: str | None) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        return parse_query_time(value)
    except InvalidTime as exc:
        raise InvalidParameter(f"invalid {name}: {exc}") from None


def time_range(
    start: str | None, end: str | None, *, default_window: timedelta | None = DEFAULT_WINDOW
) -> tuple[datetime | None, datetime | None]:
    """``start``/``end`` as datetimes; ``end`` defaults to now and ``start`` to
    ``end - default_window`` (no lower bound when ``default_window`` is None)."""
    start_dt = parse_time("start", start)
    end_dt = parse_time("end", end)
    if default_window is not None:
        end_dt = end_dt or utcnow()
        start_dt = start_dt or end_dt - default_window
    if start_dt and end_dt and end_dt < start_dt:
        shown_end = end or f"{format_rfc3339(end_dt)} (now)"
        raise InvalidParameter(
            f"end {shown_end} is before start {start}",
            {"start": start, "end": end or format_rfc3339(end_dt)},
        )
    return start_dt, end_dt


def limit_value(limit: int | None, *, default: int, maximum: int) -> int:
    if limit is None:
        return min(default, maximum)
    if limit < 1 or limit > maximum:
        raise InvalidParameter(f"limit must be between 1 and {maximum}", {"limit": limit})
    return limit


def cursor_value(cursor: str | None) -> Cursor | None:
    if not cursor:
        return None
    try:
        return Cursor.decode(cursor)
    except InvalidQuery as exc:
        raise InvalidParameter(str(exc)) from None


def verbs(values: Iterable[str]) -> tuple[str, ...]:
    values = tuple(values)
    bad = [v for v in values if v not in VERBS]
    if bad:
        raise InvalidParameter(f"invalid verb {bad[0]!r}: use create, update or delete")
    return values


def namespaces(values: Iterable[str]) -> tuple[str, ...]:
    """Empty values mean "any"; ``_`` selects cluster-scoped objects."""
    return tuple("" if v == CLUSTER_SCOPE else v for v in values if v != "")


def non_empty(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(v for v in values if v != "")


def _values(value: Any) -> tuple[str, ...]:
    """One value or several, ``None`` and ``""`` dropped."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value if v not in (None, ""))
