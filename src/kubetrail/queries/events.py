"""Parsing query parameters into store queries (pure; raises ApiError 400)."""

from __future__ import annotations

from datetime import datetime, timedelta

from kubetrail.api.errors import bad_request
from kubetrail.config import Settings
from kubetrail.events.timing import InvalidTime, format_rfc3339, parse_rfc3339, utcnow
from kubetrail.store.base import Cursor

DEFAULT_WINDOW = timedelta(hours=24)
VERBS = ("create", "update", "delete")
CLUSTER_SCOPE = "_"


def parse_time(name: str, value: str | None) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        return parse_rfc3339(value)
    except InvalidTime as exc:
        raise bad_request(f"invalid {name}: {exc}") from None


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
        raise bad_request(
            f"end {shown_end} is before start {start}",
            {"start": start, "end": end or format_rfc3339(end_dt)},
        )
    return start_dt, end_dt


def limit_value(limit: int | None, settings: Settings) -> int:
    if limit is None:
        return min(settings.default_limit, settings.max_query_limit)
    if limit < 1 or limit > settings.max_query_limit:
        raise bad_request(
            f"limit must be between 1 and {settings.max_query_limit}", {"limit": limit}
        )
    return limit


def cursor_value(cursor: str | None) -> Cursor | None:
    if not cursor:
        return None
    return Cursor.decode(cursor)  # InvalidQuery → 400


def verbs(values: list[str]) -> tuple[str, ...]:
    bad = [v for v in values if v not in VERBS]
    if bad:
        raise bad_request(f"invalid verb {bad[0]!r}: use create, update or delete")
    return tuple(values)


def namespaces(values: list[str]) -> tuple[str, ...]:
    """Empty values mean "any"; ``_`` selects cluster-scoped objects."""
    return tuple("" if v == CLUSTER_SCOPE else v for v in values if v != "")


def non_empty(values: list[str]) -> tuple[str, ...]:
    return tuple(v for v in values if v != "")
