"""The NumPy MLP and its learner: activations, loss, backprop against autograd, training."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import mnistlab.learner
from mnistlab.config import TrainConfig
from mnistlab.errors import DivergedError, UserError
from mnistlab.models.spec import MLPSpec
from mnistlab.numpy_version.gradcheck import randomize_biases
from mnistlab.numpy_version.learner import NumpyLearner, make_learner
from mnistlab.numpy_version.model import ACTIVATIONS, sigmoid, softmax_cross_entropy
from mnistlab.numpy_version.network import Network

HIDDENS = [(7,), (7, 6), (7, 6, 5)]


def small_network(activation: str, hidden: tuple[int, ...], seed: int = 0) -> Network:
    net = Network(MLPSpec(hidden=hidden, activation=activation), seed=seed, dtype="float64")
    randomize_biases(net, np.random.default_rng(seed))
    return net


def batch(n: int, seed: int = 1, dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((n, 28, 28)).astype(dtype), rng.integers(0, 10, size=n)


# --- activations and loss ------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_never_overflows_or_warns(dtype: type) -> None:
    z = np.array([-1e30, -1e4, -1e3, -50.0, 0.0, 50.0, 1e3, 1e4, 1e30, -np.inf, np.inf], dtype)
    with np.errstate(all="raise"):
        a = sigmoid(z)
    assert a.dtype == dtype
    assert np.all((a >= 0) & (a <= 1))
    assert a[4] == 0.5 and a[0] == 0.0 and a[-1] == 1.0
    assert np.all(np.diff(a[:4]) >= 0)


def test_sigmoid_matches_the_textbook_formula() -> None:
    z = np.linspace(-30, 30, 601)
    np.testing.assert_allclose(sigmoid(z), 1 / (1 + np.exp(-z)), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_slopes_from_outputs_match_finite_differences(name: str) -> None:
    act = ACTIVATIONS[name]
    z = np.random.default_rng(0).normal(0, 2, size=200)
    z = z[np.abs(z) > 1e-3]  # keep away from relu's kink
    h = 1e-6
    numeric = (act.apply(z + h) - act.apply(z - h)) / (2 * h)
    np.testing.assert_allclose(act.prime(act.apply(z)), numeric, rtol=1e-6, atol=1e-9)


def test_activations_can_work_in_place() -> None:
    for act in ACTIVATIONS.values():
        z = np.linspace(-3, 3, 7, dtype=np.float32)
        expected = act.apply(z.copy())
        out = act.apply(z, out=z)
        assert out is z and out.dtype == np.float32
        np.testing.assert_array_equal(z, expected)


def test_softmax_cross_entropy_matches_the_definition() -> None:
    rng = np.random.default_rng(0)
    logits, y = rng.normal(0, 3, size=(6, 10)), rng.integers(0, 10, size=6)
    loss, dlogits, _ = softmax_cross_entropy(logits, y)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    onehot = np.eye(10)[y]
    assert loss == pytest.approx(-np.log(p[np.arange(6), y]).mean(), rel=1e-12)
    np.testing.assert_allclose(dlogits, (p - onehot) / 6, rtol=1e-10, atol=1e-15)


def test_softmax_cross_entropy_is_stable_for_huge_logits() -> None:
    logits = np.array([[1e4, 0.0, -1e4], [-1e4, 0.0, 1e4], [1e38, -1e38, 0.0]], np.float32)
    y = np.array([0, 0, 2])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # exp may underflow to 0
        loss, dlogits, _ = softmax_cross_entropy(logits, y)
    # Row losses: 0 (right and sure), 2e4 (wrong and sure), 1e38 (wrong by 1e38).
    assert loss == pytest.approx((0 + 2e4 + 1e38) / 3, rel=1e-6)
    assert dlogits.dtype == np.float32 and np.all(np.isfinite(dlogits))
    np.testing.assert_allclose(dlogits[1], [-1 / 3, 0, 1 / 3], atol=1e-7)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, (3, 10), elements=st.floats(-1e300, 1e300)))
def test_softmax_cross_entropy_is_finite_for_any_finite_logits(logits: np.ndarray) -> None:
    loss, dlogits, _ = softmax_cross_entropy(logits / 2, np.array([0, 5, 9]))
    assert np.isfinite(loss) and loss >= 0
    assert np.all(np.isfinite(dlogits))
    np.testing.assert_allclose(dlogits.sum(axis=1), 0, atol=1e-12)


# --- backprop ------------------------------------------------------------------------------


def torch_cost_and_grads(
    net: Network, x: np.ndarray, y: np.ndarray, l2: float, n_train: int
) -> tuple[float, dict[str, np.ndarray]]:
    """The same cost with torch.nn.functional and autograd, from the same float64 weights."""
    import torch
    import torch.nn.functional as F

    params = {k: torch.tensor(v, requires_grad=True) for k, v in net.params.items()}
    f = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}
    a = torch.tensor(x.reshape(len(x), -1))
    layers = len(net.spec.hidden) + 1
    for i in range(layers):
        a = F.linear(a, params[f"layers.{i}.weight"], params[f"layers.{i}.bias"])
        if i < layers - 1:
            a = f[net.spec.activation](a)
    penalty = sum((params[f"layers.{i}.weight"] ** 2).sum() for i in range(layers))
    cost = F.cross_entropy(a, torch.tensor(y)) + l2 / (2 * n_train) * penalty
    cost.backward()
    return cost.item(), {k: t.grad.numpy() for k, t in params.items()}


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("hidden", HIDDENS)
def test_gradients_match_torch_autograd(activation: str, hidden: tuple[int, ...]) -> None:
    net = small_network(activation, hidden)
    x, y = batch(5)
    learner = NumpyLearner(net, TrainConfig(l2=3.0), n_train=20)
    cost, grads = learner.cost_and_grads(x, y)
    torch_cost, torch_grads = torch_cost_and_grads(net, x, y, l2=3.0, n_train=20)
    assert cost == pytest.approx(torch_cost, rel=1e-12)
    assert grads.keys() == torch_grads.keys()
    for name, g in grads.items():
        expected = torch_grads[name]
        error = np.linalg.norm(g - expected) / np.linalg.norm(expected)
        assert error < 1e-10, name


def test_batch_results_equal_per_example_results() -> None:
    """Vectorising over the batch must not change the maths: rows are independent."""
    net = small_network("tanh", (7, 6))
    x, y = batch(6)
    logits = net.forward(x)
    singles = np.concatenate([net.forward(x[i : i + 1]) for i in range(6)])
    np.testing.assert_allclose(logits, singles, rtol=1e-12)

    loss, grads = net.loss_and_grads(x, y)
    per_example = [net.loss_and_grads(x[i : i + 1], y[i : i + 1]) for i in range(6)]
    assert loss == pytest.approx(np.mean([loss_i for loss_i, _ in per_example]), rel=1e-12)
    for name, g in grads.items():
        mean = np.mean([gs[name] for _, gs in per_example], axis=0)
        np.testing.assert_allclose(g, mean, rtol=1e-10, atol=1e-14)


def test_forward_accepts_images_or_rows() -> None:
    net = small_network("relu", (7,))
    x, _ = batch(3)
    np.testing.assert_array_equal(net.forward(x), net.forward(x.reshape(3, 784)))


def test_network_owns_copies_of_given_params_and_checks_them() -> None:
    spec = MLPSpec(hidden=(5,), activation="relu")
    given_params = Network(spec, seed=3).params
    net = Network(spec, given_params)
    net.params["layers.0.weight"] += 1.0
    assert not np.shares_memory(net.params["layers.0.weight"], given_params["layers.0.weight"])
    bad = dict(given_params, **{"layers.1.bias": np.zeros(3, np.float32)})
    with pytest.raises(UserError, match="shape"):
        Network(spec, bad)
    with pytest.raises(UserError, match="missing"):
        Network(spec, {"layers.0.weight": given_params["layers.0.weight"]})


def test_same_seed_same_network() -> None:
    spec = MLPSpec(hidden=(5,), activation="sigmoid")
    a, b = Network(spec, seed=4), Network(spec, seed=4)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])


# --- learner -------------------------------------------------------------------------------


def blobs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two classes of 28×28 images: bright left half (0) or bright right half (1), plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    x = rng.random((n, 28, 28)).astype(np.float32) * 0.5
    x[y == 0, :, :14] += 0.5
    x[y == 1, :, 14:] += 0.5
    return x, y


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_training_drives_the_loss_down(optimizer: str) -> None:
    x, y = blobs(400)
    lr = {"sgd": 0.1, "momentum": 0.02, "adam": 0.002}[optimizer]
    config = TrainConfig(lr=lr, l2=1.0, optimizer=optimizer, batch_size=20, epochs=3)
    learner = make_learner(MLPSpec(hidden=(16,), activation="sigmoid"), config, n_train=400)
    before = learner.evaluate(x, y)
    rng = np.random.default_rng(0)
    costs = [learner.train_epoch(x, y, rng, None) for _ in range(3)]
    after = learner.evaluate(x, y)
    assert after.loss < before.loss / 4
    assert after.acc == 1.0
    assert costs[-1] < costs[0]


def test_float32_stays_float32_through_training() -> None:
    x, y = blobs(50)
    for optimizer in ["sgd", "momentum", "adam"]:
        config = TrainConfig(optimizer=optimizer, batch_size=10)
        learner = make_learner(MLPSpec(hidden=(8, 8), activation="tanh"), config, n_train=50)
        live = dict(learner.model.params)
        _, grads = learner.model.loss_and_grads(x[:10], y[:10])
        assert {g.dtype for g in grads.values()} == {np.dtype(np.float32)}
        learner.train_epoch(x, y, np.random.default_rng(0), None)
        for name, p in learner.model.params.items():
            assert p.dtype == np.float32, (optimizer, name)
            assert p is live[name], "the optimiser must update the live arrays in place"
        assert learner.logits(x.astype(np.float64)).dtype == np.float32


def test_train_epoch_returns_mean_batch_loss_plus_l2_term() -> None:
    x, y = blobs(30)
    config = TrainConfig(lr=1e-300, l2=4.0, optimizer="sgd", batch_size=10)  # lr≈0: no motion
    learner = make_learner(MLPSpec(hidden=(4,), activation="relu"), config, n_train=30)
    net = learner.model
    cost = learner.train_epoch(x, y, np.random.default_rng(0), None)
    order = np.random.default_rng(0).permutation(30)
    losses = [net.loss_and_grads(x[idx], y[idx])[0] for idx in np.split(order, 3)]
    squares = sum(float((net.params[f"layers.{i}.weight"] ** 2).sum()) for i in (0, 1))
    assert cost == pytest.approx(np.mean(losses) + 4.0 / (2 * 30) * squares, rel=1e-6)


def test_l2_gradient_goes_to_weights_only() -> None:
    net = small_network("relu", (6,))
    x, y = batch(4)
    _, raw = net.loss_and_grads(x, y)
    learner = NumpyLearner(net, TrainConfig(l2=2.0), n_train=8)
    _, grads = learner.cost_and_grads(x, y)
    for name, g in grads.items():
        extra = 2.0 / 8 * net.params[name] if name.endswith("weight") else 0.0
        np.testing.assert_allclose(g, raw[name] + extra, rtol=1e-13, atol=1e-15)


def test_progress_is_reported_in_chunks_not_per_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mnistlab.learner, "PROGRESS_EVERY", 100)
    monkeypatch.setattr(mnistlab.learner, "PROGRESS_SECONDS", math.inf)  # by count alone
    x, y = blobs(250)
    learner = make_learner(MLPSpec(hidden=(4,)), TrainConfig(batch_size=10), n_train=250)
    calls: list[tuple[int, float, float]] = []
    learner.train_epoch(x, y, np.random.default_rng(0), lambda *a: calls.append(a))
    assert [c[0] for c in calls] == [100, 100, 50]
    assert calls[-1][2] == learner.train_acc


def test_running_accuracy_counts_each_batch_before_its_step() -> None:
    x, y = blobs(60)
    config = TrainConfig(batch_size=20, lr=1e-12, l2=0.0, optimizer="sgd")  # weights stay put
    # tanh: no dead units, so no all-zero logits whose tie a 1e-12 step would break
    learner = make_learner(MLPSpec(hidden=(4,), activation="tanh"), config, n_train=60)
    expected = float((learner.logits(x).argmax(axis=1) == y).mean())
    learner.train_epoch(x, y, np.random.default_rng(0), None)
    assert learner.train_acc == pytest.approx(expected)


def test_divergence_raises_a_clear_error() -> None:
    x, y = blobs(200)
    config = TrainConfig(lr=1e30, l2=0.0, optimizer="sgd", batch_size=10)
    learner = make_learner(MLPSpec(hidden=(16,), activation="relu"), config, n_train=200)
    # The learner silences NumPy's overflow warnings itself: the one line is the error.
    with (
        warnings.catch_warnings(),
        pytest.raises(DivergedError, match=r"became \S+ in epoch 1; try a lower learning rate"),
    ):
        warnings.simplefilter("error")
        learner.train_epoch(x, y, np.random.default_rng(0), None)


def test_params_are_copies_and_logits_come_in_chunks() -> None:
    learner = make_learner(MLPSpec(hidden=(4,)), TrainConfig(), n_train=10)
    saved = learner.params()
    for name, p in saved.items():
        assert not np.shares_memory(p, learner.model.params[name])
    x, y = blobs(2500)
    np.testing.assert_allclose(learner.logits(x), learner.model.forward(x), rtol=1e-6)
    score = learner.evaluate(x, y)
    assert 0 <= score.acc <= 1 and score.loss > 0
