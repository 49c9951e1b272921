"""The MCP server: kubetrail's diagnostics as tools, its data as resources, and prompts.

Tools (all read-only): the six diagnostics of :mod:`kubetrail.diagnostics`
(``check_node_health``, ``check_pod_issues``, ``check_volume_issues``,
``analyze_recent_changes``, ``investigate_pod_startup``,
``check_resource_limits``), ``search_events`` and ``get_object_history``. Each
returns structured content (the report as the REST API serves it, or a compact
view of events) plus a short text summary for the model to read; lists are
capped and say how many more there are and how to narrow the question.

Resources (templates): ``audit://events/{namespace}`` (last 24 h),
``audit://events/{namespace}/{resource_type}``, ``audit://changes/{time_range}``
(1h, 24h, 7d) and ``audit://node-events/{node_name}``. Prompts:
``investigate_pod_failure``, ``diagnose_cluster_health``,
``analyze_deployment_rollout``, ``troubleshoot_volume_issues``.

Errors are tool errors (``isError``) with one actionable line — the API is
down, a parameter is malformed, nothing was recorded in the range, the API
answered something unexpected — never a traceback. The server adds no data of
its own: everything it shows was redacted by the store before it was stored.
"""

# No ``from __future__ import annotations``: the tool signatures are built at
# runtime (descriptions name each check's default window) and the SDK reads them.

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

import orjson
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field

from kubetrail import __version__
from kubetrail.diagnostics.model import InvalidParams, TimeRange
from kubetrail.events.resources import plural_for_kind
from kubetrail.events.timing import format_rfc3339
from kubetrail.mcp import _format, prompts
from kubetrail.mcp.backends import (
    CHANGE_RANGES,
    Backend,
    BackendError,
    NotFound,
)

MAX_FINDINGS = 100
DEFAULT_FINDINGS = 20
MAX_EVENTS = 200
DEFAULT_EVENTS = 50
RESOURCE_EVENTS = 200

INSTRUCTIONS = """\
kubetrail answers "what happened in this Kubernetes cluster, and why" from a 14-day record of \
every change of every object (redacted: Secret values are never stored). Start broad with \
check_pod_issues, check_node_health, check_volume_issues, check_resource_limits and \
analyze_recent_changes; drill into one pod with investigate_pod_startup and into any object \
with get_object_history; use search_events for anything else. Times: time_window like 30m, \
2h, 24h, 7d, or start_time/end_time in RFC3339. The prompts investigate_pod_failure, \
diagnose_cluster_health, analyze_deployment_rollout and troubleshoot_volume_issues are \
step-by-step workflows."""

READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)

CHECK_DESCRIPTIONS = {
    "check_node_health": (
        "Node health: NotReady/Unknown nodes and their transitions, memory/disk/PID pressure, "
        "NetworkUnavailable, cordoned (unschedulable) nodes, kubelet failures and node Events "
        "(NodeNotReady, Rebooted, EvictionThresholdMet, ContainerGCFailed, ImageGCFailed...)."
    ),
    "check_pod_issues": (
        "Pod problems: CrashLoopBackOff (with the last termination reason and exit code), "
        "ImagePullBackOff/ErrImagePull, OOMKilled, CreateContainerConfigError and other waiting "
        "errors, liveness/readiness/startup probe failures, evictions, FailedScheduling; "
        "init containers too."
    ),
    "check_volume_issues": (
        "Volume problems: PVCs Pending or Lost, ProvisioningFailed (including a StorageClass "
        "that does not exist), FailedBinding, FailedMount, FailedAttachVolume, "
        "VolumeResizeFailed, pods stuck on unbound claims."
    ),
    "analyze_recent_changes": (
        "What changed: creates/updates/deletes of Deployments, StatefulSets, DaemonSets, "
        "ConfigMaps, Secrets (values redacted, a change still shows), NetworkPolicies, "
        "Services, Ingresses, RBAC and CRDs, grouped by kind and namespace, with who changed "
        "them (fieldManager) and what changed (changed paths, e.g. an image tag). Startup "
        "snapshots are not changes."
    ),
    "investigate_pod_startup": (
        "Why one pod does not start or keeps failing: its timeline (scheduling, image pulls, "
        "mounts, container starts, probes, restarts, terminations), current state, its "
        "owners' changes just before (ReplicaSet -> Deployment rollout), the ConfigMaps, "
        "Secrets and PVCs it references and whether they exist, its node's state; ends with "
        "the most likely cause and the evidence."
    ),
    "check_resource_limits": (
        "Resource exhaustion: OOM kills, evictions for memory or ephemeral storage, "
        "FailedScheduling for insufficient cpu/memory, quota exceeded (FailedCreate), failing "
        "containers without requests/limits. CPU throttling needs metrics the recorded data "
        "does not have; the report says so."
    ),
}


