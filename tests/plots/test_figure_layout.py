"""Figures a newcomer reads: whole-number epochs, mistake frames inside the picture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import same_color
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from mnistlab.plots import curves, digits
from mnistlab.protocol import EpochRecord, History


def capture(monkeypatch: pytest.MonkeyPatch, module: object) -> list[Figure]:
    """The figures `module` saves, kept for inspection after they were drawn."""
    figures: list[Figure] = []
    save = module.save_figure  # type: ignore[attr-defined]

    def keep(fig: Figure, path: Path, *args: object, **kwargs: object) -> Path:
        figures.append(fig)
        return save(fig, path, *args, **kwargs)

    monkeypatch.setattr(module, "save_figure", keep)
    return figures


def history(n_epochs: int) -> History:
    records = [
        EpochRecord(e, 0.5 / e, 0.4 / e, 0.9 + 0.01 * e, 0.9 + 0.01 * e, 1.0)
        for e in range(1, n_epochs + 1)
    ]
    return History({}, records, {"epoch": n_epochs, "val_acc": 0.92, "test_acc": 0.92})


@pytest.mark.parametrize("n_epochs", [1, 2, 3])
def test_epoch_ticks_are_whole_numbers(tmp_path: Path, monkeypatch, n_epochs: int) -> None:
    figures = capture(monkeypatch, curves)
    curves.plot_learning_curves(history(n_epochs), tmp_path / "curves.png")
    (fig,) = figures
    for ax in fig.axes:
        low, high = ax.get_xlim()
        shown = [t for t in ax.get_xticks() if low <= t <= high]
        labels = [t.get_text() for t in ax.get_xticklabels() if low <= t.get_position()[0] <= high]
        assert shown and all(float(t).is_integer() for t in shown), shown
        assert all(label.lstrip("−-").isdigit() for label in labels), labels


def test_mistake_frames_lie_inside_the_axes(tmp_path: Path, monkeypatch) -> None:
    figures = capture(monkeypatch, digits)
    labels = np.arange(20) % 10
    preds = labels.copy()
    corners = [0, 9, 10, 19]  # top-left, top-right, bottom-left, bottom-right tiles
    preds[corners] = (labels[corners] + 1) % 10
    images = np.random.default_rng(0).random((20, 28, 28))
    digits.plot_prediction_grid(images, labels, preds, tmp_path / "grid.png", n=20, cols=10)
    (fig,) = figures
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    (ax,) = fig.axes
    inside = ax.get_window_extent(renderer)
    frames = [
        p
        for p in ax.patches
        if isinstance(p, Rectangle) and same_color(p.get_edgecolor(), digits.MISTAKE)
    ]
    assert len(frames) == len(corners)
    for frame in frames:
        half_line = frame.get_linewidth() * fig.dpi / 72 / 2
        box = frame.get_window_extent(renderer).expanded(1, 1).padded(half_line)
        assert inside.x0 <= box.x0 and box.x1 <= inside.x1, (box, inside)
        assert inside.y0 <= box.y0 and box.y1 <= inside.y1, (box, inside)
