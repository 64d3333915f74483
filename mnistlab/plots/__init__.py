"""Figures as PNG files, drawn headless (Agg) with matplotlib's object API.

`matplotlib.figure.Figure` is used directly instead of pyplot: no global state, so sweep
workers can draw in parallel, and nothing ever tries to open a window.
"""

from __future__ import annotations

import os
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from mnistlab.fileio import write_with


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 120) -> Path:
    """Write `fig` as PNG atomically: a reader never sees half a picture."""
    path = Path(path)
    write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight"))
    return path


def epoch_axis(ax: Axes) -> None:
    """Label the x axis "epoch" with whole-number ticks: a run of 1-2 epochs would
    otherwise get 0.96, 0.98, … (there is no epoch 0.98)."""
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
