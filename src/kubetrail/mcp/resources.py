"""The resources: the original toolkit's ``audit://`` URIs, as resource templates.

``audit://events/{namespace}`` (last 24 h), ``audit://events/{namespace}/{resource_type}``,
``audit://changes/{time_range}`` (1h, 24h, 7d) and ``audit://node-events/{node_name}``.
Each is JSON of bounded size: the newest events (compact) with how many matched,
a capped report, or a node's compact history. Nothing stored is a
"resource not found"; any other failure is a resource error with its message.
"""

# No ``from __future__ import annotations``: the SDK reads the handlers' signatures.

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import orjson
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError

from kubetrail.diagnostics import CHANGE_RANGES, TimeRange
from kubetrail.events.timing import format_rfc3339
from kubetrail.mcp import views
from kubetrail.mcp.backends.base import Backend, BackendError, NotFound
from kubetrail.mcp.tools import plural_resource_type

RESOURCE_EVENTS = 200


def add_resources(server: MCPServer, backend: Backend) -> None:
    """Register the resource templates on ``server``, answering from ``backend``."""

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
        filters = {"namespace": namespace, "resourceType": plural_resource_type(resource_type)}
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
        return _json(views.cap_report(report))

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
        return _json(views.compact_history(raw))


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
        kept = (kept + [views.compact_event(d) for d in docs])[-RESOURCE_EVENTS:]
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
