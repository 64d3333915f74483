"""The NumPy LeNet-5 against a PyTorch re-implementation built here from the same weights.

In float64 the logits, the loss and every parameter gradient must agree to 1e-6 relative
(they agree to ~1e-14); finite differences check a few gradient entries independently
of PyTorch.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mnistlab.errors import UserError
from mnistlab.models.init import init_params
from mnistlab.models.spec import LeNet5Spec
from mnistlab.numpy_version.lenet5 import LeNet5
from mnistlab.numpy_version.model import softmax_cross_entropy

TOL = 1e-6
TORCH_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": F.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
}


def batch(n: int, seed: int = 0, dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Random images in [0, 1) and labels."""
    rng = np.random.default_rng(seed)
    return rng.random((n, 28, 28)).astype(dtype), rng.integers(0, 10, n)


def torch_lenet5(
    params: dict[str, torch.Tensor], x: torch.Tensor, activation: str
) -> dict[str, torch.Tensor]:
    """LeNet-5 in torch.nn.functional, straight from the architecture's description."""
    f = TORCH_ACTIVATIONS[activation]
    c1 = f(
        F.conv2d(x.reshape(-1, 1, 28, 28), params["conv1.weight"], params["conv1.bias"], padding=2)
    )
    c2 = f(F.conv2d(F.max_pool2d(c1, 2), params["conv2.weight"], params["conv2.bias"]))
    c3 = f(F.conv2d(F.max_pool2d(c2, 2), params["conv3.weight"], params["conv3.bias"]))
    h = f(F.linear(c3.flatten(1), params["fc1.weight"], params["fc1.bias"]))
    logits = F.linear(h, params["fc2.weight"], params["fc2.bias"])
    return {"conv1": c1, "conv2": c2, "conv3": c3, "logits": logits}


def rel_err(ours: np.ndarray, ref: torch.Tensor) -> float:
    ref_np = ref.detach().numpy()
    assert ours.shape == ref_np.shape
    return float(np.abs(ours - ref_np).max() / max(np.abs(ref_np).max(), 1e-300))


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_logits_loss_and_every_gradient_match_torch(activation: str) -> None:
    model = LeNet5(LeNet5Spec(activation), seed=1, dtype="float64")
    x, y = batch(8)
    tparams = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}
    tlogits = torch_lenet5(tparams, torch.from_numpy(x), activation)["logits"]
    tloss = F.cross_entropy(tlogits, torch.from_numpy(y))
    tloss.backward()

    loss, grads = model.loss_and_grads(x, y)

    assert rel_err(model.forward(x), tlogits) < TOL
    assert abs(loss - tloss.item()) < TOL * abs(tloss.item())
    assert list(grads) == list(LeNet5Spec().parameter_shapes())
    errors = {name: rel_err(g, tparams[name].grad) for name, g in grads.items()}
    assert max(errors.values()) < TOL, errors


def test_feature_maps_match_torch() -> None:
    model = LeNet5(LeNet5Spec(), seed=2, dtype="float64")
    x, _ = batch(3, seed=1)
    tparams = {k: torch.from_numpy(v) for k, v in model.params.items()}
    ref = torch_lenet5(tparams, torch.from_numpy(x), "relu")
    maps = model.feature_maps(x)
    assert {k: v.shape for k, v in maps.items()} == {
        "conv1": (3, 6, 28, 28),
        "conv2": (3, 16, 10, 10),
        "conv3": (3, 120, 1, 1),
    }
    assert max(rel_err(maps[k], ref[k]) for k in maps) < TOL


