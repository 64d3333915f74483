"""Device-resident training (resident.py) on the CPU device: the same batches, the same
numbers as TorchLearner's own loop, the learning rate as the schedule and watchers say,
a warm-up that leaves no trace, and resuming exactly. CUDA graphs themselves are
checked in test_cuda.py where a GPU is present."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

import mnistlab.learner as learner_module
from mnistlab.config import TrainConfig, get_recipe
from mnistlab.learner import change_lr
from mnistlab.models.spec import ConvNetSpec, LeNet5Spec, MLPSpec
from mnistlab.pytorch_version.learner import make_learner

MLP = MLPSpec((16,), "relu")
CONVNET = ConvNetSpec((3, 4), 8)
LAB = TrainConfig(batch_size=7, epochs=2, l2=5.0)  # momentum, λ = 5
FAST = dataclasses.replace(get_recipe("fast").config(), batch_size=16, epochs=2)


def data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((n, 28, 28), dtype=np.float32)
    teacher = rng.standard_normal((784, 10))
    return x, (x.reshape(n, -1) @ teacher).argmax(axis=1).astype(np.int64)


def train(learner, x, y, epochs: int, rng=None, progress=None) -> list[float]:
    rng = np.random.default_rng(0) if rng is None else rng
    return [learner.train_epoch(x, y, rng, progress) for _ in range(epochs)]


def assert_same_params(a, b, rtol: float = 2e-5, atol: float = 1e-6) -> None:
    for name, p in a.params().items():
        np.testing.assert_allclose(b.params()[name], p, rtol=rtol, atol=atol, err_msg=name)


@pytest.mark.parametrize(
    ("spec", "config", "n"),
    [(MLP, LAB, 53), (LeNet5Spec(), dataclasses.replace(LAB, l2=25.0, lr_decay=0.8), 30),
     (CONVNET, FAST, 40)],
    ids=["mlp-momentum-l2", "lenet5-recipe", "convnet-fast-recipe"],
)  # fmt: skip
def test_resident_training_matches_the_cpu_loop(spec, config, n: int) -> None:
    """Same batches (a short last one included), same costs, accuracy, weights, scores."""
    x, y = data(n)
    eager = make_learner(spec, config, n)
    resident = make_learner(spec, config, n, resident=True)
    assert eager.resident is None and resident.resident is not None
    costs = [train(learner, x, y, config.epochs) for learner in (eager, resident)]
    np.testing.assert_allclose(costs[1], costs[0], rtol=1e-5)
    assert resident.train_acc == eager.train_acc
    assert (resident.steps_done, resident.epochs_done) == (eager.steps_done, eager.epochs_done)
    assert_same_params(eager, resident)
    np.testing.assert_allclose(resident.logits(x), eager.logits(x), rtol=1e-4, atol=1e-5)
    scores = [learner.evaluate(x, y) for learner in (eager, resident)]
    assert scores[1].acc == scores[0].acc
    assert scores[1].loss == pytest.approx(scores[0].loss, rel=1e-5)
    assert resident.optimizer_state().scalars == eager.optimizer_state().scalars


def test_the_order_is_exactly_the_minibatches_order() -> None:
    """Training on one example at a time exposes the order: row i of the device's table
    is the i-th batch `minibatches` would give from the same generator."""
    x, y = data(23)
    learner = make_learner(MLP, dataclasses.replace(LAB, batch_size=5), 23, resident=True)
    learner.train_epoch(x, y, np.random.default_rng(4), None)
    plan = learner.resident.plan
    batches = list(learner_module.minibatches(23, 5, np.random.default_rng(4)))
    order = plan.order.numpy()
    for i, batch in enumerate(batches):
        np.testing.assert_array_equal(order[i, : len(batch)], batch)
    assert order.shape == (5, 5) and (order[-1, 3:] == 0).all()
    np.testing.assert_allclose(plan.weight.numpy()[-1], [1 / 3] * 3 + [0, 0])


def test_learning_rate_changes_are_honoured_at_their_step() -> None:
    """A recorded change (TrainConfig.lr_changes) under one-cycle and under the epoch
    schedule: the device's rate follows config.lr_at_step, as the CPU loop's does."""
    x, y = data(40)
    for config in (
        dataclasses.replace(FAST, lr_changes=((3, 0.002),)),
        dataclasses.replace(LAB, lr_changes=((4, 0.05), (9, 0.001))),
    ):
        spec = CONVNET if config.optimizer == "adam" else MLP
        eager = make_learner(spec, config, 40)
        resident = make_learner(spec, config, 40, resident=True)
        for learner in (eager, resident):
            train(learner, x, y, 2)
        assert_same_params(eager, resident)
        last = config.lr_at_step(resident.steps_done - 1, config.total_steps(40), 2)
        assert float(resident.optimizer.param_groups[0]["lr"]) == pytest.approx(last)


def test_a_watchers_change_applies_from_the_next_step_and_replays(monkeypatch) -> None:
    """change_lr in a progress report (the page's slider) is recorded at the step it takes
    effect; a run with that recorded config trains the same network without a watcher."""
    monkeypatch.setattr(learner_module, "PROGRESS_SECONDS", 0.0)  # due after every step
    x, y = data(60)
    watched = make_learner(MLP, LAB, 60, resident=True)
    reports: list[tuple[int, float, float]] = []

    def progress(examples: int, loss: float, acc: float) -> None:
        reports.append((examples, loss, acc))
        if len(reports) == 2:
            change_lr(watched, 0.2)

    train(watched, x, y, 1, progress=progress)
    (step, lr), *_ = watched.config.lr_changes
    assert lr == 0.2 and 0 < step < watched.steps_done
    assert sum(r[0] for r in reports) == 60  # every example reported once
    assert all(loss > 0 and 0 <= acc <= 1 for _, loss, acc in reports)
    assert reports[-1][2] == watched.train_acc
    replay = make_learner(MLP, watched.config, 60, resident=True)
    train(replay, x, y, 1)
    for name, p in watched.params().items():
        np.testing.assert_array_equal(replay.params()[name], p, err_msg=name)
    unchanged = make_learner(MLP, LAB, 60, resident=True)
    train(unchanged, x, y, 1)
    assert not np.array_equal(unchanged.params()["layers.0.weight"], p)


@pytest.mark.parametrize(("spec", "config"), [(MLP, LAB), (CONVNET, FAST)], ids=["sgd", "adam"])
def test_warm_up_steps_leave_no_trace(spec, config) -> None:
    """What capture does first (real steps, then everything put back in place) changes
    nothing: the run equals one that never warmed up, bit for bit."""
    x, y = data(40)
    warmed = make_learner(spec, config, 40, resident=True)
    plan = warmed.resident.plan_for(x, y, config.batch_size)
    plan.order.random_(0, 40)
    before = warmed.params()
    warmed.resident.warm_up(plan, warmed.resident.saved_state())
    for name, p in before.items():
        np.testing.assert_array_equal(warmed.params()[name], p, err_msg=name)
    fresh = make_learner(spec, config, 40, resident=True)
    for learner in (warmed, fresh):
        train(learner, x, y, 2)
    for name, p in fresh.params().items():
        np.testing.assert_array_equal(warmed.params()[name], p, err_msg=name)


@pytest.mark.parametrize(("spec", "config"), [(MLP, LAB), (CONVNET, FAST)], ids=["sgd", "adam"])
def test_resuming_gives_the_numbers_of_a_run_never_stopped(spec, config) -> None:
    x, y = data(40)
    whole = make_learner(spec, config, 40, resident=True)
    whole_costs = train(whole, x, y, 2)
    first = make_learner(spec, config, 40, resident=True)
    rng = np.random.default_rng(0)
    costs = train(first, x, y, 1, rng)
    resumed = make_learner(spec, config, 40, params=first.params(), resident=True)
    resumed.load_optimizer_state(first.optimizer_state(), first.epochs_done, first.steps_done)
    costs += train(resumed, x, y, 1, rng)
    assert costs == whole_costs
    for name, p in whole.params().items():
        np.testing.assert_array_equal(resumed.params()[name], p, err_msg=name)


def test_a_diverging_run_stops_with_the_usual_error() -> None:
    from mnistlab.errors import DivergedError

    x, y = data(50)
    learner = make_learner(MLP, dataclasses.replace(LAB, lr=1e6), 50, resident=True)
    with pytest.raises(DivergedError, match="try a lower learning rate"):
        train(learner, x, y, 2)


def test_scoring_takes_large_batches_and_keeps_the_data_on_the_device(monkeypatch) -> None:
    from mnistlab.pytorch_version import learner as torch_learner

    monkeypatch.setattr(torch_learner, "DEVICE_EVAL_BATCH", 4_000)
    x, y = data(9_000)
    learner = make_learner(MLP, LAB, 9_000, resident=True)
    eager = make_learner(MLP, LAB, 9_000)
    calls: list[int] = []
    forward = learner.model.forward
    monkeypatch.setattr(learner.model, "forward", lambda t: calls.append(len(t)) or forward(t))
    score = learner.evaluate(x, y)
    assert calls == [4_000, 4_000, 1_000]
    assert score.acc == eager.evaluate(x, y).acc
    copies = learner.resident.arrays.copies
    assert any(array is x for array, _ in copies.values())
    learner.evaluate(x, y)
    assert len(copies) == 1  # the same array is not copied again
    assert math.isfinite(score.loss)


def test_the_device_copy_follows_the_array_not_its_address() -> None:
    from mnistlab.pytorch_version.resident import DeviceArrays

    arrays = DeviceArrays(torch.device("cpu"), keep=2)
    a, b, c = (np.full(3, v, dtype=np.float32) for v in (1, 2, 3))
    ta = arrays.get(a, torch.float32)
    assert arrays.get(a, torch.float32) is ta
    assert arrays.get(a, torch.float64).dtype == torch.float64
    arrays.get(b, torch.float32)
    arrays.get(c, torch.float32)
    assert len(arrays.copies) == 2 and arrays.get(c, torch.float32)[0] == 3
