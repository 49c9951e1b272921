"""What changed between two versions of an object: each changed path, before and after.

Paths read like ``kubectl explain`` paths: ``spec.replicas``,
``metadata.labels.app``. Lists whose items all carry a distinct ``name``
(containers, env, volumes, ports) are matched by name, and conditions by
``type``, so a rollout reads ``spec.template.spec.containers[app].image: 1.4.2 →
1.5.0`` rather than an index that shifts when a sidecar is added. Other lists
are compared by position; one that grew or shrank is one change of the whole list.

A key or list item present on one side only is one change with the value
:data:`ABSENT` on the other side. Bookkeeping that changes on every write
(``resourceVersion``, ``managedFields``, ``generation``) is left out: it is noise
next to the change a person made.

The values are those of the stored objects, which were redacted before they were
stored: a rotated Secret reads ``data.password: [REDACTED hmac-sha256:…] →
[REDACTED hmac-sha256:…]``, a change without its value. :func:`preview` shortens
long values for people and models; :func:`render` writes one change as a line.
Pure: the API's history view, the MCP server and a web page all use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import orjson

IGNORED_PATHS = frozenset(
    {
        "metadata.resourceVersion",
        "metadata.managedFields",
        "metadata.generation",
    }
)
_LIST_KEYS = ("name", "type")
MAX_CHANGES = 200
#: How long a value may be in a preview (characters of its JSON) before it is shortened.
PREVIEW_CHARS = 200


class _Absent:
    """The value on the side of a change where the path does not exist."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Final = _Absent()


@dataclass(frozen=True, slots=True)
class Change:
    path: str
    before: Any  # ABSENT when the path was added
    after: Any  # ABSENT when the path was removed

    def to_dict(self, *, max_chars: int = PREVIEW_CHARS) -> dict[str, Any]:
        """``{"path", "before", "after"}`` with previews; a side that is absent is left out."""
        out: dict[str, Any] = {"path": self.path}
        if self.before is not ABSENT:
            out["before"] = preview(self.before, max_chars=max_chars)
        if self.after is not ABSENT:
            out["after"] = preview(self.after, max_chars=max_chars)
        return out


def diff(old: Any, new: Any, *, limit: int = MAX_CHANGES) -> list[Change]:
    """The changes from ``old`` to ``new``, at most ``limit``, in the objects' key order
    (keys sorted at each level)."""
    out: list[Change] = []
    _diff(old, new, "", out, limit)
    return out


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _diff(old: Any, new: Any, path: str, out: list[Change], limit: int) -> None:
    if len(out) >= limit or path in IGNORED_PATHS:
        return
    if old == new:  # most of two versions is the same: compared in C, not walked
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys(), key=str):
            if key in old and key in new and old[key] == new[key]:
                continue
            sub = _join(path, str(key))
            if key not in old or key not in new:
                if sub not in IGNORED_PATHS and len(out) < limit:
                    out.append(Change(sub, old.get(key, ABSENT), new.get(key, ABSENT)))
            else:
                _diff(old[key], new[key], sub, out, limit)
        return
    if isinstance(old, list) and isinstance(new, list):
        key = _list_key(old, new)
        if key is None:
            if len(old) != len(new):
                out.append(Change(path, old, new))
                return
            for i, (a, b) in enumerate(zip(old, new, strict=True)):
                _diff(a, b, f"{path}[{i}]", out, limit)
            return
        old_by = {item[key]: item for item in old}
        new_by = {item[key]: item for item in new}
        for name in sorted(old_by.keys() | new_by.keys()):
            sub = f"{path}[{name}]"
            if name not in old_by or name not in new_by:
                if len(out) < limit:
                    out.append(Change(sub, old_by.get(name, ABSENT), new_by.get(name, ABSENT)))
            else:
                _diff(old_by[name], new_by[name], sub, out, limit)
        return
    if old != new:
        out.append(Change(path, old, new))


def _list_key(old: list[Any], new: list[Any]) -> str | None:
    items = old + new
    if not items:
        return None
    for key in _LIST_KEYS:
        names = [item.get(key) if isinstance(item, dict) else None for item in items]
        if (
            all(isinstance(n, str) for n in names)
            and len(set(names[: len(old)])) == len(old)
            and len(set(names[len(old) :])) == len(new)
        ):
            return key
    return None


def preview(value: Any, *, max_chars: int = PREVIEW_CHARS) -> Any:
    """``value`` if short, else a shortened form: a long string cut with ``…``, a large
    object or list named by its size (``{12 fields}``, ``[40 items]``)."""
    if isinstance(value, str):
        return value if len(value) <= max_chars else value[: max_chars - 1] + "…"
    if isinstance(value, dict | list):
        if len(orjson.dumps(value)) <= max_chars:
            return value
        if isinstance(value, dict):
            return f"{{{len(value)} field{'s' if len(value) != 1 else ''}}}"
        return f"[{len(value)} item{'s' if len(value) != 1 else ''}]"
    return value


def render(change: Change, *, max_chars: int = PREVIEW_CHARS) -> str:
    """One line: ``spec.template.spec.containers[app].image: 1.4.2 → 1.5.0``; a path
    that appeared or disappeared has ``(absent)`` on that side."""
    return f"{change.path}: {_text(change.before, max_chars)} → {_text(change.after, max_chars)}"


def _text(value: Any, max_chars: int) -> str:
    if value is ABSENT:
        return "(absent)"
    shown = preview(value, max_chars=max_chars)
    if isinstance(shown, str) and shown and shown.strip() == shown and "\n" not in shown:
        return shown
    return orjson.dumps(shown).decode()
