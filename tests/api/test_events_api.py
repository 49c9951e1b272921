"""The REST contract end to end, over a real socket."""

from __future__ import annotations

import httpx
import pytest

from kubetrail.events.model import ORIGINAL_FIELDS

WINDOW = {"start": "2026-11-25T00:00:00Z", "end": "2026-11-25T23:59:59Z"}


def test_events_is_an_array_of_original_documents_oldest_first(client: httpx.Client):
    r = client.get("/api/v1/events", params=WINDOW)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert isinstance(body, list) and len(body) == 12
    for doc in body:
        assert set(ORIGINAL_FIELDS) <= set(doc)
    stamps = [d["timestamp"] for d in body]
    assert stamps == sorted(stamps)
    assert "X-Next-Cursor" not in r.headers


def test_default_window_is_the_last_24_hours(client: httpx.Client):
    # the dataset is from 2026-11-25 03:00-03:30; whether "now" covers it depends on the clock,
    # so ask relative to a fixed end instead and check the default start applies
    r = client.get("/api/v1/events", params={"end": "2026-11-26T03:10:00Z"})
    assert r.json()[0]["timestamp"] == "2026-11-25T03:10:00Z"


def test_original_filters(client: httpx.Client):
    r = client.get(
        "/api/v1/events",
        params={**WINDOW, "namespace": "shop", "resourceType": "pods", "verb": "update"},
    )
    assert [(d["resourceName"], d["resourceVersion"]) for d in r.json()] == [
        ("checkout-7d9f8b6c5-x2k4p", "110"),
        ("checkout-7d9f8b6c5-x2k4p", "120"),
    ]


def test_extended_filters(client: httpx.Client):
    get = lambda **p: client.get("/api/v1/events", params={**WINDOW, **p}).json()  # noqa: E731
    assert {d["kind"] for d in get(kind="Node")} == {"Node"}
    assert len(get(name="cart-1")) == 2
    assert len(get(signal="pod.waiting:CrashLoopBackOff")) == 2
    assert len(get(signal="event.reason:*")) == 3
    assert [d["kind"] for d in get(q="checkout-config")] == ["ConfigMap"]
    assert len(get(snapshot="false")) == 11
    assert {d["resourceName"] for d in get(namespace="_")} == {"worker-1", "worker-3"}
    multi = client.get(
        "/api/v1/events",
        params=[*WINDOW.items(), ("resourceType", "nodes"), ("resourceType", "secrets")],
    )
    assert {d["resourceType"] for d in multi.json()} == {"nodes", "secrets"}


def test_pagination_with_cursor_and_link_headers(client: httpx.Client):
    seen = []
    r = client.get("/api/v1/events", params={**WINDOW, "limit": 5})
    pages = 1
    while True:
        assert r.status_code == 200
        seen += [d["id"] for d in r.json()]
        if "X-Next-Cursor" not in r.headers:
            break
        link = r.headers["Link"]
        assert link.endswith('>; rel="next"') and "cursor=" in link
        next_url = link[1 : link.index(">")]
        r = client.get(next_url)
        pages += 1
    assert pages == 3
    assert len(seen) == len(set(seen)) == 12


def test_object_history(client: httpx.Client):
    r = client.get("/api/v1/events/shop/pods/checkout-7d9f8b6c5-x2k4p")
    assert r.status_code == 200
    body = r.json()
    assert [v["resourceVersion"] for v in body["history"]] == ["100", "110", "120"]
    assert "status.containerStatuses[app].state.waiting" in body["history"][1]["changedPaths"]
    assert [e["reason"] for e in body["relatedEvents"]] == ["BackOff"]
    node = client.get("/api/v1/events/_/nodes/worker-3").json()
    assert node["history"][0]["signals"] == ["node.condition:Ready=Unknown"]
    assert [e["reason"] for e in node["relatedEvents"]] == ["NodeNotReady"]


def test_unknown_object_is_404_json(client: httpx.Client):
    r = client.get("/api/v1/events/shop/pods/nope")
    assert r.status_code == 404
    assert "nope" in r.json()["error"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "yesterday"}, "invalid start"),
        ({"end": "2026-13-01T00:00:00Z"}, "invalid end"),
        (
            {"start": "2026-11-25T10:00:00Z", "end": "2026-11-25T09:00:00Z"},
            "end 2026-11-25T09:00:00Z is before start 2026-11-25T10:00:00Z",
        ),
        ({"start": "9999-01-01T00:00:00Z"}, "(now) is before start 9999-01-01T00:00:00Z"),
        ({"start": "2026-11-25T10:00:00+99:00"}, "impossible UTC offset"),
        ({"limit": "0"}, "limit must be between 1 and 50"),
        ({"limit": "51"}, "limit must be between 1 and 50"),
        ({"limit": "ten"}, "invalid limit"),
        ({"cursor": "!!!not-a-cursor"}, "cursor is not valid"),
        ({"cursor": "WzEsMl0"}, "cursor is not valid"),
        ({"verb": "patch"}, "invalid verb"),
        ({"q": "   "}, "q is empty"),
        ({"snapshot": "maybe"}, "invalid snapshot"),
    ],
)
def test_bad_input_is_400_with_a_json_message(client: httpx.Client, params, message):
    r = client.get("/api/v1/events", params=params)
    assert r.status_code == 400, r.text
    body = r.json()
    assert message in body["error"]
    assert "Traceback" not in r.text


def test_unknown_route_is_json_404(client: httpx.Client):
    r = client.get("/api/v2/nothing")
    assert r.status_code == 404
    assert r.json()["error"]


def test_health(client: httpx.Client):
    r = client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["store"] == "sqlite"
    assert body["detail"]["events"] == 12


def test_health_is_503_when_the_store_is_gone(client: httpx.Client, store):
    store.close()
    r = client.get("/health")
    assert r.status_code == 503
    assert r.json()["status"] == "unavailable"
    r = client.get("/api/v1/events", params=WINDOW)
    assert r.status_code == 503
    assert r.json()["error"] == "store unavailable"


def test_openapi_describes_every_parameter(client: httpx.Client):
    spec = client.get("/openapi.json").json()
    op = spec["paths"]["/api/v1/events"]["get"]
    names = {p["name"] for p in op["parameters"]}
    assert names == {
        "start",
        "end",
        "namespace",
        "resourceType",
        "verb",
        "name",
        "kind",
        "signal",
        "q",
        "snapshot",
        "limit",
        "cursor",
    }
    assert all(p.get("description") for p in op["parameters"])
    history = spec["paths"]["/api/v1/events/{namespace}/{resourceType}/{name}"]["get"]
    assert all(p.get("description") for p in history["parameters"])


def test_an_absurd_limit_is_a_400_not_a_500(client: httpx.Client) -> None:
    # found by the schema fuzzer: the error echoed a 65-bit integer orjson could not encode
    for path in ("/api/v1/events", "/api/v1/events/shop/pods/checkout-7d9f8b6c5-x2k4p"):
        r = client.get(path, params={"limit": "-9223372036854775809"})
        assert r.status_code == 400
        assert "limit must be between" in r.json()["error"]
