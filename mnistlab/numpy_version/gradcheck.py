"""Is backprop right? Compare it with centred finite differences of the same cost.

For every parameter entry θ the numerical slope is (C(θ+h) − C(θ−h)) / 2h, whose error is
O(h²) from truncation plus about ε·C/h from rounding; in float64 with h = 1e-6 both are far
small, so a correct backprop agrees to 1e-9 to 1e-7 (relative: an entry whose slope is
nearly zero shows the rounding most) and a wrong one is off by O(1).

The cost is the learner's full training cost, cross-entropy plus λ/(2n)·Σ‖W‖², so the L2
gradient is checked too. Biases are set to random non-zero values first: at their initial
zeros a bias wrongly given an L2 gradient would still pass.

ReLU has a kink at 0 where the slope is not defined; if some z lay within h of 0, the
finite difference would straddle it and disagree. With random inputs and weights that
happens with probability about h/spread ≈ 1e-6 per unit, so it is ignored here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mnistlab.config import TrainConfig
from mnistlab.models.spec import MLPSpec
from mnistlab.numpy_version.learner import NumpyLearner
from mnistlab.numpy_version.model import NumpyModel
from mnistlab.numpy_version.network import Network

TINY = 1e-30  # guards 0/0 when both gradients are exactly zero


def relative_error(numeric: np.ndarray, backprop: np.ndarray) -> float:
    """‖g_num − g_bp‖ / (‖g_num‖ + ‖g_bp‖): scale-free, 0 when equal, 1 when opposite."""
    num, bp = np.asarray(numeric, np.float64), np.asarray(backprop, np.float64)
    scale = float(np.linalg.norm(num) + np.linalg.norm(bp))
    return float(np.linalg.norm(num - bp)) / max(scale, TINY)


def numeric_slopes(
    cost: Callable[[], float], p: np.ndarray, entries: np.ndarray, h: float
) -> np.ndarray:
    """Centred differences of cost() wrt the flat `entries` of p, which is nudged in place."""
    flat = p.reshape(-1)  # a view: writing to it moves the live parameter
    slopes = np.empty(len(entries))
    for k, j in enumerate(entries):
        original = flat[j]
        flat[j] = original + h
        up = cost()
        flat[j] = original - h
        down = cost()
        flat[j] = original
        slopes[k] = (up - down) / (2 * h)
    return slopes


def check_model_gradients(
    model: NumpyModel,
    x: np.ndarray,
    y: np.ndarray,
    *,
    l2: float = 1.0,
    n_train: int = 10,
    h: float = 1e-6,
    max_entries: int | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Relative error of backprop against finite differences, per parameter tensor.

    Works for any NumpyModel (use float64 parameters). The cost is the full regularised
    cost of NumpyLearner.cost_and_grads with L2 strength `l2` and n = `n_train`. Tensors
    with more than `max_entries` entries are checked on a random subset of them.
    """
    learner = NumpyLearner(model, TrainConfig(l2=l2, optimizer="sgd"), n_train)
    _, grads = learner.cost_and_grads(x, y)
    rng = np.random.default_rng(seed)

    def cost() -> float:
        return learner.cost_and_grads(x, y)[0]

    errors: dict[str, float] = {}
    for name, p in model.params.items():
        entries = np.arange(p.size)
        if max_entries is not None and p.size > max_entries:
            entries = np.sort(rng.choice(p.size, size=max_entries, replace=False))
        numeric = numeric_slopes(cost, p, entries, h)
        errors[name] = relative_error(numeric, grads[name].reshape(-1)[entries])
    return errors


def randomize_biases(model: NumpyModel, rng: np.random.Generator, scale: float = 0.1) -> None:
    """Non-zero biases, so that a bias wrongly regularised would show up."""
    for name, p in model.params.items():
        if name.endswith(".bias"):
            p[...] = rng.normal(0.0, scale, size=p.shape)


def mlp_case(
    activation: str, hidden: tuple[int, ...], dtype: np.dtype, seed: int, h: float
) -> float:
    """Max relative error over all tensors of one small MLP on a batch of 4 random images."""
    rng = np.random.default_rng(seed)
    model = Network(MLPSpec(hidden=hidden, activation=activation), seed=seed, dtype=dtype)
    randomize_biases(model, rng)
    x = rng.random((4, 784)).astype(dtype)
    y = rng.integers(0, 10, size=4)
    errors = check_model_gradients(model, x, y, h=h, max_entries=40, seed=seed)
    return max(errors.values())


def check_gradients(dtype: np.dtype | str = np.float64, seed: int = 0) -> dict[str, Any]:
    """Backprop against finite differences for every activation and k = 1, 2, 3 layers.

    Every tensor of more than 40 entries (each 784-input weight matrix, and the hidden ones
    of 42 to 70) is checked on 40 random entries, the others in full.
    Expect 1e-9 to 1e-7 in float64 (5e-8 at worst today); float32 (h = 1e-2) shows why
    nobody checks in float32.
    """
    dtype = np.dtype(dtype)
    h = 1e-6 if dtype == np.float64 else 1e-2
    cases = []
    for activation in ("sigmoid", "tanh", "relu"):
        for hidden in ((7,), (7, 6), (7, 6, 5)):
            error = mlp_case(activation, hidden, dtype, seed, h)
            cases.append({"activation": activation, "hidden": list(hidden), "max_rel_error": error})
    return {"max_rel_error": max(c["max_rel_error"] for c in cases), "cases": cases}
