"""Wrong arguments to tools and prompts: one line naming the argument and what it should
be, no pydantic report, no traceback on the server's standard error.

Over stdio with the SDK's client against the real `kubetrail mcp` (the session's, answering
from `kubetrail api` on the built-in incident); the formatting itself is pure and tested
directly below.
"""

from __future__ import annotations

import pytest
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS
from pydantic import BaseModel, ValidationError

from kubetrail.mcp.arguments import describe_problems, problems_from_errors, prompt_problem
from tests.support.mcp_processes import McpSession

PYDANTIC_NOISE = ("validation error", "errors.pydantic.dev", "Arguments", "type=")


def _assert_one_clean_line(text: str) -> None:
    assert "\n" not in text.strip(), text
    for noise in PYDANTIC_NOISE:
        assert noise not in text, text


@pytest.mark.e2e
def test_a_missing_tool_argument_is_one_line_naming_it(mcp_api: McpSession) -> None:
    msg = mcp_api.error("investigate_pod_startup", namespace="shop")
    assert msg == (
        "Error executing tool investigate_pod_startup: missing required argument pod_name "
        "(The pod's name, e.g. checkout-7d9f8b6c4-x2k8q.)"
    )
    msg = mcp_api.error("get_object_history", name="worker-3")
    _assert_one_clean_line(msg)
    assert "missing required arguments namespace (" in msg and " and resource_type (" in msg
    assert "'_'" in msg  # what a cluster-scoped object's namespace is
    assert "Traceback" not in mcp_api.stderr


@pytest.mark.e2e
def test_an_invalid_tool_argument_says_what_it_should_be(mcp_api: McpSession) -> None:
    msg = mcp_api.error("check_pod_issues", limit="many")
    _assert_one_clean_line(msg)
    assert msg.startswith("Error executing tool check_pod_issues: invalid limit 'many': ")
    assert "valid integer" in msg and "(1-" in msg  # the accepted range, from the schema
    msg = mcp_api.error("search_events", snapshot="maybe")
    _assert_one_clean_line(msg)
    assert "invalid snapshot 'maybe'" in msg and "boolean" in msg
    assert "Traceback" not in mcp_api.stderr


@pytest.mark.e2e
def test_a_prompt_without_its_arguments_is_one_line_and_no_traceback(
    mcp_api: McpSession,
) -> None:
    with pytest.raises(MCPError) as exc:
        mcp_api.prompt("investigate_pod_failure")
    assert exc.value.error.code == INVALID_PARAMS
    assert exc.value.error.message == (
        "prompt investigate_pod_failure: missing required arguments pod_name (The failing "
        "pod's name.) and namespace (The pod's namespace.)"
    )
    with pytest.raises(MCPError) as exc:
        mcp_api.prompt("analyze_deployment_rollout", namespace="shop", deployment_name=" ")
    assert "missing required argument deployment_name" in exc.value.error.message
    with pytest.raises(MCPError) as exc:
        mcp_api.prompt("diagnose_cluster_health", focus="nodes")
    assert exc.value.error.message == (
        "prompt diagnose_cluster_health has no argument focus "
        "(its arguments: time_window, focus_area)"
    )
    with pytest.raises(MCPError) as exc:
        mcp_api.prompt("no_such_prompt")
    assert "unknown prompt 'no_such_prompt': one of " in exc.value.error.message
    assert "Traceback" not in mcp_api.stderr
    # and a complete call still renders
    assert "investigate_pod_startup" in mcp_api.prompt(
        "investigate_pod_failure", pod_name="checkout-1", namespace="shop"
    )


# -- the formatting, pure ----------------------------------------------------------------------


class _Args(BaseModel):
    pod_name: str
    limit: int = 1


def _problems(data: dict) -> list:
    with pytest.raises(ValidationError) as exc:
        _Args.model_validate(data)
    return problems_from_errors(exc.value.errors())


def test_describe_problems_lists_missing_then_invalid_with_descriptions() -> None:
    text = describe_problems(
        _problems({"limit": "x" * 100}), {"pod_name": "The pod.", "limit": "1-100."}
    )
    assert text.startswith("missing required argument pod_name (The pod.); invalid limit 'xxx")
    assert "…:" in text  # a long value is cut
    assert text.endswith("(1-100.)")


def test_prompt_problem_accepts_a_complete_call() -> None:
    listed = [("namespace", "The namespace.", True), ("pvc_name", "", False)]
    assert prompt_problem("p", {"namespace": "data"}, listed) is None
    assert prompt_problem("p", None, listed) == (
        "prompt p: missing required argument namespace (The namespace.)"
    )
    assert prompt_problem("p", {"namespace": "d", "x": "1"}, listed) == (
        "prompt p has no argument x (its arguments: namespace, pvc_name)"
    )
