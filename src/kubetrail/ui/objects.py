"""One object's page: every version, newest first, each with what changed since the
previous one (:mod:`kubetrail.events.diff` through the history view), who changed it,
and the Kubernetes Events about the object interleaved in time.

Pure over the Store protocol (:func:`~kubetrail.queries.object_history`, then
:func:`~kubetrail.queries.history_view.version_changes`); the values are the stored ones,
redacted before they were stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from kubetrail.queries import ObjectKey, object_history
from kubetrail.queries.history_view import heartbeat_only, related_event, version_changes
from kubetrail.store.base import Store
from kubetrail.ui.params import PageError

#: a resource type as Kubernetes names one (a lower-case plural, DNS-label characters)
_RESOURCE_TYPE = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")
MAX_VERSIONS = 1000


@dataclass(frozen=True, slots=True)
class ChangeLine:
    path: str
    before: str | None  # None: the path was added
    after: str | None  # None: the path was removed


@dataclass(frozen=True, slots=True)
class Entry:
    """A version of the object, or an Event about it."""

    time: str
    what: str  # "version" or "event"
    verb: str = ""  # versions: create, update, delete
    first: bool = False  # the first version stored of an incarnation: nothing to compare
    resource_version: str = ""
    user: str = ""
    field_manager: str = ""
    snapshot: bool = False
    signals: list[str] = field(default_factory=list)
    changes: list[ChangeLine] = field(default_factory=list)
    more_changes: int = 0
    # events
    event_type: str = ""
    reason: str = ""
    count: int = 0
    message: str = ""


@dataclass(frozen=True, slots=True)
class ObjectPage:
    namespace: str  # "" for cluster-scoped objects
    resource_type: str
    name: str
    kind: str
    entries: list[Entry]  # newest first
    versions: int
    heartbeat_only: int  # versions that only moved heartbeat times, not listed
    truncated: bool


def object_key(namespace: str, resource_type: str, name: str) -> ObjectKey:
    """The object a page's path names; :class:`PageError` (400) for a malformed one."""
    if not _RESOURCE_TYPE.match(resource_type):
        raise PageError(
            400,
            f"{resource_type!r} is not a resource type: use the lower-case plural, "
            "e.g. deployments, pods, nodes",
        )
    if not name or len(name) > 253:
        raise PageError(400, "the object's name must be 1-253 characters")
    return ObjectKey.from_path(namespace, resource_type, name)


def object_page(store: Store, key: ObjectKey) -> ObjectPage:
    """The page of ``key``; :class:`PageError` (404) when nothing is stored about it."""
    history = object_history(store, key, limit=MAX_VERSIONS)
    if history is None:
        where = f"namespace {key.namespace}" if key.namespace else "the cluster scope"
        raise PageError(404, f"nothing is stored about {key.resource_type}/{key.name} in {where}")
    docs = history.versions
    versions = version_changes(docs, diffs=history.diffs)
    entries = [version_entry(v) for v in versions if not heartbeat_only(v)]
    entries += [event_entry(related_event(e)) for e in history.events]
    entries.sort(key=lambda e: (e.time, e.what == "version"), reverse=True)
    kind = str(docs[-1].get("kind") or "") if docs else ""
    return ObjectPage(
        namespace=key.namespace,
        resource_type=key.resource_type,
        name=key.name,
        kind=kind,
        entries=entries,
        versions=len(versions),
        heartbeat_only=sum(1 for v in versions if heartbeat_only(v)),
        truncated=history.truncated,
    )


def version_entry(version: dict[str, Any]) -> Entry:
    return Entry(
        time=str(version.get("timestamp") or ""),
        what="version",
        verb=str(version.get("verb") or ""),
        first=bool(version.get("first")),
        resource_version=str(version.get("resourceVersion") or ""),
        user=str(version.get("user") or ""),
        field_manager=str(version.get("fieldManager") or ""),
        snapshot=bool(version.get("snapshot")),
        signals=[str(s) for s in version.get("signals") or []],
        changes=[
            ChangeLine(
                path=str(c["path"]),
                before=value_text(c["before"]) if "before" in c else None,
                after=value_text(c["after"]) if "after" in c else None,
            )
            for c in version.get("changes") or []
        ],
        more_changes=int(version.get("moreChanges") or 0),
    )


def event_entry(event: dict[str, Any]) -> Entry:
    return Entry(
        time=str(event.get("lastSeen") or ""),
        what="event",
        event_type=str(event.get("type") or ""),
        reason=str(event.get("reason") or ""),
        count=int(event.get("count") or 1),
        message=str(event.get("message") or ""),
    )


def value_text(value: Any) -> str:
    """A changed value as one line: strings as they are, anything else as JSON."""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()