def test_layers_are_torchs_activations_images_first() -> None:
    model = LeNet5(LeNet5Spec("tanh"), seed=4, dtype="float64")
    x, _ = batch(3, seed=5)
    tparams = {k: torch.from_numpy(v) for k, v in model.params.items()}
    ref = torch_lenet5(tparams, torch.from_numpy(x), "tanh")
    f6 = torch.tanh(F.linear(ref["conv3"].flatten(1), tparams["fc1.weight"], tparams["fc1.bias"]))
    expected = {
        "C1": ref["conv1"],
        "C3": ref["conv2"],
        "C5": ref["conv3"].flatten(1),
        "F6": f6,
        "logits": ref["logits"],
    }
    layers = model.layers(x)
    assert {k: v.shape for k, v in layers.items()} == {
        "C1": (3, 6, 28, 28),
        "C3": (3, 16, 10, 10),
        "C5": (3, 120),
        "F6": (3, 84),
        "logits": (3, 10),
    }
    assert layers["C1"].flags.c_contiguous and layers["C3"].flags.c_contiguous
    errors = {k: rel_err(layers[k], expected[k]) for k in layers}
    assert max(errors.values()) < TOL, errors


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_gradient_entries_match_finite_differences(activation: str) -> None:
    model = LeNet5(LeNet5Spec(activation), seed=3, dtype="float64")
    x, y = batch(4, seed=2)
    _, grads = model.loss_and_grads(x, y)
    rng = np.random.default_rng(0)
    eps = 1e-6
    for name in ("conv1.weight", "conv2.weight", "conv3.bias", "fc1.weight", "fc2.bias"):
        p = model.params[name]
        for _ in range(2):
            i = tuple(int(rng.integers(s)) for s in p.shape)
            saved = p[i]
            p[i] = saved + eps
            up = softmax_cross_entropy(model.forward(x), y)[0]
            p[i] = saved - eps
            down = softmax_cross_entropy(model.forward(x), y)[0]
            p[i] = saved
            numeric = (up - down) / (2 * eps)
            assert abs(numeric - grads[name][i]) <= 1e-6 + 1e-5 * abs(numeric), (name, i)


def test_float32_stays_float32() -> None:
    model = LeNet5(LeNet5Spec())
    x, y = batch(5)  # float64 images are cast on the way in
    loss, grads = model.loss_and_grads(x, y)
    assert isinstance(loss, float)
    assert model.forward(x).dtype == np.float32
    dtypes = {a.dtype for a in (*model.params.values(), *grads.values())}
    assert dtypes == {np.dtype(np.float32)}
    assert all(v.dtype == np.float32 for v in model.feature_maps(x).values())


def test_float32_agrees_with_float64() -> None:
    x, y = batch(6)
    m32 = LeNet5(LeNet5Spec(), seed=4)
    m64 = LeNet5(LeNet5Spec(), m32.params, dtype="float64")
    (loss32, g32), (loss64, g64) = m32.loss_and_grads(x, y), m64.loss_and_grads(x, y)
    assert abs(loss32 - loss64) < 1e-5
    for name, g in g64.items():
        np.testing.assert_allclose(g32[name], g, rtol=1e-3, atol=1e-4 * np.abs(g).max())


def test_every_input_shape_gives_the_same_logits() -> None:
    model = LeNet5(LeNet5Spec())
    x, _ = batch(3, dtype=np.float32)
    ref = model.forward(x)
    assert ref.shape == (3, 10)
    for shaped in (x.reshape(3, 1, 28, 28), x.reshape(3, 784)):
        assert np.array_equal(model.forward(shaped), ref)
    with pytest.raises(UserError):
        model.forward(np.zeros((3, 27, 27)))


def test_big_inputs_are_taken_in_chunks_with_the_same_result() -> None:
    model = LeNet5(LeNet5Spec())
    x, _ = batch(7, dtype=np.float32)
    whole = model.forward(x)
    model.CHUNK = 3
    np.testing.assert_allclose(model.forward(x), whole, rtol=1e-5, atol=1e-6)
    assert model.forward(x[:0]).shape == (0, 10)


def test_params_are_seeded_private_copies_in_the_spec_layout() -> None:
    spec = LeNet5Spec("tanh")
    given = init_params(spec, np.random.default_rng(9))
    model = LeNet5(spec, given)
    assert {k: v.shape for k, v in model.params.items()} == spec.parameter_shapes()
    model.params["fc2.bias"] += 1.0
    assert not given["fc2.bias"].any()  # the caller's arrays are untouched
    seeded = LeNet5(spec, seed=9).params
    assert all(np.array_equal(seeded[k], given[k]) for k in given)
    with pytest.raises(UserError):
        LeNet5(spec, {k: v for k, v in given.items() if k != "fc1.bias"})


def test_gradient_descent_lowers_the_loss() -> None:
    """A tiny learnable task: the label says which of ten horizontal bands is lit."""
    rng = np.random.default_rng(0)
    y = np.arange(20) % 10
    x = rng.random((20, 28, 28)).astype(np.float32) * 0.2
    for i, label in enumerate(y):
        x[i, 2 + 2 * label : 4 + 2 * label, 4:24] += 1.0
    model = LeNet5(LeNet5Spec(), seed=0)
    first, _ = model.loss_and_grads(x, y)
    for _ in range(10):
        loss, grads = model.loss_and_grads(x, y)
        for name, g in grads.items():
            model.params[name] -= 0.1 * g
    assert loss < 0.5 * first
