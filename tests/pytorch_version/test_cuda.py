"""On a CUDA GPU: each step replayed as a graph, the CPU's numbers, no host sync within an
epoch, the same history from the same seed, and resuming exactly. Skipped without a GPU
(CI has none); run on one with `pytest tests/pytorch_version/test_cuda.py`."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from mnistlab.config import TrainConfig, get_recipe
from mnistlab.models.spec import ConvNetSpec, LeNet5Spec, MLPSpec

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU (PyTorch sees none here)"
)

MLP = MLPSpec((64,), "relu")
LAB = TrainConfig(batch_size=20, epochs=2)
FAST = dataclasses.replace(get_recipe("fast").config(), epochs=2)
CASES = [(MLP, LAB), (LeNet5Spec(), dataclasses.replace(LAB, l2=25.0)), (ConvNetSpec(), FAST)]
IDS = ["mlp", "lenet5", "convnet-fast"]


def data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((n, 28, 28), dtype=np.float32)
    teacher = rng.standard_normal((784, 10))
    return x, (x.reshape(n, -1) @ teacher).argmax(axis=1).astype(np.int64)


def trained(spec, config, x, y, epochs: int, device: str = "cuda", **kwargs):
    from mnistlab.pytorch_version.learner import make_learner

    learner = make_learner(spec, config, len(y), device=device, **kwargs)
    rng = np.random.default_rng(config.seed)
    costs = [learner.train_epoch(x, y, rng, None) for _ in range(epochs)]
    return learner, costs


@pytest.mark.parametrize(("spec", "config"), CASES, ids=IDS)
def test_graph_replay_gives_the_cpu_loops_numbers(spec, config) -> None:
    x, y = data(1_010)  # a short last batch at 20 and at 256
    gpu, gpu_costs = trained(spec, config, x, y, 2)
    assert gpu.resident.graph_error is None and gpu.resident.plan.graph is not None
    cpu, cpu_costs = trained(spec, config, x, y, 2, device="cpu")
    np.testing.assert_allclose(gpu_costs, cpu_costs, rtol=1e-4)
    for name, p in cpu.params().items():
        np.testing.assert_allclose(gpu.params()[name], p, rtol=2e-3, atol=2e-4, err_msg=name)
    assert abs(gpu.train_acc - cpu.train_acc) <= 2 / len(y)
    assert gpu.evaluate(x, y).acc == pytest.approx(cpu.evaluate(x, y).acc, abs=2 / len(y))


@pytest.mark.parametrize(("spec", "config"), CASES, ids=IDS)
def test_the_same_seed_gives_the_same_history_on_cuda(spec, config) -> None:
    x, y = data(1_010)
    first, first_costs = trained(spec, config, x, y, 2)
    second, second_costs = trained(spec, config, x, y, 2)
    assert first_costs == second_costs and first.train_acc == second.train_acc
    for name, p in first.params().items():
        np.testing.assert_array_equal(second.params()[name], p, err_msg=name)


@pytest.mark.parametrize(("spec", "config"), CASES, ids=IDS)
def test_resume_on_cuda_matches_a_run_never_stopped(spec, config) -> None:
    from mnistlab.pytorch_version.learner import make_learner

    x, y = data(1_010)
    whole, whole_costs = trained(spec, config, x, y, 2)
    first = make_learner(spec, config, len(y), device="cuda")
    rng = np.random.default_rng(config.seed)
    costs = [first.train_epoch(x, y, rng, None)]
    resumed = make_learner(spec, config, len(y), params=first.params(), device="cuda")
    resumed.load_optimizer_state(first.optimizer_state(), first.epochs_done, first.steps_done)
    costs.append(resumed.train_epoch(x, y, rng, None))
    assert costs == whole_costs
    for name, p in whole.params().items():
        np.testing.assert_array_equal(resumed.params()[name], p, err_msg=name)


def test_a_learning_rate_change_reaches_the_replayed_steps() -> None:
    x, y = data(1_000)
    config = dataclasses.replace(FAST, lr_changes=((30, 0.001),))
    gpu, _ = trained(ConvNetSpec(), config, x, y, 2)
    cpu, _ = trained(ConvNetSpec(), config, x, y, 2, device="cpu")
    unchanged, _ = trained(ConvNetSpec(), FAST, x, y, 2)
    for name, p in cpu.params().items():
        np.testing.assert_allclose(gpu.params()[name], p, rtol=2e-3, atol=2e-4, err_msg=name)
    assert not np.allclose(unchanged.params()["fc2.weight"], cpu.params()["fc2.weight"])


def test_an_epoch_waits_for_the_gpu_a_fixed_few_times_whatever_its_length() -> None:
    """Host syncs per epoch (the order's upload, the final reads) do not grow with steps."""
    import warnings

    from mnistlab.pytorch_version.learner import make_learner

    counts = []
    for n in (400, 4_000):
        x, y = data(n)
        learner = make_learner(MLP, LAB, n, device="cuda")
        rng = np.random.default_rng(0)
        learner.train_epoch(x, y, rng, None)  # capture outside the count
        torch.cuda.set_sync_debug_mode("warn")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                learner.train_epoch(x, y, rng, lambda *a: None)
        finally:
            torch.cuda.set_sync_debug_mode("default")
        counts.append(sum("synchroniz" in str(w.message) for w in caught))
    assert counts[0] == counts[1] and counts[1] <= 8, counts
