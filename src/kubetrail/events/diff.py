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
    if old != new:
        _diff(old, new, "", out, limit)
    return out


# The ignored paths by their parent's path, so that they are skipped before their
# values are compared (managedFields is most of a small object and differs every time).
_IGNORED_UNDER: Final[dict[str, frozenset[str]]] = {}
for _path in IGNORED_PATHS:
    _parent, _, _leaf = _path.rpartition(".")
    _IGNORED_UNDER[_parent] = _IGNORED_UNDER.get(_parent, frozenset()) | {_leaf}
_NOTHING: Final[frozenset[str]] = frozenset()


def _diff(old: Any, new: Any, path: str, out: list[Change], limit: int) -> None:
    """The changes under ``path``, where ``old != new``. Two versions are mostly the same:
    the equal parts are told apart by ``==`` (in C) and only the rest is walked."""
    if isinstance(old, dict) and isinstance(new, dict):
        ignored = _IGNORED_UNDER.get(path, _NOTHING)
        keys = [k for k, v in old.items() if k not in ignored and (k not in new or new[k] != v)]
        keys += [k for k in new if k not in old and k not in ignored]
        if len(keys) > 1:
            keys.sort(key=str)
        for key in keys:
            if len(out) >= limit:
                return
            sub = f"{path}.{key}" if path else str(key)
            if key in old and key in new:
                _diff(old[key], new[key], sub, out, limit)
            else:
                out.append(Change(sub, old.get(key, ABSENT), new.get(key, ABSENT)))
        return
    if isinstance(old, list) and isinstance(new, list):
        by = _list_key(old, new)
        if by is None:
            if len(old) != len(new):
                out.append(Change(path, old, new))
                return
            for i, (a, b) in enumerate(zip(old, new, strict=True)):
                if len(out) >= limit:
                    return
                if a != b:
                    _diff(a, b, f"{path}[{i}]", out, limit)
            return
        old_by = {item[by]: item for item in old}
        new_by = {item[by]: item for item in new}
        names = [n for n, item in old_by.items() if n not in new_by or new_by[n] != item]
        names += [n for n in new_by if n not in old_by]
        if len(names) > 1:
            names.sort()
        for name in names:
            if len(out) >= limit:
                return
            sub = f"{path}[{name}]"
            if name in old_by and name in new_by:
                _diff(old_by[name], new_by[name], sub, out, limit)
            else:
                out.append(Change(sub, old_by.get(name, ABSENT), new_by.get(name, ABSENT)))
        return
    out.append(Change(path, old, new))


def _list_key(old: list[Any], new: list[Any]) -> str | None:
    """The key (``name``, then ``type``) every item of both lists has as a string, distinct
    within each list; ``None`` when there is none."""
    if not old and not new:
        return None
    for key in _LIST_KEYS:
        try:
            before = [item[key] for item in old]
            after = [item[key] for item in new]
        except (TypeError, KeyError, IndexError):  # an item that is not an object, or lacks it
            continue
        if (
            all(isinstance(n, str) for n in before)
            and all(isinstance(n, str) for n in after)
            and len(set(before)) == len(before)
            and len(set(after)) == len(after)
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
