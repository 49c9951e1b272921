"""The MCP server: kubetrail's diagnostics as tools, its data as resources, and prompts.

:func:`build_server` assembles it over a backend (the REST API, or a store
opened directly): the tools (:mod:`~kubetrail.mcp.tools`: the six diagnostics,
``search_events``, ``get_object_history``; their schemas in
:mod:`~kubetrail.mcp.schemas`), the ``audit://`` resource templates
(:mod:`~kubetrail.mcp.resources`) and the investigation prompts
(:mod:`~kubetrail.mcp.prompts`). The server adds no data of its own: everything
it shows was redacted by the store before it was stored.
"""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

from kubetrail import __version__
from kubetrail.mcp.backends.base import Backend
from kubetrail.mcp.prompts import add_prompts
from kubetrail.mcp.resources import add_resources
from kubetrail.mcp.tools import add_tools

INSTRUCTIONS = """\
kubetrail answers "what happened in this Kubernetes cluster, and why" from a 14-day record of \
every change of every object (redacted: Secret values are never stored). Start broad with \
check_pod_issues, check_node_health, check_volume_issues, check_resource_limits and \
analyze_recent_changes; drill into one pod with investigate_pod_startup and into any object \
with get_object_history; use search_events for anything else. Times: time_window like 30m, \
2h, 24h, 7d, or start_time/end_time in RFC3339. The prompts investigate_pod_failure, \
diagnose_cluster_health, analyze_deployment_rollout and troubleshoot_volume_issues are \
step-by-step workflows."""


def build_server(backend: Backend) -> MCPServer:
    """An MCP server answering from ``backend`` (tools, resource templates, prompts)."""
    server = MCPServer(
        "kubetrail",
        title="kubetrail: Kubernetes audit trail",
        instructions=INSTRUCTIONS,
        version=__version__,
        log_level="WARNING",
    )
    add_tools(server, backend)
    add_resources(server, backend)
    add_prompts(server)
    return server
