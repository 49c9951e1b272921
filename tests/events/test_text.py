"""The full-text rendering of a snapshot."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kubetrail.events.redact import LAST_APPLIED, is_marker, redact
from kubetrail.events.text import MAX_TEXT, MAX_VALUE, search_text
from tests.support.k8s_objects import crashlooping_status, pod, secret
from tests.support.strategies import ODD_TEXT, json_values


def test_names_labels_images_and_reasons_are_searchable() -> None:
    text = search_text(pod(status=crashlooping_status()))
    words = text.split()
    for expected in (
        "checkout-7d9f8b6c5-x2k4p",
        "shop",
        "app",  # a label key
        "checkout",  # a label value
        "registry.example.com/shop/checkout:1.5.0",
        "CrashLoopBackOff",
        "Error",
    ):
        assert expected in words, expected


def test_bookkeeping_timestamps_and_markers_are_left_out() -> None:
    obj = redact(secret(password="hunter2-canary"))
    text = search_text(obj)
    assert "kube" not in text  # managedFields manager names are not indexed
    assert "kubectl-client-side-apply" not in text
    assert "2026-10-01T08:00:00Z" not in text
    assert "REDACTED" not in text
    assert "hunter2" not in text
    assert "payments" in text.split()  # the annotation `team: payments`


def test_each_value_once_and_capped() -> None:
    big = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "big"},
        "data": {f"k{i}": f"value-{i}-" + "x" * 3000 for i in range(100)},
    }
    text = search_text(big)
    assert len(text) <= MAX_TEXT + MAX_VALUE + 1
    assert max(len(w) for w in text.split()) <= MAX_VALUE
    twice = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "same"},
        "data": {"a": "same"},
    }
    assert search_text(twice).split().count("same") == 1


def test_markers_are_left_out_of_a_capped_text_too() -> None:
    marker = redact(secret(password="hunter2-canary"))["data"]["password"]
    big = {"kind": "ConfigMap", "data": {"a": marker, "b": "keep-" + "y" * 2000, "c": "tail"}}
    text = search_text(big)
    assert "REDACTED" not in text
    assert text.split() == ["ConfigMap", "a", "b", "keep-" + "y" * (MAX_VALUE - 5), "c", "tail"]


def test_keys_that_are_not_strings_are_left_out() -> None:
    # a mapping built in Python (not parsed from JSON) may have any keys
    assert search_text({"labels": {1: "one", "two": 2, "three": "3"}}).split() == [
        "one",
        "two",
        "three",
        "3",
    ]


def _reference(obj: Any) -> str:
    """What search_text renders, written the plain way: every string leaf (and the
    keys of label-like maps) in document order, once each, without bookkeeping,
    timestamps and markers, each value and the whole capped."""
    found: list[str] = []

    def walk(node: Any, key: str, keyed: bool) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("managedFields", "resourceVersion", LAST_APPLIED):
                    continue
                if keyed and isinstance(k, str):
                    found.append(k)
                walk(v, k, k in ("labels", "annotations", "data", "stringData", "nodeSelector"))
        elif isinstance(node, list):
            for item in node:
                walk(item, key, keyed)
        elif isinstance(node, str):
            found.append(node)

    walk(obj, "", False)
    parts: list[str] = []
    size = 0
    for value in dict.fromkeys(found):
        # RFC3339 in the API server's two shapes, told by their punctuation
        timestamp = len(value) in (20, 27) and value[4] + value[10] + value[-1] == "-TZ"
        if not value or timestamp or is_marker(value):
            continue
        parts.append(value[:MAX_VALUE])
        size += len(parts[-1]) + 1
        if size >= MAX_TEXT:
            break
    return " ".join(parts)


_TEXTS = json_values(max_leaves=40, text=40) | ODD_TEXT


@settings(max_examples=int(os.environ.get("KUBETRAIL_TEXT_EXAMPLES", "150")), deadline=None)
@given(
    obj=st.dictionaries(
        st.sampled_from(["metadata", "labels", "data", "spec", "managedFields", "x"]) | ODD_TEXT,
        st.recursive(
            _TEXTS,
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.sampled_from(["labels", "name", "x"]) | ODD_TEXT, inner)
            ),
            max_leaves=30,
        ),
        max_size=6,
    ),
    marker=st.booleans(),
)
def test_the_rendering_matches_the_plain_definition(obj: dict[str, Any], marker: bool) -> None:
    if marker:
        obj["secret"] = redact(secret(password="hunter2-canary"))["data"]
    assert search_text(obj) == _reference(obj)
