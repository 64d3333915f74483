"""The PyTorch networks match the shared specs: names, shapes, weights and inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mnistlab.models.init import init_params
from mnistlab.models.spec import ConvNetSpec, LeNet5Spec, MLPSpec
from mnistlab.pytorch_version.network import LeNet5, build_network, feature_maps

MLP_SPECS = [
    MLPSpec(hidden=(30,), activation="sigmoid"),
    MLPSpec(hidden=(64, 32), activation="tanh"),
    MLPSpec(hidden=(50, 40, 20), activation="relu"),
]
SPECS = [*MLP_SPECS, LeNet5Spec(), ConvNetSpec((4, 6), 10)]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.describe())
def test_state_dict_matches_spec(spec):
    model = build_network(spec, None)
    shapes = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    assert list(shapes.items()) == list(spec.parameter_shapes().items())


@pytest.mark.parametrize(
    ("spec", "count"),
    [(MLPSpec(hidden=(100,)), 79_510), (LeNet5Spec(), 61_706)],
    ids=["mlp-784-100-10", "lenet5"],
)
def test_parameter_count(spec, count):
    model = build_network(spec, None)
    assert sum(p.numel() for p in model.parameters()) == count


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.describe())
def test_params_round_trip_exactly(spec, dtype):
    params = init_params(spec, np.random.default_rng(3), dtype)
    model = build_network(spec, params, dtype)
    for name, tensor in model.state_dict().items():
        assert tensor.dtype == getattr(torch, dtype)
        np.testing.assert_array_equal(tensor.numpy(), params[name])


def test_network_copies_the_arrays_it_is_given():
    spec = MLPSpec(hidden=(8,))
    params = init_params(spec, np.random.default_rng(0))
    frozen = {name: p.copy() for name, p in params.items()}
    for p in params.values():
        p.flags.writeable = False  # as a model file's arrays may be
    model = build_network(spec, params)
    with torch.no_grad():
        for t in model.parameters():
            t.add_(1.0)
    for name, p in params.items():
        np.testing.assert_array_equal(p, frozen[name])


def test_wrong_params_are_refused():
    params = init_params(MLPSpec(hidden=(8,)), np.random.default_rng(0))
    with pytest.raises(RuntimeError):
        build_network(MLPSpec(hidden=(9,)), params)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.describe())
def test_every_input_shape_gives_the_same_logits(spec):
    model = build_network(spec, init_params(spec, np.random.default_rng(1)))
    images = torch.rand(4, 28, 28)
    expected = model(images)
    assert expected.shape == (4, 10)
    for shape in [(4, 1, 28, 28), (4, 784)]:
        torch.testing.assert_close(model(images.reshape(shape)), expected, rtol=0, atol=0)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_mlp_computes_the_textbook_formula(activation):
    """a = σ(W a + b) layer by layer, no activation on the output layer."""
    spec = MLPSpec(hidden=(7, 5), activation=activation)
    params = init_params(spec, np.random.default_rng(2), "float64")
    model = build_network(spec, params, "float64")
    x = np.random.default_rng(3).random((6, 784))
    sigma = {
        "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
        "tanh": np.tanh,
        "relu": lambda z: np.maximum(z, 0),
    }[activation]
    a = x
    for i in range(2):
        a = sigma(a @ params[f"layers.{i}.weight"].T + params[f"layers.{i}.bias"])
    expected = a @ params["layers.2.weight"].T + params["layers.2.bias"]
    np.testing.assert_allclose(model(torch.from_numpy(x)).detach().numpy(), expected, rtol=1e-12)


def test_lenet5_layers_and_feature_maps():
    model = build_network(LeNet5Spec(), init_params(LeNet5Spec(), np.random.default_rng(0)))
    assert isinstance(model, LeNet5)
    assert model.conv1.padding == (2, 2)
    maps = feature_maps(model, np.random.default_rng(0).random((3, 28, 28), dtype=np.float32))
    assert maps["conv1"].shape == (3, 6, 28, 28)
    assert maps["conv2"].shape == (3, 16, 10, 10)
    assert isinstance(maps["conv1"], np.ndarray)
    assert (maps["conv1"] >= 0).all()  # after the ReLU


def test_lenet5_activation_follows_the_spec():
    x = torch.rand(2, 28, 28, dtype=torch.float64)
    outputs = []
    for activation in ["relu", "tanh"]:
        spec = LeNet5Spec(activation=activation)
        params = init_params(LeNet5Spec(), np.random.default_rng(0), "float64")
        outputs.append(build_network(spec, params, "float64")(x))
    assert not torch.allclose(outputs[0], outputs[1])


def test_the_convnet_runs_channels_last_with_the_same_logits_and_names():
    spec = ConvNetSpec((4, 6), 10)
    params = init_params(spec, np.random.default_rng(5), "float64")
    model = build_network(spec, params, "float64")
    assert model.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    state = model.state_dict()
    for name, p in params.items():
        np.testing.assert_array_equal(state[name].numpy(), p)
    x = torch.from_numpy(np.random.default_rng(6).random((5, 28, 28)))
    plain = build_network(spec, params, "float64").to(memory_format=torch.contiguous_format)
    with torch.inference_mode():
        np.testing.assert_allclose(model(x).numpy(), plain(x).numpy(), rtol=1e-12, atol=1e-12)
