"""The pages on the built-in incident: what the overview, an object's page and search show."""

from __future__ import annotations

import re
from html import unescape

from fastapi.testclient import TestClient

from tests.ui.conftest import RANGE


def text(html: str) -> str:
    """The page's text, tags dropped and entities decoded, whitespace collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def links(html: str) -> list[str]:
    return [unescape(h) for h in re.findall(r'href="([^"]+)"', html)]


def section(html: str, heading_id: str) -> str:
    start = html.index(f'id="{heading_id}"')
    end = html.find("<section", start)
    return html[start : end if end != -1 else None]


def test_overview_lists_the_incident(client: TestClient) -> None:
    r = client.get("/ui/", params=RANGE)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    findings = section(r.text, "h-findings")
    shown = text(findings)
    # the crash-looping checkout rollout, the OOMKilled pod, the image tag typo, the
    # pending PVC, the NotReady node
    assert "ProgressDeadlineExceeded Deployment shop/checkout" in shown
    assert re.search(r"CrashLoopBackOff Pod shop/checkout-\S+", shown)
    assert re.search(r"OOMKilled Pod data/etl-worker-\S+ container etl-worker was OOMKilled", shown)
    assert re.search(r"ImagePullBackOff Pod payments/payment-api-\S+ .*v2\.3\.O", shown)
    assert "Pending PersistentVolumeClaim data/postgres-data" in shown
    assert "NodeNotReady Node worker-3" in shown
    # each finding links to its object's page
    hrefs = links(findings)
    for url in (
        "/ui/objects/shop/deployments/checkout",
        "/ui/objects/data/persistentvolumeclaims/postgres-data",
        "/ui/objects/_/nodes/worker-3",
    ):
        assert url in hrefs
    # by severity: the NotReady node is critical, the pending PVC a warning
    critical = findings[findings.index(">critical") : findings.index(">warning")]
    assert "worker-3" in critical and "Pending" not in text(critical)


def test_overview_lists_recent_changes_with_who_and_what(client: TestClient) -> None:
    changes = text(section(client.get("/ui/", params=RANGE).text, "h-changes"))
    assert re.search(
        r"helm update Deployment shop/checkout "
        r"spec\.template\.spec\.containers\[checkout\]\.image: \S+:1\.4\.2 → \S+:1\.5\.0",
        changes,
    )
    assert re.search(
        r"argocd-controller update Deployment payments/payment-api .*v2\.3\.O", changes
    )
    assert "ConfigMap shop/checkout-config" in changes and "data.DATABASE_URL" in changes


def test_overview_histogram_is_inline_svg_counted_by_the_store(client: TestClient) -> None:
    html = client.get("/ui/", params=RANGE).text
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert svg.count('class="changes"') == 24 and svg.count('class="warnings"') == 24
    # every bar's hover title says its counts; the warnings add up to the legend's total
    warnings = [int(n) for n in re.findall(r"(\d+) Warning Events</title>", svg)]
    legend = re.search(r"(\d+) Warning Events · highest bar", text(html))
    assert legend and sum(warnings) == int(legend.group(1)) > 0


def test_the_checkout_deployment_page_shows_the_image_change(client: TestClient) -> None:
    r = client.get("/ui/objects/shop/deployments/checkout")
    assert r.status_code == 200
    shown = text(r.text)
    assert "Deployment shop/checkout 12 versions stored" in shown
    assert re.search(
        r"update via helm rv \d+ .*spec\.template\.spec\.containers\[checkout\]\.image "
        r"registry\.example\.com/shop/checkout:1\.4\.2 → registry\.example\.com/shop/checkout:1\.5\.0",
        shown,
    )
    # newest first, with the Events about it interleaved
    times = re.findall(r'<span class="time">([^<]+)</span>', r.text)
    assert times == sorted(times, reverse=True) and len(times) > 3
    assert "ProgressDeadlineExceeded" in shown or "ScalingReplicaSet" in shown
    assert 'class="entry event' in r.text


def test_a_cluster_scoped_object_page(client: TestClient) -> None:
    r = client.get("/ui/objects/_/nodes/worker-3")
    assert r.status_code == 200
    shown = text(r.text)
    assert "Node worker-3" in shown and "NodeNotReady" in shown


def test_search_finds_the_image_typo_and_links_each_hit(client: TestClient) -> None:
    r = client.get("/ui/search", params={**RANGE, "q": "v2.3.O"})
    assert r.status_code == 200
    table = r.text[r.text.index('<table class="hits"') : r.text.index("</table>")]
    assert "payment-api:v2.3.O" in unescape(table)
    hrefs = links(table)
    assert hrefs and all(h.startswith("/ui/objects/payments/") for h in hrefs)
    assert any(
        re.fullmatch(r"/ui/objects/payments/pods/payment-api-[\w-]+#rv-\d+", h) for h in hrefs
    )


def test_search_pages_with_the_api_cursors(client: TestClient) -> None:
    first = client.get("/ui/search", params={**RANGE, "namespace": "shop"})
    nxt = re.search(r'<a rel="next" href="([^"]+)"', first.text)
    assert nxt, "a page of 50 with more to follow links to the next"
    second = client.get(unescape(nxt.group(1)))
    assert second.status_code == 200 and "first page" in second.text
    rows = lambda html: re.findall(r'<td class="time">([^<]+)</td>', html)  # noqa: E731
    assert len(rows(first.text)) == 50 and rows(second.text)
    assert rows(second.text)[0] <= rows(first.text)[-1]  # newest first, no overlap back
    assert "namespace=shop" in unescape(nxt.group(1)) and "from=" in unescape(nxt.group(1))


def test_search_filters(client: TestClient) -> None:
    r = client.get("/ui/search", params={**RANGE, "signal": "pod.lastTerminated:OOMKilled"})
    names = {n for n in re.findall(r"Pod data/(etl-worker-[\w-]+)", text(r.text))}
    assert names and all(n.startswith("etl-worker-") for n in names)
    empty = client.get("/ui/search", params=RANGE)
    assert empty.status_code == 200 and "Give words to search for" in empty.text


def test_the_range_stays_in_the_links(client: TestClient) -> None:
    html = client.get("/ui/", params={"since": "24h"}).text
    nav = html[html.index('<nav aria-label="pages">') : html.index("</nav>")]
    assert all("since=24h" in h for h in links(nav))
    assert "last 24h" in text(html)
