"""One tiny Fashion-MNIST report for every test that reads a report (text, HTML, browser)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mnistlab.cli import main

# `--quick` shrunk to seconds: 2 cells, 300 images, 1 epoch everywhere.
TINY = [*["--k", "1", "--m", "8,16", "--epochs", "1"], *["--limit-train", "300"]]
TINY += ["--lenet-epochs", "1", "--workers", "1"]


def recorded_files(out: Path) -> dict[Path, int]:
    """Every file that records a result: a changed mtime means something was re-trained."""
    paths = [*out.rglob("history.json"), *out.rglob("model.safetensors")]
    paths.append(out / "sweep" / "results.jsonl")
    return {p: p.stat().st_mtime_ns for p in paths}


@pytest.fixture(scope="session")
def tiny_report(tmp_path_factory: pytest.TempPathFactory, fashion_dir: Path) -> dict:
    """`mnistlab report --quick --dataset fashion-mnist`, shrunk, run twice in one DIR.

    Tests that use it carry `xdist_group("tiny_report")` so that `--dist loadgroup` (the
    Makefile's) builds it once.
    """
    out = tmp_path_factory.mktemp("report") / "r"
    args = ["report", "--quick", "--out", str(out), "--dataset", "fashion-mnist"]
    args += ["--data-dir", str(fashion_dir), *TINY]
    start = time.perf_counter()
    assert main(args) == 0
    first = time.perf_counter() - start
    stamps = recorded_files(out)
    start = time.perf_counter()
    assert main(args) == 0
    second = time.perf_counter() - start
    return {
        "out": out,
        "first": first,
        "second": second,
        "stamps": stamps,
        "stamps_now": lambda: recorded_files(out),
    }
