"""What a page's URL says: the time range (``since=6h``, or ``from=``/``to=``), and the
error a page answers when a parameter is wrong.

Every page carries its whole state in its URL, so a link pasted into a chat opens the
same view: :func:`time_range` reads the range, :class:`RangeView` writes it back into
links (:meth:`RangeView.query`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from kubetrail.diagnostics import InvalidParams, TimeRange, format_window, parse_window
from kubetrail.events.timing import InvalidTime, format_rfc3339, parse_query_time, utcnow

DEFAULT_WINDOW = timedelta(hours=6)
#: The longest range a page covers (the stores keep 14 days by default).
MAX_WINDOW = timedelta(days=31)
#: The ranges the nav bar offers.
QUICK_RANGES = ("1h", "6h", "24h", "7d")


class PageError(Exception):
    """A request a page cannot answer: ``status`` and a one-line message for the person."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class RangeView:
    """The time range of a page and how its URL said it."""

    range: TimeRange
    since: str | None  # "6h" when the URL said since= (or nothing): relative to now
    explicit: bool  # the URL gave from=/to=

    @property
    def label(self) -> str:
        if self.explicit:
            return f"{format_rfc3339(self.range.start)} → {format_rfc3339(self.range.end)}"
        return f"last {self.since}"

    def query(self) -> dict[str, str]:
        """The range's parameters, to put in links (relative ranges stay relative)."""
        if self.explicit:
            return {
                "from": format_rfc3339(self.range.start),
                "to": format_rfc3339(self.range.end),
            }
        return {"since": self.since or format_window(DEFAULT_WINDOW)}


def time_range(params: Mapping[str, str], *, now: datetime | None = None) -> RangeView:
    """The range of ``since=`` (``30m``, ``6h``, ``7d``) or ``from=``/``to=`` (RFC3339; a
    missing ``to`` is now, a missing ``from`` is ``to`` minus ``since`` or 6 h).
    :class:`PageError` (400) names a bad value."""
    since = (params.get("since") or "").strip() or None
    try:
        window = parse_window(since) if since else DEFAULT_WINDOW
    except InvalidParams as exc:
        raise PageError(400, str(exc).replace("time_window", "since")) from None
    start = _time("from", params.get("from"))
    end = _time("to", params.get("to"))
    end = end or now or utcnow()
    start = start or end - window
    if end < start:
        raise PageError(400, f"to {format_rfc3339(end)} is before from {format_rfc3339(start)}")
    if end - start > MAX_WINDOW:
        raise PageError(400, f"the time range is longer than {MAX_WINDOW.days} days: narrow it")
    explicit = bool(params.get("from") or params.get("to"))
    return RangeView(
        range=TimeRange(start=start, end=end),
        since=None if explicit else format_window(window),
        explicit=explicit,
    )


def _time(name: str, value: str | None) -> datetime | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return parse_query_time(value)
    except InvalidTime as exc:
        raise PageError(400, f"invalid {name}: {exc}") from None


def link(path: str, **params: str | None) -> str:
    """``path`` with the parameters that have a value, URL-encoded."""
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return f"{path}?{query}" if query else path
