"""The timeline on the built-in incident: lanes grouped by owner, marks counted per
bucket by the store, filters, the lane cap, zoom and pan."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from kubetrail.diagnostics import TimeRange
from kubetrail.store.base import AggregateQuery, AggregateResult, Store
from kubetrail.ui import timeline
from tests.ui.conftest import RANGE
from tests.ui.test_pages import links, text

SHOP = {**RANGE, "namespace": "shop"}


def lanes(html: str) -> list[tuple[str, int]]:
    """``(resourceType/name, depth)`` of each lane, top to bottom."""
    return [
        (name, int(depth))
        for depth, name in re.findall(r'<li class="lane depth-(\d)" data-lane="([^"]+)"', html)
    ]


def lane_html(html: str, lane: str) -> str:
    start = html.index(f'data-lane="{lane}"')
    return html[start : html.index("</li>", start)]


def marks_data(html: str) -> dict:
    """The page's JSON data block of marks (what ``static/timeline.js`` draws)."""
    found = re.findall(r'<script type="application/json" id="tl-marks">([^<]*)</script>', html)
    assert len(found) == 1
    data: dict = json.loads(found[0])
    return data


def lane_marks(html: str, lane: str) -> list[tuple[str, str, str, float]]:
    """``(href, kind, title, x)`` of each mark of a lane (``resourceType/name``), as the
    page's script draws them: a link to the lane's object, at ``#rv-`` a version."""
    index = int(re.findall(r'data-lane-index="(\d+)"', lane_html(html, lane))[0])
    data = marks_data(html)
    row = data["lanes"][index]
    assert row["url"].endswith("/" + "/".join(quote(p, safe="") for p in lane.split("/")))
    out = []
    for bucket, kind, said, *version in row["marks"]:
        x, _, label = data["buckets"][bucket]
        href = row["url"] + (f"#rv-{version[0]}" if version else "")
        out.append((href, data["kinds"][kind], f"{label}: {data['texts'][said]}", x))
    return out


def marks(html: str, lane: str) -> list[tuple[str, str, str]]:
    """``(href, kind, title)`` of each mark of a lane."""
    return [(href, kind, title) for href, kind, title, _ in lane_marks(html, lane)]


def test_shop_timeline_groups_checkout_by_owner(client: TestClient) -> None:
    r = client.get("/ui/timeline", params=SHOP)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    shown = lanes(r.text)
    names = [n for n, _ in shown]
    assert all(not n.startswith("events/") for n in names)  # Events are marks, not lanes
    # the Deployment, then each of its ReplicaSets followed by that ReplicaSet's Pods
    start = names.index("deployments/checkout")
    group = []
    for name, depth in shown[start + 1 :]:
        if depth == 0:
            break
        group.append((name, depth))
    assert shown[start][1] == 0
    replicasets = [n for n, d in group if d == 1]
    assert replicasets and all(n.startswith("replicasets/checkout-") for n in replicasets)
    pods = [n for n, d in group if d == 2]
    assert len(pods) >= 3 and all(n.startswith("pods/checkout-") for n in pods)
    for i, (name, depth) in enumerate(group):
        if depth == 2:  # a pod sits under the ReplicaSet its name starts with
            owner = next(n for n, d in reversed(group[:i]) if d == 1)
            assert name.removeprefix("pods/").startswith(owner.removeprefix("replicasets/"))
    assert replicasets == sorted(replicasets)


