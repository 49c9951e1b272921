"""The MCP server: kubetrail's diagnostics as tools, its data as resources, and prompts.

:func:`build_server` assembles it over a backend (the REST API, or a store
opened directly): the tools (:mod:`~kubetrail.mcp.tools`: the seven diagnostics,
``search_events``, ``get_object_history``; their schemas in
:mod:`~kubetrail.mcp.schemas`), the ``audit://`` resource templates
(:mod:`~kubetrail.mcp.resources`) and the investigation prompts
(:mod:`~kubetrail.mcp.prompts`). The server adds no data of its own: everything
it shows was redacted by the store before it was stored.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, CallToolResult, GetPromptResult, InputRequiredResult
from mcp_types import Resource as MCPResource
from pydantic import ValidationError

from kubetrail import __version__
from kubetrail.mcp.arguments import describe_problems, problems_from_errors, prompt_problem
from kubetrail.mcp.backends.base import Backend
from kubetrail.mcp.prompts import add_prompts
from kubetrail.mcp.resources import add_resources, listed_resources
from kubetrail.mcp.tools import add_tools

INSTRUCTIONS = """\
kubetrail answers "what happened in this Kubernetes cluster, and why" from a 14-day record of \
every change of every object (redacted: Secret values are never stored). Start broad with \
check_pod_issues, check_node_health, check_volume_issues, check_resource_limits, \
check_workload_rollouts and analyze_recent_changes; drill into one pod with \
investigate_pod_startup and into any object with get_object_history; use search_events for \
anything else. Times: time_window like 30m, \
2h, 24h, 7d, or start_time/end_time in RFC3339. The prompts investigate_pod_failure, \
diagnose_cluster_health, analyze_deployment_rollout and troubleshoot_volume_issues are \
step-by-step workflows."""


def build_server(backend: Backend) -> KubetrailServer:
    """An MCP server answering from ``backend`` (tools, resource templates, prompts)."""
    server = KubetrailServer(
        "kubetrail",
        title="kubetrail: Kubernetes audit trail",
        instructions=INSTRUCTIONS,
        version=__version__,
        log_level="WARNING",
    )
    add_tools(server, backend)
    add_resources(server, backend)
    server.listing = functools.partial(listed_resources, backend)
    add_prompts(server)
    return server


class KubetrailServer(MCPServer[Any]):
    """The SDK's server, with wrong arguments answered in one line (:mod:`.arguments`):
    a tool's as a tool error, a prompt's as an invalid-params error, neither logged
    with a traceback. ``resources/list`` adds the concrete resources ``listing`` names
    (:func:`~kubetrail.mcp.resources.listed_resources`)."""

    listing: Callable[[], list[MCPResource]] | None = None

    async def list_resources(self) -> list[MCPResource]:
        listed = await super().list_resources()
        if self.listing is not None:
            listed += await anyio.to_thread.run_sync(self.listing)
        return listed

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(exc, UnexpectedToolError) or not isinstance(cause, ValidationError):
                raise
            tool = next((t for t in await self.list_tools() if t.name == name), None)
            properties = (tool.input_schema.get("properties") or {}) if tool else {}
            descriptions = {k: str(v.get("description") or "") for k, v in properties.items()}
            message = describe_problems(problems_from_errors(cause.errors()), descriptions)
            # chained to the ValidationError: the SDK then logs the field names only
            raise ToolError(f"Error executing tool {name}: {message}") from cause

    async def get_prompt(
        self,
        name: str,
        arguments: dict[str, Any] | None = None,
        context: Context[Any, Any] | None = None,
    ) -> GetPromptResult | InputRequiredResult:
        prompts = {p.name: p for p in await self.list_prompts()}
        prompt = prompts.get(name)
        if prompt is None:
            raise MCPError(
                code=INVALID_PARAMS,
                message=f"unknown prompt {name!r}: one of {', '.join(sorted(prompts))}",
            )
        listed = [(a.name, a.description or "", bool(a.required)) for a in prompt.arguments or []]
        problem = prompt_problem(name, arguments, listed)
        if problem:
            raise MCPError(code=INVALID_PARAMS, message=problem)
        return await super().get_prompt(name, arguments, context)
