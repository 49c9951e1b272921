"""``POST /api/v1/audit``, the API server's audit webhook: the same bearer token as the
rest of the API, an ``EventList`` kept and joined idempotently, bad input a 4xx with one
JSON line (never a quote of the body), nothing of a request body in the store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from kubetrail.config import Settings
from kubetrail.store.base import EventFilter, EventQuery
from kubetrail.store.sqlite import SQLiteStore, open_embedded
from tests.support.api_server import ServerThread
from tests.support.audit_events import audit_event, deleted_status, event_list
from tests.support.dataset import documents
from tests.support.plaintext import stored_bytes

TOKEN = "audit-webhook-token-7c1e"
CANARY = "kubetrail-webhook-canary-a04f"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = open_embedded(tmp_path / "audit.db")
    store.write(documents())
    yield store
    store.close()


def serve(store: SQLiteStore, **kw: object) -> ServerThread:
    return ServerThread(store, Settings(api_token=TOKEN, **kw))  # type: ignore[arg-type]


@pytest.fixture
def webhook(db: SQLiteStore) -> Iterator[httpx.Client]:
    with serve(db, accept_audit=True) as server, httpx.Client(base_url=server.url) as c:
        yield c


def pod_changes() -> dict:
    """Two writes of stored versions (the dataset's checkout pod, updated at 03:05 and
    03:10), a read, and a refused write."""
    pod = next(d for d in documents() if d["resourceVersion"] == "110")
    written = dict(pod["objectChanges"])
    return event_list(
        audit_event(
            audit_id="w-1",
            verb="patch",
            resource="pods",
            name=pod["resourceName"],
            user="alice@example.com",
            at="2026-11-25T03:05:00.000000Z",
            level="RequestResponse",
            request={"spec": {"containers": [{"name": "app", "env": [{"value": CANARY}]}]}},
            written=written,
        ),
        audit_event(
            audit_id="w-2",
            verb="update",
            resource="pods",
            name=pod["resourceName"],
            subresource="status",
            user="system:node:worker-1",
            at="2026-11-25T03:09:59.800000Z",
        ),
        audit_event(audit_id="r-1", verb="get", resource="pods", name=pod["resourceName"]),
        audit_event(audit_id="f-1", verb="delete", resource="pods", name="x", code=403),
    )


def test_the_webhook_keeps_and_joins_an_event_list(webhook: httpx.Client, db: SQLiteStore) -> None:
    r = webhook.post("/api/v1/audit", content=orjson.dumps(pod_changes()), headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "events": 4,
        "writes": 2,
        "kept": 2,
        "keptBefore": 0,
        "joinedExactly": 1,
        "joinedByTime": 1,
        "pending": 0,
    }
    docs = db.search(EventQuery(filter=EventFilter(resource_type=("pods",)), limit=100)).items
    who = {d["resourceVersion"]: (d["user"], d.get("userSource")) for d in docs}
    assert who["110"] == ("alice@example.com", "audit-exact")
    assert who["120"] == ("system:node:worker-1", "audit-nearest")
    # delivered again (the API server retries a batch it got no answer for): nothing changes
    again = webhook.post("/api/v1/audit", content=orjson.dumps(pod_changes()), headers=AUTH)
    assert again.json()["kept"] == 0 and again.json()["keptBefore"] == 2
    assert (
        webhook.get(
            "/api/v1/events",
            params={"user": "alice@example.com", "start": "2026-11-25T00:00:00Z"},
            headers=AUTH,
        ).json()[0]["resourceVersion"]
        == "110"
    )


def test_no_value_of_a_request_body_is_stored(webhook: httpx.Client, db: SQLiteStore) -> None:
    secret = {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": {"name": "db", "namespace": "shop", "uid": "s-uid", "resourceVersion": "9"},
        "data": {"password": CANARY},
    }
    batch = event_list(
        audit_event(
            audit_id="s-1",
            verb="update",
            resource="secrets",
            name="db",
            level="RequestResponse",
            request=secret,
            written=secret,
        )
    )
    assert webhook.post("/api/v1/audit", content=orjson.dumps(batch), headers=AUTH).is_success
    webhook.post("/api/v1/audit", content=orjson.dumps(pod_changes()), headers=AUTH)
    db.close()
    assert CANARY.encode() not in stored_bytes(db.path)


def test_the_token_is_the_apis(webhook: httpx.Client) -> None:
    body = orjson.dumps(pod_changes())
    for headers in ({}, {"Authorization": "Bearer nope"}):
        r = webhook.post("/api/v1/audit", content=body, headers=headers)
        assert r.status_code == 401
        assert r.json()["error"] == "missing or invalid bearer token"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"", "empty body"),
        (b"{not json " + CANARY.encode(), "body is not JSON"),
        (orjson.dumps([1, 2]), "not an audit.k8s.io/v1 EventList"),
        (orjson.dumps({"kind": "PodList", "items": []}), "not an audit.k8s.io/v1 EventList"),
        (
            orjson.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": {}}),
            "items must be a list",
        ),
        (
            orjson.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": [CANARY]}),
            "item 1 is not a JSON object",
        ),
        (
            orjson.dumps(
                event_list(
                    audit_event(audit_id="ok", verb="patch", resource="pods", name="p"),
                    {
                        **audit_event(audit_id="bad", verb="patch", resource="pods", name="p"),
                        "user": {"groups": [CANARY]},
                    },
                )
            ),
            "item 2: audit event has no user.username",
        ),
    ],
)
def test_bad_input_is_a_400_in_one_line(webhook: httpx.Client, body: bytes, error: str) -> None:
    r = webhook.post("/api/v1/audit", content=body, headers=AUTH)
    assert r.status_code == 400
    assert error in r.json()["error"]
    assert CANARY not in r.text and "Traceback" not in r.text


def test_a_read_only_api_refuses_audit_events(db: SQLiteStore) -> None:
    with serve(db) as server, httpx.Client(base_url=server.url) as c:
        r = c.post("/api/v1/audit", content=orjson.dumps(pod_changes()), headers=AUTH)
    assert r.status_code == 403
    assert "--accept-audit" in r.json()["detail"]


def test_a_body_over_the_limit_is_a_413(db: SQLiteStore) -> None:
    big = orjson.dumps(pod_changes())
    with (
        serve(db, accept_audit=True, max_audit_bytes=len(big) - 1) as server,
        httpx.Client(base_url=server.url) as c,
    ):
        assert c.post("/api/v1/audit", content=big, headers=AUTH).status_code == 413

        def chunks() -> Iterator[bytes]:  # no Content-Length: refused while it arrives
            yield big[:100]
            yield big[100:]

        r = c.post("/api/v1/audit", content=chunks(), headers=AUTH)
        assert r.status_code == 413 and "larger than" in r.json()["error"]
    # the rest of the API still wants its small bodies
    with serve(db, accept_audit=True) as server, httpx.Client(base_url=server.url) as c:
        assert c.post("/api/v1/audit", content=big, headers=AUTH).status_code == 200


def test_a_deletion_is_joined_by_its_uid_and_time(webhook: httpx.Client, db: SQLiteStore) -> None:
    gone = next(d for d in documents() if d["verb"] == "delete")
    event = deleted_status(
        audit_event(
            audit_id="del",
            verb="delete",
            resource="pods",
            name=gone["resourceName"],
            at=gone["timestamp"].replace("Z", ".100000Z"),
            user="bob@example.com",
        ),
        uid=gone["uid"],
    )
    r = webhook.post("/api/v1/audit", content=orjson.dumps(event_list(event)), headers=AUTH)
    assert r.json()["joinedByTime"] == 1
    stored = db.documents([gone["id"]])[gone["id"]]
    assert (stored["user"], stored["userSource"], stored["auditID"]) == (
        "bob@example.com",
        "audit-nearest",
        "del",
    )
