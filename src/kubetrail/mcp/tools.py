"""The tools: the seven diagnostics, ``search_events`` and ``get_object_history``.

All read-only. Each tool parses its arguments, asks the backend, and returns
structured content (the report as the REST API serves it, or a compact view of
events, :mod:`~kubetrail.mcp.views`) plus a short text summary for the model to
read; lists are capped and say how many more there are and how to narrow the
question. A failure is a tool error (``isError``) with one actionable line —
the API is down, a parameter is malformed, nothing was recorded in the range —
never a traceback. An empty report over a range that holds no events at all is
such an error, not a clean bill of health.
"""

# No ``from __future__ import annotations``: the tool signatures are built at
# runtime (descriptions name each check's default window) and the SDK reads them.

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

import orjson
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from kubetrail.diagnostics import CHECKS, InvalidParams, TimeRange
from kubetrail.events.resources import plural_for_kind
from kubetrail.events.timing import (
    InvalidTime,
    format_rfc3339,
    parse_query_time,
    parse_rfc3339,
    to_micros,
)
from kubetrail.mcp import paging, views
from kubetrail.mcp.backends.base import Backend, BackendError, accepted_forms
from kubetrail.mcp.schemas import (
    DEFAULT_EVENTS,
    DEFAULT_FINDINGS,
    MAX_EVENTS,
    MAX_FINDINGS,
    EndTime,
    EventsOut,
    HistoryOut,
    Limit,
    Namespace,
    ReportOut,
    StartTime,
    window_param,
)
from kubetrail.queries.events import VERBS
from kubetrail.store.base import Cursor

#: characters of events one search_events result carries at most: a client reads a result
#: whole into the model's context (Claude Code caps it at 25,000 tokens by default)
EVENTS_BUDGET = 40_000
READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
SEARCH_WINDOW = timedelta(hours=24)


def add_tools(server: MCPServer, backend: Backend) -> None:
    """Register the tools on ``server``, answering from ``backend``."""
    for name, spec in CHECKS.items():
        fn = (
            _pod_tool(backend, spec.default_window)
            if spec.needs_pod
            else _check_tool(backend, name, spec.default_window)
        )
        server.add_tool(
            fn,
            name=name,
            title=name.replace("_", " ").capitalize(),
            description=spec.description
            + " Returns a report: counts by issue, findings (object, first/last seen, evidence, "
            "related Kubernetes Events), notes.",
            annotations=READ_ONLY,
        )
    server.add_tool(
        _search_tool(backend),
        name="search_events",
        title="Search events",
        description="Search the recorded changes (event documents, oldest first): full-text "
        "query plus filters on namespace, resource type, kind, name, signal, verb and user "
        "(who made the change, from the API server's audit log) over a time range. Signals "
        "are labels computed from each object, e.g. pod.waiting:CrashLoopBackOff, "
        "pod.lastTerminated:OOMKilled, node.condition:Ready=Unknown, pvc.phase:Pending, "
        "event.reason:FailedScheduling; a "
        "trailing * matches a prefix (pod.*). Kubernetes Events are kind=Event. The answer "
        "says how many match in all, how many it shows, and the exact call for the next page.",
        annotations=READ_ONLY,
    )
    server.add_tool(
        _history_tool(backend),
        name="get_object_history",
        title="Object history",
        description="One object's recorded history: every stored version (newest "
        f"{views.HISTORY_VERSIONS} shown) with who changed it and which fields changed "
        "(e.g. spec.template.spec.containers[app].image), the latest state, and the "
        "Kubernetes Events about it.",
        annotations=READ_ONLY,
    )


# -- parsing arguments ----------------------------------------------------------------------


def resolve_range(
    start_time: str | None, end_time: str | None, time_window: str | None, default: timedelta
) -> TimeRange:
    try:
        return TimeRange.resolve(
            start_time=start_time or None,
            end_time=end_time or None,
            time_window=time_window or None,
            default=default,
        )
    except InvalidParams as exc:
        raise ToolError(accepted_forms(str(exc))) from None


