"""The resources: the original toolkit's ``audit://`` URIs, as resource templates.

``audit://events/{namespace}`` (last 24 h), ``audit://events/{namespace}/{resource_type}``,
``audit://changes/{time_range}`` (1h, 24h, 7d) and ``audit://node-events/{node_name}``.
A client reads a resource whole into a model's context (Claude Code caps a tool
result at 25,000 tokens by default), so each is a summary of bounded size, never
the events themselves: how many events, counted by kind, verb and signal (one
aggregation each in the store), the newest :data:`NEWEST_CHANGES` changes
(compact), how many were left out, and the exact ``search_events`` call that pages
through them or narrows them; a capped changes report; a node's compact history.
Nothing stored is a "resource not found"; any other failure is a resource error
with its message.

``resources/list`` names the concrete resources worth reading now
(:func:`listed_resources`): the namespaces and the nodes seen in the last 24 h,
and the changes of the last hour, day and week.
"""

# No ``from __future__ import annotations``: the SDK reads the handlers' signatures.

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import orjson
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp_types import Resource as MCPResource

from kubetrail.diagnostics import CHANGE_RANGES, TimeRange
from kubetrail.events.timing import format_rfc3339
from kubetrail.mcp import paging, views
from kubetrail.mcp.backends.base import Backend, BackendError, NotFound
from kubetrail.mcp.schemas import DEFAULT_EVENTS
from kubetrail.mcp.tools import history_paging, plural_resource_type, report_paging
from kubetrail.queries.events import CLUSTER_SCOPE

log = logging.getLogger("kubetrail.mcp")

#: newest changes a namespace resource lists
NEWEST_CHANGES = 20
#: values counted per key (kind, verb, signal, name)
COUNTED_VALUES = 10
#: findings of a changes resource (its report says how many there are)
CHANGES_FINDINGS = 25
#: namespaces and nodes resources/list names at most
LISTED = 50


def add_resources(server: MCPServer, backend: Backend) -> None:
    """Register the resource templates on ``server``, answering from ``backend``."""

    @server.resource(
        "audit://events/{namespace}",
        name="namespace_events",
        title="Events of a namespace (last 24 h)",
        description="A namespace's last 24 hours: how many events, counted by kind, verb and "
        f"signal, the newest {NEWEST_CHANGES} changes, and the search_events calls for the "
        "rest. '_' = cluster-scoped objects.",
        mime_type="application/json",
    )
    def namespace_events(namespace: str) -> str:
        return _json(_resource_guard(lambda: _summary(backend, {"namespace": namespace})))

    @server.resource(
        "audit://events/{namespace}/{resource_type}",
        name="namespace_resource_events",
        title="Events of one resource type in a namespace (last 24 h)",
        description="Like audit://events/{namespace}, only one resource type (plural, e.g. "
        "pods, deployments, persistentvolumeclaims), counted by object name.",
        mime_type="application/json",
    )
    def namespace_resource_events(namespace: str, resource_type: str) -> str:
        filters = {"namespace": namespace, "resourceType": plural_resource_type(resource_type)}
        return _json(_resource_guard(lambda: _summary(backend, filters)))

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
        window = time_range.strip().lower()
        report = _resource_guard(lambda: backend.changes(window, None, CHANGES_FINDINGS))
        report = views.cap_report(report)
        args = {"time_window": window, "limit": CHANGES_FINDINGS}
        report["paging"] = report_paging("analyze_recent_changes", args, report)
        return _json(report)

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
        history = views.compact_history(raw)
        given = {"namespace": "_", "resource_type": "nodes", "name": node_name}
        history["paging"] = history_paging(given, raw, history)
        return _json(history)


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


