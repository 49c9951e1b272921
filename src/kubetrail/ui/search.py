"""The search page: full text (``q``) and filters over the event documents, a page at a
time with the REST API's keyset cursors, each hit linked to its object's page at that
version (a Kubernetes Event: to the object it is about).

The parameters are validated by :mod:`kubetrail.queries.events`, as ``GET
/api/v1/events`` validates them; only the fields a hit shows are read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kubetrail.diagnostics import TimeRange
from kubetrail.events.timing import format_rfc3339
from kubetrail.queries import EventParams, InvalidParameter, event_query
from kubetrail.store.base import Store
from kubetrail.ui.links import kind_object_url, object_url
from kubetrail.ui.params import PageError

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
#: the filters a search form has (the API's parameter names)
FILTERS = ("namespace", "kind", "resourceType", "name", "signal")
HIT_FIELDS = (
    "timestamp",
    "id",
    "verb",
    "namespace",
    "resourceType",
    "resourceName",
    "resourceVersion",
    "kind",
    "user",
    "fieldManager",
    "snapshot",
    "signals",
    "involvedObject",
    "reason",
    "eventType",
    "objectChanges.message",
    "objectChanges.note",
)


@dataclass(frozen=True, slots=True)
class Hit:
    time: str
    verb: str
    kind: str
    namespace: str
    name: str
    url: str
    by: str
    snapshot: bool
    signals: list[str]
    reason: str
    event_type: str
    message: str


@dataclass(frozen=True, slots=True)
class SearchPage:
    asked: bool  # the form was submitted with something to search for
    hits: list[Hit]
    next_cursor: str | None
    first_page: bool


def search(
    store: Store, rng: TimeRange, params: Mapping[str, str], *, page_size: int = PAGE_SIZE
) -> SearchPage:
    """One page of the events matching ``params`` (``q``, :data:`FILTERS`, ``cursor``)
    in ``rng``, newest first; :class:`PageError` (400) for a bad parameter."""
    values = {k: (params.get(k) or "").strip() for k in ("q", "cursor", *FILTERS)}
    if not any(values[k] for k in ("q", *FILTERS)):
        return SearchPage(asked=False, hits=[], next_cursor=None, first_page=True)
    try:
        query = event_query(
            EventParams.from_mapping(
                {
                    **values,
                    "start": format_rfc3339(rng.start),
                    "end": format_rfc3339(rng.end),
                    "fields": ",".join(HIT_FIELDS),
                }
            ),
            default_limit=page_size,
            max_limit=MAX_PAGE_SIZE,
        )
    except InvalidParameter as exc:
        raise PageError(400, str(exc)) from None
    query = type(query)(
        filter=query.filter,
        order="desc",
        limit=query.limit,
        after=query.after,
        fields=query.fields,
    )
    page = store.search(query)
    return SearchPage(
        asked=True,
        hits=[hit(doc) for doc in page.items],
        next_cursor=page.next.encode() if page.next else None,
        first_page=not values["cursor"],
    )


def hit(doc: Mapping[str, object]) -> Hit:
    def text(key: str) -> str:
        value = doc.get(key)
        return value if isinstance(value, str) else ""

    obj = doc.get("objectChanges")
    obj = obj if isinstance(obj, Mapping) else {}
    involved = doc.get("involvedObject")
    if text("resourceType") == "events" and isinstance(involved, Mapping):
        url = kind_object_url(
            str(involved.get("kind") or ""),
            str(involved.get("namespace") or ""),
            str(involved.get("name") or ""),
        )
    else:
        url = object_url(
            text("namespace"),
            text("resourceType"),
            text("resourceName"),
            version=text("resourceVersion"),
        )
    signals = doc.get("signals")
    return Hit(
        time=text("timestamp"),
        verb=text("verb"),
        kind=text("kind"),
        namespace=text("namespace"),
        name=text("resourceName"),
        url=url,
        by=text("user") if text("fieldManager") == "" else text("fieldManager"),
        snapshot=bool(doc.get("snapshot")),
        signals=[str(s) for s in signals] if isinstance(signals, list) else [],
        reason=text("reason"),
        event_type=text("eventType"),
        message=str(obj.get("message") or obj.get("note") or ""),
    )
