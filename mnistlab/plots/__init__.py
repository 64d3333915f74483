"""Figures as PNG files, drawn headless (Agg) with matplotlib's object API.

`matplotlib.figure.Figure` is used directly instead of pyplot: no global state, so sweep
workers can draw in parallel, and nothing ever tries to open a window. Every figure is a
`Figure` (below): the same object, which a notebook also shows inline.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import matplotlib.figure
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from mnistlab.fileio import write_with

DPI = 120


class Figure(matplotlib.figure.Figure):
    """A matplotlib Figure that Jupyter shows inline as the PNG `save` would write.

    A Figure made without pyplot has no inline display of its own (the notebook would print
    `<Figure size ...>`); `_repr_png_` is what IPython asks for. `save(path)` writes the PNG
    atomically.
    """

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
        return buffer.getvalue()

    def save(self, path: str | os.PathLike[str], dpi: int = DPI) -> Path:
        """Write the figure as a PNG file at `path`; returns the path."""
        return save_figure(self, path, dpi)


def save_figure(
    fig: matplotlib.figure.Figure, path: str | os.PathLike[str], dpi: int = DPI
) -> Path:
    """Write `fig` as PNG atomically: a reader never sees half a picture."""
    path = Path(path)
    write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight"))
    return path


def epoch_axis(ax: Axes) -> None:
    """Label the x axis "epoch" with whole-number ticks: a run of 1-2 epochs would
    otherwise get 0.96, 0.98, … (there is no epoch 0.98)."""
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
