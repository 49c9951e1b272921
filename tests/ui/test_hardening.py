"""The UI's protection: CSP on every response, escaped content, no inline script, the
token as a login cookie, and bad input as a 4xx page, never a 500."""

from __future__ import annotations

import json
import re
from importlib.resources import files

import pytest
from fastapi.testclient import TestClient

from kubetrail.config import Settings
from kubetrail.events.model import EventDocument
from kubetrail.store.sqlite import open_embedded
from tests.ui.conftest import RANGE, TOKEN, ui_client

PAGES = [
    "/ui/",
    "/ui/objects/shop/deployments/checkout",
    "/ui/objects/_/nodes/worker-3",
    "/ui/search?q=v2.3.O",
    "/ui/timeline?namespace=shop",
    "/ui/timeline?kind=Bad!",
    "/ui/search",
    "/ui/nope",
    "/ui/static/ui.css",
    "/ui/static/ui.js",
]


@pytest.mark.parametrize("path", PAGES)
def test_every_ui_response_has_the_csp(client: TestClient, path: str) -> None:
    r = client.get(path, params=RANGE if "?" not in path else None)
    csp = r.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'" and directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"


def test_the_rest_api_is_left_as_it_was(client: TestClient) -> None:
    r = client.get("/api/v1/events", params={"limit": 1})
    assert r.status_code == 200 and "content-security-policy" not in r.headers


def test_no_template_has_inline_script_or_style() -> None:
    templates = list((files("kubetrail.ui") / "templates").iterdir())
    assert len(templates) >= 6
    for template in templates:
        source = template.read_text()
        for tag, body in re.findall(r"(<script\b[^>]*>)(.*?)</script>", source, re.S):
            # a data block is never run (the CSP does not even ask): JSON, escaped by tojson
            data = re.fullmatch(r'<script type="application/json" id="[\w-]+">', tag)
            if data:
                assert re.fullmatch(r"\{\{ [\w.]+ \| tojson \}\}", body), template.name
                continue
            assert re.search(r'\bsrc="', tag) and not body, f"{template.name}: inline script {tag}"
        assert not re.search(r"\son[a-z]+\s*=", source), f"{template.name}: an on*= handler"
        assert not re.search(r"\sstyle\s*=", source), f"{template.name}: a style attribute"
        assert "javascript:" not in source and "|safe" not in source.replace(" ", "")


def test_store_content_is_escaped(tmp_path) -> None:
    evil = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    doc: EventDocument = {
        "timestamp": "2026-11-25T10:00:00Z", "verb": "create", "user": "u", "namespace": "shop",
        "resourceType": "configmaps", "resourceName": "evil", "responseStatus": 200,
        "message": "Create configmaps evil", "stage": "ResponseComplete",
        "requestURI": "/api/v1/namespaces/shop/configmaps/evil", "id": "u1:1:create",
        "uid": "u1", "resourceVersion": "1", "apiGroup": "", "apiVersion": "v1",
        "kind": "ConfigMap", "signals": [], "fieldManager": evil, "snapshot": False,
        "objectChanges": {"metadata": {"name": "evil"}, "data": {"k": evil}},
    }  # fmt: skip
    second = {**doc, "id": "u1:2:update", "verb": "update", "resourceVersion": "2",
              "signals": [f"configmap.{evil}</script>"], "objectChanges": {"metadata": {"name": "evil"}, "data": {"k": evil + "!"}}}  # fmt: skip
    store = open_embedded(tmp_path / "evil.db")
    store.write([doc, second])  # type: ignore[list-item]
    with ui_client(store, Settings()) as c:
        for r in (
            c.get("/ui/objects/shop/configmaps/evil"),
            c.get("/ui/search", params={**RANGE, "name": "evil"}),
            c.get("/ui/objects/shop/configmaps/<script>x"),
            c.get("/ui/timeline", params=RANGE),
        ):
            assert "<script>alert" not in r.text and "<img src=x" not in r.text
        # the timeline's marks carry the signal in its data block: escaped for HTML, intact
        page = c.get("/ui/timeline", params=RANGE).text
        block = re.findall(r'<script type="application/json" id="tl-marks">([^<]*)</script>', page)
        assert len(block) == 1 and "</script>" not in block[0]
        assert any(f"configmap.{evil}</script> (1)" in t for t in json.loads(block[0])["texts"])
        assert (
            "&lt;script&gt;alert(1)&lt;/script&gt;"
            in c.get("/ui/objects/shop/configmaps/evil").text
        )
    store.close()


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("/ui/", {"since": "soon"}, 400, "since 'soon' is not a duration"),
        ("/ui/", {"from": "yesterday"}, 400, "invalid from"),
        ("/ui/", {"from": "2026-11-25T12:00:00Z", "to": "2026-11-25T06:00:00Z"}, 400, "before"),
        ("/ui/", {"since": "400d"}, 400, "since"),
        ("/ui/search", {"q": "x", "cursor": "not-a-cursor"}, 400, "cursor is not valid"),
        ("/ui/search", {"q": "x", "verb": "x", "signal": "y" * 5000}, 200, ""),
        ("/ui/objects/shop/Deployments!/checkout", {}, 400, "is not a resource type"),
        ("/ui/objects/shop/widgets/checkout", {}, 404, "nothing is stored about widgets/checkout"),
        ("/ui/objects/_/nodes/worker-99", {}, 404, "nothing is stored"),
        ("/ui/no/such/page", {}, 404, "there is no page"),
    ],
)
def test_bad_input_is_a_4xx_page_with_one_line(
    client: TestClient, path: str, params: dict, status: int, message: str
) -> None:
    r = client.get(path, params=params)
    assert r.status_code == status, r.text[-400:]
    assert r.headers["content-type"].startswith("text/html")
    if message:
        shown = re.findall(r'<p class="error" role="alert">([^<]*)</p>', r.text)
        assert len(shown) == 1 and message in shown[0].replace("&#39;", "'")