def plural_resource_type(value: str | None) -> str | None:
    """``pods``, ``Pod`` or ``pod`` → ``pods`` (the plural the store uses)."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.islower() and value.endswith("s") and not value.endswith("ss"):
        return value
    return plural_for_kind(value[:1].upper() + value[1:])


# -- answering ------------------------------------------------------------------------------


def _guard(fn: Callable[[], Any]) -> Any:
    """Run a backend call; its failures become tool errors with their message."""
    try:
        return fn()
    except BackendError as exc:
        raise ToolError(str(exc)) from None


def _report_result(backend: Backend, name: str, args: dict[str, Any]) -> CallToolResult:
    report = _guard(lambda: backend.run_check(name, args))
    _ensure_data(backend, report)
    report = views.cap_report(report)
    report["paging"] = report_paging(name, args, report)
    return CallToolResult(
        content=[TextContent(type="text", text=views.report_text(report))],
        structured_content=report,
    )


def report_paging(name: str, args: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    """N total, showing M, and the calls that show the others: a higher limit, one
    namespace (the one with the most findings), or the first half of the range."""
    findings = report.get("findings") or []
    total = int(report.get("totalFindings") or len(findings))
    rng = report.get("range") or {}
    # the range as resolved, so a second call sees the same window
    same = {
        **{k: v for k, v in args.items() if k not in ("time_window", "start_time", "end_time")},
        "start_time": rng.get("start"),
        "end_time": rng.get("end"),
    }
    if total <= len(findings):
        return paging.paging(total, len(findings))
    limit = int(args.get("limit") or DEFAULT_FINDINGS)
    more = None
    if limit < MAX_FINDINGS:
        more = paging.call(name, {**same, "limit": min(MAX_FINDINGS, max(total, limit))})
    if not args.get("namespace"):
        spaces = Counter(
            (f.get("object") or {}).get("namespace") for f in findings if f.get("object")
        )
        spaces.pop(None, None)
        spaces.pop("", None)
        if spaces:
            narrow = paging.call(name, {**same, "namespace": spaces.most_common(1)[0][0]})
            return paging.paging(total, len(findings), more=more, narrow=narrow)
    return paging.paging(total, len(findings), more=more, narrow=_first_half(name, same, rng))


def _first_half(tool: str, args: dict[str, Any], rng: dict[str, Any]) -> str | None:
    try:
        start, end = parse_rfc3339(rng["start"]), parse_rfc3339(rng["end"])
    except (KeyError, TypeError, InvalidTime):
        return None
    middle = format_rfc3339(start + (end - start) / 2)
    return paging.call(tool, {**args, "end_time": middle})


def _ensure_data(backend: Backend, report: dict[str, Any]) -> None:
    """An empty report over a range that holds no events at all is an error, not health."""
    if report.get("findings") or report.get("totalFindings"):
        return
    rng = report.get("range") or {}
    if not rng.get("start"):
        return
    params = {"start": rng["start"], "end": rng.get("end"), "limit": 1}
    if report.get("namespace"):
        params["namespace"] = report["namespace"]
    found, _ = _guard(lambda: backend.search_events(params))
    if not found:
        raise ToolError(_no_data(rng, report.get("namespace")))


def _no_data(rng: dict[str, Any], namespace: str | None) -> str:
    where = f" in namespace {namespace}" if namespace else ""
    return (
        f"no audit events were recorded between {rng.get('start')} and {rng.get('end')}{where}: "
        "there is no data in that range. Try a longer time_window (e.g. 24h or 7d), check the "
        "namespace name, or check that the shipper is running"
    )


# -- the tools --------------------------------------------------------------------------------


def _with_window(tool: Callable[..., Any], default: timedelta) -> Callable[..., Any]:
    """``tool`` with the schema of its ``time_window`` parameter, whose description names
    the tool's default window (the SDK reads the annotations when the tool is added)."""
    tool.__annotations__["time_window"] = window_param(default)
    return tool


