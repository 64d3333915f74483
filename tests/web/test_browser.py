"""The page in a real browser (Debian's Chromium, driven by pytest-playwright).

Strokes are drawn with the mouse, which Chromium turns into pointer events, exactly as a
person's mouse would; uploads go through the page's own file input.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from playwright.sync_api import Page

from mnistlab.cli import main

from .conftest import Server

Point = tuple[float, float]


@pytest.fixture
def opened(page: Page, server: Server) -> tuple[Page, list[str]]:
    """The page, loaded, with every console error and uncaught exception collected."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_viewport_size({"width": 1100, "height": 820})
    page.goto(server.url + "/")
    page.wait_for_function("document.body.dataset.ready === '1'")
    return page, errors


def draw(page: Page, points: list[Point]) -> str:
    """One stroke through `points` (pad coordinates, 0–280); the digit the page shows."""
    box = page.locator("#pad").bounding_box()
    assert box is not None
    at = [(box["x"] + x, box["y"] + y) for x, y in points]
    page.mouse.move(*at[0])
    page.mouse.down()
    for x, y in at[1:]:
        page.mouse.move(x, y, steps=3)
    page.mouse.up()
    return answer(page)


def answer(page: Page) -> str:
    page.wait_for_function("document.body.dataset.state === 'idle'")
    return page.locator("#digit").inner_text()


def bar() -> list[Point]:
    return [(140, 40 + 5 * i) for i in range(41)]


def ring() -> list[Point]:
    return [
        (140 + 70 * math.cos(2 * math.pi * t / 48), 140 + 95 * math.sin(2 * math.pi * t / 48))
        for t in range(50)
    ]


def test_page_loads_and_reads_a_bar_as_1_and_a_ring_as_0(opened, tmp_path) -> None:
    page, errors = opened
    assert "LeNet-5" in page.locator("#model").inner_text()
    assert "test accuracy" in page.locator("#model").inner_text()
    assert page.locator("#digit").inner_text() == "?"

    assert draw(page, bar()) == "1"
    assert page.locator(".bar.top .name").inner_text() == "1"
    page.click("#clear")
    assert page.locator("#digit").inner_text() == "?"

    assert draw(page, ring()) == "0"
    assert page.locator("#maps canvas").count() == 6  # LeNet-5's C1 feature maps
    assert page.locator("#maps-box").is_visible()
    shot = tmp_path / "page.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert errors == []


def test_predictions_update_while_drawing(opened) -> None:
    """Throttled and debounced: the answer follows the stroke before the pen lifts."""
    page, errors = opened
    box = page.locator("#pad").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 140, box["y"] + 40)
    page.mouse.down()  # a tap is a dot, already worth asking about
    page.wait_for_function("Number(document.body.dataset.predictions) >= 1")
    page.mouse.move(box["x"] + 140, box["y"] + 240, steps=10)
    page.wait_for_function("document.getElementById('digit').textContent === '1'")
    asked = int(page.evaluate("document.body.dataset.predictions"))
    page.mouse.up()
    assert answer(page) == "1" and asked >= 2 and errors == []


def test_uploads_show_the_digits_predict_prints(
    opened, capsys, mnist_pngs: list[Path], quick_lenet5: Path
) -> None:
    page, errors = opened
    assert main(["predict", str(quick_lenet5), *map(str, mnist_pngs)]) == 0
    printed = [line.split(": ")[1].split()[0] for line in capsys.readouterr().out.splitlines()]
    shown = []
    for path in mnist_pngs:
        page.set_input_files("#file", str(path))
        shown.append(answer(page))
    assert shown == printed
    assert errors == []


def test_a_bad_upload_shows_the_error_and_the_page_keeps_working(opened, tmp_path) -> None:
    page, errors = opened
    notes = tmp_path / "notes.txt"
    notes.write_text("not a digit")
    page.set_input_files("#file", str(notes))
    assert answer(page) == "?"
    assert "not an image" in page.locator("#error").inner_text()
    assert any("400" in e for e in errors)  # the browser logs the failed request itself
    assert draw(page, bar()) == "1"
    assert page.locator("#error").inner_text() == ""
