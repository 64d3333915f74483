"""Hand-written optimisers against torch.optim on the same parameters and gradients."""

from __future__ import annotations

import numpy as np
import pytest

from mnistlab.config import TrainConfig
from mnistlab.models.spec import MLPSpec
from mnistlab.numpy_version.optimizers import SGD, Adam, Momentum, make_optimizer

STEPS = 6


def start(dtype: type = np.float64) -> tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]]]:
    """Parameters and a sequence of gradients, as an optimiser would see them."""
    rng = np.random.default_rng(0)
    params = {"layers.0.weight": rng.normal(size=(4, 3)), "layers.0.bias": rng.normal(size=4)}
    grads = [{k: rng.normal(size=v.shape) for k, v in params.items()} for _ in range(STEPS)]
    cast = {k: v.astype(dtype) for k, v in params.items()}
    return cast, [{k: v.astype(dtype) for k, v in g.items()} for g in grads]


def torch_trajectory(config: TrainConfig) -> list[dict[str, np.ndarray]]:
    import torch

    params, grads = start()
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    if config.optimizer == "adam":
        opt = torch.optim.Adam(tensors.values(), lr=config.lr)
    else:
        momentum = config.momentum if config.optimizer == "momentum" else 0.0
        opt = torch.optim.SGD(tensors.values(), lr=config.lr, momentum=momentum)
    trajectory = []
    for g in grads:
        for k, t in tensors.items():
            t.grad = torch.tensor(g[k])
        opt.step()
        trajectory.append({k: t.detach().numpy().copy() for k, t in tensors.items()})
    return trajectory


CONFIGS = [
    TrainConfig(lr=0.1, optimizer="sgd"),
    TrainConfig(lr=0.05, optimizer="momentum", momentum=0.9),
    TrainConfig(lr=0.05, optimizer="momentum", momentum=0.5),
    TrainConfig(lr=0.01, optimizer="adam"),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.optimizer}-{c.momentum}")
def test_every_step_equals_torch_optim(config: TrainConfig) -> None:
    params, grads = start()
    opt = make_optimizer(config, params)
    for step, (g, expected) in enumerate(zip(grads, torch_trajectory(config), strict=True)):
        opt.step(g)
        for name, p in params.items():
            np.testing.assert_allclose(
                p, expected[name], rtol=1e-13, atol=1e-15, err_msg=f"step {step + 1}, {name}"
            )


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.optimizer}-{c.momentum}")
def test_updates_are_in_place_and_keep_float32(config: TrainConfig) -> None:
    params, grads = start(np.float32)
    live = dict(params)
    opt = make_optimizer(config, params)
    for g in grads:
        opt.step(g)
    for name, p in params.items():
        assert p is live[name]
        assert p.dtype == np.float32
    for state in ("velocity", "m", "v", "scratch"):
        for array in getattr(opt, state, {}).values():
            assert array.dtype == np.float32


def test_float32_tracks_float64() -> None:
    config = TrainConfig(lr=0.01, optimizer="adam")
    p32, g32 = start(np.float32)
    p64, g64 = start(np.float64)
    o32, o64 = make_optimizer(config, p32), make_optimizer(config, p64)
    for a, b in zip(g32, g64, strict=True):
        o32.step(a)
        o64.step(b)
    for name in p32:
        np.testing.assert_allclose(p32[name], p64[name], rtol=1e-5, atol=1e-6)


def test_first_momentum_step_is_a_plain_gradient_step() -> None:
    params, grads = start()
    before = {k: v.copy() for k, v in params.items()}
    make_optimizer(TrainConfig(lr=0.1, optimizer="momentum"), params).step(grads[0])
    for name, p in params.items():
        np.testing.assert_allclose(p, before[name] - 0.1 * grads[0][name], rtol=1e-15)


def test_make_optimizer_builds_what_the_config_names() -> None:
    params, _ = start()
    assert isinstance(make_optimizer(TrainConfig(optimizer="sgd"), params), SGD)
    assert isinstance(make_optimizer(TrainConfig(optimizer="momentum"), params), Momentum)
    adam = make_optimizer(TrainConfig(optimizer="adam", lr=0.003), params)
    assert isinstance(adam, Adam) and adam.lr == 0.003


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