# -- output schemas (lenient: the report is the REST API's JSON) -----------------------


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class RangeOut(_Open):
    start: str
    end: str


class ObjectOut(_Open):
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
    uid: str | None = None


class RelatedEventOut(_Open):
    reason: str | None = None
    type: str | None = None
    message: str | None = None
    count: int | None = None
    lastSeen: str | None = None


class FindingOut(_Open):
    object: ObjectOut
    issue: str
    severity: str | None = None
    count: int | None = None
    firstSeen: str | None = None
    lastSeen: str | None = None
    message: str | None = None
    evidence: dict[str, Any] = Field(default_factory=dict)
    relatedEvents: list[RelatedEventOut] = Field(default_factory=list)


class ReportOut(_Open):
    """A diagnostic report: summary (objects per issue), findings, notes."""

    check: str
    range: RangeOut
    namespace: str | None = None
    summary: dict[str, int] = Field(default_factory=dict)
    totalFindings: int = 0
    truncated: bool = False
    findings: list[FindingOut] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    conclusion: str | None = None


class EventsOut(_Open):
    """Matching events (compact), oldest first."""

    range: RangeOut
    count: int
    events: list[dict[str, Any]]
    nextCursor: str | None = None
    truncated: bool = False


class HistoryOut(_Open):
    """One object's stored versions (newest kept), the latest object, its Events."""

    namespace: str | None = None
    resourceType: str | None = None
    name: str | None = None
    kind: str | None = None
    versions: list[dict[str, Any]]
    totalVersions: int
    omittedVersions: int = 0
    heartbeatOnlyVersions: int = 0
    latest: dict[str, Any] | None = None
    relatedEvents: list[dict[str, Any]] = Field(default_factory=list)
    omittedRelatedEvents: int = 0
    truncated: bool = False


# -- parameters ---------------------------------------------------------------------------

Namespace = Annotated[
    str | None,
    Field(description="Only this namespace (e.g. 'shop'); omit for all namespaces."),
]
StartTime = Annotated[
    str | None,
    Field(
        description="Start of the range, RFC3339 (e.g. 2024-01-01T10:00:00Z); wins over "
        "time_window."
    ),
]
EndTime = Annotated[
    str | None,
    Field(description="End of the range, RFC3339 (e.g. 2024-01-01T12:00:00Z); default now."),
]
Limit = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_FINDINGS,
        description=f"Most findings returned (1-{MAX_FINDINGS}); the answer says how many more.",
    ),
]


def _window_param(default: timedelta) -> Any:
    return Annotated[
        str | None,
        Field(
            description="How far back from end_time (or now): e.g. 30m, 2h, '2 hours', 24h, 7d. "
            f"Default: {_human(default)}."
        ),
    ]


def _human(delta: timedelta) -> str:
    """``1h``, ``24h``, ``7d``: the way people write windows."""
    seconds = int(delta.total_seconds())
    if seconds % 86400 == 0 and seconds >= 2 * 86400:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


# -- the server -----------------------------------------------------------------------------


def build_server(backend: Backend) -> MCPServer:
    """An MCP server answering from ``backend`` (tools, resource templates, prompts)."""
    from kubetrail.diagnostics import CHECKS

    server = MCPServer(
        "kubetrail",
        title="kubetrail: Kubernetes audit trail",
        instructions=INSTRUCTIONS,
        version=__version__,
        log_level="WARNING",
    )
    for name in CHECK_DESCRIPTIONS:
        spec = CHECKS.get(name)
        default = spec.default_window if spec else timedelta(hours=1)
        fn = (
            _pod_tool(backend)
            if name == "investigate_pod_startup"
            else _check_tool(backend, name, default)
        )
        server.add_tool(
            fn,
            name=name,
            title=name.replace("_", " ").capitalize(),
            description=CHECK_DESCRIPTIONS[name]
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
        f"{_format.HISTORY_VERSIONS} shown) with who changed it and which fields changed "
        "(e.g. spec.template.spec.containers[app].image), the latest state, and the "
        "Kubernetes Events about it.",
        annotations=READ_ONLY,
    )
    _add_resources(server, backend)
    _add_prompts(server)
    return server


def _guard(fn: Callable[[], Any]) -> Any:
    """Run a backend call; its failures become tool errors with their message."""
    try:
        return fn()
    except BackendError as exc:
        raise ToolError(str(exc)) from None