def _check_tool(backend: Backend, name: str, default: timedelta) -> Callable[..., Any]:
    def tool(
        namespace: Namespace = None,
        time_window: str | None = None,
        start_time: StartTime = None,
        end_time: EndTime = None,
        limit: Limit = DEFAULT_FINDINGS,
    ) -> Annotated[CallToolResult, ReportOut]:
        args = {
            "namespace": namespace,
            "time_window": time_window,
            "start_time": start_time,
            "end_time": end_time,
            "limit": limit,
        }
        return _report_result(backend, name, args)

    tool.__name__ = name
    return _with_window(tool, default)


def _pod_tool(backend: Backend, default: timedelta) -> Callable[..., Any]:
    def investigate_pod_startup(
        pod_name: Annotated[
            str, Field(description="The pod's name, e.g. checkout-7d9f8b6c4-x2k8q.")
        ],
        namespace: Annotated[str, Field(description="The pod's namespace, e.g. shop.")],
        start_time: StartTime = None,
        end_time: EndTime = None,
        time_window: str | None = None,
        limit: Limit = DEFAULT_FINDINGS,
    ) -> Annotated[CallToolResult, ReportOut]:
        if not pod_name.strip() or not namespace.strip():
            raise ToolError(
                "investigate_pod_startup needs pod_name and namespace, e.g. "
                "pod_name='checkout-7d9f8b6c4-x2k8q', namespace='shop'"
            )
        args = {
            "pod_name": pod_name.strip(),
            "namespace": namespace.strip(),
            "start_time": start_time,
            "end_time": end_time,
            "time_window": time_window,
            "limit": limit,
        }
        return _report_result(backend, "investigate_pod_startup", args)

    return _with_window(investigate_pod_startup, default)


