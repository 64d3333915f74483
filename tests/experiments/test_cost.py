"""The Pareto front of accuracy against cost, and the figure that draws it."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from mnistlab.experiments.cost import Point, pareto_front
from mnistlab.plots.cost import plot_accuracy_vs_cost


def point(name: str, acc: float, seconds: float, params: int = 1) -> Point:
    return Point(name, "MLP, NumPy", acc, seconds, params, "x")


def test_front_keeps_what_nothing_beats() -> None:
    points = [
        point("cheap", 0.80, 1.0),
        point("dominated", 0.79, 2.0),  # slower and worse than cheap
        point("better", 0.90, 3.0),
        point("tie-slower", 0.90, 4.0),  # as accurate as better, but slower
        point("best", 0.95, 10.0),
        point("same-cost-worse", 0.85, 3.0),  # as slow as better, less accurate
    ]
    front = pareto_front(points, lambda p: p.seconds)
    assert [p.name for p in front] == ["cheap", "better", "best"]


@settings(deadline=None, max_examples=60)
@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0.1, 100)), min_size=1, max_size=12))
def test_front_is_exactly_the_undominated(pairs: list[tuple[float, float]]) -> None:
    points = [point(str(i), acc, s) for i, (acc, s) in enumerate(pairs)]
    front = pareto_front(points, lambda p: p.seconds)

    def beaten(p: Point) -> bool:
        return any(
            q.seconds <= p.seconds
            and q.test_acc >= p.test_acc
            and (q.seconds < p.seconds or q.test_acc > p.test_acc)
            for q in points
        )

    undominated = {(p.test_acc, p.seconds) for p in points if not beaten(p)}
    assert {(p.test_acc, p.seconds) for p in front} == undominated
    assert [p.test_acc for p in front] == sorted(p.test_acc for p in front)


def test_cost_figure(tmp_path: Path) -> None:
    points = [point("a", 0.9, 1.0, 100), point("b", 0.95, 30.0, 5_000), point("c", 0.8, 5, 50)]
    points.append(Point("LeNet-5 (PyTorch)", "LeNet-5, PyTorch", 0.97, 100.0, 61_706, "y"))
    front = pareto_front(points, lambda p: p.params)
    assert [p.name for p in front] == ["c", "a", "b", "LeNet-5 (PyTorch)"]
    path = plot_accuracy_vs_cost(points, front, "params", "parameters", tmp_path / "c.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