def _report_result(backend: Backend, name: str, args: dict[str, Any]) -> CallToolResult:
    report = _guard(lambda: backend.run_check(name, args))
    _ensure_data(backend, report)
    report = _format.cap_report(report)
    return CallToolResult(
        content=[TextContent(type="text", text=_format.report_text(report))],
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


def _check_tool(backend: Backend, name: str, default: timedelta) -> Callable[..., Any]:
    TimeWindow = _window_param(default)

    def tool(
        namespace: Namespace = None,
        time_window: TimeWindow = None,
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
    return tool


def _pod_tool(backend: Backend) -> Callable[..., Any]:
    def investigate_pod_startup(
        pod_name: Annotated[
            str, Field(description="The pod's name, e.g. checkout-7d9f8b6c4-x2k8q.")
        ],
        namespace: Annotated[str, Field(description="The pod's namespace, e.g. shop.")],
        start_time: StartTime = None,
        end_time: EndTime = None,
        time_window: _window_param(timedelta(hours=1)) = None,  # type: ignore[valid-type]
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

    return investigate_pod_startup


def _resolve_range(
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
        msg = str(exc)
        if "time_window" not in msg and "e.g." not in msg:
            msg += " (times are RFC3339, e.g. 2024-01-01T12:00:00Z)"
        raise ToolError(msg) from None


def _resource_type(value: str | None) -> str | None:
    """``pods``, ``Pod`` or ``pod`` → ``pods`` (the plural the store uses)."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.islower() and value.endswith("s") and not value.endswith("ss"):
        return value
    return plural_for_kind(value[:1].upper() + value[1:])


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
        time_window: _window_param(timedelta(hours=24)) = None,  # type: ignore[valid-type]
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
        if verb and verb not in ("create", "update", "delete"):
            raise ToolError(f"verb {verb!r} is not one of create, update, delete")
        if query is not None and not query.split():
            raise ToolError("query is empty: give at least one word to search for")
        rng = _resolve_range(start_time, end_time, time_window, timedelta(hours=24))
        params = {
            "start": format_rfc3339(rng.start),
            "end": format_rfc3339(rng.end),
            "namespace": namespace,
            "resourceType": _resource_type(resource_type),
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
        events = [_format.compact_event(d, include_object=include_objects) for d in docs]
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
                    text=_format.events_text(events, header=header, more=bool(next_cursor))
                    + (f"\nnext_cursor: {next_cursor}" if next_cursor else ""),
                )
            ],
            structured_content=out,
        )

    return search_events


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
        rtype = _resource_type(resource_type)
        if not rtype or not name.strip():
            raise ToolError(
                "get_object_history needs resource_type (plural, e.g. pods) and name; "
                "namespace '_' for cluster-scoped objects"
            )
        ns = namespace.strip() or "_"
        raw = _guard(lambda: backend.object_history(ns, rtype, name.strip()))
        history = _format.compact_history(raw)
        return CallToolResult(
            content=[TextContent(type="text", text=_format.history_text(history))],
            structured_content=history,
        )

    return get_object_history


# -- resources ---------------------------------------------------------------------------------


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


def _resource_guard(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except NotFound as exc:
        raise ResourceNotFoundError(str(exc)) from None
    except BackendError as exc:
        raise ResourceError(str(exc)) from None


def _recent_events(backend: Backend, filters: dict[str, Any]) -> dict[str, Any]:
    """The newest :data:`RESOURCE_EVENTS` events of the last 24 h matching ``filters``."""
    rng = TimeRange.resolve(default=timedelta(hours=24))
    params = {
        **filters,
        "start": format_rfc3339(rng.start),
        "end": format_rfc3339(rng.end),
        "limit": 1000,
    }
    kept: list[dict[str, Any]] = []
    seen = 0
    more = False
    for _ in range(5):  # at most 5,000 events walked to find the newest
        docs, cursor = backend.search_events(params)
        seen += len(docs)
        kept = (kept + [_format.compact_event(d) for d in docs])[-RESOURCE_EVENTS:]
        if not cursor:
            break
        params["cursor"] = cursor
    else:
        more = True
    out: dict[str, Any] = {
        **{k: v for k, v in filters.items() if v},
        "range": rng.to_dict(),
        "matched": seen if not more else f"more than {seen}",
        "events": kept,
    }
    if seen > len(kept) or more:
        out["note"] = (
            f"the newest {len(kept)} of {out['matched']} events; use the search_events tool "
            "(filters, time_window, cursor) for the others"
        )
    return out


def _add_resources(server: MCPServer, backend: Backend) -> None:
    @server.resource(
        "audit://events/{namespace}",
        name="namespace_events",
        title="Events of a namespace (last 24 h)",
        description="Recorded changes in a namespace over the last 24 hours, newest "
        f"{RESOURCE_EVENTS} (compact). '_' = cluster-scoped objects.",
        mime_type="application/json",
    )
    def namespace_events(namespace: str) -> str:
        return _json(_resource_guard(lambda: _recent_events(backend, {"namespace": namespace})))

    @server.resource(
        "audit://events/{namespace}/{resource_type}",
        name="namespace_resource_events",
        title="Events of one resource type in a namespace (last 24 h)",
        description="Like audit://events/{namespace}, only one resource type (plural, e.g. "
        "pods, deployments, persistentvolumeclaims).",
        mime_type="application/json",
    )
    def namespace_resource_events(namespace: str, resource_type: str) -> str:
        filters = {"namespace": namespace, "resourceType": _resource_type(resource_type)}
        return _json(_resource_guard(lambda: _recent_events(backend, filters)))

    @server.resource(
        "audit://changes/{time_range}",
        name="recent_changes",
        title="Recent changes (1h, 24h, 7d)",
        description="analyze_recent_changes over the last 1h, 24h or 7d: deployments, "
        "configs, secrets (redacted), network policies, RBAC... with who changed what.",
        mime_type="application/json",
    )
    def recent_changes(time_range: str) -> str:
        if time_range.strip().lower() not in CHANGE_RANGES:
            raise ResourceError(
                f"time range {time_range!r} is not one of {', '.join(CHANGE_RANGES)}: "
                "read audit://changes/1h, audit://changes/24h or audit://changes/7d (any other "
                "window: the analyze_recent_changes tool with time_window)"
            )
        report = _resource_guard(lambda: backend.changes(time_range, None, 50))
        return _json(_format.cap_report(report))

    @server.resource(
        "audit://node-events/{node_name}",
        name="node_events",
        title="A node's history and Events",
        description="A node's recorded versions (conditions, taints, cordons) and the "
        "Kubernetes Events about it (NodeNotReady, Rebooted, pressure...).",
        mime_type="application/json",
    )
    def node_events(node_name: str) -> str:
        raw = _resource_guard(lambda: backend.object_history("_", "nodes", node_name))
        return _json(_format.compact_history(raw))


# -- prompts -------------------------------------------------------------------------------------

TimeWindowArg = Annotated[str, Field(description="How far back: e.g. 30m, 2h, '2 hours', 24h, 7d.")]


def _render(fn: Callable[..., str], *args: Any) -> str:
    """A bad argument is an invalid-params error with its message, not an internal error."""
    try:
        return fn(*args)
    except ValueError as exc:
        raise MCPError(code=INVALID_PARAMS, message=str(exc)) from None


def _add_prompts(server: MCPServer) -> None:
    @server.prompt(
        name="investigate_pod_failure",
        title="Investigate a pod failure",
        description="Step-by-step investigation of why one pod fails or does not start.",
    )
    def investigate_pod_failure(
        pod_name: Annotated[str, Field(description="The failing pod's name.")],
        namespace: Annotated[str, Field(description="The pod's namespace.")],
        time_window: TimeWindowArg = "2h",
    ) -> str:
        return _render(prompts.investigate_pod_failure, pod_name, namespace, time_window)

    @server.prompt(
        name="diagnose_cluster_health",
        title="Diagnose cluster health",
        description="A comprehensive health check of nodes, pods, volumes, resources and "
        "recent changes, correlated.",
    )
    def diagnose_cluster_health(
        time_window: TimeWindowArg = "24h",
        focus_area: Annotated[
            str,
            Field(description="all, nodes, pods, volumes, changes or resources."),
        ] = "all",
    ) -> str:
        return _render(prompts.diagnose_cluster_health, time_window, focus_area)

    @server.prompt(
        name="analyze_deployment_rollout",
        title="Analyse a deployment rollout",
        description="What a rollout changed, whether it completed or stalled, and why.",
    )
    def analyze_deployment_rollout(
        deployment_name: Annotated[str, Field(description="The Deployment's name.")],
        namespace: Annotated[str, Field(description="The Deployment's namespace.")],
        time_window: TimeWindowArg = "2h",
    ) -> str:
        return _render(prompts.analyze_deployment_rollout, deployment_name, namespace, time_window)

    @server.prompt(
        name="troubleshoot_volume_issues",
        title="Troubleshoot volume issues",
        description="PVC and volume problems: pending claims, provisioning, binding, mounts.",
    )
    def troubleshoot_volume_issues(
        namespace: Annotated[str, Field(description="The namespace of the claim(s).")],
        pvc_name: Annotated[
            str | None, Field(description="One PersistentVolumeClaim; omit for all.")
        ] = None,
        time_window: TimeWindowArg = "24h",
    ) -> str:
        return _render(prompts.troubleshoot_volume_issues, namespace, pvc_name, time_window)
