"""Time: parsing RFC3339, formatting it the one way kubetrail stores it, and
deriving *when* an object changed when nobody recorded it.

A watch event carries no time of its own. The shipper stamps each one with the
moment it arrived; a recorded file may carry a top-level ``"timestamp"`` per
line, and then that is the observation time. When neither exists (a plain
``kubectl get --watch -o json`` recording), the time is read off the object: the
**newest** of the times the API server and controllers wrote into it

- ``metadata.managedFields[].time`` (every writer stamps its last write),
- ``status.conditions[]`` ``lastTransitionTime`` / ``lastUpdateTime`` /
  ``lastHeartbeatTime`` / ``lastProbeTime``,
- container states in ``status.{init,ephemeral,}containerStatuses[]``:
  ``state``/``lastState`` ``running.startedAt``, ``terminated.startedAt`` and
  ``terminated.finishedAt``,
- Events: ``lastTimestamp``, ``firstTimestamp``, ``eventTime``,
  ``series.lastObservedTime`` (events.k8s.io: ``deprecatedLastTimestamp``,
  ``deprecatedFirstTimestamp``),
- ``metadata.deletionTimestamp`` and ``metadata.creationTimestamp``.

The newest one is the best lower bound of when this version came to be. If the
object carries no time at all, the caller's fallback (normally "now") is used.

Stored times are UTC and formatted ``2024-01-01T12:00:00Z``, with a fraction
(``.123456``) only when the time has one, so they sort and compare exactly as
the integer microseconds the stores index.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


#: The times kubetrail can hold (Python's datetime range, in UTC), as error messages name it.
TIME_RANGE = "0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z"


class InvalidTime(ValueError):
    """A string is not an RFC3339 date-time, or names one outside :data:`TIME_RANGE`."""


class TimeOutOfRange(InvalidTime):
    """An RFC3339 date-time outside the range asked for (:data:`TIME_RANGE`, or
    :data:`QUERY_RANGE` for a query)."""


def parse_rfc3339(value: str) -> datetime:
    """Parse an RFC3339 date-time (``2024-01-01T12:00:00Z``, offsets, fractions up
    to nanoseconds) into an aware UTC datetime. Anything else raises
    :class:`InvalidTime` with a message naming the expected form."""
    if not isinstance(value, str):
        raise InvalidTime(f"expected an RFC3339 time string, got {type(value).__name__}")
    if (
        # the shape kubetrail and the API server write (…:SSZ, .mmmZ, .ffffffZ): the C
        # parser is ~20x faster than the regex, and this runs per event at ingest
        len(value) in (20, 24, 27)
        and value[-1] == "Z"
        and value[10] == "T"
        and value[4] == value[7] == "-"
        and value[13] == value[16] == ":"
        and (len(value) == 20 or value[19] == ".")
    ):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass  # the regex below says what is wrong
    m = _RFC3339.match(value.strip())
    if not m:
        raise InvalidTime(f"{value!r} is not an RFC3339 time (expected e.g. 2024-01-01T12:00:00Z)")
    year, month, day, hour, minute, second, frac, tz = m.groups()
    micro = int((frac[1:] + "000000")[:6]) if frac else 0
    try:
        dt = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro)
    except ValueError as exc:
        raise InvalidTime(f"{value!r} is not a valid date-time: {exc}") from None
    if tz in ("Z", "z"):
        return dt.replace(tzinfo=UTC)
    sign = 1 if tz[0] == "+" else -1
    hours, minutes = int(tz[1:3]), int(tz[4:6])
    if hours > 23 or minutes > 59:
        raise InvalidTime(
            f"{value!r} is not a valid RFC3339 time: impossible UTC offset {tz} (at most ±23:59)"
        )
    offset = timedelta(hours=hours, minutes=minutes)
    try:
        return (dt - sign * offset).replace(tzinfo=UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is a year-0 time in UTC
        raise TimeOutOfRange(f"{value!r} is outside the supported range {TIME_RANGE}") from None


#: The times a query may name (``start``, ``end``, ``start_time``, ``end_time``): every
#: real event lies between them, and a window or default range around either still is a
#: valid date-time (a query at year 1 would step out of the calendar).
QUERY_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
QUERY_LATEST = datetime(9999, 1, 1, tzinfo=UTC)
QUERY_RANGE = "1970-01-01T00:00:00Z to 9999-01-01T00:00:00Z"


def parse_query_time(value: str) -> datetime:
    """:func:`parse_rfc3339`, for a time a query names: it must lie in :data:`QUERY_RANGE`."""
    try:
        dt = parse_rfc3339(value)
    except TimeOutOfRange:
        dt = None
    if dt is None or not QUERY_EARLIEST <= dt <= QUERY_LATEST:
        raise TimeOutOfRange(f"{value!r} is outside the range a query accepts, {QUERY_RANGE}")
    return dt


def format_rfc3339(dt: datetime) -> str:
    """Format as UTC ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime: kubetrail only handles aware UTC times")
    if dt.tzinfo is not UTC:
        dt = dt.astimezone(UTC)
    # isoformat() is a few times faster than strftime (once per event) and pads the
    # year to four digits; with UTC it ends in "+00:00"
    return dt.isoformat()[:-6] + "Z"


