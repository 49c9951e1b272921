"""OpenSearch request bodies for the store's queries. Pure: dicts in, dicts out.

The indexed document is the event document plus three fields the store adds
(and strips again on read, see :data:`INTERNAL_FIELDS`):

- ``timestampMicros`` (long): the exact time in microseconds. ``date`` fields
  keep milliseconds, and two events of the same millisecond must still sort
  (and page) exactly as in the embedded store, so sorting, ranges and
  first/last seen use this field; ``timestamp`` stays for people and Dashboards;
- ``searchText`` (text): the message and the snapshot's text rendering, what
  ``q=`` searches;
- ``labels`` / ``annotations`` (``flat_object``): copies for Discover filters.

And it leaves out what is empty because it is unknown (:data:`OMITTED_WHEN_EMPTY`):
``namespace`` of a cluster-scoped object, ``fieldManager`` of an object without
``managedFields``, ``involvedObject.namespace`` of an Event about a cluster-scoped object.
A missing field is what OpenSearch Dashboards shows as a missing bucket ("(unknown)") and
what ``exists`` queries see; an indexed ``""`` is a term like any other. The event
document keeps them as ``""`` everywhere else (the REST contract of the original toolkit
always has ``namespace``): :func:`public_document` puts them back on read, a filter on
``""`` matches a missing field (and the ``""`` older documents were indexed with), and
aggregations group a missing field under ``""``.

Full-text input goes through ``simple_query_string`` with only the prefix and
whitespace operators enabled, so quotes, parentheses, ``AND``, ``-`` or ``|``
typed by a user are text, never syntax, and can never make the query fail.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from kubetrail.events.model import EventDocument
from kubetrail.events.redact import LAST_APPLIED
from kubetrail.events.text import search_text
from kubetrail.events.timing import parse_rfc3339, to_micros
from kubetrail.store.base import AggregateQuery, Cursor, EventFilter, EventQuery, InvalidQuery

INTERNAL_FIELDS = ("timestampMicros", "searchText", "labels", "annotations")
#: Fields left out of the indexed document when ``""`` (dotted: inside an object).
OMITTED_WHEN_EMPTY = ("namespace", "fieldManager", "involvedObject.namespace")
MAX_RESULT_WINDOW = 10_000

#: EventFilter field → indexed keyword field.
FILTER_FIELDS: dict[str, str] = {
    "namespace": "namespace",
    "resource_type": "resourceType",
    "name": "resourceName",
    "kind": "kind",
    "verb": "verb",
    "uid": "uid",
    "reason": "reason",
    "event_type": "eventType",
    "field_manager": "fieldManager",
    "user": "user",
    "involved_kind": "involvedObject.kind",
    "involved_namespace": "involvedObject.namespace",
    "involved_name": "involvedObject.name",
    "involved_uid": "involvedObject.uid",
}
#: group key → indexed keyword field.
GROUP_FIELDS: dict[str, str] = {
    "namespace": "namespace",
    "resourceType": "resourceType",
    "resourceName": "resourceName",
    "kind": "kind",
    "apiGroup": "apiGroup",
    "verb": "verb",
    "user": "user",
    "uid": "uid",
    "signal": "signals",
    "reason": "reason",
    "eventType": "eventType",
    "fieldManager": "fieldManager",
    "involvedObject.kind": "involvedObject.kind",
    "involvedObject.namespace": "involvedObject.namespace",
    "involvedObject.name": "involvedObject.name",
    "involvedObject.uid": "involvedObject.uid",
}


def index_body(doc: dict[str, Any]) -> dict[str, Any]:
    """The document as indexed: the event document plus the internal fields."""
    obj = doc.get("objectChanges") or {}
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    body = dict(doc)
    for name in OMITTED_WHEN_EMPTY:
        outer, _, inner = name.partition(".")
        if not inner:
            if body.get(outer) == "":
                del body[outer]
        elif isinstance(body.get(outer), dict) and body[outer].get(inner) == "":
            body[outer] = {k: v for k, v in body[outer].items() if k != inner}
    body["timestampMicros"] = to_micros(parse_rfc3339(doc["timestamp"]))
    body["searchText"] = f"{doc.get('message') or ''} {search_text(obj)}"
    labels = meta.get("labels")
    if isinstance(labels, dict) and labels:
        body["labels"] = labels
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        kept = {k: v for k, v in annotations.items() if k != LAST_APPLIED}
        if kept:
            body["annotations"] = kept
    return body


def text_query(text: str) -> dict[str, Any]:
    if not text.split():
        raise InvalidQuery("search text is empty: give at least one word")
    return {
        "simple_query_string": {
            "query": text,
            "fields": ["searchText"],
            "default_operator": "and",
            "flags": "PREFIX|WHITESPACE",
            "analyze_wildcard": True,
        }
    }


def signal_query(signals: tuple[str, ...]) -> dict[str, Any]:
    exact = [s for s in signals if not s.endswith("*")]
    should: list[dict[str, Any]] = [
        {"prefix": {"signals": s[:-1]}} for s in signals if s.endswith("*")
    ]
    if exact:
        should.append({"terms": {"signals": exact}})
    return (
        should[0] if len(should) == 1 else {"bool": {"should": should, "minimum_should_match": 1}}
    )


def terms_query(fld: str, values: tuple[str, ...]) -> dict[str, Any]:
    """``fld`` is one of ``values``; for a field left out when empty, ``""`` also matches
    documents without it (cluster-scoped objects: ``namespace=_`` in the API)."""
    terms: dict[str, Any] = {"terms": {fld: list(values)}}
    if fld not in OMITTED_WHEN_EMPTY or "" not in values:
        return terms
    missing = {"bool": {"must_not": [{"exists": {"field": fld}}]}}
    return {"bool": {"should": [terms, missing], "minimum_should_match": 1}}


def filter_query(flt: EventFilter) -> dict[str, Any]:
    clauses: list[dict[str, Any]] = []
    if flt.start is not None or flt.end is not None:
        bounds: dict[str, int] = {}
        if flt.start is not None:
            bounds["gte"] = to_micros(flt.start)
        if flt.end is not None:
            bounds["lte"] = to_micros(flt.end)
        clauses.append({"range": {"timestampMicros": bounds}})
    for name, fld in FILTER_FIELDS.items():
        values: tuple[str, ...] = getattr(flt, name)
        if values:
            clauses.append(terms_query(fld, values))
    if flt.snapshot is not None:
        clauses.append({"term": {"snapshot": flt.snapshot}})
    if flt.signal:
        clauses.append(signal_query(flt.signal))
    if flt.text is not None:
        clauses.append(text_query(flt.text))
    if not clauses:
        return {"match_all": {}}
    return {"bool": {"filter": clauses}}


def search_body(query: EventQuery) -> dict[str, Any]:
    if query.limit < 1:
        raise InvalidQuery("limit must be at least 1")
    if query.limit >= MAX_RESULT_WINDOW:
        raise InvalidQuery(f"limit must be below {MAX_RESULT_WINDOW}")
    order = "desc" if query.order == "desc" else "asc"
    body: dict[str, Any] = {
        "query": filter_query(query.filter),
        "sort": [{"timestampMicros": order}, {"id": order}],
        "size": query.limit + 1,  # one more tells whether a next page exists
        "track_total_hits": False,
    }
    if query.after is not None:
        body["search_after"] = [query.after.ts, query.after.id]
    includes = source_includes(query.fields) if query.fields else None
    if includes is not None:
        body["_source"] = {"includes": includes}
    return body


def source_includes(fields: tuple[str, ...]) -> list[str] | None:
    """The ``_source`` includes of a sparse fieldset (same meaning as
    :func:`~kubetrail.events.projection.project`), or ``None``: fetch whole documents.

    A path into ``objectChanges`` fetches the whole source: OpenSearch 2.19 keeps keys
    holding dots (``kubernetes.io/hostname``) as they are when it filters, but
    OpenSearch-compatible servers (osmem) expand them into objects, which would change
    the Kubernetes object; the caller projects the document itself. Any other fieldset
    (the common one: no object at all) is filtered by the node.
    ``involvedObject.namespace`` is left out of the index when empty, so
    ``involvedObject.kind`` comes along: it tells :func:`public_document` the Event has
    an ``involvedObject`` to put ``""`` back in (projected away again by the caller)."""
    if any(f.split(".", 1)[0] == "objectChanges" for f in fields):
        return None
    includes = list(fields)
    if "involvedObject.namespace" in fields and "involvedObject" not in fields:
        includes.append("involvedObject.kind")
    return includes


def public_document(source: dict[str, Any]) -> EventDocument:
    """The event document of a hit: the ``_source`` without the store's own fields.

    Stripped here rather than with ``_source`` filtering: filtering rebuilds the
    source and may expand dotted keys (``kubernetes.io/hostname``) into objects,
    which would change the Kubernetes object we return."""
    for name in INTERNAL_FIELDS:
        source.pop(name, None)
    if "impersonatedBy" in source and source["impersonatedBy"] is None:
        del source["impersonatedBy"]  # cleared by a later audit join (see .audit)
    if "namespace" not in source or "fieldManager" not in source:
        source = _with_empty(source, "namespace", after="user")
        source = _with_empty(source, "fieldManager", after="signals")
    involved = source.get("involvedObject")
    if isinstance(involved, dict) and "namespace" not in involved:
        source["involvedObject"] = _with_empty(involved, "namespace", after="kind")
    return cast(EventDocument, source)


def _with_empty(obj: dict[str, Any], key: str, *, after: str) -> dict[str, Any]:
    """``obj`` with ``key: ""`` where the event document has it (after ``after``), so a
    document reads back with its keys in the order it was written."""
    if key in obj:
        return obj
    out: dict[str, Any] = {}
    for k, v in obj.items():
        out[k] = v
        if k == after:
            out[key] = ""
    out.setdefault(key, "")
    return out


def cursor_of(hit: dict[str, Any]) -> Cursor:
    ts, ident = hit["sort"]
    return Cursor(ts=int(ts), id=str(ident))


def composite_body(
    query: AggregateQuery, *, page_size: int, after: dict[str, Any] | None
) -> dict[str, Any]:
    """One page of all groups: count, first and last time, the newest event's id."""
    # A missing value groups as "" (as the embedded store's COALESCE does), except
    # for signals: an event without signals belongs to no signal's group.
    sources = [
        {key: {"terms": {"field": GROUP_FIELDS[key], "missing_bucket": key != "signal"}}}
        for key in query.group_by
    ]
    composite: dict[str, Any] = {"size": page_size, "sources": sources}
    if after is not None:
        composite["after"] = after
    return {
        "size": 0,
        "track_total_hits": False,
        "query": filter_query(query.filter),
        "aggs": {"groups": {"composite": composite, "aggs": _group_aggs(query)}},
    }