def test_with_a_token_a_page_asks_for_it(guarded: TestClient) -> None:
    for path in ("/ui/", "/ui/objects/shop/deployments/checkout", "/ui/search?q=x"):
        r = guarded.get(path)
        assert r.status_code == 401
        assert '<form class="login" method="post" action="/ui/login">' in r.text
        assert f'name="next" value="{path.replace("?", "?").replace("&", "&amp;")}"' in r.text
    # a cookie with the wrong token, or the REST API's header with it: still the form
    guarded.cookies.set("kubetrail_ui_token", "nope", path="/ui")
    assert guarded.get("/ui/").status_code == 401
    guarded.cookies.clear()
    assert guarded.get("/ui/", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert guarded.get("/ui/static/ui.css").status_code == 200  # public: the form needs it


def test_a_wrong_token_is_401_and_sets_no_cookie(guarded: TestClient) -> None:
    r = guarded.post("/ui/login", data={"token": "wrong", "next": "/ui/"}, follow_redirects=False)
    assert r.status_code == 401 and "That is not the token." in r.text
    assert "set-cookie" not in r.headers


def test_the_right_token_sets_a_strict_httponly_cookie_then_pages_work(
    guarded: TestClient,
) -> None:
    r = guarded.post(
        "/ui/login",
        data={"token": TOKEN, "next": "/ui/objects/shop/deployments/checkout"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/ui/objects/shop/deployments/checkout"
    cookie = r.headers["set-cookie"]
    attributes = {a.strip().split("=")[0].lower(): a for a in cookie.split(";")}
    assert cookie.startswith(f"kubetrail_ui_token={TOKEN};")
    assert "httponly" in attributes and attributes["samesite"].strip().lower() == "samesite=strict"
    assert attributes["path"].strip() == "Path=/ui"
    page = guarded.get("/ui/objects/shop/deployments/checkout")
    assert page.status_code == 200 and "checkout:1.5.0" in page.text
    assert guarded.get("/ui/", params=RANGE).status_code == 200
    # the cookie is the UI's: the REST API stays bearer-only
    guarded.cookies.set("kubetrail_ui_token", TOKEN)  # sent to every path, not just /ui
    rest = guarded.get("/api/v1/events")
    assert rest.status_code == 401
    # the REST API's header works on the pages too
    guarded.cookies.clear()
    ok = guarded.get("/ui/", params=RANGE, headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200


def test_login_goes_back_only_to_a_ui_page(guarded: TestClient) -> None:
    for target in ("https://evil.example/", "//evil.example/ui/", "/api/v1/events", "/ui\\x"):
        r = guarded.post("/ui/login", data={"token": TOKEN, "next": target}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/ui/"


def test_without_a_token_the_login_page_just_goes_on(client: TestClient) -> None:
    r = client.get("/ui/login", params={"next": "/ui/search"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui/search"


def _logged_in(guarded: TestClient) -> None:
    r = guarded.post("/ui/login", data={"token": TOKEN, "next": "/ui/"}, follow_redirects=False)
    assert r.status_code == 303 and guarded.get("/ui/", params=RANGE).status_code == 200


def test_logout_clears_the_cookie_and_pages_ask_for_the_token_again(guarded: TestClient) -> None:
    _logged_in(guarded)
    page = guarded.get("/ui/", params=RANGE).text
    # every page offers it, as a form posted here (no script, no GET that a link could fire)
    assert '<form class="logout" method="post" action="/ui/logout">' in page
    assert guarded.get("/ui/logout").status_code in (401, 404, 405)  # never a GET
    r = guarded.post("/ui/logout", headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui/login"
    cookie = r.headers["set-cookie"]
    attributes = {a.strip().split("=")[0].lower(): a.strip() for a in cookie.split(";")}
    assert cookie.startswith('kubetrail_ui_token="";') or cookie.startswith("kubetrail_ui_token=;")
    assert attributes["path"] == "Path=/ui" and attributes["max-age"] == "Max-Age=0"
    assert "httponly" in attributes and attributes["samesite"].lower() == "samesite=strict"
    # the client forgot the cookie: the pages are the login form again
    assert guarded.cookies.get("kubetrail_ui_token") is None
    assert guarded.get("/ui/", params=RANGE).status_code == 401


def test_another_site_cannot_log_a_person_out(guarded: TestClient) -> None:
    _logged_in(guarded)
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        r = guarded.post("/ui/logout", headers=headers, follow_redirects=False)
        assert r.status_code == 403 and "set-cookie" not in r.headers
        assert guarded.get("/ui/", params=RANGE).status_code == 200  # still logged in


def test_without_a_token_there_is_no_logout_button(client: TestClient) -> None:
    assert 'class="logout"' not in client.get("/ui/", params=RANGE).text
    r = client.post("/ui/logout", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui/"