def to_micros(dt: datetime) -> int:
    """Microseconds since the epoch: the integer every store sorts on."""
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


#: The microseconds :func:`from_micros` can turn back into a date-time.
MIN_MICROS = -62_135_596_800_000_000  # 0001-01-01T00:00:00Z
MAX_MICROS = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z


def from_micros(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _try_parse(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_rfc3339(value)
    except InvalidTime:
        return None


_CONDITION_TIMES = ("lastTransitionTime", "lastUpdateTime", "lastHeartbeatTime", "lastProbeTime")
_EVENT_TIMES = (
    "lastTimestamp",
    "firstTimestamp",
    "eventTime",
    "deprecatedLastTimestamp",
    "deprecatedFirstTimestamp",
)
_STATUS_LISTS = ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses")


def _candidate_times(obj: Mapping[str, Any]) -> Iterator[Any]:
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        yield meta.get("creationTimestamp")
        yield meta.get("deletionTimestamp")
        fields = meta.get("managedFields")
        if isinstance(fields, list):
            for entry in fields:
                if isinstance(entry, dict):
                    yield entry.get("time")
    for key in _EVENT_TIMES:
        yield obj.get(key)
    series = obj.get("series")
    if isinstance(series, dict):
        yield series.get("lastObservedTime")
    status = obj.get("status")
    if not isinstance(status, dict):
        return
    conditions = status.get("conditions")
    if isinstance(conditions, list):
        for cond in conditions:
            if isinstance(cond, dict):
                for key in _CONDITION_TIMES:
                    yield cond.get(key)
    for list_key in _STATUS_LISTS:
        statuses = status.get(list_key)
        if not isinstance(statuses, list):
            continue
        for cs in statuses:
            if not isinstance(cs, dict):
                continue
            for state_key in ("state", "lastState"):
                state = cs.get(state_key)
                if not isinstance(state, dict):
                    continue
                running = state.get("running")
                if isinstance(running, dict):
                    yield running.get("startedAt")
                terminated = state.get("terminated")
                if isinstance(terminated, dict):
                    yield terminated.get("startedAt")
                    yield terminated.get("finishedAt")


def derive_object_time(obj: Mapping[str, Any]) -> datetime | None:
    """The newest time written into the object (see the module docstring), or
    ``None`` when it carries none."""
    newest: datetime | None = None
    for raw in _candidate_times(obj):
        dt = _try_parse(raw)
        if dt is not None and (newest is None or dt > newest):
            newest = dt
    return newest


def creation_time(obj: Mapping[str, Any]) -> datetime | None:
    meta = obj.get("metadata")
    return _try_parse(meta.get("creationTimestamp")) if isinstance(meta, dict) else None