def signal_matches(signal: str, wanted: tuple[str, ...]) -> bool:
    """Whether a signal satisfies a filter's signal list (exact or ``prefix*``)."""
    return any(signal.startswith(w[:-1]) if w.endswith("*") else signal == w for w in wanted)


#: Distinct signals one aggregation expects at most (signals are a small vocabulary).
SIGNAL_BUCKETS = 1000
_LUCENE_SPECIAL = set('.?+*|{}[]()"\\#@&<>~')


def signal_regex(signals: tuple[str, ...]) -> str:
    """A Lucene regular expression matching the filter's signals (``prefix*`` too)."""

    def escape(text: str) -> str:
        return "".join("\\" + c if c in _LUCENE_SPECIAL else c for c in text)

    return "|".join(escape(s[:-1]) + ".*" if s.endswith("*") else escape(s) for s in signals)


def _group_aggs(query: AggregateQuery) -> dict[str, Any]:
    sub: dict[str, Any] = {
        "first": {"min": {"field": "timestampMicros"}},
        "last": {"max": {"field": "timestampMicros"}},
    }
    if query.latest or query.latest_id:
        sub["newest"] = {
            "top_hits": {
                "size": 1,
                "sort": [{"timestampMicros": "desc"}, {"id": "desc"}],
                "_source": False,
                "docvalue_fields": ["id"],
            }
        }
    return sub


