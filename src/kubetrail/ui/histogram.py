"""Changes and Warning Events over a time range, counted per time bucket by the store,
and drawn as an inline SVG's geometry (no JavaScript: the page renders the bars).

One aggregation split by time into the buckets (grouped by ``eventType``: object
versions have none, Events say ``Normal`` or ``Warning``), so the cost does not grow with
the number of buckets;
listing snapshots are not changes and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from kubetrail.diagnostics import TimeRange
from kubetrail.events.timing import format_rfc3339, parse_rfc3339
from kubetrail.store.base import AggregateQuery, EventFilter, Store

BUCKETS = 24
WIDTH = 720
HEIGHT = 120
BAR_GAP = 2


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    width: float
    changes_y: float
    changes_h: float
    warnings_y: float
    warnings_h: float
    label: str  # the bucket's time range and counts, shown on hover (<title>)


@dataclass(frozen=True, slots=True)
class Histogram:
    bars: list[Bar]
    width: int
    height: int
    changes: int
    warnings: int
    peak: int


def bucket_counts(
    store: Store, rng: TimeRange, *, buckets: int = BUCKETS
) -> list[tuple[TimeRange, int, int]]:
    """``(bucket, object versions, Warning Events)`` for each of ``buckets`` equal buckets:
    one aggregation split by time (``AggregateQuery.every``)."""
    step = (rng.end - rng.start) / buckets
    if step <= timedelta(0):
        step = timedelta(seconds=1)
    result = store.aggregate(
        AggregateQuery(
            filter=EventFilter(start=rng.start, end=rng.end, snapshot=False),
            group_by=("eventType",),
            latest=False,
            limit=10,
            every=step,
        )
    )
    counts = [[0, 0] for _ in range(buckets)]
    for b in result.buckets:
        # an event at the range's very end falls in a slice of its own: the last bucket's
        index = min(int((parse_rfc3339(b.key["time"]) - rng.start) / step), buckets - 1)
        if b.key["eventType"] == "":
            counts[index][0] += b.count
        elif b.key["eventType"] == "Warning":
            counts[index][1] += b.count
    out = []
    for i, (changes, warnings) in enumerate(counts):
        start = rng.start + step * i
        # end is inclusive in a filter: stop a microsecond short of the next bucket
        end = rng.end if i == buckets - 1 else start + step - timedelta(microseconds=1)
        out.append((TimeRange(start=start, end=end), changes, warnings))
    return out


def histogram(counts: list[tuple[TimeRange, int, int]]) -> Histogram:
    """Two bars per bucket, side by side, scaled to the highest count."""
    peak = max([max(c, w) for _, c, w in counts] + [1])
    slot = WIDTH / max(1, len(counts))
    half = max(1.0, (slot - BAR_GAP) / 2)
    bars = []
    for i, (bucket, changes, warnings) in enumerate(counts):
        ch = HEIGHT * changes / peak
        wh = HEIGHT * warnings / peak
        bars.append(
            Bar(
                x=round(i * slot, 2),
                width=round(half, 2),
                changes_y=round(HEIGHT - ch, 2),
                changes_h=round(ch, 2),
                warnings_y=round(HEIGHT - wh, 2),
                warnings_h=round(wh, 2),
                label=f"{format_rfc3339(bucket.start)} to {format_rfc3339(bucket.end)}: "
                f"{changes} changes, {warnings} Warning Events",
            )
        )
    return Histogram(
        bars=bars,
        width=WIDTH,
        height=HEIGHT,
        changes=sum(c for _, c, _ in counts),
        warnings=sum(w for _, _, w in counts),
        peak=peak,
    )
