"""The inside-the-network figures are real PNGs of a sensible size, drawn headless."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnistlab.plots.digits import (
    pick_for_grid,
    plot_confusion_matrix,
    plot_feature_maps,
    plot_kernels,
    plot_prediction_grid,
    plot_weight_images,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def check_png(path: Path, min_side: int = 200, max_side: int = 4000) -> tuple[int, int]:
    """Signature, PIL can decode it, and neither a thumbnail nor a poster."""
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        width, height = im.size
    assert min_side <= width <= max_side and min_side // 2 <= height <= max_side
    return width, height


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def test_confusion_matrix(tmp_path: Path, rng: np.random.Generator) -> None:
    cm = rng.integers(0, 50, size=(10, 10)) + np.diag(np.full(10, 900))
    cm[3] = 0  # a class with no images must not divide by zero
    check_png(plot_confusion_matrix(cm, tmp_path / "cm.png"))


def test_prediction_grid_marks_mistakes(tmp_path: Path, rng: np.random.Generator) -> None:
    images = rng.random((50, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, 50)
    preds = labels.copy()
    preds[[2, 7]] = (labels[[2, 7]] + 1) % 10
    check_png(plot_prediction_grid(images, labels, preds, tmp_path / "grid.png", n=20))


def test_prediction_grid_without_predictions_is_a_sample(tmp_path: Path) -> None:
    images = np.zeros((7, 784), np.float32)
    out = plot_prediction_grid(images, list(range(7)), None, tmp_path / "s.png", n=7, cols=4)
    check_png(out, min_side=150)


def test_pick_for_grid_keeps_order_and_adds_mistakes() -> None:
    labels = np.arange(1000) % 10
    preds = labels.copy()
    preds[[501, 701, 901]] = 0
    picked = pick_for_grid(labels, preds, n=12, mistakes=2)
    assert len(picked) == 12
    assert list(picked) == sorted(picked)
    assert {501, 701} <= set(picked.tolist()) and 901 not in picked
    assert list(picked[:10]) == list(range(10))


def test_pick_for_grid_without_mistakes() -> None:
    labels = np.arange(30) % 10
    assert list(pick_for_grid(labels, labels, n=8)) == list(range(8))


def test_weight_images(tmp_path: Path, rng: np.random.Generator) -> None:
    check_png(plot_weight_images(rng.normal(size=(100, 784)), tmp_path / "w.png"))
    check_png(plot_weight_images(np.zeros((3, 784)), tmp_path / "zeros.png"), min_side=150)
    with pytest.raises(ValueError, match="784"):
        plot_weight_images(np.zeros((3, 100)), tmp_path / "bad.png")


def test_kernels(tmp_path: Path, rng: np.random.Generator) -> None:
    check_png(plot_kernels(rng.normal(size=(6, 1, 5, 5)), tmp_path / "k.png"))
    with pytest.raises(ValueError):
        plot_kernels(np.zeros((6, 5, 5)), tmp_path / "bad.png")


def test_feature_maps(tmp_path: Path, rng: np.random.Generator) -> None:
    maps = {"conv1": rng.random((6, 28, 28)), "conv2": rng.random((16, 10, 10))}
    width, height = check_png(plot_feature_maps(rng.random((28, 28)), maps, tmp_path / "f.png"))
    assert height > width / 2  # 1 + 1 + 2 rows of maps


def test_figures_replace_atomically(tmp_path: Path) -> None:
    path = tmp_path / "k.png"
    path.write_bytes(b"old")
    plot_kernels(np.ones((6, 1, 5, 5)), path)
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    assert [p.name for p in tmp_path.iterdir()] == ["k.png"]
