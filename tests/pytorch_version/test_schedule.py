"""One-cycle and Adam's betas: the NumPy pieces against torch's own, step by step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mnistlab.config import TrainConfig
from mnistlab.models.init import init_params
from mnistlab.models.spec import ConvNetSpec, MLPSpec
from mnistlab.numpy_version.learner import make_learner as make_numpy_learner
from mnistlab.numpy_version.optimizers import make_optimizer
from mnistlab.pytorch_version.learner import make_learner as make_torch_learner

ONECYCLE_ADAM = TrainConfig(
    lr=0.01, optimizer="adam", beta1=0.7, beta2=0.9, schedule="onecycle", warmup=0.3
)


@pytest.mark.parametrize(("total", "warmup"), [(40, 0.3), (196, 0.3), (7, 0.5), (100, 0.25)])
def test_onecycle_is_torchs_onecyclelr(total: int, warmup: float) -> None:
    config = TrainConfig(lr=0.02, schedule="onecycle", warmup=warmup)
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([p], lr=config.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=config.lr, total_steps=total, pct_start=warmup, cycle_momentum=False
    )
    for t in range(total):
        expected = opt.param_groups[0]["lr"]
        assert config.lr_at_step(t, total, epoch=1) == pytest.approx(expected, rel=1e-12), t
        opt.step()
        sched.step()


def test_adam_with_betas_under_onecycle_equals_torch_optim_every_step() -> None:
    rng = np.random.default_rng(0)
    theta = rng.normal(size=30)
    grads = [rng.normal(size=30) for _ in range(12)]
    t = torch.tensor(theta, requires_grad=True)
    opt_t = torch.optim.Adam([t], lr=ONECYCLE_ADAM.lr, betas=(0.7, 0.9))
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt_t, max_lr=ONECYCLE_ADAM.lr, total_steps=len(grads), cycle_momentum=False
    )
    opt = make_optimizer(ONECYCLE_ADAM, theta)
    for i, g in enumerate(grads):
        opt.lr = ONECYCLE_ADAM.lr_at_step(i, len(grads), epoch=1)
        opt.step(g * opt.grad_scale)
        t.grad = torch.tensor(g)
        opt_t.step()
        sched.step()
        np.testing.assert_allclose(theta, t.detach().numpy(), rtol=1e-10, atol=1e-14)
    assert opt.t == len(grads) and opt.m.shape == opt.v.shape == theta.shape


@pytest.mark.parametrize(
    "spec", [ConvNetSpec(channels=(3, 5), hidden=8), MLPSpec((8,))], ids=["convnet", "mlp"]
)
def test_both_learners_take_the_same_onecycle_adam_steps_across_epochs(spec) -> None:
    """Two epochs of one cycle: the schedule's position carries over the epoch boundary."""
    n = 50
    x = np.random.default_rng(1).random((n, 28, 28))
    y = np.random.default_rng(2).integers(0, 10, n)
    config = TrainConfig(
        **{**ONECYCLE_ADAM.to_json(), "epochs": 2, "batch_size": 16, "l2": 1.0, "dtype": "float64"}
    )
    start = init_params(spec, np.random.default_rng(3), "float64")
    finals = []
    for make in (make_numpy_learner, make_torch_learner):
        learner = make(spec, config, n, start)
        rng = np.random.default_rng(4)
        for _ in range(config.epochs):
            learner.train_epoch(x, y, rng, None)
        assert learner.steps_done == 8
        finals.append(learner.params())
    for name, p in finals[0].items():
        assert not np.array_equal(p, start[name])
        np.testing.assert_allclose(finals[1][name], p, rtol=1e-8, atol=1e-10, err_msg=name)


def test_device_auto_is_the_cpu_here_and_cuda_without_a_gpu_is_one_clear_error(
    monkeypatch,
) -> None:
    from mnistlab.errors import UserError
    from mnistlab.pytorch_version.learner import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(UserError, match="no CUDA"):
        resolve_device("cuda")
    learner = make_torch_learner(MLPSpec((4,)), TrainConfig(), 10, device="auto")
    assert next(learner.model.parameters()).device.type == "cpu"


@pytest.mark.parametrize(("given", "expected"), [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_torch_backend_makes_idle_openmp_threads_sleep_unless_told_otherwise(
    given, expected
) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given:
        env["OMP_WAIT_POLICY"] = given
    code = "import os, mnistlab.pytorch_version; print(os.environ['OMP_WAIT_POLICY'])"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == expected
