"""/docs and /redoc work on a cluster without internet access: every script, style and icon
they load is served by the API itself, from the package (fastapi-offline ships them)."""

from __future__ import annotations

import re

import httpx
import pytest

from kubetrail.api.app import DOCS_ASSETS

_REFERENCE = re.compile(r"""(?:src|href|url|spec-url)\s*[=:]\s*["']([^"']+)["']""")


def _references(html: str) -> list[str]:
    return _REFERENCE.findall(html)


@pytest.mark.parametrize(
    ("page", "assets"),
    [
        ("/docs", {"swagger-ui.css", "swagger-ui-bundle.js", "favicon.png"}),
        ("/redoc", {"redoc.standalone.js", "favicon.png"}),
    ],
)
def test_the_documentation_pages_load_only_local_assets(
    client: httpx.Client, page: str, assets: set[str]
) -> None:
    r = client.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "://" not in html.replace("window.location.origin", "")  # no CDN, no fonts
    refs = _references(html)
    assert "/openapi.json" in refs
    assert {ref.removeprefix(f"{DOCS_ASSETS}/") for ref in refs if ref != "/openapi.json"} == assets
    for ref in refs:
        served = client.get(ref)
        assert served.status_code == 200, ref
        assert len(served.content) > 100, ref
    script = next(ref for ref in refs if ref.endswith(".js"))
    body = client.get(script)
    assert "javascript" in body.headers["content-type"]
    assert b"SwaggerUIBundle" in body.content or b"Redoc" in body.content


def test_swagger_ui_asks_no_outside_validator(client: httpx.Client) -> None:
    html = client.get("/docs").text
    assert '"validatorUrl": null' in html
