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

from kubetrail.events.redact import LAST_APPLIED, is_marker

MAX_VALUE = 1024
MAX_TEXT = 16 * 1024
_SKIP_KEYS = frozenset({"managedFields", "resourceVersion", LAST_APPLIED})
_KEYED_MAPS = frozenset({"labels", "annotations", "data", "stringData", "nodeSelector"})


def search_text(obj: Mapping[str, Any]) -> str:
    seen: set[str] = set()
    parts: list[str] = []
    size = 0

    def add(value: str) -> bool:
        nonlocal size
        if value in seen or _is_timestamp(value) or is_marker(value):
            return True
        seen.add(value)
        value = value[:MAX_VALUE]
        parts.append(value)
        size += len(value) + 1
        return size < MAX_TEXT

    def walk(node: Any, key: str) -> bool:
        if isinstance(node, str):
            return add(node) if node else True
        if isinstance(node, Mapping):
            keyed = key in _KEYED_MAPS
            for k, v in node.items():
                if k in _SKIP_KEYS:
                    continue
                if keyed and isinstance(k, str) and not add(k):
                    return False
                if not walk(v, k):
                    return False
            return True
        if isinstance(node, list):
            return all(walk(item, key) for item in node)
        return True

    walk(obj, "")
    return " ".join(parts)


def _is_timestamp(value: str) -> bool:
    return len(value) in (20, 27) and value[4] == "-" and value[10] == "T" and value[-1] == "Z"
