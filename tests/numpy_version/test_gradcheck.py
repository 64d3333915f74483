"""The gradient checker: backprop agrees with finite differences, and it can tell if not."""

from __future__ import annotations

import time

import numpy as np
import pytest

from mnistlab.models.spec import MLPSpec
from mnistlab.numpy_version.gradcheck import (
    check_gradients,
    check_model_gradients,
    randomize_biases,
    relative_error,
)
from mnistlab.numpy_version.network import Network


def test_backprop_matches_finite_differences_for_every_case() -> None:
    started = time.perf_counter()
    report = check_gradients()
    assert time.perf_counter() - started < 10
    cases = {(c["activation"], len(c["hidden"])) for c in report["cases"]}
    assert cases == {(a, k) for a in ("sigmoid", "tanh", "relu") for k in (1, 2, 3)}
    assert all(c["max_rel_error"] < 1e-6 for c in report["cases"])
    assert report["max_rel_error"] == max(c["max_rel_error"] for c in report["cases"])
    assert report["max_rel_error"] < 1e-6


def small() -> tuple[Network, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    net = Network(MLPSpec(hidden=(5, 4), activation="tanh"), seed=2, dtype="float64")
    randomize_biases(net, rng)
    return net, rng.random((3, 784)), rng.integers(0, 10, size=3)


def test_every_tensor_is_checked_and_subsampling_is_honoured() -> None:
    net, x, y = small()
    errors = check_model_gradients(net, x, y, max_entries=25)
    assert set(errors) == set(net.params)
    assert max(errors.values()) < 1e-6


class WrongBackprop:
    """A model whose backprop is off by a little in one tensor."""

    def __init__(self, net: Network, name: str, factor: float) -> None:
        self.net, self.name, self.factor = net, name, factor
        self.spec, self.theta, self.params = net.spec, net.theta, net.params

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.net.forward(x)

    def loss_and_grads(self, x, y, *, scale=1.0, out=None) -> tuple[float, dict[str, np.ndarray]]:
        loss, grads = self.net.loss_and_grads(x, y, scale=scale, out=out)
        grads[self.name] *= self.factor  # in place: a view of `out` when one is given
        return loss, grads


@pytest.mark.parametrize("name", ["layers.0.weight", "layers.1.bias", "layers.2.weight"])
def test_a_wrong_gradient_is_caught(name: str) -> None:
    net, x, y = small()
    errors = check_model_gradients(WrongBackprop(net, name, 1.01), x, y, max_entries=25)
    assert errors[name] > 1e-3
    assert all(e < 1e-6 for n, e in errors.items() if n != name)


def test_a_missing_l2_gradient_is_caught() -> None:
    """The checked cost includes λ/(2n)·Σ‖W‖², so backprop must include its gradient."""
    net, x, y = small()
    errors = check_model_gradients(net, x, y, l2=0.0, max_entries=25)
    assert max(errors.values()) < 1e-6
    strong = check_model_gradients(net, x, y, l2=50.0, n_train=3, max_entries=25)
    assert max(strong.values()) < 1e-6


def test_relative_error() -> None:
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.ones(3), -np.ones(3)) == 1.0
    assert relative_error(np.ones(3), np.ones(3) * (1 + 1e-9)) < 1e-9
