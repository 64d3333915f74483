"""Figures as PNG files, drawn headless (Agg) with matplotlib's object API.

`matplotlib.figure.Figure` is used directly instead of pyplot: no global state, so sweep
workers can draw in parallel, and nothing ever tries to open a window.
"""

from __future__ import annotations

import os
from pathlib import Path

from matplotlib.figure import Figure

from mnistlab.fileio import write_with


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 120) -> Path:
    """Write `fig` as PNG atomically: a reader never sees half a picture."""
    path = Path(path)
    write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight"))
    return path
