"""The web UI in a real browser: Debian's chromium, driven headless by Playwright.

``kubetrail demo`` serves the built-in incident (anchored at now) on a loopback port;
the test opens each page, checks what it shows, clicks from the overview to the
checkout Deployment's page, and fails on any console error or failed request (a
Content-Security-Policy violation is a console error: the CSP holds). Screenshots of each
page are saved under the test's ``tmp_path``.

Needs ``/usr/bin/chromium`` (``apt-get install chromium``; ``.ci/run`` installs it) and
``playwright`` from PyPI (the ``test`` extra); never ``playwright install``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("KUBETRAIL_TEST_CHROMIUM", "/usr/bin/chromium")
#: where the demo listens: KUBETRAIL_TEST_PORTS=18700-18799 moves it off the default
_LOW, _HIGH = os.environ.get("KUBETRAIL_TEST_PORTS", "18600-18699").split("-")
PORTS = range(int(_LOW), int(_HIGH) + 1)

pytestmark = pytest.mark.e2e

if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
    pytest.skip(
        f"no chromium at {CHROMIUM}: install it with `apt-get install chromium` "
        "(Debian; .ci/run does) or set KUBETRAIL_TEST_CHROMIUM to a Chromium binary",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: pip install -e '.[test]'"
)


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``kubetrail demo`` on a free port of :data:`PORTS`: its base URL."""
    work = tmp_path_factory.mktemp("demo")
    port = _free_port()
    log = (work / "demo.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubetrail", "demo", "--port", str(port),
         "--store", f"sqlite:///{work / 'demo.db'}"],
        cwd=work, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"kubetrail demo did not start: {(work / 'demo.log').read_text()}"
                )
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    printed = (work / "demo.log").read_text()
    # the UI's URL comes before the curl lines
    assert f"{base}/ui/" in printed and printed.index(f"{base}/ui/") < printed.index("curl")


@pytest.fixture
def page(demo: str) -> Iterator[tuple[object, list[str]]]:
    problems: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        p = context.new_page()
        p.on(
            "console",
            lambda m: (
                problems.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning")
                else None
            ),
        )
        p.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        p.on("requestfailed", lambda r: problems.append(f"failed: {r.url} {r.failure}"))
        p.on(
            "response",
            lambda r: problems.append(f"{r.status}: {r.url}") if r.status >= 400 else None,
        )
        yield p, problems
        browser.close()


def test_the_pages_in_chromium(demo: str, page: tuple, tmp_path: Path) -> None:
    p, problems = page
    p.goto(f"{demo}/ui/")
    findings = p.locator("#h-findings").locator("xpath=..").inner_text()
    for expected in (
        "ProgressDeadlineExceeded",
        "shop/checkout",
        "OOMKilled",
        "v2.3.O",
        "postgres-data",
        "worker-3",
    ):
        assert expected in findings, expected
    assert p.locator("svg.histogram rect.warnings").count() == 24
    # the stylesheet applied (the CSP allows the package's own files)
    assert p.locator("header.nav").evaluate("e => getComputedStyle(e).position") == "sticky"
    p.screenshot(path=str(tmp_path / "overview.png"), full_page=True)

    # from the overview to the checkout Deployment's page: its diff shows the image change
    p.locator("#h-findings").locator("xpath=..").get_by_role(
        "link", name="Deployment shop/checkout"
    ).first.click()
    p.wait_for_url("**/ui/objects/shop/deployments/checkout")
    diff = p.locator("table.diff", has_text="containers[checkout].image").first
    assert "checkout:1.4.2" in diff.inner_text() and "checkout:1.5.0" in diff.inner_text()
    p.screenshot(path=str(tmp_path / "object.png"), full_page=True)

    # "/" focuses the search box (the package's script runs under the CSP)
    p.keyboard.press("/")
    assert p.evaluate("document.activeElement.name") == "q"
    p.keyboard.type("v2.3.O")
    p.keyboard.press("Enter")
    p.wait_for_url("**/ui/search?**")
    hits = p.locator("table.hits").inner_text()
    assert "payment-api" in hits
    p.screenshot(path=str(tmp_path / "search.png"), full_page=True)

    p.goto(f"{demo}/ui/objects/_/nodes/worker-3")
    assert "NodeNotReady" in p.locator("main").inner_text()
    p.screenshot(path=str(tmp_path / "node.png"), full_page=True)

    assert problems == []
    assert sorted(f.name for f in tmp_path.glob("*.png")) == [
        "node.png", "object.png", "overview.png", "search.png"
    ]  # fmt: skip


