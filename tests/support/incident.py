"""The built-in incident with a fixed clock: the shared dataset of the diagnostics tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kubetrail.diagnostics import CheckParams, TimeRange

ANCHOR = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
INCIDENT = TimeRange(start=ANCHOR - timedelta(hours=7), end=ANCHOR)
QUIET = TimeRange(start=ANCHOR - timedelta(hours=6), end=ANCHOR - timedelta(hours=3, minutes=5))


def params(rng: TimeRange = INCIDENT, **kw) -> CheckParams:
    return CheckParams(range=rng, **{"limit": 100, **kw})