def test_marks_show_the_rollout_and_the_crash_loop(client: TestClient) -> None:
    html = client.get("/ui/timeline", params=SHOP).text
    deploy = marks(html, "deployments/checkout")
    # the rollout (09:10, by helm): changed versions of the Deployment
    assert any(k == "changed" and "T09:10:00Z" in t and "changed" in t for _, k, t in deploy)
    assert any("ProgressDeadlineExceeded" in t and k == "signal" for _, k, t in deploy), (
        "the stuck rollout is a signal mark"
    )
    crash = []
    for name, _ in lanes(html):
        if name.startswith("pods/checkout-"):
            crash += [
                (h, k, t) for h, k, t in marks(html, name) if "pod.waiting:CrashLoopBackOff" in t
            ]
    assert crash and all(k == "signal" for _, k, _ in crash)
    assert any("Warning Event" in t for _, _, t in crash)  # the BackOff Events, as marks
    # a mark links to the object's page; one version: at that version
    for href, _, title in deploy:
        assert href.startswith("/ui/objects/shop/deployments/checkout")
        if ": 1 version (" in title and "Warning" not in title:
            assert re.fullmatch(r"/ui/objects/shop/deployments/checkout#rv-\d+", href)
    assert any("#rv-" in h for h, _, _ in deploy)
    # a lane's label links to the object's page
    assert "/ui/objects/shop/deployments/checkout" in links(lane_html(html, "deployments/checkout"))


def test_marks_are_at_most_one_per_lane_and_bucket(client: TestClient) -> None:
    for params in (SHOP, RANGE, {**RANGE, "from": "2026-11-25T09:00:00Z"}):
        html = client.get("/ui/timeline", params=params).text
        n_lanes = len(lanes(html))
        legend = re.search(r"one mark per (\w+) bucket \((\d+) across\)", text(html))
        assert legend and 60 <= int(legend.group(2)) <= timeline.MAX_BUCKETS
        data = marks_data(html)
        assert len(data["lanes"]) == n_lanes and len(data["buckets"]) == int(legend.group(2))
        n_marks = sum(len(lane["marks"]) for lane in data["lanes"])
        assert 0 < n_marks <= n_lanes * int(legend.group(2))
        for lane in lanes(html):  # and no two marks of a lane in one bucket
            xs = [x for *_, x in lane_marks(html, lane[0])]
            assert len(xs) == len(set(xs))
    # the 6 h of the incident in 5 minute buckets
    assert "one mark per 5m bucket (72 across)" in text(
        client.get("/ui/timeline", params=SHOP).text
    )


def test_the_store_counts_the_marks(client: TestClient, sqlite_incident: Store) -> None:
    """A page asks five to eight aggregations (lanes, from one to four tail windows;
    their owners; then versions, signals and Warning Events split by time into the
    buckets), whatever the number of events or buckets, and never reads raw events."""
    asked: list[AggregateQuery] = []

    class Counting:
        def aggregate(self, query: AggregateQuery) -> AggregateResult:
            asked.append(query)
            return sqlite_incident.aggregate(query)

        def search(self, query: object) -> None:
            raise AssertionError("the timeline reads no raw events")

    rng = TimeRange(
        start=datetime(2026, 11, 25, 6, tzinfo=UTC), end=datetime(2026, 11, 25, 12, tzinfo=UTC)
    )
    view = timeline.timeline(Counting(), rng, {"namespace": "shop"})  # type: ignore[arg-type]
    choosing = [q for q in asked if "kind" in q.group_by]
    assert 1 <= len(choosing) <= len(timeline.LANE_WINDOWS)
    assert view.buckets == 72 and view.queries == len(asked) == len(choosing) + 4
    assert [q.every for q in asked if q.every] == [timedelta(minutes=5)] * 3
    assert all(q.limit <= timeline.LANE_SCAN for q in asked)
    assert view.marks <= view.lanes * view.buckets
    # the lanes are looked for in the range's tail first, then wider: the last, whole
    starts = [q.filter.start for q in choosing]
    assert starts == sorted(starts, reverse=True) and starts[0] > rng.start
    assert all(q.filter.end == rng.end for q in choosing)
    # the Warning Events are asked by the namespaces of the lanes (their index)
    warnings = next(q for q in asked if q.filter.event_type == ("Warning",))
    assert warnings.filter.involved_namespace == ("shop",)


