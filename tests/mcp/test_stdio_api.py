"""`kubetrail mcp` over stdio, answering from a real `kubetrail api` on the built-in incident.

The incident (see kubetrail.demo.incident): shop/checkout crash-loops after a helm
rollout to 1.5.0, data/etl-worker is OOMKilled, payments/payment-api cannot pull
the image tag v2.3.O, data/postgres-data is Pending on the missing StorageClass
fast-ssd (postgres-0 unschedulable), node worker-3 goes Ready=Unknown, and the
ConfigMap shop/checkout-config and Secret payments/payment-db-credentials changed.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from mcp.shared.exceptions import MCPError

from tests.support.mcp_processes import CHECK_TOOLS, TOOLS, WIDE, McpSession

#: what one resource may hold at most: about a third of the 25,000 tokens a client such as
#: Claude Code accepts from one read (JSON runs 3-4 characters a token)
RESOURCE_CHARS = 30_000

pytestmark = pytest.mark.e2e

TEMPLATES = {
    "audit://events/{namespace}",
    "audit://events/{namespace}/{resource_type}",
    "audit://changes/{time_range}",
    "audit://node-events/{node_name}",
}
PROMPTS = {
    "investigate_pod_failure",
    "diagnose_cluster_health",
    "analyze_deployment_rollout",
    "troubleshoot_volume_issues",
}


def findings(report: dict[str, Any], **where: str) -> list[dict[str, Any]]:
    out = []
    for f in report["findings"]:
        obj = f["object"]
        if all(
            (obj.get(k[4:]) == v) if k.startswith("obj_") else (f.get(k) == v)
            for k, v in where.items()
        ):
            out.append(f)
    return out


def text_of(f: dict[str, Any]) -> str:
    return f"{f['issue']} {f['message']} {f['evidence']}"


# -- listing ---------------------------------------------------------------------------


def test_lists_exactly_the_original_names(mcp_api: McpSession) -> None:
    tools = mcp_api.list_tools()
    assert {t.name for t in tools} == TOOLS
    assert {t.uri_template for t in mcp_api.list_resource_templates()} == TEMPLATES
    assert {p.name for p in mcp_api.list_prompts()} == PROMPTS
    # the concrete resources worth reading now: the incident's namespaces and nodes
    listed = {str(r.uri): r for r in mcp_api.list_resources()}
    assert {
        "audit://changes/1h",
        "audit://changes/24h",
        "audit://changes/7d",
        "audit://events/shop",
        "audit://events/data",
        "audit://events/payments",
        "audit://events/_",
        "audit://node-events/worker-3",
    } <= set(listed)
    assert "events of namespace shop in the last 24 h" in listed["audit://events/shop"].description


def test_tools_are_read_only_with_described_inputs_and_output_schemas(
    mcp_api: McpSession,
) -> None:
    for tool in mcp_api.list_tools():
        assert tool.annotations.read_only_hint is True, tool.name
        assert tool.annotations.destructive_hint is False, tool.name
        assert tool.description, tool.name
        props = tool.input_schema["properties"]
        assert props and all(p.get("description") for p in props.values()), tool.name
        assert tool.output_schema is not None, tool.name
    by_name = {t.name: t for t in mcp_api.list_tools()}
    assert set(by_name["investigate_pod_startup"].input_schema["required"]) == {
        "pod_name",
        "namespace",
    }
    assert set(by_name["get_object_history"].input_schema["required"]) == {
        "namespace",
        "resource_type",
        "name",
    }
    window = by_name["analyze_recent_changes"].input_schema["properties"]["time_window"]
    assert "Default: 24h" in window["description"]


# -- each check finds every planted issue of its kind ----------------------------------


def test_check_node_health_finds_worker_3(mcp_api: McpSession) -> None:
    report = mcp_api.report("check_node_health", **WIDE)
    assert report["check"] == "check_node_health"
    ready = [f for f in report["findings"] if "Ready" in text_of(f) or "NotReady" in f["issue"]]
    assert ready and {f["object"]["name"] for f in ready} == {"worker-3"}
    assert any("Unknown" in text_of(f) for f in ready)


def test_check_pod_issues_finds_crashloop_oom_and_image_pull(mcp_api: McpSession) -> None:
    report = mcp_api.report("check_pod_issues", **WIDE, limit=100)
    crash = findings(report, issue="CrashLoopBackOff", obj_namespace="shop")
    assert crash and all(f["object"]["name"].startswith("checkout-") for f in crash)
    assert any("1.5.0" in text_of(f) for f in crash)
    oom = findings(report, issue="OOMKilled")
    assert {(f["object"]["namespace"], f["object"]["name"][:10]) for f in oom} == {
        ("data", "etl-worker")
    }
    pulls = [f for f in report["findings"] if f["issue"] in ("ImagePullBackOff", "ErrImagePull")]
    assert pulls and {f["object"]["namespace"] for f in pulls} == {"payments"}
    assert any("v2.3.O" in text_of(f) for f in pulls)
    # no healthy object flagged: every pod finding is one of the planted failures
    planted = ("checkout-", "etl-worker-", "payment-api-", "postgres-0")
    for f in report["findings"]:
        assert f["object"]["name"].startswith(planted) or "Evict" in f["issue"], f
    assert report["summary"]["CrashLoopBackOff"] >= 1


def test_check_volume_issues_finds_the_missing_storage_class(mcp_api: McpSession) -> None:
    report = mcp_api.report("check_volume_issues", **WIDE)
    pvc = findings(report, obj_kind="PersistentVolumeClaim", obj_name="postgres-data")
    assert pvc and all(f["object"]["namespace"] == "data" for f in pvc)
    assert any("fast-ssd" in text_of(f) for f in pvc)
    assert any(f["issue"] in ("Pending", "ProvisioningFailed") for f in pvc)
    assert findings(report, obj_kind="Pod", obj_name="postgres-0")
    assert {f["object"]["namespace"] for f in report["findings"]} == {"data"}


def test_analyze_recent_changes_finds_rollouts_config_and_secret(mcp_api: McpSession) -> None:
    report = mcp_api.report("analyze_recent_changes", **WIDE, limit=100)
    checkout = findings(report, obj_kind="Deployment", obj_namespace="shop", obj_name="checkout")
    assert any("1.5.0" in text_of(f) and "helm" in text_of(f) for f in checkout)
    api = findings(report, obj_kind="Deployment", obj_namespace="payments", obj_name="payment-api")
    assert any("v2.3.O" in text_of(f) for f in api)
    assert findings(report, obj_kind="ConfigMap", obj_namespace="shop", obj_name="checkout-config")
    assert findings(
        report, obj_kind="Secret", obj_namespace="payments", obj_name="payment-db-credentials"
    )


def test_investigate_pod_startup_explains_a_crashing_and_an_unschedulable_pod(
    mcp_api: McpSession,
) -> None:
    hits = mcp_api.tool(
        "search_events",
        namespace="shop",
        signal="pod.waiting:CrashLoopBackOff",
        limit=1,
        **WIDE,
    ).structured_content["events"]
    pod = hits[0]["resourceName"]
    report = mcp_api.report("investigate_pod_startup", pod_name=pod, namespace="shop", **WIDE)
    assert report["conclusion"]
    assert "CrashLoopBackOff" in report["conclusion"] or "exit" in report["conclusion"]

    report = mcp_api.report(
        "investigate_pod_startup", pod_name="postgres-0", namespace="data", **WIDE
    )
    assert "fast-ssd" in report["conclusion"]


def test_check_resource_limits_finds_the_oom_kill_and_says_what_it_cannot_see(
    mcp_api: McpSession,
) -> None:
    report = mcp_api.report("check_resource_limits", **WIDE)
    oom = findings(report, issue="OOMKilled")
    assert oom and all(f["object"]["name"].startswith("etl-worker-") for f in oom)
    assert any("throttl" in n.lower() for n in report["notes"])


def test_text_summary_is_short_and_says_how_to_narrow(mcp_api: McpSession) -> None:
    result = mcp_api.tool("check_pod_issues", limit=2, **WIDE)
    text = result.content[0].text
    report = result.structured_content
    assert text.startswith("check_pod_issues:")
    assert len(report["findings"]) == 2 and report["truncated"] is True
    total = report["totalFindings"]
    assert f"{total} total, showing 2." in text
    page = report["paging"]
    assert page["total"] == total and page["showing"] == 2
    # the exact calls: the same range, a higher limit; or one namespace
    rng = report["range"]
    same = f'start_time="{rng["start"]}", end_time="{rng["end"]}"'
    assert page["more"] == f"check_pod_issues(limit={total}, {same})"
    assert page["narrow"].startswith('check_pod_issues(namespace="')
    assert f"More: {page['more']}" in text and f"Narrow: {page['narrow']}" in text
    more = mcp_api.report(
        "check_pod_issues", limit=total, start_time=rng["start"], end_time=rng["end"]
    )
    assert len(more["findings"]) == total and more["paging"] == {"total": total, "showing": total}


# -- search and history ------------------------------------------------------------------


def test_search_events_full_text_and_filters(mcp_api: McpSession) -> None:
    out = mcp_api.tool("search_events", query="fast-ssd", kind="Event", **WIDE).structured_content
    assert out["count"] >= 1
    assert all(e["kind"] == "Event" for e in out["events"])
    assert any("fast-ssd" in e.get("eventMessage", "") for e in out["events"])
    assert all("objectChanges" not in e for e in out["events"])

    page = mcp_api.tool("search_events", namespace="shop", resource_type="pods", limit=5, **WIDE)
    first = page.structured_content
    assert first["count"] == 5 and first["nextCursor"] and first["truncated"]
    nxt = mcp_api.tool(
        "search_events",
        namespace="shop",
        resource_type="pods",
        limit=5,
        cursor=first["nextCursor"],
        **WIDE,
    ).structured_content
    assert nxt["events"][0]["timestamp"] >= first["events"][-1]["timestamp"]

    secrets = mcp_api.tool(
        "search_events", kind="Secret", include_objects=True, limit=200, **WIDE
    ).structured_content
    assert any(e["resourceName"] == "payment-db-credentials" for e in secrets["events"])

    nothing = mcp_api.tool("search_events", name="no-such-object", **WIDE)
    assert not nothing.is_error and nothing.structured_content["count"] == 0


def test_get_object_history_shows_what_changed(mcp_api: McpSession) -> None:
    result = mcp_api.tool(
        "get_object_history", namespace="shop", resource_type="deployments", name="checkout"
    )
    assert not result.is_error
    h = result.structured_content
    assert h["kind"] == "Deployment" and h["totalVersions"] >= 2
    changes = [c for v in h["versions"] for c in v.get("changes", [])]
    image = "registry.example.com/shop/checkout"
    rollout = f"spec.template.spec.containers[checkout].image: {image}:1.4.2 → {image}:1.5.0"
    assert rollout in changes
    assert "managedFields" not in h["latest"]["metadata"]
    text = result.content[0].text
    assert "by helm:" in text and rollout in text
    assert f"{h['totalVersions']} total, showing {len(h['versions'])}." in text

    # a kind and '' are accepted for a cluster-scoped object
    node = mcp_api.tool("get_object_history", namespace="", resource_type="Node", name="worker-3")
    assert not node.is_error
    assert any(e["reason"] == "NodeNotReady" for e in node.structured_content["relatedEvents"])


# -- resources ------------------------------------------------------------------------------


def test_resource_templates_read(mcp_api: McpSession) -> None:
    ns = mcp_api.read("audit://events/shop")
    assert ns["namespace"] == "shop" and ns["newestChanges"]
    assert all(e["namespace"] == "shop" for e in ns["newestChanges"])
    assert not any(e.get("snapshot") for e in ns["newestChanges"])
    stamps = [e["timestamp"] for e in ns["newestChanges"]]
    assert stamps == sorted(stamps, reverse=True)
    assert sum(ns["counts"]["verb"].values()) == ns["total"]

    pvcs = mcp_api.read("audit://events/data/persistentvolumeclaims")
    assert "postgres-data" in pvcs["counts"]["resourceName"]
    assert all(e["resourceType"] == "persistentvolumeclaims" for e in pvcs["newestChanges"])

    for window in ("1h", "24h", "7d"):
        changes = mcp_api.read(f"audit://changes/{window}")
        assert changes["check"] == "analyze_recent_changes"
    changes = mcp_api.read("audit://changes/24h")
    assert {f["object"]["name"] for f in changes["findings"]} >= {
        "checkout-config",
        "payment-db-credentials",
    }

    node = mcp_api.read("audit://node-events/worker-3")
    assert node["name"] == "worker-3" and node["kind"] == "Node"
    assert any("node.condition:Ready=Unknown" in v.get("signals", []) for v in node["versions"])


def test_resources_are_summaries_well_under_a_clients_budget(mcp_api: McpSession) -> None:
    """Claude Code caps what one read puts in the model's context at 25,000 tokens: every
    resource the server lists stays far under it (before this summary, audit://events/shop
    was 140,427 characters), says how many it left out and the call that shows them."""
    for resource in mcp_api.list_resources():
        uri = str(resource.uri)
        text = mcp_api._call(mcp_api.client.read_resource, uri).contents[0].text
        assert len(text) < RESOURCE_CHARS, (uri, len(text))
        body = orjson.loads(text)
        page = body["paging"]
        assert {"total", "showing"} <= set(page), uri
        if uri.startswith("audit://events/"):
            assert page["showing"] == len(body["newestChanges"])
            assert body["leftOut"] == body["total"] - page["showing"]
            if body["leftOut"]:
                assert page["more"].startswith("search_events(namespace=")
    shop = mcp_api.read("audit://events/shop")
    assert shop["total"] > 600 and shop["leftOut"] > 500
    more = shop["paging"]["more"]
    assert more.startswith('search_events(namespace="shop", start_time="') and "limit=50" in more
    assert shop["paging"]["narrow"].startswith('search_events(namespace="shop"')
    assert "signal=" in shop["paging"]["narrow"]  # the commonest state, not an Event type


def test_search_events_says_how_many_and_pages_with_the_exact_call(mcp_api: McpSession) -> None:
    first = mcp_api.tool("search_events", namespace="shop", limit=5, **WIDE)
    out = first.structured_content
    shop = mcp_api.tool("search_events", namespace="shop", limit=200, **WIDE).structured_content
    assert out["total"] == shop["total"] > 200
    assert f"{out['total']} total, showing 5." in first.content[0].text
    more = out["paging"]["more"]
    assert more.startswith('search_events(namespace="shop", start_time="')
    assert f'cursor="{out["nextCursor"]}"' in more
    rng = out["range"]
    nxt = mcp_api.tool(
        "search_events",
        namespace="shop",
        start_time=rng["start"],
        end_time=rng["end"],
        limit=5,
        cursor=out["nextCursor"],
    ).structured_content
    assert nxt["events"][0]["timestamp"] >= out["events"][-1]["timestamp"]
    assert out["paging"]["narrow"].startswith('search_events(namespace="shop", kind="')
    # objects are large: a result is cut to its budget, and the next page starts after it
    big = mcp_api.tool("search_events", include_objects=True, limit=200, **WIDE)
    assert len(big.content[0].text) + len(orjson.dumps(big.structured_content)) < 50_000
    cut = big.structured_content
    assert cut["count"] < 200 and cut["nextCursor"] and "cursor=" in cut["paging"]["more"]
    after = mcp_api.tool(
        "search_events",
        include_objects=True,
        limit=200,
        start_time=cut["range"]["start"],
        end_time=cut["range"]["end"],
        cursor=cut["nextCursor"],
    ).structured_content
    assert after["events"][0]["timestamp"] >= cut["events"][-1]["timestamp"]
    # everything on one page: counted without asking the store again
    whole = mcp_api.tool("search_events", name="checkout", kind="Deployment", **WIDE)
    count = whole.structured_content["count"]
    assert whole.structured_content["paging"] == {"total": count, "showing": count}
    assert f"{count} total, showing {count}." in whole.content[0].text


def test_get_object_history_pages_by_time(mcp_api: McpSession) -> None:
    pod = mcp_api.tool(
        "search_events", namespace="shop", signal="pod.waiting:CrashLoopBackOff", limit=1, **WIDE
    ).structured_content["events"][0]["resourceName"]
    h = mcp_api.tool(
        "get_object_history", namespace="shop", resource_type="pods", name=pod
    ).structured_content
    assert h["omittedVersions"] > 0  # a crash loop: more versions than are listed
    page = h["paging"]
    assert page["total"] == h["totalVersions"] and page["showing"] == len(h["versions"])
    oldest = h["versions"][0]["timestamp"]
    assert page["more"] == (
        f'get_object_history(namespace="shop", resource_type="pods", name="{pod}", '
        f'end_time="{oldest}")'
    )
    older = mcp_api.tool(
        "get_object_history", namespace="shop", resource_type="pods", name=pod, end_time=oldest
    ).structured_content
    assert older["versions"][-1]["timestamp"] <= oldest < h["versions"][-1]["timestamp"]
    assert "end_time" in mcp_api.error(
        "get_object_history", namespace="shop", resource_type="pods", name=pod, end_time="soon"
    )


def test_resource_errors_say_what_is_accepted(mcp_api: McpSession) -> None:
    with pytest.raises(MCPError) as exc:
        mcp_api.read("audit://changes/2w")
    assert "1h, 24h, 7d" in str(exc.value)
    with pytest.raises(MCPError) as exc:
        mcp_api.read("audit://node-events/no-such-node")
    assert "nothing stored about nodes no-such-node" in str(exc.value)


# -- prompts -----------------------------------------------------------------------------------


def test_prompts_are_workflows_naming_the_tools(mcp_api: McpSession) -> None:
    text = mcp_api.prompt(
        "investigate_pod_failure", pod_name="checkout-1", namespace="shop", time_window="2 hours"
    )
    assert "investigate_pod_startup" in text and 'pod_name="checkout-1"' in text
    assert "analyze_recent_changes" in text and "2 hours" in text

    text = mcp_api.prompt("diagnose_cluster_health", time_window="24h", focus_area="all")
    for tool in CHECK_TOOLS - {"investigate_pod_startup"}:
        assert tool in text
    text = mcp_api.prompt("diagnose_cluster_health", focus_area="nodes")
    assert "check_node_health" in text and "check_volume_issues" not in text

    text = mcp_api.prompt(
        "analyze_deployment_rollout", deployment_name="checkout", namespace="shop"
    )
    assert "get_object_history" in text and 'name="checkout"' in text

    text = mcp_api.prompt("troubleshoot_volume_issues", namespace="data", pvc_name="postgres-data")
    assert "check_volume_issues" in text and "postgres-data" in text
    assert "check_volume_issues" in mcp_api.prompt("troubleshoot_volume_issues", namespace="data")


def test_prompt_rejects_a_bad_window(mcp_api: McpSession) -> None:
    with pytest.raises(MCPError) as exc:
        mcp_api.prompt("diagnose_cluster_health", time_window="yesterday")
    assert "30m, 2h" in str(exc.value)


# -- errors --------------------------------------------------------------------------------------


OUT_OF_RANGE = (
    ("check_pod_issues", {"end_time": "0001-01-01T00:00:00Z"}, "end_time"),
    ("check_pod_issues", {"start_time": "0001-01-01T00:00:00+01:00"}, "start_time"),
    ("check_node_health", {"time_window": "99999999999999d"}, "time_window"),
    ("search_events", {"start_time": "9999-12-31T23:59:59-01:00"}, "start_time"),
    ("search_events", {"end_time": "0001-01-01T00:00:00Z"}, "end_time"),
)


@pytest.mark.parametrize("tool, args, named", OUT_OF_RANGE)
def test_times_out_of_range_are_one_line_naming_the_parameter(
    mcp_api: McpSession, tool: str, args: dict, named: str
) -> None:
    msg = mcp_api.error(tool, **args)
    # the SDK prefixes "Error executing tool <name>: "; what follows must say what to fix
    assert named in msg and ("range" in msg or "30 days" in msg), msg
    assert "\n" not in msg.strip()


def test_malformed_parameters_say_which_and_the_accepted_forms(mcp_api: McpSession) -> None:
    msg = mcp_api.error("check_pod_issues", time_window="two weeks")
    assert "time_window 'two weeks'" in msg and "30m, 2h" in msg and "7d" in msg

    msg = mcp_api.error("check_node_health", start_time="yesterday")
    assert "start_time" in msg and "yesterday" in msg and "RFC3339" in msg
    msg = mcp_api.error("search_events", end_time="pod.waiting:*")
    assert "end_time" in msg and "RFC3339" in msg

    msg = mcp_api.error("investigate_pod_startup", namespace="shop")
    assert "pod_name" in msg

    msg = mcp_api.error("check_pod_issues", limit=0)
    assert "limit" in msg

    msg = mcp_api.error("search_events", verb="patch")
    assert "create, update, delete" in msg


def test_no_data_in_the_range_says_which_range(mcp_api: McpSession) -> None:
    rng = {"start_time": "2001-01-01T00:00:00Z", "end_time": "2001-01-01T06:00:00Z"}
    msg = mcp_api.error("check_pod_issues", **rng)
    assert "no audit events" in msg
    assert "2001-01-01T00:00:00Z" in msg and "2001-01-01T06:00:00Z" in msg
    msg = mcp_api.error("search_events", **rng)
    assert "2001-01-01T00:00:00Z" in msg

    msg = mcp_api.error("check_pod_issues", namespace="no-such-namespace", **WIDE)
    assert "namespace no-such-namespace" in msg


def test_unknown_object_says_how_to_name_it(mcp_api: McpSession) -> None:
    msg = mcp_api.error(
        "get_object_history", namespace="shop", resource_type="pods", name="no-such-pod"
    )
    assert "nothing stored about pods shop/no-such-pod" in msg and "'_'" in msg
