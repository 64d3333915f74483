"""The tiny report's report.html in a real browser (Debian's Chromium, driven by Playwright),
with the network blocked: what a reader sees, not what the HTML says."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnistlab.experiments import report

pytestmark = pytest.mark.xdist_group("tiny_report")

IMAGES = "els => els.map(e => ({src: e.src.slice(0, 22), ok: e.complete && e.naturalWidth > 0}))"
TABLES = """ts => ts.map(t => ({head: t.querySelectorAll('thead th').length,
    rows: t.querySelectorAll('tbody tr').length}))"""
RIGHT = """tds => tds.filter(td => /^[\\d,.]+%$/.test(td.textContent.trim()))
    .map(td => getComputedStyle(td).textAlign)"""
LANDED = """id => { const top = document.getElementById(id).getBoundingClientRect().top;
    const bottom = window.scrollY + window.innerHeight >= document.body.scrollHeight - 2;
    return Math.abs(top) < 2 || (bottom && top >= 0); }"""


def test_report_in_chromium(
    tiny_report: dict, tmp_path: Path, browser_type_launch_args: dict
) -> None:
    from playwright.sync_api import sync_playwright

    url = (tiny_report["out"] / report.REPORT_HTML).resolve().as_uri()
    errors: list[str] = []
    requests: list[str] = []
    blocked: list[str] = []

    def only_local(route) -> None:
        if route.request.url.startswith(("file:", "data:")):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(**browser_type_launch_args)  # Debian's (conftest)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.route("**/*", only_local)
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(url, wait_until="load")

            images = page.eval_on_selector_all("img", IMAGES)
            tables = page.eval_on_selector_all("table", TABLES)
            aligned = page.eval_on_selector_all("td", RIGHT)
            links = page.eval_on_selector_all("main > ul a", "as => as.map(a => a.hash)")
            for hash_ in links:
                page.click(f'a[href="{hash_}"]')
                assert page.evaluate("location.hash") == hash_
                assert page.evaluate(LANDED, hash_[1:]), f"{hash_}: heading not scrolled to"
            page.evaluate("window.scrollTo(0, 0)")
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()

    assert errors == [] and blocked == []
    assert all(r.startswith(("file:", "data:")) for r in requests), requests
    assert len(images) >= 14 and all(i["ok"] for i in images), images
    assert all(i["src"] == "data:image/png;base64," for i in images)
    assert len(tables) >= 8 and all(t["head"] > 0 and t["rows"] > 0 for t in tables), tables
    assert aligned and set(aligned) == {"right"}
    assert len(links) == len(report.SECTIONS)
    from PIL import Image

    with Image.open(shot) as im:
        assert im.size[0] >= 1200 and im.size[1] > 10 * 900  # the whole page, not the window