@pytest.mark.parametrize("cap", [1, 5, 20, 200])
@pytest.mark.parametrize("scope", [{}, {"namespace": "shop"}, {"kind": "Pod"}, {"name": "o"}])
def test_the_lanes_are_those_one_aggregation_of_the_range_picks(
    sqlite_incident: Store, cap: int, scope: dict[str, str]
) -> None:
    """Looking in the range's tail first picks the same lanes as one aggregation of
    every object changed in the range, most recently changed first."""
    rng = TimeRange(
        start=datetime(2026, 11, 25, 6, tzinfo=UTC), end=datetime(2026, 11, 25, 12, tzinfo=UTC)
    )
    values = timeline.filters(scope)
    whole = sqlite_incident.aggregate(
        AggregateQuery(
            filter=timeline.lane_filter(rng, values),
            group_by=("namespace", "resourceType", "resourceName", "kind"),
            order="last",
            limit=timeline.LANE_SCAN,
            latest=False,
        )
    )
    expected = [
        (b.key["namespace"], b.key["resourceType"], b.key["resourceName"])
        for b in whole.buckets
        if b.key["resourceType"] != "events" and values["name"] in b.key["resourceName"]
    ]
    view = timeline.timeline(sqlite_incident, rng, scope, lane_cap=cap)
    shown = {
        (lane.namespace, lane.resource_type, lane.name) for g in view.groups for lane in g.lanes
    }
    assert shown == set(expected[:cap]) and view.lanes == min(cap, len(expected))
    # what is left out: exact when the whole range was read, else at least one
    if view.left_out_at_least:
        assert 1 <= view.left_out <= len(expected) - cap
    else:
        assert view.left_out == max(0, len(expected) - cap)


def test_events_about_cluster_scoped_objects_are_asked_in_default_too() -> None:
    lane = timeline.Lane(namespace="", resource_type="nodes", name="n", kind="Node", url="")
    pod = timeline.Lane(namespace="shop", resource_type="pods", name="p", kind="Pod", url="")
    both = {("", "nodes", "n"): lane, ("shop", "pods", "p"): pod}
    assert timeline.involved_namespaces(both) == ("", "default", "shop")
    assert timeline.involved_namespaces({("shop", "pods", "p"): pod}) == ("shop",)


def test_filters_narrow_the_lanes(client: TestClient) -> None:
    every = lanes(client.get("/ui/timeline", params=RANGE).text)
    shop = lanes(client.get("/ui/timeline", params=SHOP).text)
    assert len(shop) < len(every) and {n for n, _ in shop} < {n for n, _ in every}
    deployments = lanes(client.get("/ui/timeline", params={**RANGE, "kind": "Deployment"}).text)
    assert deployments and all(n.startswith("deployments/") for n, _ in deployments)
    pods = lanes(client.get("/ui/timeline", params={**SHOP, "resourceType": "pods"}).text)
    assert pods and all(n.startswith("pods/") for n, _ in pods)
    # name: a substring of the object's name
    named = lanes(client.get("/ui/timeline", params={**SHOP, "name": "kout-rzh"}).text)
    assert named and all("kout-rzh" in n for n, _ in named)
    crashing = lanes(
        client.get("/ui/timeline", params={**RANGE, "signal": "pod.waiting:CrashLoopBackOff"}).text
    )
    assert crashing and all(n.startswith("pods/") for n, _ in crashing)
    assert any(n.startswith("pods/checkout-") for n, _ in crashing)
    typo = lanes(client.get("/ui/timeline", params={**RANGE, "q": "v2.3.O"}).text)
    assert typo and all("payment-api" in n for n, _ in typo)
    nodes = lanes(client.get("/ui/timeline", params={**RANGE, "namespace": "_"}).text)
    assert "nodes/worker-3" in {n for n, _ in nodes}
    none = client.get("/ui/timeline", params={**RANGE, "name": "no-such-thing"})
    assert none.status_code == 200 and "matching these filters" in text(none.text)


