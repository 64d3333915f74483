"""TorchLearner trains the lab's cost, reproducibly, and says so when it diverges."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

import mnistlab.learner as learner_module
from mnistlab.config import TrainConfig
from mnistlab.errors import DivergedError
from mnistlab.learner import PROGRESS_EVERY, SINGLE_THREAD_BELOW, accuracy_and_loss
from mnistlab.models.init import init_params
from mnistlab.models.spec import LeNet5Spec, MLPSpec
from mnistlab.pytorch_version.learner import make_learner

SMALL = MLPSpec(hidden=(16,), activation="relu")


def teacher_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random images labelled by a fixed random linear map: learnable in a few epochs."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 28, 28), dtype=np.float32)
    teacher = rng.standard_normal((784, 10))
    y = (x.reshape(n, -1) @ teacher).argmax(axis=1).astype(np.int64)
    return x, y


def l2_cost(params: dict[str, np.ndarray], l2: float, n: int) -> float:
    return l2 / (2 * n) * sum(float((w**2).sum()) for k, w in params.items() if "weight" in k)


def hand_gradient(params, x, y, l2, n):
    """Backprop by hand for 784 → m sigmoid → 10 with mean CE + λ/(2n)·Σ‖W‖²."""
    w1, b1 = params["layers.0.weight"], params["layers.0.bias"]
    w2, b2 = params["layers.1.weight"], params["layers.1.bias"]
    a1 = 1 / (1 + np.exp(-(x @ w1.T + b1)))
    z2 = a1 @ w2.T + b2
    p = np.exp(z2 - z2.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    delta2 = (p - np.eye(10)[y]) / len(y)
    delta1 = (delta2 @ w2) * a1 * (1 - a1)
    return {
        "layers.0.weight": delta1.T @ x + l2 / n * w1,
        "layers.0.bias": delta1.sum(axis=0),
        "layers.1.weight": delta2.T @ a1 + l2 / n * w2,
        "layers.1.bias": delta2.sum(axis=0),
    }


def test_l2_gradient_is_lambda_over_n_times_w_plus_the_ce_gradient():
    spec = MLPSpec(hidden=(6,), activation="sigmoid")
    n_train, l2 = 40, 3.0
    config = TrainConfig(lr=1.0, l2=l2, optimizer="sgd", dtype="float64")
    learner = make_learner(spec, config, n_train)
    params = learner.params()
    rng = np.random.default_rng(5)
    x, y = rng.random((5, 784)), rng.integers(0, 10, 5)
    expected = hand_gradient(params, x, y, l2, n_train)

    # Autograd through the cost as written...
    learner.cost(torch.from_numpy(x), torch.from_numpy(y)).backward()
    for name, p in learner.model.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), expected[name], rtol=1e-10, atol=1e-14)

    # ...and the training step, which adds (λ/n)·W to the gradient itself: with plain
    # SGD at lr 1, the step it takes is minus that gradient.
    learner.step(torch.from_numpy(x), torch.from_numpy(y))
    for name, after in learner.params().items():
        np.testing.assert_allclose(params[name] - after, expected[name], rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_training_lowers_the_loss(optimizer):
    x, y = teacher_data(600)
    lr = 0.003 if optimizer == "adam" else 0.05
    config = TrainConfig(lr=lr, l2=1.0, optimizer=optimizer, batch_size=10)
    learner = make_learner(SMALL, config, len(y))
    before = learner.evaluate(x, y)
    costs = [learner.train_epoch(x, y, np.random.default_rng(e), None) for e in range(3)]
    after = learner.evaluate(x, y)
    assert costs[-1] < costs[0]
    assert after.loss < before.loss - 0.3
    assert after.acc > before.acc + 0.2


def test_lenet5_trains():
    x, y = teacher_data(200)
    learner = make_learner(LeNet5Spec(), TrainConfig(lr=0.02, batch_size=10), len(y))
    before = learner.evaluate(x, y).loss
    learner.train_epoch(x, y, np.random.default_rng(0), None)
    assert learner.evaluate(x, y).loss < before


@pytest.mark.parametrize("spec", [SMALL, LeNet5Spec()], ids=lambda s: s.describe())
def test_same_seed_gives_bit_for_bit_the_same_params(spec):
    x, y = teacher_data(100)
    config = TrainConfig(lr=0.05, optimizer="momentum", batch_size=10, seed=7)
    runs = []
    for _ in range(2):
        learner = make_learner(spec, config, len(y))
        cost = learner.train_epoch(x, y, np.random.default_rng(config.seed), None)
        runs.append((cost, learner.params()))
    assert runs[0][0] == runs[1][0]
    for name, p in runs[0][1].items():
        np.testing.assert_array_equal(p, runs[1][1][name])


def test_initial_params_are_the_shared_seeded_ones():
    config = TrainConfig(seed=11)
    learner = make_learner(SMALL, config, 100)
    expected = init_params(SMALL, np.random.default_rng(11), "float32")
    given = make_learner(SMALL, config, 100, params=init_params(SMALL, np.random.default_rng(4)))
    for name, p in learner.params().items():
        np.testing.assert_array_equal(p, expected[name])
        assert not np.array_equal(given.params()[name], p) or "bias" in name


def test_huge_learning_rate_raises_diverged_error():
    x, y = teacher_data(100)
    learner = make_learner(SMALL, TrainConfig(lr=1e30, optimizer="sgd"), len(y))
    with pytest.raises(DivergedError, match=r"--lr"):
        learner.train_epoch(x, y, np.random.default_rng(0), None)


def test_float64_mode():
    x, y = teacher_data(50)
    config = TrainConfig(lr=0.05, dtype="float64")
    learner = make_learner(SMALL, config, len(y))
    cost = learner.train_epoch(x, y, np.random.default_rng(0), None)
    assert np.isfinite(cost)
    assert all(p.dtype == np.float64 for p in learner.params().values())
    assert learner.logits(x).dtype == np.float64


def test_epoch_cost_is_mean_cross_entropy_plus_l2():
    """With a negligible step the epoch's cost is the cost of the starting network."""
    x, y = teacher_data(100)
    config = TrainConfig(lr=1e-12, l2=5.0, optimizer="sgd", batch_size=10, dtype="float64")
    learner = make_learner(SMALL, config, len(y))
    start = learner.evaluate(x, y).loss + l2_cost(learner.params(), 5.0, len(y))
    cost = learner.train_epoch(x, y, np.random.default_rng(0), None)
    assert cost == pytest.approx(start, rel=1e-9)


