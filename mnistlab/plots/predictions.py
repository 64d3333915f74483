"""`predict --show`: for each image, what was given, what the network saw, what it thinks.

One row per image: the original (upright, greyscale), the 28×28 MNIST-style input, and a
bar for each class's probability with the chosen one highlighted. Seeing the 28×28 next
to the original is how one finds out why a digit was misread (a stroke too thin, a
smudge taken for ink).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mnistlab.plots import Figure, save_figure

if TYPE_CHECKING:
    from mnistlab.inference import Prediction

MAX_ROWS = 50  # a figure taller than this is unreadable; the first 50 images are drawn
CHOSEN, OTHER = "tab:blue", "0.75"


def plot_predictions(
    items: Sequence[tuple[str, Prediction]], classes: Sequence[str], path: str | os.PathLike[str]
) -> Path:
    """`predictions_figure` as a PNG file at `path`."""
    return save_figure(predictions_figure(items, classes), path)


def predictions_figure(items: Sequence[tuple[str, Prediction]], classes: Sequence[str]) -> Figure:
    """One row per (name, prediction): the image, the 28×28 seen, the probabilities."""
    shown = list(items[:MAX_ROWS])
    fig = Figure(figsize=(9, 2.0 * len(shown) + 0.4))
    axes = fig.subplots(len(shown), 3, squeeze=False, width_ratios=[1, 1, 2.2])
    for row, (name, p) in zip(axes, shown, strict=True):
        _draw_row(row, name, p, classes)
    if len(items) > MAX_ROWS:
        fig.suptitle(f"the first {MAX_ROWS} of {len(items)} images")
    fig.tight_layout()
    return fig


def _draw_row(row: np.ndarray, name: str, p: Prediction, classes: Sequence[str]) -> None:
    original, seen, bars = row
    original.imshow(np.asarray(p.prepared.original), cmap="gray", vmin=0, vmax=255)
    original.set_title(_short(name), fontsize=9)
    seen.imshow(p.prepared.x, cmap="gray", vmin=0, vmax=1)
    seen.set_title("28×28 seen", fontsize=9)
    for ax in (original, seen):
        ax.set_xticks([])
        ax.set_yticks([])
    colours = [CHOSEN if i == p.digit else OTHER for i in range(len(classes))]
    bars.bar(range(len(classes)), p.probabilities, color=colours)
    bars.set_xticks(
        range(len(classes)), classes, fontsize=8, rotation=30 if len(classes[0]) > 1 else 0
    )
    bars.set_ylim(0, 1)
    bars.set_title(f"{p.label}: {p.probabilities[p.digit]:.1%}", fontsize=10)
    bars.spines[["top", "right"]].set_visible(False)


def _short(name: str, width: int = 28) -> str:
    return name if len(name) <= width else "…" + name[-(width - 1) :]