def _resource_guard(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except NotFound as exc:
        raise ResourceNotFoundError(str(exc)) from None
    except BackendError as exc:
        raise ResourceError(str(exc)) from None


def _summary(backend: Backend, filters: dict[str, Any]) -> dict[str, Any]:
    """The last 24 h of events matching ``filters``: counts, the newest changes, and how
    to see the others."""
    rng = TimeRange.resolve(default=timedelta(hours=24))
    one_type = bool(filters.get("resourceType"))
    by = ("resourceName", "verb", "signal") if one_type else ("kind", "verb", "signal")
    params = {
        **filters,
        "start": format_rfc3339(rng.start),
        "end": format_rfc3339(rng.end),
        "by": ",".join(by),
        "top": COUNTED_VALUES,
        "newest": NEWEST_CHANGES,
    }
    summary = backend.summarize(params)
    newest = [views.compact_event(d) for d in summary.get("newest") or []]
    total = int(summary.get("total") or 0)
    given = {
        "namespace": filters.get("namespace"),
        "resource_type": filters.get("resourceType"),
        "start_time": params["start"],
        "end_time": params["end"],
    }
    counts = summary.get("counts") or {}
    more = narrow = None
    if total > len(newest):
        more = paging.call("search_events", {**given, "limit": DEFAULT_EVENTS})
        arg, key = ("name", "resourceName") if one_type else ("kind", "kind")
        # an object's state (pod.waiting:CrashLoopBackOff) says more than an Event's type
        signals = {
            s: n for s, n in (counts.get("signal") or {}).items() if not s.startswith("event.")
        }
        for narrow_arg, values in (("signal", signals), (arg, counts.get(key) or {})):
            top = next(iter(values.items()), None)
            if top is not None and top[1] < total:
                call = paging.call("search_events", {**given, narrow_arg: top[0]})
                narrow = f"{call} ({top[1]} events)"
                break
    out: dict[str, Any] = {
        **{k: v for k, v in filters.items() if v},
        "range": summary.get("range") or rng.to_dict(),
        "total": total,
        "counts": counts,
    }
    if summary.get("moreValues"):
        out["moreValues"] = summary["moreValues"]
    out["newestChanges"] = newest
    out["leftOut"] = total - len(newest)
    out["paging"] = paging.paging(total, len(newest), more=more, narrow=narrow)
    out["note"] = (
        f"{total} events; shown: counts by {', '.join(by)} and the newest {len(newest)} "
        "changes (listings left out). Each event in full: search_events (the calls in "
        "paging); one object's history: get_object_history."
    )
    if summary.get("notes"):
        out["notes"] = summary["notes"]
    return out


def listed_resources(backend: Backend) -> list[MCPResource]:
    """The concrete resources worth reading now: each namespace and node seen in the last
    24 h (most events first), and the changes of the last hour, day and week. Without
    counts (an events-only API) or when the source fails, only the changes."""
    rng = TimeRange.resolve(default=timedelta(hours=24))
    window = {"start": format_rfc3339(rng.start), "end": format_rfc3339(rng.end)}
    listed = [
        MCPResource(
            uri=f"audit://changes/{w}",
            name=f"changes_{w}",
            title=f"Recent changes ({w})",
            description=f"analyze_recent_changes over the last {w}.",
            mime_type="application/json",
        )
        for w in CHANGE_RANGES
    ]
    try:
        spaces = backend.count_events(window, by="namespace", top=LISTED)
        nodes = backend.count_events(
            {**window, "resourceType": "nodes"}, by="resourceName", top=LISTED
        )
    except BackendError as exc:
        log.warning("resources/list names no namespaces or nodes: %s", exc)
        return listed
    for ns, count in (spaces[1] if spaces else {}).items():
        what = "cluster-scoped objects" if ns == CLUSTER_SCOPE else f"namespace {ns}"
        listed.append(
            MCPResource(
                uri=f"audit://events/{ns}",
                name=f"events_{ns}",
                title=f"Events of {what} (last 24 h)",
                description=f"{count} events of {what} in the last 24 h: counts and the newest "
                "changes.",
                mime_type="application/json",
            )
        )
    for node, count in (nodes[1] if nodes else {}).items():
        listed.append(
            MCPResource(
                uri=f"audit://node-events/{node}",
                name=f"node_{node}",
                title=f"Node {node}",
                description=f"Node {node}: {count} recorded versions in the last 24 h, what "
                "changed, and the Kubernetes Events about it.",
                mime_type="application/json",
            )
        )
    return listed
