"""The tools: the six diagnostics, ``search_events`` and ``get_object_history``.

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

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from kubetrail.diagnostics import CHECKS, InvalidParams, TimeRange
from kubetrail.events.resources import plural_for_kind
from kubetrail.events.timing import format_rfc3339
from kubetrail.mcp import views
from kubetrail.mcp.backends.base import Backend, BackendError, accepted_forms
from kubetrail.mcp.schemas import (
    DEFAULT_EVENTS,
    DEFAULT_FINDINGS,
    MAX_EVENTS,
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
        "query plus filters on namespace, resource type, kind, name, signal and verb over a "
        "time range. Signals are labels computed from each object, e.g. "
        "pod.waiting:CrashLoopBackOff, pod.lastTerminated:OOMKilled, "
        "node.condition:Ready=Unknown, pvc.phase:Pending, event.reason:FailedScheduling; a "
        "trailing * matches a prefix (pod.*). Kubernetes Events are kind=Event.",
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
    return CallToolResult(
        content=[TextContent(type="text", text=views.report_text(report))],
        structured_content=report,
    )


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
                "a small limit."
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
        out = {
            "range": rng.to_dict(),
            "count": len(events),
            "events": events,
            "nextCursor": next_cursor,
            "truncated": next_cursor is not None,
        }
        header = f"{len(events)} events {rng.to_dict()['start']} → {rng.to_dict()['end']}" + (
            "" if events else " (nothing matched these filters; data exists in the range)"
        )
        return CallToolResult(
            content=[
                TextContent(
                    type="text",
                    text=views.events_text(events, header=header, more=bool(next_cursor))
                    + (f"\nnext_cursor: {next_cursor}" if next_cursor else ""),
                )
            ],
            structured_content=out,
        )

    return _with_window(search_events, SEARCH_WINDOW)


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
    ) -> Annotated[CallToolResult, HistoryOut]:
        rtype = plural_resource_type(resource_type)
        if not rtype or not name.strip():
            raise ToolError(
                "get_object_history needs resource_type (plural, e.g. pods) and name; "
                "namespace '_' for cluster-scoped objects"
            )
        ns = namespace.strip() or "_"
        raw = _guard(lambda: backend.object_history(ns, rtype, name.strip()))
        history = views.compact_history(raw)
        return CallToolResult(
            content=[TextContent(type="text", text=views.history_text(history))],
            structured_content=history,
        )

    return get_object_history
