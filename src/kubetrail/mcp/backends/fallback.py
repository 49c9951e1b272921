"""The events-only fallback: a check evaluated by the MCP server from an API's events.

An API that only implements ``GET /api/v1/events`` (the original Go watch
server, or a kubetrail older than the diagnostics) answers 404 for
``/api/v1/diagnostics``. The REST backend then fetches the window's events page
by page (at most :data:`FALLBACK_MAX_EVENTS`), re-normalises them (which
recomputes the signals from ``objectChanges`` and redacts Secrets the old API
may have stored in clear), loads them into a temporary embedded store and runs
the very same check there; the report says so in its notes. A summary
(``/api/v1/summary``, which such an API lacks too) is made the same way.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubetrail.diagnostics import CheckParams, InvalidParams, run_check
from kubetrail.events.model import EventDocument
from kubetrail.events.redact import DEFAULT_POLICY, RedactionPolicy
from kubetrail.events.timing import InvalidTime, format_rfc3339, parse_rfc3339
from kubetrail.ingest.documents import RecordError, to_documents
from kubetrail.mcp.backends.base import Backend, InvalidArguments, accepted_forms
from kubetrail.queries import EventParams, InvalidParameter, event_query
from kubetrail.queries.summary import SummaryOptions, summarize
from kubetrail.store.base import EventFilter
from kubetrail.store.sqlite import SQLiteStore

#: Most events the events-only fallback fetches for one check.
FALLBACK_MAX_EVENTS = 20_000
FALLBACK_PAGE_SIZE = 1000

#: Checks whose findings and evidence live in the namespace asked for; the others
#: need cluster-scoped objects (nodes, volumes, storage classes) as well.
_NAMESPACE_LOCAL_CHECKS = frozenset(
    {"check_pod_issues", "check_resource_limits", "check_workload_rollouts"}
)
#: Parameters of a summary that are not filters of the events.
_NOT_FILTERS = frozenset({"by", "top", "newest", "limit", "cursor", "fields"})


@dataclass(slots=True, kw_only=True)
class Fetched:
    documents: list[EventDocument]
    fetched: int  # events received, before deduplication
    notes: list[str]  # what the report must say about the fetch


def local_check(
    source: Backend, name: str, params: CheckParams, *, policy: RedactionPolicy = DEFAULT_POLICY
) -> dict[str, Any]:
    """Check ``name`` evaluated here, over the events ``source`` serves."""
    fetch = fetch_documents(source, name, params, policy=policy)
    with tempfile.TemporaryDirectory(prefix="kubetrail-mcp-") as tmp:
        store = SQLiteStore(Path(tmp) / "fallback.db")
        try:
            if fetch.documents:
                store.write(fetch.documents)
            report = run_check(store, name, params).to_dict()
        except InvalidParams as exc:
            raise InvalidArguments(str(exc)) from None
        finally:
            store.close()
    report.setdefault("notes", [])
    report["notes"].append(
        f"computed locally by the MCP server from {fetch.fetched} events fetched from "
        f"{source.location}/api/v1/events (this API has no /api/v1/diagnostics); "
        "signals were recomputed from each event's objectChanges"
    )
    report["notes"].extend(fetch.notes)
    report["fetchedEvents"] = fetch.fetched
    return report


def fetch_documents(
    source: Backend, name: str, params: CheckParams, *, policy: RedactionPolicy = DEFAULT_POLICY
) -> Fetched:
    """The window's events from ``source``, re-normalised into documents."""
    rng = params.range
    query: dict[str, Any] = {"start": format_rfc3339(rng.start), "end": format_rfc3339(rng.end)}
    if params.namespace and name in _NAMESPACE_LOCAL_CHECKS:
        query["namespace"] = params.namespace
    return fetch_matching(source, query, policy=policy)


def fetch_matching(
    source: Backend, filters: Mapping[str, Any], *, policy: RedactionPolicy = DEFAULT_POLICY
) -> Fetched:
    """The events ``source`` serves for these ``/api/v1/events`` filters (``start`` and
    ``end`` given), page by page up to :data:`FALLBACK_MAX_EVENTS`, re-normalised."""
    query = {**filters, "limit": FALLBACK_PAGE_SIZE}
    fetched = 0
    rejected = 0
    notes: list[str] = []
    docs: dict[str, EventDocument] = {}
    while True:
        page, cursor = source.search_events(query)
        fetched += len(page)
        for raw in page:
            try:
                for doc in to_documents(raw, policy=policy) if isinstance(raw, dict) else ():
                    docs[doc["id"]] = doc
            except RecordError:
                rejected += 1
        if fetched >= FALLBACK_MAX_EVENTS:
            if cursor or len(page) >= FALLBACK_PAGE_SIZE:
                notes.append(
                    f"stopped after fetching {fetched} events (the cap is "
                    f"{FALLBACK_MAX_EVENTS}): findings may be incomplete; narrow with "
                    "namespace= or a shorter time_window"
                )
            break
        if cursor:
            query["cursor"] = cursor
            continue
        if len(page) < FALLBACK_PAGE_SIZE:
            break
        # no cursor support (the original API): continue from the last timestamp;
        # events repeated at that instant are deduplicated by id
        last = page[-1].get("timestamp") if isinstance(page[-1], dict) else None
        if not last or _same_instant(last, query["start"]):
            notes.append(
                f"more than {FALLBACK_PAGE_SIZE} events share the timestamp {last}; the API "
                "offers no cursor, so some of them were not fetched"
            )
            break
        query["start"] = last
    if rejected:
        notes.append(f"{rejected} fetched events could not be read and were skipped")
    return Fetched(documents=list(docs.values()), fetched=fetched, notes=notes)


def local_summary(
    source: Backend, params: Mapping[str, Any], *, policy: RedactionPolicy = DEFAULT_POLICY
) -> dict[str, Any]:
    """``GET /api/v1/summary`` answered here, over the events ``source`` serves."""
    filters = {k: v for k, v in params.items() if k not in _NOT_FILTERS}
    try:
        query = event_query(EventParams.from_mapping(filters), default_limit=1, max_limit=1)
        options = SummaryOptions.from_mapping(params)
    except InvalidParameter as exc:
        raise InvalidArguments(accepted_forms(str(exc))) from None
    flt = query.filter
    filters["start"] = format_rfc3339(flt.start) if flt.start else None
    filters["end"] = format_rfc3339(flt.end) if flt.end else None
    fetch = fetch_matching(source, filters, policy=policy)
    with tempfile.TemporaryDirectory(prefix="kubetrail-mcp-") as tmp:
        store = SQLiteStore(Path(tmp) / "fallback.db")
        try:
            if fetch.documents:
                store.write(fetch.documents)
            # the fetched events all match: only the range is asked again (signals and
            # text are recomputed from the objects and could differ slightly)
            summary = summarize(store, EventFilter(start=flt.start, end=flt.end), options)
        finally:
            store.close()
    out = summary.to_dict()
    out["notes"] = [
        f"computed locally by the MCP server from {fetch.fetched} events fetched from "
        f"{source.location}/api/v1/events (this API has no /api/v1/summary)",
        *fetch.notes,
    ]
    return out


def _same_instant(a: str, b: str) -> bool:
    try:
        return parse_rfc3339(a) <= parse_rfc3339(b)
    except InvalidTime:
        return a == b