def test_the_filters_and_range_stay_in_the_links(client: TestClient) -> None:
    html = client.get("/ui/timeline", params={**SHOP, "kind": "Pod"}).text
    moves = html[html.index('<p class="moves">') : html.index("</p>", html.index('class="moves"'))]
    hrefs = links(moves)
    assert len(hrefs) == 4 and all("namespace=shop" in h and "kind=Pod" in h for h in hrefs)
    got = [re.findall(r"(from|to)=([^&]+)", h) for h in hrefs]
    ranges = [tuple(v.replace("%3A", ":") for _, v in pairs) for pairs in got]
    # earlier, zoom in, zoom out, later: around the incident's 06:00-12:00
    assert ranges == [
        ("2026-11-25T03:00:00Z", "2026-11-25T09:00:00Z"),
        ("2026-11-25T07:30:00Z", "2026-11-25T10:30:00Z"),
        ("2026-11-25T03:00:00Z", "2026-11-25T15:00:00Z"),
        ("2026-11-25T09:00:00Z", "2026-11-25T15:00:00Z"),
    ]
    # the nav bar and the overview link here
    nav = html[html.index('<nav aria-label="pages">') : html.index("</nav>")]
    assert any(h.startswith("/ui/timeline?") for h in links(nav))
    overview = client.get("/ui/", params=RANGE).text
    assert any(
        h.startswith("/ui/timeline?") and "namespace=shop" in h and "from=" in h
        for h in links(overview)
    )


def test_zooming_in_keeps_a_minimum_range() -> None:
    start = datetime(2026, 11, 25, 9, tzinfo=UTC)
    moves = timeline.navigation(TimeRange(start=start, end=start + timedelta(minutes=2)))
    zoomed = moves["zoom in"]
    assert zoomed == {"from": "2026-11-25T08:58:30Z", "to": "2026-11-25T09:03:30Z"}


def test_the_lane_cap_says_what_it_left_out(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = lanes(client.get("/ui/timeline", params=SHOP).text)
    monkeypatch.setattr(timeline, "LANE_CAP", 5)
    r = client.get("/ui/timeline", params=SHOP)
    assert r.status_code == 200
    capped = lanes(r.text)
    assert len(capped) == 5 < len(full)
    note = re.search(r"(\d+)(\+?) more objects matched and are left out", text(r.text))
    # found in the range's tail: at least that many more (exactly, had it read it all)
    assert note and 1 <= int(note.group(1)) <= len(full) - 5
    assert note.group(2) == "+" or int(note.group(1)) == len(full) - 5
    assert "Narrow them with namespace, kind, resourceType, name or signal" in text(r.text)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"namespace": "Shop!"}, "namespace 'Shop!' is not valid"),
        ({"kind": "Pod/x"}, "kind 'Pod/x' is not valid"),
        ({"resourceType": "Pods"}, "resourceType 'Pods' is not valid"),
        ({"name": "x" * 300}, "name must be at most 253 characters"),
        ({"since": "soon"}, "since 'soon' is not a duration"),
        ({"from": "2026-11-25T12:00:00Z", "to": "2026-11-25T06:00:00Z"}, "before"),
        ({"from": "2026-10-01T00:00:00Z", "to": "2026-11-25T00:00:00Z"}, "longer than 31 days"),
    ],
)
def test_a_bad_filter_or_range_is_a_400_page(
    client: TestClient, params: dict, message: str
) -> None:
    r = client.get("/ui/timeline", params=params)
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/html")
    shown = re.findall(r'<p class="error" role="alert">([^<]*)</p>', r.text)
    assert len(shown) == 1 and message in shown[0].replace("&#39;", "'")


def test_bucket_widths_follow_the_range() -> None:
    start = datetime(2026, 11, 25, tzinfo=UTC)
    for span, step, n in (
        (timedelta(hours=1), "1m", 60),
        (timedelta(hours=6), "5m", 72),
        (timedelta(hours=24), "15m", 96),
        (timedelta(days=7), "2h", 84),
        (timedelta(days=31), "12h", 62),
    ):
        rng = TimeRange(start=start, end=start + span)
        assert timeline.step_label(timeline.bucket_step(rng)) == step
        buckets = timeline.buckets_of(rng)
        assert len(buckets) == n and buckets[0].start == start and buckets[-1].end == rng.end
