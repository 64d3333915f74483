"""The gradient checker: backprop agrees with finite differences, and it can tell if not."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mnistlab.models.spec import MLPSpec
from mnistlab.numpy_version.gradcheck import (
    check_gradients,
    check_model_gradients,
    numeric_slopes,
    randomize_biases,
    relative_error,
)
from mnistlab.numpy_version.learner import NumpyLearner
from mnistlab.numpy_version.network import Network


def test_backprop_matches_finite_differences_for_every_case() -> None:
    report = check_gradients()
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


class NoL2Backprop(WrongBackprop):
    """Backprop that forgets the weight-decay gradient: returns ∂C₀/∂W − (λ/n)·W, so the
    learner's added (λ/n)·W cancels and the total lacks the L2 term."""

    def __init__(self, net: Network, l2: float, n_train: int) -> None:
        super().__init__(net, "layers.0.bias", 1.0)
        self.shrink = l2 / n_train

    def loss_and_grads(self, x, y, *, scale=1.0, out=None) -> tuple[float, dict[str, np.ndarray]]:
        loss, grads = self.net.loss_and_grads(x, y, scale=scale, out=out)
        for name, g in grads.items():
            if name.endswith(".weight"):
                g -= self.shrink * self.params[name]
        return loss, grads


def test_a_missing_l2_gradient_is_caught() -> None:
    """The checked cost includes λ/(2n)·Σ‖W‖², so backprop must include its gradient."""
    net, x, y = small()
    # λ = 3 differs from TrainConfig's default, so a checker ignoring `l2` is caught too
    errors = check_model_gradients(NoL2Backprop(net, 3.0, 3), x, y, l2=3.0, n_train=3)
    assert all(errors[n] > 1e-3 for n in errors if n.endswith(".weight")), errors
    assert all(errors[n] < 1e-6 for n in errors if n.endswith(".bias")), errors
    assert max(check_model_gradients(net, x, y, l2=3.0, n_train=3).values()) < 1e-6
    strong = check_model_gradients(net, x, y, l2=50.0, n_train=3, max_entries=25)
    assert max(strong.values()) < 1e-6


def test_the_default_check_includes_l2(monkeypatch: pytest.MonkeyPatch) -> None:
    """`check_gradients` (what the command runs) fails when the learner drops (λ/n)·W."""
    monkeypatch.setattr(NumpyLearner, "add_l2_grad", lambda self, grad: None)
    assert check_gradients()["max_rel_error"] > 1e-3
    net, x, y = small()
    assert max(check_model_gradients(net, x, y).values()) > 1e-3


class CountingModel(WrongBackprop):
    def __init__(self, net: Network) -> None:
        super().__init__(net, "layers.0.bias", 1.0)
        self.calls = 0

    def loss_and_grads(self, x, y, *, scale=1.0, out=None) -> tuple[float, dict[str, np.ndarray]]:
        self.calls += 1
        return super().loss_and_grads(x, y, scale=scale, out=out)


@pytest.mark.parametrize(
    ("max_entries", "checked"), [(25, 25 + 5 + 20 + 4 + 25 + 10), (None, 3999)]
)
def test_subsampling_checks_max_entries_per_tensor(max_entries: int | None, checked: int) -> None:
    """Two cost evaluations per checked entry, plus one for backprop's own gradient."""
    net, x, y = small()
    sizes = [p.size for p in net.params.values()]
    assert sizes == [3920, 5, 20, 4, 40, 10] and sum(sizes) == 3999
    model = CountingModel(net)
    check_model_gradients(model, x, y, max_entries=max_entries)
    assert model.calls == 1 + 2 * checked


def test_relative_error() -> None:
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.ones(3), -np.ones(3)) == 1.0
    assert relative_error(np.ones(3), np.ones(3) * (1 + 1e-9)) < 1e-9


