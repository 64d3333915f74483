"""A real `mnistlab serve` process for the web tests, and Debian's Chromium for the page."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from mnistlab.data.mnist import load_splits


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return httpx.get(self.url + path, timeout=30, **kwargs)  # type: ignore[arg-type]

    def post(self, path: str, **kwargs: object) -> httpx.Response:
        return httpx.post(self.url + path, timeout=30, **kwargs)  # type: ignore[arg-type]

    def alive(self) -> bool:
        return self.process.poll() is None and self.get("/healthz").json() == {"status": "ok"}


def start_server(*argv: str) -> tuple[subprocess.Popen[str], str]:
    """`mnistlab serve ARGV`; returns the process and the first line it printed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mnistlab", "serve", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    return process, process.stdout.readline()


@pytest.fixture(scope="session")
def server(quick_lenet5: Path) -> Iterator[Server]:
    """The page and API on a free port (`--port 0`: the server picks it and prints it)."""
    process, url = serve_until_healthy([str(quick_lenet5), "--port", "0"])
    yield Server(url, process)
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def mnist_pngs(tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path) -> list[Path]:
    """The first 20 MNIST test digits as dark-on-white 140×140 PNG files."""
    out = tmp_path_factory.mktemp("mnist-pngs")
    test = load_splits("mnist", mnist_dir).test
    paths = []
    for i in range(20):
        ink = (255 - test.x[i] * 255).astype(np.uint8)
        path = out / f"test{i:02d}-label{test.y[i]}.png"
        Image.fromarray(ink).resize((140, 140), Image.Resampling.BICUBIC).save(path)
        paths.append(path)
    return paths


@dataclass
class TrainingServer(Server):
    """A server whose training view starts runs under `root`."""

    root: Path

    def run(self, name: str) -> dict:
        return self.get(f"/api/runs/{name}").json()

    def wait_for(self, name: str, *statuses: str, timeout: float = 180) -> dict:
        """The run's status once it is one of `statuses` (generous: the machine is shared)."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(name)
            if run.get("status") in statuses:
                return run
            if time.monotonic() > deadline:
                pytest.fail(f"{name} never became {statuses}: {run}")
            time.sleep(0.2)

    def events(self, name: str) -> list[dict]:
        import json

        path = self.root / name / "events.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def serve_until_healthy(argv: list[str]) -> tuple[subprocess.Popen[str], str]:
    """Start `mnistlab serve ARGV`; its URL once /healthz answers."""
    process, line = start_server(*argv)
    if "http://" not in line:
        process.kill()
        pytest.fail(f"mnistlab serve did not start: {line!r} {process.stderr.read()!r}")
    url = line.split("at ", 1)[1].split()[0].rstrip("/")
    probe = Server(url, process)
    deadline = time.monotonic() + 30
    while True:
        try:
            if probe.alive():
                return process, url
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            pytest.fail("mnistlab serve never answered /healthz")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def training_server(
    quick_lenet5: Path, mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TrainingServer]:
    """`mnistlab serve` with a fresh run root; stopped (and its trainings with it) after."""
    root = tmp_path_factory.mktemp("runs")
    argv = [str(quick_lenet5), "--port", "0", "--runs", str(root), "--data-dir", str(mnist_dir)]
    process, url = serve_until_healthy(argv)
    yield TrainingServer(url, process, root)
    process.terminate()
    process.wait(timeout=60)
