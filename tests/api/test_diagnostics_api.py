"""The diagnostics over REST, on a real socket."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from kubetrail.config import Settings
from kubetrail.store.base import Store
from tests.support.api_server import ServerThread
from tests.support.incident import INCIDENT

RANGE = {k + "_time": v for k, v in INCIDENT.to_dict().items()}


@pytest.fixture(scope="module")
def api(sqlite_incident: Store) -> Iterator[httpx.Client]:
    with (
        ServerThread(sqlite_incident, Settings()) as server,
        httpx.Client(base_url=server.url, timeout=30) as c,
    ):
        yield c


def test_lists_the_seven_checks(api: httpx.Client) -> None:
    body = api.get("/api/v1/diagnostics").json()
    assert [c["name"] for c in body["checks"]] == [
        "check_node_health",
        "check_pod_issues",
        "check_volume_issues",
        "analyze_recent_changes",
        "investigate_pod_startup",
        "check_resource_limits",
        "check_workload_rollouts",
    ]
    startup = next(c for c in body["checks"] if c["name"] == "investigate_pod_startup")
    assert startup["required"] == ["pod_name", "namespace"]


def test_runs_a_check(api: httpx.Client) -> None:
    r = api.get("/api/v1/diagnostics/check_volume_issues", params={**RANGE, "namespace": "data"})
    assert r.status_code == 200
    body = r.json()
    assert body["check"] == "check_volume_issues" and body["namespace"] == "data"
    assert body["range"] == INCIDENT.to_dict()
    assert {f["issue"] for f in body["findings"]} >= {"Pending", "ProvisioningFailed"}
    assert body["findings"][0]["object"].keys() == {"kind", "namespace", "name", "uid"}


def test_changes_endpoint(api: httpx.Client) -> None:
    r = api.get(
        "/api/v1/changes",
        params={"start": RANGE["start_time"], "end": RANGE["end_time"], "namespace": "shop"},
    )
    assert r.status_code == 200
    assert any(f["object"]["name"] == "checkout" for f in r.json()["findings"])
    assert api.get("/api/v1/changes", params={"range": "7d"}).status_code == 200


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("/api/v1/diagnostics/check_everything", {}, 404, "unknown check"),
        ("/api/v1/diagnostics/check_pod_issues", {"time_window": "a while"}, 400, "30m, 2h"),
        ("/api/v1/diagnostics/check_pod_issues", {"start_time": "yesterday"}, 400, "RFC3339"),
        ("/api/v1/diagnostics/check_pod_issues", {"limit": 0}, 400, "limit must be between"),
        ("/api/v1/diagnostics/check_pod_issues", {"limit": "many"}, 400, ""),
        (
            "/api/v1/diagnostics/investigate_pod_startup",
            {"namespace": "shop"},
            400,
            "pod_name is required",
        ),
        ("/api/v1/changes", {"range": "2h"}, 400, "range must be one of 1h, 24h, 7d"),
    ],
)
def test_bad_arguments_are_json_4xx(
    api: httpx.Client, path: str, params: dict, status: int, message: str
) -> None:
    r = api.get(path, params=params)
    assert r.status_code == status
    assert message in r.json()["error"]