def _search_tool(backend: Backend) -> Callable[..., Any]:
    def search_events(
        query: Annotated[
            str | None,
            Field(
                description="Full-text search in the recorded objects and Event messages: every "
                "word must occur; word* matches a prefix (e.g. 'v2.3.O', 'fast-ssd', 'OOMKilled')."
            ),
        ] = None,
        namespace: Annotated[
            str | None,
            Field(description="Namespace; '_' selects cluster-scoped objects (nodes, PVs...)."),
        ] = None,
        resource_type: Annotated[
            str | None,
            Field(description="Plural resource type, e.g. pods, deployments, nodes, events."),
        ] = None,
        kind: Annotated[
            str | None, Field(description="Object kind, e.g. Pod, Deployment, Event.")
        ] = None,
        name: Annotated[str | None, Field(description="Object name (exact).")] = None,
        signal: Annotated[
            str | None,
            Field(
                description="Signal, e.g. pod.waiting:CrashLoopBackOff, "
                "node.condition:Ready=Unknown, event.reason:FailedMount; trailing * = prefix."
            ),
        ] = None,
        verb: Annotated[str | None, Field(description="create, update or delete.")] = None,
        user: Annotated[
            str | None,
            Field(
                description="Who made the change, as the API server's audit log names them, "
                "e.g. alice@example.com or system:serviceaccount:argocd:argocd-application-"
                "controller (events without an audit record say system:k8s-watcher)."
            ),
        ] = None,
        snapshot: Annotated[
            bool | None,
            Field(
                description="true: only listings (state when watching began); false: only "
                "changes. Default: both."
            ),
        ] = None,
        time_window: str | None = None,
        start_time: StartTime = None,
        end_time: EndTime = None,
        limit: Annotated[
            int,
            Field(ge=1, le=MAX_EVENTS, description=f"Most events returned (1-{MAX_EVENTS})."),
        ] = DEFAULT_EVENTS,
        cursor: Annotated[
            str | None, Field(description="next_cursor of a previous call, for the next page.")
        ] = None,
        include_objects: Annotated[
            bool,
            Field(
                description="Also return each event's full (redacted) object. Large: use with "
                "a small limit (a result is cut at about 40,000 characters; its paging says "
                "where the next page starts)."
            ),
        ] = False,
    ) -> Annotated[CallToolResult, EventsOut]:
        if verb and verb not in VERBS:
            raise ToolError(f"verb {verb!r} is not one of {', '.join(VERBS)}")
        if query is not None and not query.split():
            raise ToolError("query is empty: give at least one word to search for")
        rng = resolve_range(start_time, end_time, time_window, SEARCH_WINDOW)
        params = {
            "start": format_rfc3339(rng.start),
            "end": format_rfc3339(rng.end),
            "namespace": namespace,
            "resourceType": plural_resource_type(resource_type),
            "kind": kind,
            "name": name,
            "signal": signal,
            "verb": verb,
            "user": user,
            "q": query,
            "snapshot": None if snapshot is None else str(snapshot).lower(),
            "limit": limit,
            "cursor": cursor,
        }
        docs, next_cursor = _guard(lambda: backend.search_events(params))
        if not docs and not cursor:
            probe = {"start": params["start"], "end": params["end"], "limit": 1}
            anything, _ = _guard(lambda: backend.search_events(probe))
            if not anything:
                raise ToolError(_no_data(rng.to_dict(), None))
        events = [views.compact_event(d, include_object=include_objects) for d in docs]
        fit = _within_budget(events)
        if fit < len(events):  # the next page starts after the last event shown
            events, next_cursor = events[:fit], _cursor_after(docs[fit - 1])
        given = {
            "query": query,
            "namespace": namespace,
            "resource_type": resource_type,
            "kind": kind,
            "name": name,
            "signal": signal,
            "verb": verb,
            "user": user,
            "snapshot": snapshot,
            "start_time": params["start"],  # the range as resolved: the next page's too
            "end_time": params["end"],
            "limit": limit,
            "include_objects": include_objects or None,
        }
        page = _events_paging(backend, params, given, events, next_cursor, cursor)
        out = {
            "range": rng.to_dict(),
            "count": len(events),
            "total": page["total"],
            "events": events,
            "nextCursor": next_cursor,
            "truncated": next_cursor is not None,
            "paging": page,
        }
        header = f"{len(events)} events {rng.to_dict()['start']} → {rng.to_dict()['end']}" + (
            "" if events else " (nothing matched these filters; data exists in the range)"
        )
        return CallToolResult(
            content=[
                TextContent(
                    type="text",
                    text=views.events_text(
                        events, header=header, more=bool(next_cursor), page=page
                    ),
                )
            ],
            structured_content=out,
        )

    return _with_window(search_events, SEARCH_WINDOW)


def _within_budget(events: list[dict[str, Any]]) -> int:
    """How many of ``events`` fit in :data:`EVENTS_BUDGET` characters (at least one)."""
    used = 0
    for i, event in enumerate(events):
        used += len(orjson.dumps(event))
        if used > EVENTS_BUDGET and i > 0:
            return i
    return len(events)


def _cursor_after(doc: dict[str, Any]) -> str | None:
    """The API's cursor for the position after ``doc`` (its time and id), if it has them."""
    try:
        return Cursor(ts=to_micros(parse_rfc3339(doc["timestamp"])), id=str(doc["id"])).encode()
    except (KeyError, TypeError, InvalidTime):
        return None


#: search_events arguments a narrowing can add, with the API key they count by
_NARROWING = (("kind", "kind"), ("signal", "signal"), ("name", "resourceName"))


