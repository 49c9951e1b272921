"""Sparse fieldsets: the parts of a document named by dotted paths.

``fields=timestamp,verb,resourceName,objectChanges.spec.replicas`` asks for those
parts of each event document and nothing else. A path selects the value at that
place, whole; ``objectChanges.metadata.labels`` keeps every label. The meaning is
the one OpenSearch gives ``_source`` includes, so both stores answer alike:

- a path is matched against the *joined* keys, so a key that holds dots is
  reached by writing it out (``objectChanges.metadata.labels.app.kubernetes.io/name``),
  and a path keeps whatever lies under it once joined (``…labels.app`` keeps the labels
  ``app`` and ``app.kubernetes.io/name``);
- a path through a list applies to each item (``objectChanges.spec.containers.image``
  keeps each container's image, as a list of ``{"image": …}``);
- what is missing is left out: no ``null`` placeholders, and no empty objects
  along a path that led nowhere.

Keys keep the document's order here; OpenSearch's source filtering may order the keys
of an object it filtered differently (JSON objects are unordered). Pure: the input is
never modified.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

_NOTHING: Any = object()


def project(doc: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """The parts of ``doc`` named by ``fields`` (dotted paths); all of it when empty."""
    wanted = frozenset(fields)
    if not wanted:
        return dict(doc)
    # every proper prefix of a wanted path ("a." and "a.b." for "a.b.c"): where to descend
    through = frozenset(path[: i + 1] for path in wanted for i, ch in enumerate(path) if ch == ".")
    return _pick(doc, "", wanted, through)


def _pick(
    obj: Mapping[str, Any], prefix: str, wanted: frozenset[str], through: frozenset[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obj.items():
        path = f"{prefix}{key}"
        if path in wanted or ("." in key and _under(prefix, key, wanted)):
            out[key] = value
            continue
        if f"{path}." in through:
            sub = _descend(value, f"{path}.", wanted, through)
            if sub is not _NOTHING:
                out[key] = sub
    return out


def _under(prefix: str, key: str, wanted: frozenset[str]) -> bool:
    """Whether a wanted path ends inside ``key`` at one of its dots: ``labels.app`` keeps
    the label ``app.kubernetes.io/name`` (its joined path continues ``labels.app.``)."""
    return any(f"{prefix}{key[:i]}" in wanted for i, ch in enumerate(key) if ch == ".")


def _descend(value: Any, prefix: str, wanted: frozenset[str], through: frozenset[str]) -> Any:
    if isinstance(value, Mapping):
        picked = _pick(value, prefix, wanted, through)
        return picked if picked else _NOTHING
    if isinstance(value, list):
        items = [_descend(item, prefix, wanted, through) for item in value]
        kept = [item for item in items if item is not _NOTHING]
        return kept if kept else _NOTHING
    return _NOTHING
