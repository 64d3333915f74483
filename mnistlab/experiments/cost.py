"""What each point of accuracy costs: every trained network as (cost, test accuracy).

A network is on the Pareto front of a cost (training seconds, parameters) when no other
network is at most as costly and at least as accurate, and strictly better in one of the
two. Test accuracy is the protocol's (at the best validation epoch): the front describes
what was trained; it chooses nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mnistlab.experiments.compare import BACKEND_LABELS, RunResult, summarize_run
from mnistlab.models.spec import MLPSpec
from mnistlab.models.summary import summarize

COSTS = {"seconds": "training seconds", "params": "parameters"}


@dataclass(frozen=True)
class Point:
    """One trained network: what it is, what it scored, what it cost, where it is recorded."""

    name: str  # e.g. "k=2, m=64" or "LeNet-5 (PyTorch)"
    family: str  # what the figure marks alike, e.g. "MLP, NumPy"
    test_acc: float
    seconds: float  # all epochs: training plus scoring validation (and test)
    params: int
    source: str  # the run directory or results file it was read from

    def cost(self, measure: str) -> float:
        return float(getattr(self, measure))


def pareto_front(points: Sequence[Point], cost: Callable[[Point], float]) -> list[Point]:
    """The non-dominated points, cheapest first (each one more accurate than the last).

    Sorted by cost, then by accuracy from high to low, a point is on the front exactly
    when it beats the best accuracy of every cheaper (or equally cheap) point before it.
    """
    front: list[Point] = []
    for p in sorted(points, key=lambda p: (cost(p), -p.test_acc)):
        if not front or p.test_acc > front[-1].test_acc:
            front.append(p)
    return front


def sweep_points(rows: Sequence[dict[str, Any]], backend: str, source: str) -> list[Point]:
    """One point per sweep cell (its results.jsonl row): k hidden layers of m neurons."""
    from mnistlab.experiments.grid import Cell

    family = f"MLP, {BACKEND_LABELS.get(backend, backend)} (sweep)"
    points = []
    for r in rows:
        params = summarize(MLPSpec(hidden=Cell(r["k"], r["m"]).hidden))["params"]
        name = f"k={r['k']}, m={r['m']}"
        points.append(Point(name, family, r["test_acc"], r["seconds"], params, source))
    return points


def run_point(result: RunResult, source: str, recipe: str | None = None) -> Point:
    """One point for a run directory: "k=3, m=256 (PyTorch)", "LeNet-5 (NumPy)", or a
    recipe's name ("fast recipe (NumPy)") for a network a named recipe trained."""
    row = summarize_run(result)
    spec = result.plan.spec
    backend = BACKEND_LABELS.get(row["backend"], row["backend"])
    if recipe is not None:
        name = recipe
    elif isinstance(spec, MLPSpec):
        name = f"k={len(spec.hidden)}, m={spec.hidden[0]}"
    else:
        name = spec.describe().split()[0]  # "LeNet-5"
    family = "MLP" if isinstance(spec, MLPSpec) else name
    return Point(
        f"{name} ({backend})",
        f"{family}, {backend}",
        row["test_acc"],
        row["seconds_total"],
        row["params"],
        source,
    )