def _events_paging(
    backend: Backend,
    params: dict[str, Any],
    given: dict[str, Any],
    events: list[dict[str, Any]],
    next_cursor: str | None,
    cursor: str | None,
) -> dict[str, Any]:
    """N total (counted in the store when there is more than this page), showing M, the
    call for the next page, and one that narrows by the most frequent kind or signal."""
    showing = len(events)
    full_page = showing >= int(given.get("limit") or 0)
    if next_cursor is None and cursor is None and not full_page:
        return paging.paging(showing, showing)
    if next_cursor:
        more: str | None = paging.call("search_events", {**given, "cursor": next_cursor})
    elif full_page and events:  # an API without cursors: go on from the last time shown
        more = paging.call("search_events", {**given, "start_time": events[-1].get("timestamp")})
    else:
        more = None
    arg, key = next(((a, k) for a, k in _NARROWING if not given.get(a)), ("", ""))
    try:
        counted = backend.count_events(params, by=key or "verb")
    except BackendError:
        counted = None
    if counted is None:
        total: int | str = f"at least {showing}" if more else "unknown"
        return paging.paging(total, showing, more=more)
    total, counts = counted
    narrow = None
    top = next(iter(counts.items()), None) if arg else None
    if top is not None and top[1] < total:
        narrow = paging.call("search_events", {**given, arg: top[0]}) + f" ({top[1]} events)"
    return paging.paging(total, showing, more=more, narrow=narrow)


def history_paging(
    given: dict[str, Any], raw: dict[str, Any], history: dict[str, Any]
) -> dict[str, Any]:
    """N versions, showing M; the newer ones the API did not send (``start_time``), or
    the older ones not listed (``end_time``)."""
    docs = raw.get("history") or []
    total: int | str = f"more than {len(docs)}" if raw.get("truncated") else len(docs)
    versions = history.get("versions") or []
    showing = len(versions)
    tool = "get_object_history"
    if raw.get("truncated") and docs:
        more = paging.call(tool, {**given, "start_time": docs[-1].get("timestamp")})
        return paging.paging(total, showing, more=more)
    if history.get("omittedVersions") and versions:
        more = paging.call(tool, {**given, "end_time": versions[0].get("timestamp")})
        return paging.paging(total, showing, more=more)
    return paging.paging(total, showing)


def _history_tool(backend: Backend) -> Callable[..., Any]:
    def get_object_history(
        namespace: Annotated[
            str,
            Field(
                description="The object's namespace; '_' (or '') for cluster-scoped objects "
                "such as nodes, persistentvolumes, storageclasses."
            ),
        ],
        resource_type: Annotated[
            str,
            Field(
                description="Plural resource type, e.g. pods, deployments, configmaps, "
                "persistentvolumeclaims, nodes (a kind such as Deployment is accepted too)."
            ),
        ],
        name: Annotated[str, Field(description="The object's name.")],
        start_time: Annotated[
            str | None,
            Field(description="Only versions at or after this RFC3339 time. Default: all stored."),
        ] = None,
        end_time: Annotated[
            str | None,
            Field(description="Only versions at or before this RFC3339 time. Default: all stored."),
        ] = None,
    ) -> Annotated[CallToolResult, HistoryOut]:
        rtype = plural_resource_type(resource_type)
        if not rtype or not name.strip():
            raise ToolError(
                "get_object_history needs resource_type (plural, e.g. pods) and name; "
                "namespace '_' for cluster-scoped objects"
            )
        ns = namespace.strip() or "_"
        start, end = start_time or None, end_time or None
        for arg, value in (("start_time", start), ("end_time", end)):
            if value is not None:
                try:
                    parse_query_time(value)
                except InvalidTime as exc:
                    raise ToolError(f"invalid {arg}: {exc}") from None
        raw = _guard(lambda: backend.object_history(ns, rtype, name.strip(), start=start, end=end))
        history = views.compact_history(raw)
        given = {
            "namespace": ns,
            "resource_type": rtype,
            "name": name.strip(),
            "start_time": start,
            "end_time": end,
        }
        history["paging"] = history_paging(given, raw, history)
        return CallToolResult(
            content=[TextContent(type="text", text=views.history_text(history))],
            structured_content=history,
        )

    return get_object_history
