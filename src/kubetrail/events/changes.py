"""What changed between two versions of an object, as a list of paths.

Paths read like ``kubectl explain`` paths: ``spec.replicas``,
``metadata.labels.app``. Lists whose items all carry a ``name`` (containers,
env, volumes, ports) are matched by name, and conditions by ``type``, so a
rollout reads ``spec.template.spec.containers[app].image`` rather than an index
that shifts when a sidecar is added. Other lists are compared by position.

Bookkeeping that changes on every write (``resourceVersion``, ``managedFields``,
``generation``) is left out: it is noise next to the change a person made.
"""

from __future__ import annotations

from typing import Any

IGNORED_PATHS = frozenset(
    {
        "metadata.resourceVersion",
        "metadata.managedFields",
        "metadata.generation",
    }
)
_LIST_KEYS = ("name", "type")
MAX_PATHS = 200


def changed_paths(old: Any, new: Any, *, limit: int = MAX_PATHS) -> list[str]:
    """Sorted paths where ``new`` differs from ``old`` (added, removed or changed),
    at most ``limit`` of them."""
    out: list[str] = []
    _diff(old, new, "", out, limit)
    return sorted(out)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _diff(old: Any, new: Any, path: str, out: list[str], limit: int) -> None:
    if len(out) >= limit or path in IGNORED_PATHS:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys(), key=str):
            sub = _join(path, str(key))
            if key not in old or key not in new:
                if sub not in IGNORED_PATHS:
                    out.append(sub)
            else:
                _diff(old[key], new[key], sub, out, limit)
        return
    if isinstance(old, list) and isinstance(new, list):
        key = _list_key(old, new)
        if key is None:
            if len(old) != len(new):
                out.append(path)
                return
            for i, (a, b) in enumerate(zip(old, new, strict=True)):
                _diff(a, b, f"{path}[{i}]", out, limit)
            return
        old_by = {item[key]: item for item in old}
        new_by = {item[key]: item for item in new}
        for name in sorted(old_by.keys() | new_by.keys()):
            sub = f"{path}[{name}]"
            if name not in old_by or name not in new_by:
                out.append(sub)
            else:
                _diff(old_by[name], new_by[name], sub, out, limit)
        return
    if old != new:
        out.append(path)


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
