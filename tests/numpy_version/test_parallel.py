"""Two halves on two threads give the whole batch's loss, gradient and logits."""

from __future__ import annotations

import numpy as np
import pytest

from mnistlab.config import TrainConfig
from mnistlab.models.spec import ConvNetSpec, LeNet5Spec
from mnistlab.numpy_version.learner import HALVES_FROM, make_learner, make_model
from mnistlab.numpy_version.parallel import TwoHalves

CONFIG = TrainConfig(dtype="float64", seed=3)


@pytest.mark.parametrize("spec", [ConvNetSpec((3, 4), 8), LeNet5Spec()], ids=["convnet", "lenet5"])
@pytest.mark.parametrize("n", [1, 7, 12])
def test_halves_equal_the_whole_batch(spec, n: int) -> None:
    model = make_model(spec, CONFIG)
    halves = TwoHalves(model, lambda: make_model(spec, TrainConfig(dtype="float64", seed=9)))
    rng = np.random.default_rng(n)
    x, y = rng.random((n, 28, 28)), rng.integers(0, 10, n)
    loss, whole = model.loss_and_grads(x, y, scale=0.3)
    out = model.theta.zeros_like()
    assert halves.loss_and_grads(x, y, scale=0.3, out=out) == pytest.approx(loss, rel=1e-13)
    for name, g in whole.items():
        np.testing.assert_allclose(out.views[name], g, rtol=1e-11, atol=1e-15, err_msg=name)
    np.testing.assert_allclose(halves.forward(x), model.forward(x), rtol=1e-13, atol=1e-15)
    twin = halves.models[1]
    assert twin.theta is model.theta and twin.conv1 is not model.conv1


def test_the_learner_splits_big_batches_and_trains_the_same_network() -> None:
    """At HALVES_FROM the learner uses the halves; the result matches one thread's."""
    spec = ConvNetSpec((3, 4), 8)
    config = TrainConfig(batch_size=HALVES_FROM, optimizer="adam", dtype="float64", lr=1e-3)
    n = HALVES_FROM + 30
    rng = np.random.default_rng(0)
    x, y = rng.random((n, 28, 28)), rng.integers(0, 10, n)
    split, serial = make_learner(spec, config, n), make_learner(spec, config, n)
    serial.halves = None
    assert split.halves_train
    for learner in (split, serial):
        learner.train_epoch(x, y, np.random.default_rng(1), None)
    for name, p in serial.params().items():
        np.testing.assert_allclose(split.params()[name], p, rtol=1e-9, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(split.logits(x), serial.logits(x), rtol=1e-12, atol=1e-14)
