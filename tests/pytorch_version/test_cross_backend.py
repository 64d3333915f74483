"""The PyTorch and NumPy backends compute the same networks and take the same steps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mnistlab.config import TrainConfig
from mnistlab.models.init import init_params
from mnistlab.models.spec import LeNet5Spec, MLPSpec
from mnistlab.numpy_version.learner import make_learner as make_numpy_learner
from mnistlab.numpy_version.lenet5 import LeNet5 as NumpyLeNet5
from mnistlab.numpy_version.network import Network as NumpyNetwork
from mnistlab.pytorch_version.learner import make_learner as make_torch_learner
from mnistlab.pytorch_version.network import build_network

ACTIVATIONS = ["sigmoid", "tanh", "relu"]
WIDTHS = [(12,), (12, 8), (12, 8, 6)]
TOLERANCE = {"float64": 1e-10, "float32": 1e-4}


def images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 28, 28), dtype=np.float32)


def torch_logits(spec, params, dtype, x) -> np.ndarray:
    model = build_network(spec, params, dtype)
    with torch.inference_mode():
        return model(torch.from_numpy(x.astype(dtype))).numpy()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("hidden", WIDTHS, ids=lambda h: f"k={len(h)}")
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_mlp_logits_agree(activation, hidden, dtype):
    spec = MLPSpec(hidden=hidden, activation=activation)
    params = init_params(spec, np.random.default_rng(1), dtype)
    x = images(20)
    expected = NumpyNetwork(spec, params, dtype=dtype).forward(x.astype(dtype))
    tol = TOLERANCE[dtype]
    np.testing.assert_allclose(torch_logits(spec, params, dtype, x), expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_lenet5_logits_agree(activation, dtype):
    spec = LeNet5Spec(activation=activation)
    params = init_params(spec, np.random.default_rng(2), dtype)
    x = images(8)
    expected = NumpyLeNet5(spec, params, dtype=dtype).forward(x.astype(dtype))
    tol = TOLERANCE[dtype]
    np.testing.assert_allclose(torch_logits(spec, params, dtype, x), expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize(
    "spec",
    [MLPSpec(hidden=(16, 8), activation="sigmoid"), LeNet5Spec(activation="relu")],
    ids=lambda s: s.describe(),
)
def test_one_epoch_gives_the_same_params(spec, optimizer):
    """Same start, same batches, same cost and update rule: the same network, in float64."""
    n = 60
    x = images(n, seed=3)
    y = np.random.default_rng(4).integers(0, 10, n)
    lr = 0.01 if optimizer == "adam" else 0.1
    config = TrainConfig(lr=lr, l2=2.0, optimizer=optimizer, batch_size=10, seed=5, dtype="float64")
    start = init_params(spec, np.random.default_rng(config.seed), config.dtype)
    results = []
    for make in (make_numpy_learner, make_torch_learner):
        learner = make(spec, config, n, start)
        cost = learner.train_epoch(x, y, np.random.default_rng(6), None)
        results.append((cost, learner.params()))
    (numpy_cost, numpy_params), (torch_cost, torch_params) = results
    assert torch_cost == pytest.approx(numpy_cost, rel=1e-10)
    for name, p in numpy_params.items():
        assert not np.array_equal(p, start[name]) or name.endswith(".bias")
        np.testing.assert_allclose(torch_params[name], p, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_learning_rate_decay_is_the_same_schedule_on_both_backends(optimizer):
    """Three epochs at lr, lr·γ, lr·γ²: both backends end with the same weights, and those
    differ from a fixed learning rate's."""
    spec = MLPSpec(hidden=(8,), activation="tanh")
    n = 40
    x, y = images(n, seed=8), np.random.default_rng(9).integers(0, 10, n)
    start = init_params(spec, np.random.default_rng(0), "float64")
    finals = {}
    for decay in (0.5, 1.0):
        config = TrainConfig(
            lr=0.05, lr_decay=decay, optimizer=optimizer, batch_size=10, dtype="float64"
        )
        for name, make in (("numpy", make_numpy_learner), ("torch", make_torch_learner)):
            learner = make(spec, config, n, start)
            rng = np.random.default_rng(1)
            for _ in range(3):
                learner.train_epoch(x, y, rng, None)
            finals[name, decay] = learner.params()
    for decay in (0.5, 1.0):
        for name, p in finals["numpy", decay].items():
            np.testing.assert_allclose(finals["torch", decay][name], p, rtol=1e-8, atol=1e-10)
    w = "layers.0.weight"
    assert not np.allclose(finals["numpy", 0.5][w], finals["numpy", 1.0][w])