def test_the_timeline_in_chromium(demo: str, page: tuple, tmp_path: Path) -> None:
    """The shop namespace's lanes, the checkout Deployment's with its ReplicaSets and
    crash-looping Pods under it; a lane's label and a mark open the object's page."""
    p, problems = page
    p.goto(f"{demo}/ui/")
    p.get_by_role("navigation", name="pages").get_by_role("link", name="Timeline").click()
    p.wait_for_url("**/ui/timeline?**")
    p.goto(p.url + "&namespace=shop")
    lanes = p.locator("li.lane")
    names = [lanes.nth(i).get_attribute("data-lane") for i in range(lanes.count())]
    checkout = names.index("deployments/checkout")
    under = [n for n in names[checkout + 1 : checkout + 12] if n and "checkout-" in n]
    assert under[0].startswith("replicasets/checkout-")
    assert any(n.startswith("pods/checkout-") for n in under)
    assert p.locator("li.lane.depth-2").count() > 0
    # the crash loop is red: a signal mark whose hover title names it
    crash = p.locator("rect.mark-signal", has=p.locator("title", has_text="CrashLoopBackOff"))
    assert crash.count() > 0
    assert p.locator("rect.mark").count() <= len(names) * 100
    # the stylesheet draws the marks (fill from a class, no inline style)
    fill = crash.first.evaluate("e => getComputedStyle(e).fill")
    assert fill not in ("", "none", "rgb(0, 0, 0)"), fill
    p.screenshot(path=str(tmp_path / "timeline.png"), full_page=True)

    # a mark of one version opens the object's page at that version
    one = p.locator("li.lane[data-lane='deployments/checkout'] svg a[href*='#rv-']").first
    href = one.get_attribute("href")
    one.locator("rect").click()
    p.wait_for_url(f"**{href}")
    assert p.locator(".entry:target").count() == 1
    p.go_back()

    p.locator("li.lane[data-lane='deployments/checkout'] a.lane-label").click()
    p.wait_for_url("**/ui/objects/shop/deployments/checkout")
    assert "checkout:1.5.0" in p.locator("main").inner_text()
    assert problems == []
    assert (tmp_path / "timeline.png").stat().st_size > 10_000


def test_the_timeline_by_keyboard(demo: str, page: tuple) -> None:
    """j/k (or the arrows, once a lane has the focus) move between lanes, ←/→ between a
    lane's marks, whose counts the status line shows; Enter opens the object."""
    p, problems = page
    p.goto(f"{demo}/ui/timeline?namespace=shop")
    lanes = p.locator("li.lane")
    names = [lanes.nth(i).get_attribute("data-lane") for i in range(lanes.count())]
    focused = "document.activeElement.closest('li.lane')?.dataset.lane"
    p.keyboard.press("j")  # nothing focused yet: the first lane
    assert p.evaluate(focused) == names[0]
    assert p.evaluate("document.activeElement.classList.contains('lane-label')")
    p.keyboard.press("ArrowDown")
    assert p.evaluate(focused) == names[1]
    p.keyboard.press("k")
    assert p.evaluate(focused) == names[0]
    checkout = names.index("deployments/checkout")
    p.locator("li.lane[data-lane='deployments/checkout'] a.lane-label").focus()
    p.keyboard.press("j")
    assert p.evaluate(focused) == names[checkout + 1]
    p.keyboard.press("ArrowUp")
    assert p.evaluate(focused) == "deployments/checkout"
    # → the lane's first mark, then the next: the status line says what each holds
    p.keyboard.press("ArrowRight")
    assert p.evaluate("document.activeElement instanceof SVGAElement")
    first = p.locator("#tl-status").inner_text()
    assert first.startswith("Deployment checkout · 2026-") and "version" in first, first
    p.keyboard.press("ArrowRight")
    second = p.locator("#tl-status").inner_text()
    assert second != first and second.startswith("Deployment checkout · ")
    href = p.evaluate("document.activeElement.getAttribute('href')")
    assert href.startswith("/ui/objects/shop/deployments/checkout")
    p.keyboard.press("Enter")
    p.wait_for_url(f"**{href}")
    assert "checkout:1.5.0" in p.locator("main").inner_text()
    assert problems == []
