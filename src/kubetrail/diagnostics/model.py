"""What a diagnostic takes and returns.

Every check takes :class:`CheckParams` (namespace, time range, limit and, for
``investigate_pod_startup``, the pod) and returns a :class:`Report`: a summary
(objects per issue), findings (one per object and issue, with first/last seen,
the latest evidence and related Kubernetes Events), notes (what the data cannot
say), and whether findings were cut at ``limit``. Reports are plain data
(``to_dict`` gives the JSON the REST API serves and the MCP tools return).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from kubetrail.events.timing import InvalidTime, format_rfc3339, parse_query_time, utcnow

Severity = Literal["critical", "warning", "info"]

DEFAULT_LIMIT = 20
MAX_LIMIT = 500
_WINDOW = re.compile(
    r"^\s*(\d+)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hr|hrs|hours?|d|days?|w|weeks?)\s*$",
    re.IGNORECASE,
)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class InvalidParams(ValueError):
    """A parameter is missing or malformed; the message names it and the accepted forms."""


#: The longest ``time_window`` a check takes.
MAX_WINDOW_DAYS = 30


def parse_window(text: str) -> timedelta:
    """``30m``, ``2h``, ``2 hours``, ``24h``, ``7d``, ``1w`` → a duration."""
    match = _WINDOW.match(text or "")
    if not match:
        raise InvalidParams(
            f"time_window {text!r} is not a duration: use e.g. 30m, 2h, 2 hours, 24h or 7d"
        )
    amount, unit = int(match.group(1)), match.group(2).lower()
    if amount < 1:
        raise InvalidParams(f"time_window {text!r} must be at least one {unit}")
    seconds = amount * _UNIT_SECONDS[unit[0]]  # compared before a timedelta can overflow
    if seconds > MAX_WINDOW_DAYS * 86400:
        raise InvalidParams(
            f"time_window {text!r} is longer than {MAX_WINDOW_DAYS} days; the store keeps 14"
        )
    return timedelta(seconds=seconds)


def format_window(window: timedelta) -> str:
    """``30m``, ``1h``, ``24h``, ``7d``: a window the way people write it (and
    :func:`parse_window` reads it); whole days from two days on."""
    seconds = int(window.total_seconds())
    if seconds % 86400 == 0 and seconds >= 2 * 86400:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def _time(name: str, value: str | None) -> datetime | None:
    try:
        return parse_query_time(value) if value else None
    except InvalidTime as exc:
        raise InvalidParams(f"invalid {name}: {exc}") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeRange:
    start: datetime
    end: datetime

    @classmethod
    def resolve(
        cls,
        *,
        start_time: str | None = None,
        end_time: str | None = None,
        time_window: str | None = None,
        default: timedelta = timedelta(hours=1),
        now: datetime | None = None,
    ) -> TimeRange:
        """``start_time``/``end_time`` (RFC3339) win; else ``time_window`` back from
        ``end_time`` or now; else ``default``."""
        end = _time("end_time", end_time) or now or utcnow()
        start = _time("start_time", start_time)
        if start is None:
            start = end - (parse_window(time_window) if time_window else default)
        if end < start:
            raise InvalidParams("end_time is before start_time")
        return cls(start=start, end=end)

    def to_dict(self) -> dict[str, str]:
        return {"start": format_rfc3339(self.start), "end": format_rfc3339(self.end)}


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckParams:
    range: TimeRange
    namespace: str | None = None  # None: all namespaces
    limit: int = DEFAULT_LIMIT
    pod_name: str | None = None  # investigate_pod_startup only

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise InvalidParams(f"limit must be between 1 and {MAX_LIMIT}, got {self.limit}")


@dataclass(slots=True, kw_only=True)
class ObjectRef:
    kind: str
    namespace: str
    name: str
    uid: str = ""


@dataclass(slots=True, kw_only=True)
class RelatedEvent:
    reason: str
    type: str
    message: str
    count: int
    last_seen: str


@dataclass(slots=True, kw_only=True)
class Finding:
    object: ObjectRef
    issue: str  # "CrashLoopBackOff", "NotReady", "ProvisioningFailed", ...
    severity: Severity
    count: int  # stored events showing it
    first_seen: str
    last_seen: str
    message: str  # the latest evidence, one line
    evidence: dict[str, Any] = field(default_factory=dict)
    related_events: list[RelatedEvent] = field(default_factory=list)


@dataclass(slots=True, kw_only=True)
class Report:
    check: str
    range: TimeRange
    namespace: str | None
    findings: list[Finding]
    total_findings: int
    truncated: bool
    summary: dict[str, int] = field(default_factory=dict)  # issue -> objects
    notes: list[str] = field(default_factory=list)
    conclusion: str | None = None  # investigate_pod_startup: the most likely cause

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "range": self.range.to_dict(),
            "namespace": self.namespace,
            "summary": self.summary,
            "totalFindings": self.total_findings,
            "truncated": self.truncated,
            "findings": [_finding_dict(f) for f in self.findings],
            "notes": self.notes,
            "conclusion": self.conclusion,
        }


def _finding_dict(f: Finding) -> dict[str, Any]:
    return {
        "object": asdict(f.object),
        "issue": f.issue,
        "severity": f.severity,
        "count": f.count,
        "firstSeen": f.first_seen,
        "lastSeen": f.last_seen,
        "message": f.message,
        "evidence": f.evidence,
        "relatedEvents": [
            {
                "reason": e.reason,
                "type": e.type,
                "message": e.message,
                "count": e.count,
                "lastSeen": e.last_seen,
            }
            for e in f.related_events
        ],
    }