def test_randomize_biases_moves_every_bias_and_no_weight() -> None:
    net = Network(MLPSpec(hidden=(50, 40), activation="tanh"), seed=2, dtype="float64")
    weights = {n: p.copy() for n, p in net.params.items() if n.endswith(".weight")}
    randomize_biases(net, np.random.default_rng(0))
    biases = np.concatenate([p for n, p in net.params.items() if n.endswith(".bias")])
    assert len(biases) == 100 and np.all(biases != 0) and len(np.unique(biases)) == 100
    assert 0.07 < biases.std() < 0.13  # scale 0.1
    assert abs(biases.mean()) < 0.03  # centred: sigmoid and tanh units stay off saturation
    for name, w in weights.items():
        np.testing.assert_array_equal(net.params[name], w)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_each_case_checks_the_network_it_names(dtype: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """…built from the seed and in the dtype asked for (`gradcheck --seed 5`)."""
    from mnistlab.numpy_version import gradcheck

    built: list[tuple[MLPSpec, dict[str, np.ndarray]]] = []

    def network(spec, **kwargs):
        net = Network(spec, **kwargs)
        built.append((spec, {n: p.copy() for n, p in net.params.items()}))
        return net

    monkeypatch.setattr(gradcheck, "Network", network)
    report = check_gradients(dtype, seed=5)
    names = [(spec.activation, spec.hidden) for spec, _ in built]
    assert names == [(c["activation"], tuple(c["hidden"])) for c in report["cases"]]
    assert {a for a, _ in names} == {"sigmoid", "tanh", "relu"}
    for spec, params in built:
        expected = Network(spec, seed=5, dtype=dtype).params
        for name, p in params.items():  # as built, before randomize_biases
            assert p.dtype == np.dtype(dtype)
            np.testing.assert_array_equal(p, expected[name])


def test_no_case_has_a_square_weight_matrix() -> None:
    """Widths differ from layer to layer (and from 784 and 10), so a layer built or
    multiplied with its two sizes swapped fails on shapes instead of passing unseen."""
    for case in check_gradients()["cases"]:
        sizes = [784, *case["hidden"], 10]
        assert all(a != b for a, b in itertools.pairwise(sizes)), sizes


def test_float32_shows_why_nobody_checks_in_float32() -> None:
    """With h = 1e-2, rounding (ε·C/h) and truncation (h²) leave errors far above float64's
    but still small for the smooth activations; ReLU's kink can fall inside a 1e-2 nudge."""
    cases = check_gradients("float32")["cases"]
    assert all(c["max_rel_error"] > 1e-5 for c in cases)  # float64 gives about 1e-8
    assert all(c["max_rel_error"] < 1e-2 for c in cases if c["activation"] != "relu")
    assert all(c["max_rel_error"] < 0.5 for c in cases)


def test_sampled_entries_are_distinct_and_as_many_as_asked(monkeypatch) -> None:
    """Sampling is without replacement: 39 of a 40-entry tensor are 39 different entries."""
    from mnistlab.numpy_version import gradcheck

    checked: list[np.ndarray] = []

    def record(cost, p, entries, h):
        checked.append(entries)
        return numeric_slopes(cost, p, entries, h)

    monkeypatch.setattr(gradcheck, "numeric_slopes", record)
    net, x, y = small()
    check_model_gradients(net, x, y, max_entries=39)
    assert [len(np.unique(e)) for e in checked] == [39, 5, 20, 4, 39, 10]
    assert [len(e) for e in checked] == [39, 5, 20, 4, 39, 10]


def test_the_seed_fixes_what_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """`gradcheck --seed S` reports the same numbers every time; another seed checks other
    networks and other entries (40 of each tensor larger than that, the rest in full)."""
    from mnistlab.numpy_version import gradcheck

    counts: list[tuple[int, int]] = []
    sampled: list[tuple[int, ...]] = []

    def record(cost, p, entries, h):
        counts.append((p.size, len(entries)))
        if len(entries) < p.size:
            sampled.append(tuple(entries))
        return numeric_slopes(cost, p, entries, h)

    monkeypatch.setattr(gradcheck, "numeric_slopes", record)
    first, again, other = (check_gradients(seed=s) for s in (3, 3, 4))
    assert first == again
    assert all(a != b for a, b in zip(first["cases"], other["cases"], strict=True))
    assert all(n == min(size, 40) for size, n in counts) and sampled
    third = len(sampled) // 3
    assert sampled[:third] == sampled[third : 2 * third] != sampled[2 * third :]


def test_the_checked_cost_has_the_lambda_and_n_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    from mnistlab.numpy_version import gradcheck

    made: list[tuple[float, int]] = []

    def learner(model, config, n_train):
        made.append((config.l2, n_train))
        return NumpyLearner(model, config, n_train)

    monkeypatch.setattr(gradcheck, "NumpyLearner", learner)
    net, x, y = small()
    check_model_gradients(net, x, y, l2=3.0, n_train=7, max_entries=5)
    assert made == [(3.0, 7)]
