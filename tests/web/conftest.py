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
    process, line = start_server(str(quick_lenet5), "--port", "0")
    if "http://" not in line:
        process.kill()
        pytest.fail(f"mnistlab serve did not start: {line!r} {process.stderr.read()!r}")
    url = line.split("at ", 1)[1].split()[0].rstrip("/")
    server = Server(url, process)
    deadline = time.monotonic() + 30
    while True:
        try:
            if server.alive():
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            pytest.fail("mnistlab serve never answered /healthz")
        time.sleep(0.1)
    yield server
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
