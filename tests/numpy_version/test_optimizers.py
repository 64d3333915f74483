"""Hand-written optimisers against torch.optim on the same parameters and gradients."""

from __future__ import annotations

import numpy as np
import pytest

from mnistlab.config import TrainConfig
from mnistlab.models.spec import MLPSpec
from mnistlab.numpy_version.optimizers import SGD, Adam, Momentum, make_optimizer

STEPS = 6


def start(dtype: type = np.float64) -> tuple[np.ndarray, list[np.ndarray]]:
    """θ (a 4×3 weight and a bias of 4, as one vector) and a sequence of gradients."""
    rng = np.random.default_rng(0)
    theta = rng.normal(size=16)
    grads = [rng.normal(size=16) for _ in range(STEPS)]
    return theta.astype(dtype), [g.astype(dtype) for g in grads]


def torch_trajectory(config: TrainConfig) -> list[np.ndarray]:
    import torch

    theta, grads = start()
    t = torch.tensor(theta, requires_grad=True)
    if config.optimizer == "adam":
        opt = torch.optim.Adam([t], lr=config.lr)
    else:
        momentum = config.momentum if config.optimizer == "momentum" else 0.0
        opt = torch.optim.SGD([t], lr=config.lr, momentum=momentum)
    trajectory = []
    for g in grads:
        t.grad = torch.tensor(g)
        opt.step()
        trajectory.append(t.detach().numpy().copy())
    return trajectory


CONFIGS = [
    TrainConfig(lr=0.1, optimizer="sgd"),
    TrainConfig(lr=0.05, optimizer="momentum", momentum=0.9),
    TrainConfig(lr=0.05, optimizer="momentum", momentum=0.5),
    TrainConfig(lr=0.01, optimizer="adam"),
]


def step(opt, grad: np.ndarray) -> None:
    """What the learner does: hand over the gradient times the factor the optimiser asks."""
    opt.step(grad * opt.grad_scale)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.optimizer}-{c.momentum}")
def test_every_step_equals_torch_optim(config: TrainConfig) -> None:
    theta, grads = start()
    opt = make_optimizer(config, theta)
    for i, (g, expected) in enumerate(zip(grads, torch_trajectory(config), strict=True)):
        step(opt, g)
        np.testing.assert_allclose(theta, expected, rtol=1e-13, atol=1e-15, err_msg=f"step {i}")


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.optimizer}-{c.momentum}")
def test_updates_are_in_place_and_keep_float32(config: TrainConfig) -> None:
    theta, grads = start(np.float32)
    live = theta
    opt = make_optimizer(config, theta)
    for g in grads:
        step(opt, g)
    assert opt.theta is live and theta.dtype == np.float32
    for state in ("velocity", "m", "v", "scratch"):
        if hasattr(opt, state):
            assert getattr(opt, state).dtype == np.float32


def test_float32_tracks_float64() -> None:
    config = TrainConfig(lr=0.01, optimizer="adam")
    p32, g32 = start(np.float32)
    p64, g64 = start(np.float64)
    o32, o64 = make_optimizer(config, p32), make_optimizer(config, p64)
    for a, b in zip(g32, g64, strict=True):
        step(o32, a)
        step(o64, b)
    np.testing.assert_allclose(p32, p64, rtol=1e-5, atol=1e-6)


def test_first_momentum_step_is_a_plain_gradient_step() -> None:
    theta, grads = start()
    before = theta.copy()
    step(make_optimizer(TrainConfig(lr=0.1, optimizer="momentum"), theta), grads[0])
    np.testing.assert_allclose(theta, before - 0.1 * grads[0], rtol=1e-15)


def test_momentum_keeps_torchs_velocity_when_the_learning_rate_changes() -> None:
    """torch keeps v and applies the new lr to it; the scaled velocity u = lr·v must follow."""
    import torch

    theta, grads = start()
    t = torch.tensor(theta, requires_grad=True)
    reference = torch.optim.SGD([t], lr=0.1, momentum=0.9)
    opt = make_optimizer(TrainConfig(lr=0.1, optimizer="momentum"), theta)
    for i, g in enumerate(grads):
        if i == 3:
            opt.lr = 0.02
            reference.param_groups[0]["lr"] = 0.02
        step(opt, g)
        t.grad = torch.tensor(g)
        reference.step()
    np.testing.assert_allclose(theta, t.detach().numpy(), rtol=1e-13, atol=1e-15)


def test_make_optimizer_builds_what_the_config_names() -> None:
    theta, _ = start()
    assert isinstance(make_optimizer(TrainConfig(optimizer="sgd"), theta), SGD)
    assert isinstance(make_optimizer(TrainConfig(optimizer="momentum"), theta), Momentum)
    adam = make_optimizer(TrainConfig(optimizer="adam", lr=0.003), theta)
    assert isinstance(adam, Adam) and adam.lr == 0.003 and adam.grad_scale == 1.0


def test_the_learner_sets_each_epochs_learning_rate_from_the_decay():
    from mnistlab.numpy_version.learner import make_learner

    config = TrainConfig(lr=0.1, lr_decay=0.5, optimizer="sgd", batch_size=5)
    x = np.zeros((10, 28, 28), dtype=np.float32)
    y = np.zeros(10, dtype=np.int64)
    learner = make_learner(MLPSpec(hidden=(3,)), config, len(y))
    seen = []
    for _ in range(3):
        learner.train_epoch(x, y, np.random.default_rng(0), None)
        seen.append(learner.optimizer.lr)
    assert seen == [0.1, 0.05, 0.025]


@pytest.mark.parametrize("decay", [0.0, -0.5, 1.5, float("nan")])
def test_decay_outside_zero_to_one_is_refused(decay):
    from mnistlab.errors import UserError

    with pytest.raises(UserError, match="decay"):
        TrainConfig(lr_decay=decay)
