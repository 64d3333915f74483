"""The NumPy ConvNet against PyTorch autograd and centred differences, in float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mnistlab.errors import UserError
from mnistlab.models.spec import ConvNetSpec
from mnistlab.numpy_version.convnet import ConvNet
from mnistlab.numpy_version.gradcheck import check_model_gradients, randomize_biases

SPEC = ConvNetSpec(channels=(4, 6), hidden=12)


def batch(n: int, seed: int = 0, dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((n, 28, 28)).astype(dtype), rng.integers(0, 10, n)


def torch_convnet(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """The convnet in torch.nn.functional, ReLU before pooling as it is usually written."""
    a1 = F.max_pool2d(F.relu(F.conv2d(x.reshape(-1, 1, 28, 28), *conv(params, "conv1"))), 2)
    a2 = F.max_pool2d(F.relu(F.conv2d(a1, *conv(params, "conv2"))), 2)
    a3 = F.relu(F.linear(a2.flatten(1), params["fc1.weight"], params["fc1.bias"]))
    return F.linear(a3, params["fc2.weight"], params["fc2.bias"])


def conv(params: dict[str, torch.Tensor], name: str) -> tuple[torch.Tensor, torch.Tensor]:
    return params[f"{name}.weight"], params[f"{name}.bias"]


@pytest.mark.parametrize("spec", [SPEC, ConvNetSpec()], ids=["small", "default"])
def test_logits_loss_and_every_gradient_match_torch_autograd(spec: ConvNetSpec) -> None:
    model = ConvNet(spec, seed=1, dtype="float64")
    randomize_biases(model, np.random.default_rng(2))
    x, y = batch(9)
    tparams = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}
    tlogits = torch_convnet(tparams, torch.from_numpy(x))
    tloss = F.cross_entropy(tlogits, torch.from_numpy(y))
    tloss.backward()
    loss, grads = model.loss_and_grads(x, y)
    np.testing.assert_allclose(model.forward(x), tlogits.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert loss == pytest.approx(tloss.item(), rel=1e-12)
    assert list(grads) == list(spec.parameter_shapes())
    for name, g in grads.items():
        ref = tparams[name].grad.numpy()
        np.testing.assert_allclose(g, ref, rtol=1e-10, atol=1e-12 * np.abs(ref).max(), err_msg=name)


def test_backprop_matches_centred_differences_with_l2() -> None:
    model = ConvNet(SPEC, seed=3, dtype="float64")
    randomize_biases(model, np.random.default_rng(4))
    x, y = batch(3, seed=5)
    errors = check_model_gradients(model, x, y, l2=2.0, max_entries=25)
    assert set(errors) == set(SPEC.parameter_shapes())
    assert max(errors.values()) < 1e-7, errors


def test_scaled_gradients_go_into_the_given_vector() -> None:
    model = ConvNet(SPEC, seed=6, dtype="float64")
    x, y = batch(4)
    loss, plain = model.loss_and_grads(x, y)
    out = model.theta.zeros_like()
    loss2, views = model.loss_and_grads(x, y, scale=0.5, out=out)
    assert loss2 == loss and views is out.views
    for name, g in plain.items():
        np.testing.assert_allclose(out.views[name], 0.5 * g, rtol=1e-12, atol=1e-15)


def test_float32_stays_float32_and_tracks_float64() -> None:
    x, y = batch(6)
    m32 = ConvNet(SPEC, seed=7)
    m64 = ConvNet(SPEC, m32.params, dtype="float64")
    (loss32, g32), (loss64, g64) = m32.loss_and_grads(x, y), m64.loss_and_grads(x, y)
    assert m32.forward(x).dtype == np.float32
    assert {g.dtype for g in g32.values()} == {np.dtype(np.float32)}
    assert abs(loss32 - loss64) < 1e-5
    for name, g in g64.items():
        np.testing.assert_allclose(g32[name], g, rtol=1e-3, atol=1e-4 * np.abs(g).max())


def test_input_shapes_and_chunks_give_the_same_logits() -> None:
    model = ConvNet(SPEC, seed=8)
    x, _ = batch(7, dtype=np.float32)
    ref = model.forward(x)
    for shaped in (x.reshape(7, 1, 28, 28), x.reshape(7, 784)):
        assert np.array_equal(model.forward(shaped), ref)
    model.CHUNK = 3
    np.testing.assert_allclose(model.forward(x), ref, rtol=1e-5, atol=1e-6)
    assert model.forward(x[:0]).shape == (0, 10)
    with pytest.raises(UserError):
        model.forward(np.zeros((3, 27, 27)))


def test_layers_are_torchs_activations_images_first() -> None:
    model = ConvNet(SPEC, seed=8, dtype="float64")
    randomize_biases(model, np.random.default_rng(9))
    x, _ = batch(3, seed=10)
    t = {k: torch.from_numpy(v) for k, v in model.params.items()}
    a1 = F.relu(F.max_pool2d(F.conv2d(torch.from_numpy(x)[:, None], *conv(t, "conv1")), 2))
    a2 = F.relu(F.max_pool2d(F.conv2d(a1, *conv(t, "conv2")), 2))
    a3 = F.relu(F.linear(a2.flatten(1), t["fc1.weight"], t["fc1.bias"]))
    ref = {"conv1": a1, "conv2": a2, "fc1": a3, "logits": torch_convnet(t, torch.from_numpy(x))}
    layers = model.layers(x)
    assert {k: v.shape for k, v in layers.items()} == {
        "conv1": (3, 4, 12, 12),
        "conv2": (3, 6, 5, 5),
        "fc1": (3, 12),
        "logits": (3, 10),
    }
    assert layers["conv1"].flags.c_contiguous and layers["conv2"].flags.c_contiguous
    for name, a in layers.items():
        np.testing.assert_allclose(a, ref[name].numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