def test_progress_is_reported_in_chunks_that_add_up(monkeypatch):
    monkeypatch.setattr(learner_module, "PROGRESS_SECONDS", math.inf)  # by count alone
    n = 2 * PROGRESS_EVERY + 2_000
    x = np.zeros((n, 28, 28), dtype=np.float32)
    y = np.zeros(n, dtype=np.int64)
    config = TrainConfig(batch_size=500, optimizer="sgd")
    learner = make_learner(MLPSpec(hidden=(2,)), config, n)
    calls: list[tuple[int, float, float]] = []
    learner.train_epoch(x, y, np.random.default_rng(0), lambda *a: calls.append(a))
    assert [c[0] for c in calls] == [PROGRESS_EVERY, PROGRESS_EVERY, 2_000]
    # every label is 0: the running accuracy is the share of batches answered 0
    assert all(0 <= acc <= 1 and loss > 0 for _, loss, acc in calls)
    assert calls[-1][2] == learner.train_acc


def test_progress_comes_at_least_every_progress_seconds(monkeypatch):
    monkeypatch.setattr(learner_module, "PROGRESS_SECONDS", 0.0)  # every step is due
    x, y = teacher_data(100)
    learner = make_learner(SMALL, TrainConfig(batch_size=10), len(y))
    calls: list[int] = []
    learner.train_epoch(x, y, np.random.default_rng(0), lambda n, *_: calls.append(n))
    assert calls == [10] * 10


def test_evaluate_scores_the_logits():
    x, y = teacher_data(300)
    learner = make_learner(SMALL, TrainConfig(), len(y))
    logits = learner.logits(x)
    assert logits.shape == (300, 10)
    assert isinstance(logits, np.ndarray)
    assert learner.evaluate(x, y) == accuracy_and_loss(learner.logits, x, y)


def test_evaluate_runs_the_network_in_eval_batches_with_the_same_score(monkeypatch):
    n = 2 * learner_module.EVAL_BATCH + 100
    x, y = teacher_data(n)
    learner = make_learner(SMALL, TrainConfig(), n)
    calls: list[int] = []
    forward = learner.model.forward
    monkeypatch.setattr(learner.model, "forward", lambda t: calls.append(len(t)) or forward(t))
    score = learner.evaluate(x, y)
    assert calls == [learner_module.EVAL_BATCH, learner_module.EVAL_BATCH, 100]
    assert score == accuracy_and_loss(learner.logits, x, y)  # slice by slice: bit for bit


def test_params_are_copies():
    x, y = teacher_data(50)
    learner = make_learner(SMALL, TrainConfig(lr=0.1), len(y))
    before = learner.params()
    saved = {name: p.copy() for name, p in before.items()}
    learner.train_epoch(x, y, np.random.default_rng(0), None)
    for name, p in before.items():
        np.testing.assert_array_equal(p, saved[name])
    assert list(before) == list(SMALL.parameter_shapes())


@pytest.mark.parametrize(
    ("optimizer", "kind", "momentum"),
    [
        ("sgd", torch.optim.SGD, 0.0),
        ("momentum", torch.optim.SGD, 0.8),
        ("adam", torch.optim.Adam, None),
    ],
)
def test_optimizers_leave_l2_to_the_cost(optimizer, kind, momentum):
    config = dataclasses.replace(TrainConfig(), optimizer=optimizer, momentum=0.8)
    learner = make_learner(SMALL, config, 100)
    group = learner.optimizer.param_groups[0]
    assert type(learner.optimizer) is kind
    assert group["weight_decay"] == 0
    if kind is torch.optim.SGD:
        assert (group["momentum"], group["dampening"], group["nesterov"]) == (momentum, 0, False)
    else:
        assert group["betas"] == (0.9, 0.999) and group["eps"] == 1e-8


@pytest.mark.parametrize(("batch", "threads_inside"), [(10, 1), (SINGLE_THREAD_BELOW, 2)])
def test_small_batches_train_on_one_thread_and_restore_the_count(batch, threads_inside):
    n = PROGRESS_EVERY
    x, y = np.zeros((n, 28, 28), dtype=np.float32), np.zeros(n, dtype=np.int64)
    learner = make_learner(MLPSpec(hidden=(2,)), TrainConfig(batch_size=batch), n)
    seen: list[int] = []
    torch.set_num_threads(2)
    try:
        learner.train_epoch(
            x, y, np.random.default_rng(0), lambda *_: seen.append(torch.get_num_threads())
        )
        assert set(seen) == {threads_inside}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)
