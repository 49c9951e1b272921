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

import contextlib
from collections.abc import Mapping
from typing import Any

from kubetrail.events.redact import LAST_APPLIED, MARKER_PREFIX, is_marker

MAX_VALUE = 1024
MAX_TEXT = 16 * 1024
_SKIP_KEYS = frozenset({"managedFields", "resourceVersion", LAST_APPLIED})
_KEYED_MAPS = frozenset({"labels", "annotations", "data", "stringData", "nodeSelector"})


class _Full(Exception):
    """The text reached :data:`MAX_TEXT`; stop walking."""


def search_text(obj: Mapping[str, Any]) -> str:
    # Hot path of every ingest (it visits every leaf): calls and isinstance
    # checks are kept out of the per-leaf work on purpose.
    seen: set[str] = set()
    parts: list[str] = []
    size = 0

    def add(value: str) -> None:
        nonlocal size
        if (
            not value
            or value in seen
            or (
                len(value) in (20, 27)
                and value[10:11] == "T"
                and value[-1] == "Z"
                and value[4] == "-"
            )
            or (value.startswith(MARKER_PREFIX) and is_marker(value))
        ):
            return
        seen.add(value)
        value = value[:MAX_VALUE]
        parts.append(value)
        size += len(value) + 1
        if size >= MAX_TEXT:
            raise _Full

    def walk_map(node: Mapping[str, Any], keyed: bool) -> None:
        for k, v in node.items():
            if k in _SKIP_KEYS:
                continue
            if keyed and type(k) is str:
                add(k)
            walk(v, k)

    def walk(node: Any, key: str) -> None:
        kind = type(node)
        if kind is str:
            add(node)
        elif kind is dict or (kind is not list and isinstance(node, Mapping)):
            walk_map(node, key in _KEYED_MAPS)
        elif kind is list:
            for item in node:
                if type(item) is str:
                    add(item)
                else:
                    walk(item, key)

    with contextlib.suppress(_Full):
        walk(obj, "")
    return " ".join(parts)
