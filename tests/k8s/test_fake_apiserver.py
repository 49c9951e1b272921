"""The fake API server, checked through the real `kubernetes` client and a generated kubeconfig.

Every test talks HTTP to a server on a loopback port: if the fake drifted from the protocol a
real client expects (discovery shapes, list paging, chunked watch lines, 410 handling), these
tests fail the way the shipper would against it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import urllib3
from kubernetes import client, config, dynamic, watch
from kubernetes.client.rest import ApiException

from tests.support.fake_apiserver import FakeApiServer
from tests.support.incident import ANCHOR


def pod(name: str, namespace: str = "shop", *, image: str = "nginx:1.27") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": "shop"}},
        "spec": {"containers": [{"name": "app", "image": image}], "nodeName": "node-1"},
        "status": {"phase": "Running"},
    }


def widget_crd(*, scope: str = "Namespaced") -> dict[str, Any]:
    schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {
                "kind": "Widget",
                "plural": "widgets",
                "singular": "widget",
                "listKind": "WidgetList",
            },
            "scope": scope,
            "versions": [
                {"name": "v1alpha1", "served": True, "storage": False, "schema": schema},
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": schema,
                    "subresources": {"status": {}},
                },
            ],
        },
    }


def widget(name: str, namespace: str = "shop", size: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"size": size},
    }


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    with FakeApiServer(bookmark_interval=0.2) as srv:
        yield srv
        assert srv.errors == []


@pytest.fixture
def core(server: FakeApiServer, tmp_path: Path) -> client.CoreV1Api:
    config.load_kube_config(config_file=str(server.write_kubeconfig(tmp_path / "kubeconfig")))
    return client.CoreV1Api()


def raw_lines(resp: Any, count: int | None = None) -> list[dict]:
    """The JSON lines of a `_preload_content=False` watch response: until the server ends the
    stream, or the first `count` lines (then the connection is closed)."""
    out: list[dict] = []
    for line in watch.watch.iter_resp_lines(resp):
        if line:
            out.append(orjson.loads(line))
        if count is not None and len(out) >= count:
            resp.close()
            break
    return out


def get_json(server: FakeApiServer, path: str) -> dict:
    resp = urllib3.PoolManager().request(
        "GET", server.url + path, headers={"Authorization": f"Bearer {server.token}"}
    )
    assert resp.status == 200, resp.data
    return orjson.loads(resp.data)


# --------------------------------------------------------------------------- config and auth


def test_kubeconfig_points_the_real_client_at_the_server(
    server: FakeApiServer, tmp_path: Path
) -> None:
    path = server.write_kubeconfig(tmp_path / "kc.yaml", token="test-token")
    api_client = config.new_client_from_config(config_file=str(path))
    assert api_client.configuration.host == server.url
    version = client.VersionApi(api_client).get_code()
    assert (version.major, version.minor) == ("1", "31")
    assert server.requests[-1].path == "/version"


def test_missing_or_wrong_token_is_401(server: FakeApiServer, tmp_path: Path) -> None:
    path = server.write_kubeconfig(tmp_path / "bad.yaml", token="wrong")
    api = client.CoreV1Api(config.new_client_from_config(config_file=str(path)))
    with pytest.raises(ApiException) as err:
        api.list_pod_for_all_namespaces()
    assert err.value.status == 401
    assert orjson.loads(err.value.body)["reason"] == "Unauthorized"

    resp = urllib3.PoolManager().request("GET", server.url + "/api/v1/pods")
    assert resp.status == 401
    body = orjson.loads(resp.data)
    assert (body["kind"], body["code"], body["status"]) == ("Status", 401, "Failure")


# --------------------------------------------------------------------------- discovery


def test_group_discovery_lists_groups_with_preferred_versions(
    server: FakeApiServer, core: client.CoreV1Api
) -> None:
    server.add_resource("autoscaling", "v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers")
    server.add_resource("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers")
    server.add_resource(
        "autoscaling", "v2beta2", "HorizontalPodAutoscaler", "horizontalpodautoscalers"
    )
    groups = {g.name: g for g in client.ApisApi().get_api_versions().groups}
    assert {"apps", "events.k8s.io", "coordination.k8s.io", "apiextensions.k8s.io"} <= set(groups)
    assert "" not in groups  # the core group is served under /api, not /apis
    assert groups["apps"].preferred_version.group_version == "apps/v1"
    assert groups["autoscaling"].preferred_version.version == "v2"
    assert [v.version for v in groups["autoscaling"].versions] == ["v2", "v1", "v2beta2"]
    assert client.CoreApi().get_api_versions().versions == ["v1"]


def test_resource_discovery_has_verbs_scopes_and_subresources(
    server: FakeApiServer, core: client.CoreV1Api
) -> None:
    resources = {r.name: r for r in core.get_api_resources().resources}
    assert resources["pods"].kind == "Pod"
    assert resources["pods"].namespaced is True
    assert resources["pods"].singular_name == "pod"
    assert {"list", "watch", "get"} <= set(resources["pods"].verbs)
    assert resources["nodes"].namespaced is False
    assert resources["namespaces"].namespaced is False
    assert resources["pods/status"].verbs == ["get", "patch", "update"]
    assert "list" not in resources["bindings"].verbs
    assert {"events", "configmaps", "secrets", "persistentvolumeclaims", "services"} <= set(
        resources
    )

    apps = {r.name: r for r in client.AppsV1Api().get_api_resources().resources}
    assert {"deployments", "replicasets", "statefulsets", "deployments/scale"} <= set(apps)
    assert client.AppsV1Api().get_api_resources().group_version == "apps/v1"


def test_removed_resource_disappears_from_discovery_and_404s(
    server: FakeApiServer, core: client.CoreV1Api
) -> None:
    server.remove_resource("coordination.k8s.io", "v1", "leases")
    groups = {g.name for g in client.ApisApi().get_api_versions().groups}
    assert "coordination.k8s.io" not in groups
    with pytest.raises(ApiException) as err:
        client.CoordinationV1Api().list_lease_for_all_namespaces()
    assert err.value.status == 404


# --------------------------------------------------------------------------- list


def test_list_pages_with_limit_and_continue(server: FakeApiServer, core: client.CoreV1Api) -> None:
    for name, ns in [("e", "b"), ("a", "b"), ("c", "a"), ("d", "a"), ("b", "b")]:
        server.apply("ADDED", pod(name, ns))
    first = core.list_pod_for_all_namespaces(limit=2)
    pages = [first]
    while pages[-1].metadata._continue:
        pages.append(
            core.list_pod_for_all_namespaces(limit=2, _continue=pages[-1].metadata._continue)
        )
    assert [len(p.items) for p in pages] == [2, 2, 1]
    names = [(p.metadata.namespace, p.metadata.name) for page in pages for p in page.items]
    assert names == [("a", "c"), ("a", "d"), ("b", "a"), ("b", "b"), ("b", "e")]  # etcd key order
    assert first.metadata.remaining_item_count == 3
    assert first.metadata.resource_version == server.current_rv()
    assert {p.metadata.resource_version for p in pages} == {first.metadata.resource_version}

    in_ns = core.list_namespaced_pod("a")
    assert [p.metadata.name for p in in_ns.items] == ["c", "d"]
    assert in_ns.metadata._continue is None


def test_list_items_omit_type_fields_like_the_real_server(
    server: FakeApiServer, core: client.CoreV1Api
) -> None:
    server.apply("ADDED", pod("web"))
    resp = core.list_namespaced_pod("shop", _preload_content=False)
    body = orjson.loads(resp.data)
    assert (body["kind"], body["apiVersion"]) == ("PodList", "v1")
    assert "kind" not in body["items"][0]
    assert "apiVersion" not in body["items"][0]
    assert body["items"][0]["metadata"]["uid"]  # filled in by apply
    one = core.read_namespaced_pod("web", "shop")
    assert one.kind == "Pod"
    assert one.metadata.resource_version == body["metadata"]["resourceVersion"]


def test_expired_continue_token_is_410(server: FakeApiServer, core: client.CoreV1Api) -> None:
    for i in range(3):
        server.apply("ADDED", pod(f"p{i}"))
    token = core.list_pod_for_all_namespaces(limit=1).metadata._continue
    assert token
    server.apply("MODIFIED", pod("p0"))
    server.compact()
    with pytest.raises(ApiException) as err:
        core.list_pod_for_all_namespaces(limit=1, _continue=token)
    assert err.value.status == 410
    status = orjson.loads(err.value.body)
    assert status["reason"] == "Expired"
    assert "continue parameter is too old" in status["message"]
    # a fresh list still works
    assert len(core.list_pod_for_all_namespaces().items) == 3


# --------------------------------------------------------------------------- watch


def test_watch_replays_then_streams_live_in_order(
    server: FakeApiServer, core: client.CoreV1Api
) -> None:
    server.apply("ADDED", pod("old"))
    rv = core.list_pod_for_all_namespaces().metadata.resource_version
    server.apply("ADDED", pod("web"))  # after rv: replayed from history

    def later() -> None:
        assert server.wait_for_watches("pods")
        server.apply("MODIFIED", pod("web", image="nginx:1.28"))
        server.apply("DELETED", pod("web"))

    thread = threading.Thread(target=later)
    thread.start()
    seen = []
    w = watch.Watch()
    for event in w.stream(core.list_pod_for_all_namespaces, resource_version=rv, timeout_seconds=2):
        seen.append(
            (
                event["type"],
                event["object"].metadata.name,
                event["object"].metadata.resource_version,
            )
        )
        if len(seen) == 3:
            w.stop()
    thread.join()
    assert [(t, n) for t, n, _ in seen] == [
        ("ADDED", "web"),
        ("MODIFIED", "web"),
        ("DELETED", "web"),
    ]
    rvs = [int(v) for _, _, v in seen]
    assert rvs == sorted(rvs) and int(rv) < rvs[0]
    assert seen[1][2] != seen[0][2]
    assert [p["metadata"]["name"] for p in server.objects("pods")] == ["old"]


def test_watch_without_resource_version_starts_with_current_objects(
    server: FakeApiServer, core: client.CoreV1Api
) -> None:
    server.apply("ADDED", pod("a", "one"))
    server.apply("ADDED", pod("b", "two"))
    server.apply("MODIFIED", pod("a", "one"))
    resp = core.list_pod_for_all_namespaces(watch=True, timeout_seconds=5, _preload_content=False)
    lines = watch.watch.iter_resp_lines(resp)
    events = [orjson.loads(next(lines)) for _ in range(2)]
    server.apply("ADDED", pod("c", "two"))  # then live
    events.append(orjson.loads(next(lines)))
    resp.close()
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "a"),
        ("ADDED", "b"),
        ("ADDED", "c"),
    ]
    assert events[0]["object"]["kind"] == "Pod"  # watch objects carry their type fields
    assert events[0]["object"]["metadata"]["resourceVersion"] == "4"  # its current version

    in_ns = core.list_namespaced_pod("two", watch=True, timeout_seconds=5, _preload_content=False)
    assert [e["object"]["metadata"]["name"] for e in raw_lines(in_ns, 2)] == ["b", "c"]


def test_raw_watch_gets_bookmarks_and_ends_on_timeout(
    server: FakeApiServer, core: client.CoreV1Api
) -> None:
    server.apply("ADDED", pod("a"))
    rv = server.current_rv()
    started = time.monotonic()
    resp = core.list_pod_for_all_namespaces(
        watch=True,
        resource_version=rv,
        allow_watch_bookmarks=True,
        timeout_seconds=1,
        _preload_content=False,
    )
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.headers["Transfer-Encoding"] == "chunked"
    events = raw_lines(resp)
    elapsed = time.monotonic() - started
    assert 0.9 < elapsed < 3
    assert len(events) >= 3  # every 0.2 s for 1 s
    assert {e["type"] for e in events} == {"BOOKMARK"}
    assert events[0]["object"] == {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": rv},
    }
    params = server.requests[-1].query
    assert (params["watch"], params["allowWatchBookmarks"]) == ("true", "true")


def test_no_bookmarks_unless_asked(server: FakeApiServer, core: client.CoreV1Api) -> None:
    resp = core.list_pod_for_all_namespaces(
        watch=True, resource_version=server.current_rv(), timeout_seconds=5, _preload_content=False
    )
    time.sleep(0.5)  # 2.5 bookmark intervals
    server.apply("ADDED", pod("a"))
    assert [e["type"] for e in raw_lines(resp, 1)] == ["ADDED"]


def test_watch_from_compacted_rv_gets_one_410_error_line(
    server: FakeApiServer, core: client.CoreV1Api
) -> None:
    server.apply("ADDED", pod("a"))
    rv = server.current_rv()
    server.apply("MODIFIED", pod("a"))
    server.apply("DELETED", pod("a"))
    server.compact()
    resp = core.list_pod_for_all_namespaces(
        watch=True, resource_version=rv, timeout_seconds=5, _preload_content=False
    )
    assert resp.status == 200
    events = raw_lines(resp)  # the server ends the stream right after the error
    assert len(events) == 1
    assert events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired")
    assert status["message"] == f"too old resource version: {rv} ({server.current_rv()})"

    with pytest.raises(ApiException) as err:
        list(
            watch.Watch().stream(
                core.list_pod_for_all_namespaces, resource_version=rv, timeout_seconds=5
            )
        )
    assert err.value.status == 410
    # watching from the compaction point itself is fine
    ok = core.list_pod_for_all_namespaces(
        watch=True, resource_version=server.current_rv(), timeout_seconds=5, _preload_content=False
    )
    server.apply("ADDED", pod("b"))
    assert [e["type"] for e in raw_lines(ok, 1)] == ["ADDED"]


def test_history_limit_trims_like_the_watch_cache(tmp_path: Path) -> None:
    with FakeApiServer(history_limit=10) as srv:
        api = client.CoreV1Api(
            config.new_client_from_config(config_file=str(srv.write_kubeconfig(tmp_path / "k")))
        )
        srv.apply("ADDED", pod("a"))
        first = srv.current_rv()
        for _ in range(30):
            srv.apply("MODIFIED", pod("a"))
        events = raw_lines(
            api.list_pod_for_all_namespaces(
                watch=True, resource_version=first, timeout_seconds=1, _preload_content=False
            )
        )
        assert [e["type"] for e in events] == ["ERROR"]
        recent = str(int(srv.current_rv()) - 5)
        resp = api.list_pod_for_all_namespaces(
            watch=True, resource_version=recent, timeout_seconds=5, _preload_content=False
        )
        srv.apply("ADDED", pod("b"))
        assert [e["type"] for e in raw_lines(resp, 6)] == ["MODIFIED"] * 5 + ["ADDED"]


def test_paused_watch_then_compaction_gives_410_mid_stream(
    server: FakeApiServer, core: client.CoreV1Api
) -> None:
    server.apply("ADDED", pod("a"))
    rv = server.current_rv()
    resp = core.list_pod_for_all_namespaces(
        watch=True, resource_version=rv, timeout_seconds=5, _preload_content=False
    )
    lines = watch.watch.iter_resp_lines(resp)
    server.apply("MODIFIED", pod("a"))
    assert orjson.loads(next(lines))["type"] == "MODIFIED"
    server.pause_watches()
    server.apply("ADDED", pod("b"))
    server.apply("DELETED", pod("a"))
    server.compact()
    server.resume_watches()
    rest = [orjson.loads(line) for line in lines if line]
    assert [e["type"] for e in rest] == ["ERROR"]
    assert rest[0]["object"]["code"] == 410


def test_pause_holds_events_until_resume(server: FakeApiServer, core: client.CoreV1Api) -> None:
    resp = core.list_pod_for_all_namespaces(
        watch=True,
        resource_version=server.current_rv(),
        allow_watch_bookmarks=True,
        timeout_seconds=3,
        _preload_content=False,
    )
    assert server.wait_for_watches("pods")
    server.pause_watches()
    server.apply("ADDED", pod("held"))
    got: list[dict] = []

    def read() -> None:
        for line in watch.watch.iter_resp_lines(resp):
            got.append(orjson.loads(line))
            if got[-1]["type"] == "ADDED":
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(0.6)
    assert got == []  # not even bookmarks while stalled
    server.resume_watches()
    reader.join(2)
    assert [e["type"] for e in got] == ["ADDED"]
    resp.close()


def test_drop_watches_breaks_the_client_stream(
    server: FakeApiServer, core: client.CoreV1Api
) -> None:
    outcome: dict[str, Any] = {"events": []}

    def consume() -> None:
        try:
            for event in watch.Watch().stream(
                core.list_pod_for_all_namespaces,
                resource_version=server.current_rv(),
                timeout_seconds=30,
            ):
                outcome["events"].append(event["type"])
        except Exception as exc:
            outcome["error"] = exc

    started = time.monotonic()
    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    assert server.wait_for_watches("pods")
    server.apply("ADDED", pod("a"))
    deadline = time.monotonic() + 2
    while not outcome["events"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.drop_watches() == 1
    thread.join(3)
    assert not thread.is_alive()
    assert time.monotonic() - started < 5  # long before timeoutSeconds=30
    assert outcome["events"] == ["ADDED"]
    # an abrupt close (no final chunk) is a protocol error for the client, not a clean end
    assert isinstance(outcome.get("error"), urllib3.exceptions.HTTPError)
    assert server.watch_count("pods") == 0


def test_stop_ends_open_watches_cleanly(tmp_path: Path) -> None:
    srv = FakeApiServer().start()
    api = client.CoreV1Api(
        config.new_client_from_config(config_file=str(srv.write_kubeconfig(tmp_path / "k")))
    )
    resp = api.list_pod_for_all_namespaces(
        watch=True, resource_version=srv.current_rv(), timeout_seconds=30, _preload_content=False
    )
    assert srv.wait_for_watches("pods")
    started = time.monotonic()
    srv.stop()
    assert raw_lines(resp) == []  # a clean end: the final chunk, no protocol error
    assert time.monotonic() - started < 3
    with pytest.raises(urllib3.exceptions.MaxRetryError):
        urllib3.PoolManager(retries=0).request("GET", srv.url + "/version")


def test_expire_watches_sends_410_to_open_streams(
    server: FakeApiServer, core: client.CoreV1Api
) -> None:
    resp = core.list_pod_for_all_namespaces(
        watch=True, resource_version=server.current_rv(), timeout_seconds=5, _preload_content=False
    )
    assert server.wait_for_watches("pods")
    assert server.expire_watches("pods") == 1
    events = raw_lines(resp)
    assert [(e["type"], e["object"]["code"]) for e in events] == [("ERROR", 410)]


def test_fail_next_injects_errors_and_requests_are_logged(
    server: FakeApiServer, core: client.CoreV1Api
) -> None:
    server.fail_next(2, status=503, match="/pods")
    for _ in range(2):
        with pytest.raises(ApiException) as err:
            core.list_pod_for_all_namespaces(limit=5)
        assert err.value.status == 503
    core.list_namespace()  # not matched, and the failures are used up anyway
    assert core.list_pod_for_all_namespaces(limit=5).items == []
    logged = [(r.method, r.path, r.query.get("limit")) for r in server.requests]
    assert logged == [
        ("GET", "/api/v1/pods", "5"),
        ("GET", "/api/v1/pods", "5"),
        ("GET", "/api/v1/namespaces", None),
        ("GET", "/api/v1/pods", "5"),
    ]


# --------------------------------------------------------------------------- CRDs


def test_crd_is_served_while_it_exists(
    server: FakeApiServer, core: client.CoreV1Api, tmp_path: Path
) -> None:
    custom = client.CustomObjectsApi()
    crd = server.apply("ADDED", widget_crd())
    assert crd["status"]["storedVersions"] == ["v1"]

    groups = {g.name: g for g in client.ApisApi().get_api_versions().groups}
    assert groups["example.com"].preferred_version.version == "v1"
    resources = get_json(server, "/apis/example.com/v1")["resources"]
    assert {(r["name"], r["kind"], r["namespaced"]) for r in resources} == {
        ("widgets", "Widget", True),
        ("widgets/status", "Widget", True),
    }
    assert (
        get_json(server, "/apis/example.com")["preferredVersion"]["groupVersion"]
        == "example.com/v1"
    )
    # the client's dynamic discovery (which walks /api, /apis and every group version) finds it
    dyn = dynamic.DynamicClient(client.ApiClient(), cache_file=str(tmp_path / "discovery.json"))
    widgets = dyn.resources.get(api_version="example.com/v1", kind="Widget")
    assert (widgets.name, widgets.namespaced) == ("widgets", True)

    server.apply("ADDED", widget("w1"))
    listed = custom.list_cluster_custom_object("example.com", "v1", "widgets")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["w1"]
    assert listed["items"][0]["kind"] == "Widget"  # unstructured items keep their type fields
    rv = listed["metadata"]["resourceVersion"]

    def later() -> None:
        assert server.wait_for_watches("widgets.example.com")
        server.apply("MODIFIED", widget("w1", size=2))
        server.apply("DELETED", crd)  # deletes the custom objects first

    thread = threading.Thread(target=later)
    thread.start()
    seen = [
        (e["type"], e["object"]["metadata"]["name"])
        for e in watch.Watch().stream(
            custom.list_cluster_custom_object,
            "example.com",
            "v1",
            "widgets",
            resource_version=rv,
            timeout_seconds=5,
        )
    ]
    thread.join()
    # the stream ended (long before the timeout) when the resource went away
    assert seen == [("MODIFIED", "w1"), ("DELETED", "w1")]
    assert "example.com" not in {g.name for g in client.ApisApi().get_api_versions().groups}
    with pytest.raises(ApiException) as err:
        custom.list_cluster_custom_object("example.com", "v1", "widgets")
    assert err.value.status == 404
    assert server.objects("customresourcedefinitions", group="apiextensions.k8s.io") == []


def test_crd_created_over_http_registers_too(server: FakeApiServer, core: client.CoreV1Api) -> None:
    ext = client.ApiextensionsV1Api()
    ext.create_custom_resource_definition(widget_crd(scope="Cluster"))
    custom = client.CustomObjectsApi()
    custom.create_cluster_custom_object(
        "example.com",
        "v1",
        "widgets",
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "g"}},
    )
    assert [o["metadata"]["name"] for o in server.objects("widgets", group="example.com")] == ["g"]
    assert [c.metadata.name for c in ext.list_custom_resource_definition().items] == [
        "widgets.example.com"
    ]
    ext.delete_custom_resource_definition("widgets.example.com")
    with pytest.raises(KeyError):
        server.objects("widgets", group="example.com")


# --------------------------------------------------------------------------- recordings


def test_load_recording_of_the_demo_incident(
    server: FakeApiServer, core: client.CoreV1Api, tmp_path: Path
) -> None:
    from kubetrail.demo.incident import generate_incident

    path = tmp_path / "incident.jsonl"
    records = list(generate_incident(anchor=ANCHOR))
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))  # as `demo --write-events`
    start = server.current_rv()
    assert server.load_recording(path) == len(records)
    assert int(server.current_rv()) - int(start) == len(records)

    alive: dict[tuple, bool] = {}
    for r in records:
        m = r["object"]["metadata"]
        alive[(r["object"]["kind"], m.get("namespace"), m["name"])] = r["type"] != "DELETED"
    expected_pods = sorted(
        (ns, name) for (kind, ns, name), live in alive.items() if kind == "Pod" and live
    )
    listed = core.list_pod_for_all_namespaces()
    assert sorted((p.metadata.namespace, p.metadata.name) for p in listed.items) == expected_pods

    expected = [
        (r["type"], r["object"]["metadata"]["name"])
        for r in records
        if r["object"]["kind"] == "Pod"
    ]
    resp = core.list_pod_for_all_namespaces(
        watch=True, resource_version=start, timeout_seconds=5, _preload_content=False
    )
    replayed = [
        (e["type"], e["object"]["metadata"]["name"]) for e in raw_lines(resp, len(expected))
    ]
    assert replayed == expected


def test_play_recording_paces_by_timestamps(server: FakeApiServer) -> None:
    lines = [
        orjson.dumps({"type": "ADDED", "object": pod("a"), "timestamp": "2026-11-25T10:00:00Z"}),
        orjson.dumps({"type": "MODIFIED", "object": pod("a"), "timestamp": "2026-11-25T10:00:01Z"}),
        orjson.dumps(
            {"type": "BOOKMARK", "object": {"kind": "Pod", "apiVersion": "v1", "metadata": {}}}
        ),
        orjson.dumps({"type": "DELETED", "object": pod("a"), "timestamp": "2026-11-25T10:00:02Z"}),
    ]
    started = time.monotonic()
    server.play_recording(lines, speed=5.0).join(5)  # 1 s gaps at 5x: 0.2 s each
    elapsed = time.monotonic() - started
    assert 0.35 < elapsed < 2
    assert server.objects("pods") == []
    assert int(server.current_rv()) == 4  # initial rv 1 + three changes; the bookmark is skipped


# --------------------------------------------------------------------------- throughput


def test_streams_100k_events_to_one_raw_watcher_fast(server: FakeApiServer) -> None:
    start = server.current_rv()
    template = pod("x")
    for i in range(100_000):
        server.apply("ADDED", {**template, "metadata": {"name": f"p{i}", "namespace": "bench"}})
    http = urllib3.PoolManager()
    began = time.perf_counter()
    resp = http.request(
        "GET",
        f"{server.url}/api/v1/pods?watch=1&resourceVersion={start}&timeoutSeconds=30",
        headers={"Authorization": "Bearer test-token"},
        preload_content=False,
    )
    count, tail = 0, b""
    for chunk in resp.stream(1 << 16):
        parts = (tail + chunk).split(b"\n")
        tail = parts.pop()
        count += len(parts)
        if count >= 100_000:
            break
    rate = count / (time.perf_counter() - began)
    resp.release_conn()
    assert count == 100_000
    assert orjson.loads(parts[-1])["object"]["metadata"]["name"] == "p99999"
    assert rate > 20_000, f"{rate:.0f} events/s"