def top_groups_body(query: AggregateQuery, *, size: int) -> dict[str, Any]:
    """The ``size`` top groups in one request: ``terms``/``multi_terms`` ordered like
    the embedded store (count or last seen, descending; ties by key). Signals, a
    multi-valued field, are an outer ``terms`` (restricted to the filter's signals)
    with the other keys inside, so each group still counts the events showing
    that signal."""
    sub = _group_aggs(query)
    order = [{"_count": "desc"} if query.order == "count" else {"last": "desc"}, {"_key": "asc"}]
    others = [k for k in query.group_by if k != "signal"]
    inner: dict[str, Any] | None = None
    if len(others) == 1:
        inner = {
            "terms": {
                "field": GROUP_FIELDS[others[0]],
                "missing": "",
                "size": size,
                "order": order,
            },
            "aggs": sub,
        }
    elif others:
        inner = {
            "multi_terms": {
                "terms": [{"field": GROUP_FIELDS[k], "missing": ""} for k in others],
                "size": size,
                "order": order,
            },
            "aggs": sub,
        }
    aggs: dict[str, Any]
    if "signal" in query.group_by:
        terms: dict[str, Any] = {"field": "signals"}
        if query.filter.signal:
            terms["include"] = signal_regex(query.filter.signal)
        if inner is None:
            aggs = {"signals": {"terms": {**terms, "size": size, "order": order}, "aggs": sub}}
        else:
            aggs = {
                "signals": {"terms": {**terms, "size": SIGNAL_BUCKETS}, "aggs": {"groups": inner}}
            }
    else:
        aggs = {"groups": inner}
    return {"size": 0, "track_total_hits": False, "query": filter_query(query.filter), "aggs": aggs}


def sliced_body(query: AggregateQuery, *, size: int, origin: int) -> dict[str, Any]:
    """:func:`top_groups_body` split by time (``AggregateQuery.every``) in one request: a
    ``histogram`` of ``timestampMicros`` ``every`` wide, its buckets starting at
    ``origin`` (the filter's start, microseconds: the ``offset``), empty ones left out,
    with the top ``size`` groups of each inside. Microsecond times are exact as the
    doubles a histogram computes with (below 2^53)."""
    assert query.every is not None
    width = max(1, query.every // timedelta(microseconds=1))
    body = top_groups_body(query, size=size)
    histogram = {
        "field": "timestampMicros",
        "interval": width,
        "offset": origin % width,
        "min_doc_count": 1,
    }
    body["aggs"] = {"slices": {"histogram": histogram, "aggs": body["aggs"]}}
    return body
