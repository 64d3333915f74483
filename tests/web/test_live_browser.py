"""The training view in Chromium, desktop and phone: start a run from the page, watch it
learn, pause it, change its learning rate, draw on it, reload, stop it, and watch a run
started in a terminal. Waits are generous and on the page's own state, never on speed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from mnistlab.cli import main

from .conftest import TrainingServer
from .test_browser import bar, touch_stroke

pytestmark = pytest.mark.xdist_group("trainings")  # one worker: one training at a time

SIZES = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True},
}
SLOW = 120_000  # ms: the machine is shared


def opened(browser: Browser, server: TrainingServer, size: str, errors: list[str]) -> Page:
    page = browser.new_context(**SIZES[size]).new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.url + "/live")
    page.wait_for_function("document.body.dataset.ready === '1'", timeout=SLOW)
    return page


def wait_status(page: Page, *statuses: str) -> None:
    page.wait_for_function(f"{list(statuses)}.includes(document.body.dataset.status)", timeout=SLOW)


def step(page: Page) -> int:
    return int(page.evaluate("document.body.dataset.step || '0'"))


@pytest.mark.parametrize("size", list(SIZES))
def test_start_watch_steer_reload_and_stop_from_the_page(
    browser: Browser, training_server: TrainingServer, size: str, tmp_path: Path, mnist_dir
) -> None:
    server, errors = training_server, []
    page = opened(browser, server, size, errors)
    name = f"page-{size}"
    page.click("#new-run summary")
    form = page.locator("#start")
    form.locator("[name=name]").fill(name)
    form.locator("[name=model]").select_option("mlp")
    form.locator("[name=hidden]").fill("32")
    form.locator("[name=epochs]").fill("100")
    form.locator("[name=limit_train]").fill("10000")
    form.locator("button[type=submit]").click()
    wait_status(page, "running")
    started = time.monotonic()
    page.wait_for_function("Number(document.body.dataset.lossPoints) >= 10", timeout=30_000)
    assert time.monotonic() - started < 30

    page.wait_for_function("document.body.dataset.snapshotStep !== undefined", timeout=SLOW)
    weights = page.locator("#weights")
    before = weights.screenshot()
    time.sleep(3)
    after = weights.screenshot(path=str(tmp_path / f"weights-{size}.png"))
    assert before != after  # the first layer changes as it learns
    page.screenshot(path=str(tmp_path / f"live-{size}.png"), full_page=True)
    assert page.locator("#panel figure").count() == 32
    assert page.locator("#layers .layer").count() >= 3

    page.click("#pause")
    wait_status(page, "paused")
    paused_at = step(page)
    time.sleep(3)
    assert step(page) == paused_at  # the counter stands still
    assert page.locator("#pause").inner_text() == "Resume"

    page.fill("#lr", "0.003")
    page.click("#set-lr")
    deadline = time.monotonic() + 60
    while not any(e["event"] == "lr" for e in server.events(name)):
        assert time.monotonic() < deadline, "the learning-rate change never reached the log"
        time.sleep(0.1)
    change = next(e for e in server.events(name) if e["event"] == "lr")
    assert change["lr"] == 0.003 and change["step"] == paused_at
    history = json.loads((server.root / name / "history.json").read_text())
    assert history["config"]["train"]["lr_changes"] == [[paused_at, 0.003]]
    page.click("#pause")
    wait_status(page, "running")
    page.wait_for_function(f"Number(document.body.dataset.step) > {paused_at}", timeout=SLOW)

    page.locator("#pad").scroll_into_view_if_needed()
    if size == "phone":
        touch_stroke(page, bar())  # a finger, as the touchscreen sends it
    else:
        box = page.locator("#pad").bounding_box()
        assert box is not None
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 20)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] - 20, steps=8)
        page.mouse.up()
    page.wait_for_function("Number(document.body.dataset.padReads || 0) >= 1", timeout=SLOW)
    assert page.locator("#digit").inner_text() in [str(d) for d in range(10)]

    points = int(page.evaluate("document.body.dataset.lossPoints"))
    page.reload()  # reattaches to the run that is training
    page.wait_for_function("document.body.dataset.ready === '1'", timeout=SLOW)
    wait_status(page, "running")
    page.wait_for_function(f"Number(document.body.dataset.lossPoints) > {points}", timeout=SLOW)
    assert page.locator("#run-name").inner_text() == name

    page.click("#stop")
    wait_status(page, "stopped")
    assert "stop request" in page.locator("#reason").inner_text()
    model = server.root / name / "model.safetensors"
    assert main(["evaluate", str(model), "--data-dir", str(mnist_dir)]) == 0
    assert errors == []


def test_a_run_from_the_terminal_is_listed_and_streams(
    browser: Browser, training_server: TrainingServer, mnist_dir: Path
) -> None:
    server, errors = training_server, []
    page = opened(browser, server, "desktop", errors)
    out = server.root / "terminal"
    argv = ["train", "--out", str(out), "--hidden", "32", "--limit-train", "3000"]
    argv += ["--epochs", "100", "--data-dir", str(mnist_dir)]
    process = subprocess.Popen([sys.executable, "-m", "mnistlab", *argv])
    try:
        item = page.locator("#runs li[data-name=terminal]")
        item.wait_for(timeout=SLOW)  # the list refreshes by itself
        item.click()
        wait_status(page, "running")
        page.wait_for_function("Number(document.body.dataset.lossPoints) >= 10", timeout=SLOW)
        first = step(page)
        page.wait_for_function(f"Number(document.body.dataset.step) > {first}", timeout=SLOW)
        page.click("#stop")  # a terminal's run is steered the same way
        wait_status(page, "stopped")
    finally:
        process.wait(timeout=120)
    assert process.returncode == 130
    assert errors == []
