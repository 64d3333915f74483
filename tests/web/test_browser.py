"""The page in a real browser (Debian's Chromium, driven by pytest-playwright).

Strokes are drawn with the mouse, which Chromium turns into pointer events, exactly as a
person's mouse would; uploads go through the page's own file input.
"""

from __future__ import annotations

import json
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


# The page's own numbers: each bar's fill as a percentage of its track, and its label.
BARS = """rows => rows.map(r => ({
    name: r.querySelector('.name').textContent,
    pct: r.querySelector('.pct').textContent,
    filled: 100 * r.querySelector('.fill').getBoundingClientRect().width
            / r.querySelector('.track').getBoundingClientRect().width }))"""
SETTLED = "document.getAnimations().every(a => a.playState === 'finished')"


def shown_bars(page: Page) -> list[dict]:
    page.wait_for_function(SETTLED)  # the fills grow with a short transition
    return page.eval_on_selector_all("#bars .bar", BARS)


def show(page: Page, probabilities: list[float]) -> None:
    """Render an answer with these probabilities, as if the server had sent it."""
    digit = max(range(10), key=probabilities.__getitem__)
    blank = [[0.0] * 28 for _ in range(28)]
    page.evaluate(
        "a => render(a)",
        {"digit": digit, "label": str(digit), "probabilities": probabilities, "input": blank},
    )


@pytest.mark.parametrize(
    "probabilities",
    [
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0],
        [0.02, 0.0, 0.3, 0.0, 0.0, 0.0, 0.0, 0.55, 0.13, 0.0],
        [0.1] * 10,
    ],
)
def test_each_bar_fills_to_its_probability(opened, probabilities: list[float]) -> None:
    page, errors = opened
    show(page, probabilities)
    bars = shown_bars(page)
    assert [b["name"] for b in bars] == [str(d) for d in range(10)]
    for bar, p in zip(bars, probabilities, strict=True):
        assert bar["filled"] == pytest.approx(100 * p, abs=0.6), bar  # under a pixel
        assert float(bar["pct"].rstrip("%")) == pytest.approx(100 * p, abs=0.05), bar
    assert errors == []


def test_drawn_digit_bars_fill_to_the_numbers_beside_them(opened) -> None:
    page, errors = opened
    assert draw(page, ring()) == "0"
    bars = shown_bars(page)
    for bar in bars:
        assert bar["filled"] == pytest.approx(float(bar["pct"].rstrip("%")), abs=0.6), bar
    assert sum(b["filled"] for b in bars) == pytest.approx(100, abs=1.5)
    assert max(bars, key=lambda b: b["filled"])["name"] == "0"
    assert errors == []


def test_runner_up_only_when_it_shows_more_than_0_percent(opened) -> None:
    page, _ = opened
    runner = page.locator("#runner")
    show(page, [0.0, 0.0, 0.0004, 0.0, 0.0, 0.0, 0.0, 0.9996, 0.0, 0.0])
    assert page.locator("#confidence").inner_text() == "100% sure"
    assert runner.inner_text() == ""
    show(page, [0.0, 0.0, 0.003, 0.0, 0.0, 0.0, 0.0, 0.997, 0.0, 0.0])
    assert runner.inner_text() == "runner-up 2 (0.3%)"
    show(page, [0.0, 0.0, 0.0005, 0.0, 0.0, 0.0, 0.0, 0.9995, 0.0, 0.0])
    assert runner.inner_text() == "runner-up 2 (0.1%)"  # 0.05% shows as 0.1%, not 0%


def test_the_model_line_shows_the_test_accuracy_evaluate_measures(
    opened, capsys, quick_lenet5: Path
) -> None:
    """The oracle is `mnistlab evaluate`, which scores the model on the test set itself."""
    page, _ = opened
    assert main(["evaluate", str(quick_lenet5), "--json"]) == 0
    test_acc = json.loads(capsys.readouterr().out)["test_acc"]
    history = json.loads((quick_lenet5.parent / "history.json").read_text())
    assert round(history["best"]["val_acc"], 4) != round(test_acc, 4)  # else this bites nothing
    line = page.locator("#model").inner_text()
    assert f"test accuracy {100 * test_acc:.2f}%" in line, line


PHONE = {"width": 390, "height": 844}


def touch_stroke(page: Page, points: list[Point]) -> None:
    """One finger stroke through `points` (pad coordinates, 0–280, scaled to the pad's size),
    sent as the touchscreen's own events: Chromium turns them into pointer events."""
    box = page.locator("#pad").bounding_box()
    assert box is not None
    scale = box["width"] / 280
    at = [{"x": box["x"] + x * scale, "y": box["y"] + y * scale} for x, y in points]
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [at[0]]})
    for p in at[1:]:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [p]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def test_on_a_phone_the_answer_shows_above_a_centred_full_width_pad(
    browser, server: Server, tmp_path
) -> None:
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=3, is_mobile=True, has_touch=True
    )
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(server.url + "/")
        page.wait_for_function("document.body.dataset.ready === '1'")
        touch_stroke(page, bar())
        assert answer(page) == "1"
        page.screenshot(path=str(tmp_path / "phone.png"))
        geometry = page.evaluate(
            """() => {
            const box = id => document.getElementById(id).getBoundingClientRect();
            return {pad: box('pad'), digit: box('digit'), runner: box('runner'),
                    scrollY: window.scrollY, wide: document.documentElement.scrollWidth};
        }"""
        )
    finally:
        context.close()
    pad, digit = geometry["pad"], geometry["digit"]
    assert geometry["scrollY"] == 0 and geometry["wide"] <= PHONE["width"]  # nothing scrolled
    assert digit["top"] >= 0 and digit["bottom"] <= pad["top"]  # the answer above the pad...
    assert geometry["runner"]["bottom"] <= PHONE["height"]  # ...in view with its runner-up
    assert pad["bottom"] <= PHONE["height"]  # the whole pad in view too
    assert abs(pad["left"] - (PHONE["width"] - pad["right"])) <= 1  # centred
    assert pad["width"] >= PHONE["width"] - 50  # as wide as the screen allows
    assert errors == []


def test_api_docs_work_offline(browser, server: Server) -> None:
    """/docs (Swagger UI) renders with every request to anywhere but the server refused:
    its script and style come from the installed package, not a CDN."""
    context = browser.new_context()
    elsewhere: list[str] = []

    def only_the_server(route) -> None:
        if route.request.url.startswith(server.url + "/"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    try:
        context.route("**/*", only_the_server)
        page = context.new_page()
        page.goto(server.url + "/docs")
        swagger = page.locator(".swagger-ui .opblock-summary-path", has_text="/api/predict")
        swagger.first.wait_for(timeout=20_000)
        assert page.locator(".swagger-ui .opblock").count() >= 3  # predict, model, healthz
    finally:
        context.close()
    assert elsewhere == []
