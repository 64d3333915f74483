"""Test accuracy against a cost (training seconds, parameters), with the Pareto front.

Costs span orders of magnitude (a 16-neuron MLP against LeNet-5), so the x axis is
logarithmic. Each family (model and backend) has its own marker and colour; the front
is a staircase through the networks no other network beats on both axes, each labelled.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from mnistlab.plots import Figure, save_figure

MARKERS = "osD^vP*Xh<>"
FRONT_COLOUR = "0.25"


class CostPoint(Protocol):
    name: str
    family: str
    test_acc: float

    def cost(self, measure: str) -> float: ...


def plot_accuracy_vs_cost(
    points: Sequence[CostPoint],
    front: Sequence[CostPoint],
    measure: str,
    xlabel: str,
    path: str | os.PathLike[str],
) -> Path:
    """Every network as a marker; the front as a labelled staircase (cheapest first)."""
    fig = Figure(figsize=(8.0, 5.2))
    ax = fig.subplots()
    families = list(dict.fromkeys(p.family for p in points))
    for i, family in enumerate(families):
        mine = [p for p in points if p.family == family]
        ax.scatter(
            [p.cost(measure) for p in mine],
            [100 * p.test_acc for p in mine],
            marker=MARKERS[i % len(MARKERS)],
            s=36,
            alpha=0.8,
            label=f"{family} ({len(mine)})",
            zorder=3,
        )
    xs = [p.cost(measure) for p in front]
    ys = [100 * p.test_acc for p in front]
    ax.step(xs, ys, where="post", color=FRONT_COLOUR, linewidth=1.2, label="Pareto front", zorder=2)
    for j, p in enumerate(front):
        ax.annotate(
            p.name,
            (p.cost(measure), 100 * p.test_acc),
            xytext=(6, -12 if j % 2 else 6),
            textcoords="offset points",
            fontsize=7.5,
            color=FRONT_COLOUR,
        )
    ax.set_xscale("log")
    ax.set(xlabel=f"{xlabel} (log scale)", ylabel="test accuracy (%)")
    ax.set_title(f"test accuracy against {xlabel}: {len(points)} networks")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="lower right")
    return save_figure(fig, path)
