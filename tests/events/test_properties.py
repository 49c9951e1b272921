"""Properties of the pure event model on arbitrary objects (hypothesis): no crash, no
Secret value survives, ids stable."""

from __future__ import annotations

import base64
import contextlib
from datetime import UTC, datetime, timedelta

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubetrail.events.changes import changed_paths
from kubetrail.events.normalize import NormalizeError, normalize
from kubetrail.events.redact import LAST_APPLIED
from kubetrail.events.signals import derive_signals
from kubetrail.events.text import search_text
from tests.support import strategies

json_values = strategies.json_values()
kinds = st.sampled_from(
    [
        "Pod",
        "Node",
        "Secret",
        "ConfigMap",
        "Event",
        "Deployment",
        "Job",
        "PersistentVolumeClaim",
        "Widget",
    ]
)
names = st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True)


@st.composite
def k8s_objects(draw: st.DrawFn) -> dict:
    kind = draw(kinds)
    obj = {
        "apiVersion": draw(st.sampled_from(["v1", "apps/v1", "batch/v1", "example.com/v1"])),
        "kind": kind,
        "metadata": {
            "name": draw(names),
            "namespace": draw(st.sampled_from(["", "shop", "kube-system"])),
            "uid": draw(st.uuids()).hex,
            "resourceVersion": str(draw(st.integers(1, 10**9))),
            **draw(
                st.dictionaries(
                    st.sampled_from(
                        ["labels", "annotations", "managedFields", "creationTimestamp"]
                    ),
                    json_values,
                    max_size=3,
                )
            ),
        },
    }
    for part in ("spec", "status", "data", "involvedObject", "reason", "type", "count"):
        if draw(st.booleans()):
            obj[part] = draw(json_values)
    return obj


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(obj=k8s_objects())
def test_signals_never_raise_and_are_sorted_unique(obj: dict) -> None:
    signals = derive_signals(obj)
    assert signals == sorted(set(signals))
    assert all(isinstance(s, str) and s for s in signals)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(obj=k8s_objects(), event_type=st.sampled_from(["ADDED", "MODIFIED", "DELETED"]))
def test_normalize_never_crashes_and_ids_are_stable(obj: dict, event_type: str) -> None:
    t1 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    try:
        first = normalize(event_type, obj, observed_at=t1)
    except NormalizeError:
        return
    again = normalize(event_type, obj, observed_at=t1 + timedelta(minutes=5))
    assert first["id"] == again["id"]  # the id names the version, not the moment it was seen
    assert orjson.loads(orjson.dumps(first)) == first  # a store can keep it as JSON
    assert isinstance(search_text(first["objectChanges"]), str)


@settings(max_examples=300, deadline=None)
@given(obj=st.one_of(json_values, st.dictionaries(st.text(max_size=8), json_values, max_size=6)))
def test_normalize_rejects_garbage_with_its_own_error(obj: object) -> None:
    # anything but NormalizeError (a TypeError, a KeyError…) fails the test
    with contextlib.suppress(NormalizeError):
        normalize("ADDED", obj)  # type: ignore[arg-type]


# a distinctive prefix, so a value cannot occur in the document by coincidence ("v1", "apiGroup")
secret_values = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FFF), min_size=1, max_size=40
).map(lambda tail: "zQ9!" + tail)


@settings(max_examples=300, deadline=None)
@given(
    values=st.dictionaries(
        st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_.-]{0,15}", fullmatch=True),
        secret_values,
        min_size=1,
        max_size=5,
    ),
    as_string_data=st.booleans(),
)
def test_no_secret_value_survives_plain_or_base64(
    values: dict[str, str], as_string_data: bool
) -> None:
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}
    manifest = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "stringData": values,
    }
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "s",
            "namespace": "shop",
            "uid": "u",
            "resourceVersion": "7",
            "annotations": {LAST_APPLIED: orjson.dumps(manifest).decode()},
        },
        "type": "Opaque",
        **({"stringData": values} if as_string_data else {"data": encoded}),
    }
    doc = normalize("MODIFIED", secret, observed_at=datetime(2026, 11, 25, tzinfo=UTC))
    rendered = orjson.dumps(doc).decode() + search_text(doc["objectChanges"])
    for key, value in values.items():
        assert value not in rendered, key
        assert encoded[key] not in rendered, key


@settings(max_examples=200, deadline=None)
@given(a=json_values, b=json_values)
def test_changed_paths_never_raise_and_nothing_changed_is_empty(a: object, b: object) -> None:
    assert changed_paths(a, a) == []
    paths = changed_paths(a, b)
    assert all(isinstance(p, str) for p in paths)
    if a != b:
        assert paths
