"""A sweep at a glance: validation accuracy and training time across k and m.

Every figure shows validation accuracy (what chose the best cell) or cost, never test
accuracy, so a reader cannot pick a cell by its test score from the pictures either.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from mnistlab.plots import Figure, save_figure

Row = dict[str, Any]
VAL_ACC_VS_M = "val_acc_vs_m.png"
HEATMAP = "heatmap.png"
SECONDS_VS_M = "seconds_vs_m.png"


def _by_k(rows: list[Row]) -> dict[int, list[Row]]:
    groups: dict[int, list[Row]] = {}
    for row in sorted(rows, key=lambda r: (r["k"], r["m"])):
        groups.setdefault(row["k"], []).append(row)
    return groups


def _log2_m_axis(ax: Any, ms: list[int]) -> None:
    """m doubles from point to point in a typical sweep: log2 spacing, ticks at the m's."""
    ax.set_xscale("log", base=2)
    ax.set_xticks(ms)
    ax.set_xticklabels([str(m) for m in ms])
    ax.minorticks_off()
    ax.set_xlabel("m (neurons per hidden layer)")
    ax.grid(alpha=0.3)


def plot_val_acc_vs_m(rows: list[Row], path: str | os.PathLike[str]) -> Path:
    """Validation accuracy at the best epoch against m, one line per k."""
    fig = Figure(figsize=(6.5, 4.5))
    ax = fig.subplots()
    for k, group in _by_k(rows).items():
        ax.plot([r["m"] for r in group], [100 * r["val_acc"] for r in group], "o-", label=f"k={k}")
    _log2_m_axis(ax, sorted({r["m"] for r in rows}))
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title("validation accuracy by width and depth")
    ax.legend(title="hidden layers")
    return save_figure(fig, path)


def plot_heatmap(rows: list[Row], path: str | os.PathLike[str]) -> Path:
    """`heatmap_figure` as a PNG file at `path`."""
    return save_figure(heatmap_figure(rows), path)


def heatmap_figure(rows: list[Row]) -> Figure:
    """k × m grid of validation accuracy with each number written in its cell."""
    ks = sorted({r["k"] for r in rows})
    ms = sorted({r["m"] for r in rows})
    acc = np.full((len(ks), len(ms)), np.nan)
    for row in rows:
        acc[ks.index(row["k"]), ms.index(row["m"])] = 100 * row["val_acc"]
    fig = Figure(figsize=(max(4.0, 1.0 + 0.9 * len(ms)), max(2.5, 1.2 + 0.7 * len(ks))))
    ax = fig.subplots()
    image = ax.imshow(acc, cmap="viridis", aspect="auto", origin="lower")
    fig.colorbar(image, ax=ax, label="validation accuracy (%)")
    low, high = np.nanmin(acc), np.nanmax(acc)
    middle = (low + high) / 2
    for i, j in np.ndindex(acc.shape):
        if not math.isnan(acc[i, j]):
            colour = "black" if acc[i, j] > middle else "white"  # readable on viridis
            ax.text(j, i, f"{acc[i, j]:.2f}", ha="center", va="center", color=colour, fontsize=8)
    ax.set_xticks(range(len(ms)), [str(m) for m in ms])
    ax.set_yticks(range(len(ks)), [str(k) for k in ks])
    ax.set_xlabel("m (neurons per hidden layer)")
    ax.set_ylabel("k (hidden layers)")
    ax.set_title("validation accuracy (%)")
    return fig


def plot_seconds_vs_m(rows: list[Row], path: str | os.PathLike[str]) -> Path:
    """Training time of each cell against m, one line per k: what a wider net costs."""
    fig = Figure(figsize=(6.5, 4.5))
    ax = fig.subplots()
    for k, group in _by_k(rows).items():
        ax.plot([r["m"] for r in group], [r["seconds"] for r in group], "o-", label=f"k={k}")
    _log2_m_axis(ax, sorted({r["m"] for r in rows}))
    ax.set_yscale("log")
    ax.set_ylabel("seconds per cell (all epochs, log scale)")
    ax.set_title("training time by width and depth")
    ax.legend(title="hidden layers")
    return save_figure(fig, path)


def plot_sweep(rows: list[Row], out_dir: str | os.PathLike[str]) -> list[Path]:
    """The three sweep figures in `out_dir`."""
    out_dir = Path(out_dir)
    return [
        plot_val_acc_vs_m(rows, out_dir / VAL_ACC_VS_M),
        plot_heatmap(rows, out_dir / HEATMAP),
        plot_seconds_vs_m(rows, out_dir / SECONDS_VS_M),
    ]
