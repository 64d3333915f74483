"""θ: one vector, weights first, and named views that are the model's live parameters."""

from __future__ import annotations

import numpy as np
import pytest

from mnistlab.errors import UserError
from mnistlab.models.init import init_params
from mnistlab.models.spec import LeNet5Spec, MLPSpec
from mnistlab.numpy_version.lenet5 import LeNet5
from mnistlab.numpy_version.network import Network
from mnistlab.numpy_version.parameters import ParameterVector

SPEC = MLPSpec(hidden=(5, 4))


def test_views_share_the_vector_and_weights_come_first() -> None:
    params = init_params(SPEC, np.random.default_rng(0), "float64")
    theta = ParameterVector.of(SPEC, params, np.dtype("float64"))
    assert list(theta.views) == list(SPEC.parameter_shapes())  # the spec's (file) order
    n_weights = sum(p.size for name, p in params.items() if name.endswith(".weight"))
    assert theta.n_weights == n_weights and theta.vector.size == sum(
        p.size for p in params.values()
    )
    for name, view in theta.views.items():
        np.testing.assert_array_equal(view, params[name])
        assert np.shares_memory(view, theta.vector)
        inside_weights = np.shares_memory(view, theta.weights)
        assert inside_weights == name.endswith(".weight")
    theta.vector[:] = 0
    assert all(not view.any() for view in theta.views.values())


def test_the_copy_is_private_and_zeros_like_keeps_the_layout() -> None:
    params = init_params(SPEC, np.random.default_rng(0), "float32")
    theta = ParameterVector.of(SPEC, params, np.dtype("float32"))
    params["layers.0.weight"][...] = 7
    assert not (theta.views["layers.0.weight"] == 7).any()
    grad = theta.zeros_like()
    assert grad.vector is not theta.vector and not grad.vector.any()
    assert {n: v.shape for n, v in grad.views.items()} == SPEC.parameter_shapes()


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda p: p.pop("layers.1.bias"), "missing"),
        (lambda p: p.update(extra=np.zeros(3)), "unexpected"),
        (lambda p: p.update({"layers.0.weight": np.zeros((5, 783))}), "shape"),
    ],
)
def test_wrong_names_or_shapes_are_a_user_error(edit, words) -> None:
    params = init_params(SPEC, np.random.default_rng(0), "float32")
    edit(params)
    with pytest.raises(UserError, match=words):
        ParameterVector.of(SPEC, params, np.dtype("float32"))


@pytest.mark.parametrize(
    "model", [Network(SPEC, dtype="float64"), LeNet5(LeNet5Spec(), dtype="float64")]
)
def test_scaled_gradients_written_into_out(model) -> None:
    rng = np.random.default_rng(1)
    x, y = rng.random((4, 28, 28)), rng.integers(0, 10, 4)
    loss, plain = model.loss_and_grads(x, y)
    out = model.theta.zeros_like()
    scaled_loss, scaled = model.loss_and_grads(x, y, scale=0.25, out=out)
    assert scaled_loss == loss
    for name, g in plain.items():
        assert np.shares_memory(scaled[name], out.vector)
        np.testing.assert_allclose(scaled[name], 0.25 * g, rtol=1e-12, atol=1e-18)
