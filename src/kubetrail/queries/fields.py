"""The ``fields=`` parameter: which parts of each event document to return.

``fields=timestamp,verb,resourceName,signals,message`` (comma-separated, or the
parameter repeated) names document fields; inside ``objectChanges`` (the object)
and ``involvedObject`` a dotted path goes deeper:
``objectChanges.spec.template.spec.containers.image``. Without it the documents
are whole, as the original contract has them. A name that is no document field is
refused, so a typo is a 400 naming it rather than an answer with nothing in it.
What a path means is :mod:`kubetrail.events.projection`'s.
"""

from __future__ import annotations

from collections.abc import Iterable

from kubetrail.events.model import DOCUMENT_FIELDS
from kubetrail.queries.errors import InvalidParameter

#: Fields whose value is an object a path may go into, and the keys it may name there
#: (``None``: any, it is the Kubernetes object).
NESTED: dict[str, frozenset[str] | None] = {
    "objectChanges": None,
    "involvedObject": frozenset({"kind", "namespace", "name", "uid"}),
}
MAX_FIELDS = 50
MAX_PATH_LENGTH = 300
_FORBIDDEN = frozenset("*,\"'\\")


def parse_fields(values: Iterable[str]) -> tuple[str, ...]:
    """The paths of ``fields=`` values (each comma-separated), in order, without
    repeats; ``()`` for none (whole documents). :class:`InvalidParameter` names a bad one."""
    paths: dict[str, None] = {}
    for value in values:
        for item in value.split(","):
            path = item.strip()
            if path:
                paths[check_path(path)] = None
    if len(paths) > MAX_FIELDS:
        raise InvalidParameter(
            f"fields names {len(paths)} paths; at most {MAX_FIELDS}", {"fields": len(paths)}
        )
    return tuple(paths)


def check_path(path: str) -> str:
    """``path`` if it names a part of an event document, else :class:`InvalidParameter`."""
    if len(path) > MAX_PATH_LENGTH:
        raise InvalidParameter(f"fields: a path is longer than {MAX_PATH_LENGTH} characters")
    bad = sorted({ch for ch in path if ch in _FORBIDDEN or not ch.isprintable() or ch.isspace()})
    if bad:
        raise InvalidParameter(
            f"fields: {path!r} holds {''.join(bad)!r}; name fields and dotted paths, "
            "e.g. fields=timestamp,verb,objectChanges.spec.replicas",
            {"fields": path},
        )
    top, dot, rest = path.partition(".")
    if top not in DOCUMENT_FIELDS:
        raise InvalidParameter(
            f"fields: unknown field {top!r}; document fields are {', '.join(DOCUMENT_FIELDS)} "
            "(dotted paths go into objectChanges and involvedObject)",
            {"fields": path},
        )
    if not dot:
        return path
    if top not in NESTED:
        raise InvalidParameter(
            f"fields: {top} holds no fields, so {path!r} names nothing; dotted paths go into "
            "objectChanges and involvedObject",
            {"fields": path},
        )
    if not rest or any(not part for part in rest.split(".")):
        raise InvalidParameter(f"fields: {path!r} has an empty part", {"fields": path})
    keys = NESTED[top]
    if keys is not None and rest not in keys:
        raise InvalidParameter(
            f"fields: unknown field {path!r}; {top} has {', '.join(sorted(keys))}",
            {"fields": path},
        )
    return path
