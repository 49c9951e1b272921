"""The full-text rendering of a snapshot: what ``q=`` searches.

Every string a person might search for — names, namespaces, label and
annotation keys and values, images, messages, reasons, config values — taken
from the *redacted* object, once each, in document order. Left out: the
``managedFields`` bookkeeping, the last-applied annotation (a copy of the
spec), timestamps and redaction markers. Each value is capped at
:data:`MAX_VALUE` characters and the whole text at :data:`MAX_TEXT`, so one huge
ConfigMap cannot bloat the index.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubetrail.events.redact import LAST_APPLIED, MARKER_PREFIX, is_marker

MAX_VALUE = 1024
MAX_TEXT = 16 * 1024
_SKIP_KEYS = frozenset({"managedFields", "resourceVersion", LAST_APPLIED})
_KEYED_MAPS = frozenset({"labels", "annotations", "data", "stringData", "nodeSelector"})
_SCALARS = frozenset({int, float, bool, type(None)})
_TIMESTAMP_LENGTHS = (20, 27)  # 2026-11-25T04:00:00Z and with microseconds


def search_text(obj: Mapping[str, Any]) -> str:
    # Hot path of every ingest (it visits every leaf): the walk only appends
    # (a C call); deciding what to keep happens afterwards, once per distinct value.
    found: list[Any] = []
    append = found.append

    def walk_map(node: Mapping[str, Any], keyed: bool) -> None:
        for k, v in node.items():
            if k in _SKIP_KEYS:
                continue
            if keyed and type(k) is str:  # a mapping built in Python may have others
                append(k)
            kind = type(v)
            if kind is str:
                append(v)
            elif kind is dict:
                walk_map(v, k in _KEYED_MAPS)
            elif kind is list:
                walk_list(v, k)
            elif kind not in _SCALARS and isinstance(v, dict):
                walk_map(v, k in _KEYED_MAPS)

    def walk_list(node: list[Any], key: str) -> None:
        for item in node:
            kind = type(item)
            if kind is str:
                append(item)
            elif kind is dict:
                walk_map(item, key in _KEYED_MAPS)
            elif kind is list:
                walk_list(item, key)
            elif kind not in _SCALARS and isinstance(item, dict):
                walk_map(item, key in _KEYED_MAPS)

    walk_map(obj, False)
    values = dict.fromkeys(found)
    values.pop("", None)
    # Filters as one comprehension and the caps checked once (both in C): the
    # value-by-value loop below is only for the rare object that hits a cap.
    parts = [
        v
        for v in values
        if not (len(v) in _TIMESTAMP_LENGTHS and v[10:11] == "T" and v[-1] == "Z" and v[4] == "-")
    ]
    if sum(map(len, parts)) + len(parts) >= MAX_TEXT or max(map(len, parts), default=0) > MAX_VALUE:
        return _capped(parts)
    text = " ".join(parts)
    if MARKER_PREFIX in text:
        return " ".join(v for v in parts if not (v.startswith(MARKER_PREFIX) and is_marker(v)))
    return text


def _capped(values: list[str]) -> str:
    parts: list[str] = []
    size = 0
    for value in values:
        if value.startswith(MARKER_PREFIX) and is_marker(value):
            continue
        value = value[:MAX_VALUE]
        parts.append(value)
        size += len(value) + 1
        if size >= MAX_TEXT:
            break
    return " ".join(parts)
