from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubetrail.events.timing import (
    TIME_RANGE,
    InvalidTime,
    derive_object_time,
    format_rfc3339,
    from_micros,
    parse_rfc3339,
    to_micros,
)
from tests.support.k8s_objects import crashlooping_status, k8s_event, node, pod


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-01T12:00:00Z", datetime(2024, 1, 1, 12, tzinfo=UTC)),
        ("2024-01-01T14:00:00+02:00", datetime(2024, 1, 1, 12, tzinfo=UTC)),
        ("2024-01-01T12:00:00.123456789Z", datetime(2024, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)),
        ("2024-01-01t12:00:00z", datetime(2024, 1, 1, 12, tzinfo=UTC)),
    ],
)
def test_parse_rfc3339_accepts_the_forms_kubernetes_writes(text, expected):
    assert parse_rfc3339(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "yesterday",
        "2024-01-01",
        "2024-13-01T00:00:00Z",
        "2024-01-01T12:00:00",
        "",
        "1700000000",
        # the canonical shapes the fast path takes, with something wrong inside
        "2024-02-30T00:00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-01-01T12:00:00,123Z",
        "2024-01-01T12:00:0a.123456Z",
        "2024-01-01T12:00:00.12345aZ",
        "20240101T120000Z..........",
        "2024-01-01T12:00:00+99:99",  # offsets end at ±23:59
    ],
)
def test_parse_rfc3339_rejects_everything_else_with_the_expected_form(text):
    with pytest.raises(InvalidTime, match=r"RFC3339|valid"):
        parse_rfc3339(text)


def test_format_round_trips_and_drops_empty_fraction():
    assert format_rfc3339(datetime(2024, 1, 1, 12, tzinfo=UTC)) == "2024-01-01T12:00:00Z"
    dt = datetime(2024, 1, 1, 12, 0, 0, 500, tzinfo=UTC)
    assert format_rfc3339(dt) == "2024-01-01T12:00:00.000500Z"
    assert from_micros(to_micros(dt)) == dt


def test_pod_time_is_the_newest_container_or_condition_time():
    obj = pod(status=crashlooping_status(finished="2026-11-25T03:10:00Z"))
    assert derive_object_time(obj) == parse_rfc3339("2026-11-25T03:10:00Z")


def test_managed_fields_time_wins_when_newest():
    obj = pod()
    obj["metadata"]["managedFields"].append(
        {"manager": "kubectl-edit", "operation": "Update", "time": "2026-11-25T05:00:00Z"}
    )
    assert derive_object_time(obj) == parse_rfc3339("2026-11-25T05:00:00Z")


def test_node_heartbeat_counts():
    assert derive_object_time(node(heartbeat="2026-11-25T04:30:00Z")) == parse_rfc3339(
        "2026-11-25T04:30:00Z"
    )


def test_event_last_timestamp_and_series():
    ev = k8s_event(last="2026-11-25T03:10:00Z")
    assert derive_object_time(ev) == parse_rfc3339("2026-11-25T03:10:00Z")
    ev["series"] = {"count": 9, "lastObservedTime": "2026-11-25T03:20:00.000001Z"}
    assert derive_object_time(ev) == parse_rfc3339("2026-11-25T03:20:00.000001Z")


def test_deletion_timestamp_counts():
    obj = pod()
    obj["metadata"]["deletionTimestamp"] = "2026-11-25T06:00:00Z"
    assert derive_object_time(obj) == parse_rfc3339("2026-11-25T06:00:00Z")


def test_object_without_times_gives_none_and_bad_times_are_ignored():
    assert derive_object_time({"kind": "ConfigMap", "metadata": {"name": "x"}}) is None
    obj = {"kind": "ConfigMap", "metadata": {"name": "x", "creationTimestamp": "not a time"}}
    assert derive_object_time(obj) is None


_TIMES = st.datetimes(
    min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
)


@given(_TIMES)
def test_the_stored_form_parses_back_to_the_same_instant(dt: datetime) -> None:
    text = format_rfc3339(dt)
    assert parse_rfc3339(text) == dt
    assert parse_rfc3339(text).tzinfo is UTC


@given(_TIMES)
def test_milliseconds_and_offsets_parse_like_their_utc_instant(dt: datetime) -> None:
    millis = dt.replace(microsecond=dt.microsecond // 1000 * 1000)
    text = millis.strftime("%Y-%m-%dT%H:%M:%S") + f".{millis.microsecond // 1000:03d}Z"
    assert parse_rfc3339(text) == millis
    assert parse_rfc3339(text.replace("Z", "+00:00")) == millis


@pytest.mark.parametrize(
    "text",
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0001-01-01T00:59:59.999+01:00"],
)
def test_a_time_that_leaves_the_range_in_utc_is_invalid_and_names_the_range(text: str) -> None:
    # in UTC these are in year 0 or year 10000: no datetime can hold them
    with pytest.raises(InvalidTime, match="outside the supported range") as caught:
        parse_rfc3339(text)
    assert TIME_RANGE in str(caught.value)


def test_the_edges_of_the_range_still_parse() -> None:
    assert parse_rfc3339("0001-01-01T00:00:00Z") == datetime(1, 1, 1, tzinfo=UTC)
    assert parse_rfc3339("0001-01-01T01:00:00+01:00") == datetime(1, 1, 1, tzinfo=UTC)
    assert parse_rfc3339("9999-12-31T22:59:59-01:00") == datetime(
        9999, 12, 31, 23, 59, 59, tzinfo=UTC
    )


def test_out_of_range_times_in_an_object_are_ignored_like_any_bad_time() -> None:
    obj = pod()
    obj["metadata"]["creationTimestamp"] = "0001-01-01T00:00:00+01:00"
    obj["status"]["conditions"] = [
        {"type": "Ready", "status": "True", "lastTransitionTime": "9999-12-31T23:59:59-01:00"}
    ]
    obj["metadata"].pop("managedFields", None)
    obj["status"].pop("containerStatuses", None)
    assert derive_object_time(obj) is None
