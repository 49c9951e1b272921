"""Inputs an adversarial pass once turned into 500s (hardening issue): each must be a 400
with a JSON message naming the parameter and what it accepts, and never a traceback."""

from __future__ import annotations

import base64
import logging

import httpx
import orjson
import pytest

from kubetrail.events.timing import QUERY_RANGE

OBJECT = "/api/v1/events/default/pods/web-1"


def _cursor(ts: object, ident: object = "x") -> str:
    return base64.urlsafe_b64encode(orjson.dumps([ts, ident])).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "path, params, named",
    [
        ("/api/v1/events", {"end": "0001-01-01T00:00:00Z"}, "end"),
        ("/api/v1/events", {"start": "0001-01-01T00:00:00+01:00"}, "start"),
        ("/api/v1/events", {"start": "9999-12-31T23:59:59-01:00"}, "start"),
        ("/api/v1/events", {"start": "9999-12-31T23:59:59Z"}, "start"),
        ("/api/v1/events", {"end": "1969-12-31T23:59:59Z"}, "end"),
        (OBJECT, {"start": "0001-01-01T00:00:00+01:00"}, "start"),
        (OBJECT, {"end": "0001-01-01T00:00:00Z"}, "end"),
        ("/api/v1/changes", {"end": "0001-01-01T00:00:00Z"}, "end"),
        ("/api/v1/diagnostics/check_pod_issues", {"end_time": "0001-01-01T00:00:00Z"}, "end_time"),
        (
            "/api/v1/diagnostics/check_pod_issues",
            {"start_time": "9999-12-31T23:59:59-01:00"},
            "start_time",
        ),
    ],
)
def test_a_time_out_of_range_is_a_400_naming_the_parameter_and_the_range(
    client: httpx.Client, caplog: pytest.LogCaptureFixture, path: str, params: dict, named: str
) -> None:
    with caplog.at_level(logging.ERROR):
        r = client.get(path, params=params)
    assert r.status_code == 400, r.text
    message = r.json()["error"]
    assert named in message
    assert "range" in message
    assert QUERY_RANGE in message
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize("window", ["99999999999999d", "99999999999999999999w", "31d", "745h"])
def test_a_huge_time_window_is_a_400_with_the_longest_accepted(
    client: httpx.Client, window: str
) -> None:
    r = client.get("/api/v1/diagnostics/check_pod_issues", params={"time_window": window})
    assert r.status_code == 400, r.text
    assert "time_window" in r.json()["error"] and "30 days" in r.json()["error"]


@pytest.mark.parametrize(
    "cursor",
    [_cursor(2**63), _cursor(2**64 - 1), _cursor(-(2**63)), _cursor(True), _cursor(10**18)],
    ids=["2**63", "2**64-1", "-2**63", "bool", "year-33658"],
)
def test_a_cursor_outside_any_time_is_a_400(client: httpx.Client, cursor: str) -> None:
    r = client.get("/api/v1/events", params={"cursor": cursor})
    assert r.status_code == 400, r.text
    assert "cursor" in r.json()["error"]


def test_the_edges_of_the_range_are_accepted(client: httpx.Client) -> None:
    r = client.get(
        "/api/v1/events", params={"start": "1970-01-01T00:00:00Z", "end": "9999-01-01T00:00:00Z"}
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("param", ["signal", "namespace", "name", "kind", "resourceType"])
def test_too_many_values_of_one_filter_are_a_400_with_the_cap(
    client: httpx.Client, param: str
) -> None:
    from kubetrail.queries.events import MAX_FILTER_VALUES

    many = [("start", "2026-11-25T00:00:00Z")] + [(param, f"v{i}") for i in range(500)]
    r = client.get("/api/v1/events", params=many)
    assert r.status_code == 400, r.text
    assert f"at most {MAX_FILTER_VALUES} values" in r.json()["error"] and param in r.json()["error"]
    at_cap = [(param, f"v{i}") for i in range(MAX_FILTER_VALUES)]
    assert client.get("/api/v1/events", params=at_cap).status_code == 200


# -- DNS rebinding: Host and Origin are checked on every request -----------------------------


@pytest.mark.parametrize("path", ["/api/v1/events", "/health", "/docs", "/openapi.json"])
def test_a_foreign_host_or_origin_is_refused(client: httpx.Client, path: str) -> None:
    r = client.get(path, headers={"Host": "evil.example:8080"})
    assert r.status_code == 421 and "KUBETRAIL_ALLOWED_HOSTS" in r.json()["detail"]
    r = client.get(path, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and "Origin" in r.json()["error"]


def test_loopback_and_cluster_hosts_are_served_and_the_link_header_names_them(
    client: httpx.Client,
) -> None:
    for host in ("localhost:8080", "kubetrail-api.kubetrail.svc:8080"):
        r = client.get(
            "/api/v1/events", params={**{"start": "2026-11-25T00:00:00Z"}, "limit": 1},
            headers={"Host": host, "Origin": "http://localhost:6274"},
        )  # fmt: skip
        assert r.status_code == 200, r.text
        assert "evil" not in r.headers.get("Link", "")
        assert host.split(":")[0] in r.headers["Link"]


def test_an_allowed_host_from_settings_is_served(store) -> None:
    from kubetrail.config import Settings
    from tests.support.api_server import ServerThread

    settings = Settings(allowed_hosts=("kubetrail.example.com",))
    with ServerThread(store, settings) as server, httpx.Client(base_url=server.url) as c:
        assert c.get("/health", headers={"Host": "kubetrail.example.com"}).status_code == 200
        assert c.get("/health", headers={"Host": "evil.example"}).status_code == 421


# -- the OpenAPI document says what the API answers (schemathesis --checks all) --------------


def test_openapi_documents_error_answers_and_time_formats(client: httpx.Client) -> None:
    doc = client.get("/openapi.json").json()
    paths = doc["paths"]
    for path in (
        "/api/v1/events",
        "/api/v1/summary",
        "/api/v1/changes",
        "/api/v1/diagnostics/{check}",
    ):
        responses = paths[path]["get"]["responses"]
        assert {"400", "503"} <= set(responses), path
        schema = responses["400"]["content"]["application/json"]["schema"]
        assert schema["$ref"].endswith("/ErrorBody")
    assert "404" in paths["/api/v1/events/{namespace}/{resourceType}/{name}"]["get"]["responses"]
    assert "404" in paths["/api/v1/diagnostics/{check}"]["get"]["responses"]
    times = {
        (path, p["name"]): p["schema"]
        for path, item in paths.items()
        for p in item.get("get", {}).get("parameters", [])
        if p["name"] in ("start", "end", "start_time", "end_time")
    }
    assert len(times) == 10, sorted(times)
    for where, schema in times.items():
        variants = schema.get("anyOf", [schema])
        assert (
            any(v.get("format") == "date-time" for v in variants)
            or schema.get("format") == "date-time"
        ), where


def test_a_wrong_method_is_405_with_allow_and_a_json_message(client: httpx.Client) -> None:
    r = client.post("/api/v1/events")
    assert r.status_code == 405
    assert r.headers["Allow"] == "GET"
    assert r.json()["error"] == "Method Not Allowed"
