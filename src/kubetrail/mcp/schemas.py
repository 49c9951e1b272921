"""The tools' schemas: the parameters a model fills in, and the shape of the answers.

Parameters are annotated types (a description for every one, bounds on limits)
that the SDK turns into each tool's input schema. Output schemas are lenient
pydantic models: a report is the REST API's JSON, so they name the fields a
client can rely on and allow the rest.
"""

# No ``from __future__ import annotations``: the SDK reads these annotations at runtime.

from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from kubetrail.diagnostics import format_window

MAX_FINDINGS = 100
DEFAULT_FINDINGS = 20
MAX_EVENTS = 200
DEFAULT_EVENTS = 50

# -- parameters ---------------------------------------------------------------------------

Namespace = Annotated[
    str | None,
    Field(description="Only this namespace (e.g. 'shop'); omit for all namespaces."),
]
StartTime = Annotated[
    str | None,
    Field(
        description="Start of the range, RFC3339 (e.g. 2024-01-01T10:00:00Z); wins over "
        "time_window."
    ),
]
EndTime = Annotated[
    str | None,
    Field(description="End of the range, RFC3339 (e.g. 2024-01-01T12:00:00Z); default now."),
]
Limit = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_FINDINGS,
        description=f"Most findings returned (1-{MAX_FINDINGS}); the answer says how many more.",
    ),
]


def window_param(default: timedelta) -> Any:
    """The ``time_window`` parameter, its description naming the default."""
    return Annotated[
        str | None,
        Field(
            description="How far back from end_time (or now): e.g. 30m, 2h, '2 hours', 24h, 7d. "
            f"Default: {format_window(default)}."
        ),
    ]


# -- output schemas (lenient: the report is the REST API's JSON) -----------------------


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class RangeOut(_Open):
    start: str
    end: str


class ObjectOut(_Open):
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
    uid: str | None = None


class RelatedEventOut(_Open):
    reason: str | None = None
    type: str | None = None
    message: str | None = None
    count: int | None = None
    lastSeen: str | None = None


class FindingOut(_Open):
    object: ObjectOut
    issue: str
    severity: str | None = None
    count: int | None = None
    firstSeen: str | None = None
    lastSeen: str | None = None
    message: str | None = None
    evidence: dict[str, Any] = Field(default_factory=dict)
    relatedEvents: list[RelatedEventOut] = Field(default_factory=list)


class ReportOut(_Open):
    """A diagnostic report: summary (objects per issue), findings, notes."""

    check: str
    range: RangeOut
    namespace: str | None = None
    summary: dict[str, int] = Field(default_factory=dict)
    totalFindings: int = 0
    truncated: bool = False
    findings: list[FindingOut] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    conclusion: str | None = None


class EventsOut(_Open):
    """Matching events (compact), oldest first."""

    range: RangeOut
    count: int
    events: list[dict[str, Any]]
    nextCursor: str | None = None
    truncated: bool = False


class HistoryOut(_Open):
    """One object's stored versions (newest kept), the latest object, its Events."""

    namespace: str | None = None
    resourceType: str | None = None
    name: str | None = None
    kind: str | None = None
    versions: list[dict[str, Any]]
    totalVersions: int
    omittedVersions: int = 0
    heartbeatOnlyVersions: int = 0
    latest: dict[str, Any] | None = None
    relatedEvents: list[dict[str, Any]] = Field(default_factory=list)
    omittedRelatedEvents: int = 0
    truncated: bool = False
