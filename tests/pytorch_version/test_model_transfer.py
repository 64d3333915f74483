"""A model file written by one backend predicts the same on the other: all 10,000 test images.

Each model is trained briefly on real MNIST (so its logits are far from uniform), saved,
loaded back, and run by both backends; the predictions must be identical and the logits
within 1e-4, for the MLP and for LeNet-5, whichever backend trained it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from mnistlab.backends import make_learner
from mnistlab.cli import main
from mnistlab.config import TrainConfig
from mnistlab.data.mnist import load_splits
from mnistlab.models.modelfile import load_model, save_model
from mnistlab.models.spec import ConvNetSpec, LeNet5Spec, MLPSpec

pytestmark = pytest.mark.mnist


@pytest.fixture(scope="module")
def splits(mnist_dir):
    return load_splits(data_dir=mnist_dir, limit_train=2_000)


@pytest.mark.parametrize(
    ("spec", "trainer"),
    [
        (MLPSpec(hidden=(64, 32)), "numpy"),
        (MLPSpec(hidden=(64, 32), activation="tanh"), "torch"),
        (LeNet5Spec(), "numpy"),
        (LeNet5Spec(), "torch"),
        (ConvNetSpec(), "numpy"),
        (ConvNetSpec(), "torch"),
    ],
    ids=[
        "mlp-from-numpy",
        "mlp-from-torch",
        "lenet5-from-numpy",
        "lenet5-from-torch",
        "convnet-from-numpy",
        "convnet-from-torch",
    ],
)
def test_both_backends_predict_the_same_from_one_file(tmp_path, splits, spec, trainer):
    config = TrainConfig(epochs=1, batch_size=50)
    learner = make_learner(trainer, spec, config, len(splits.train))
    learner.train_epoch(splits.train.x, splits.train.y, np.random.default_rng(0), None)
    path = tmp_path / "model.safetensors"
    save_model(path, spec, learner.params(), {"backend": trainer})

    model = load_model(path)
    logits = {
        backend: make_learner(backend, model.spec, config, 1, model.params).logits(splits.test.x)
        for backend in ("numpy", "torch")
    }
    assert logits["numpy"].shape == (10_000, 10)
    assert logits["numpy"].std() > 1.0  # a trained network, not near-uniform outputs
    np.testing.assert_array_equal(logits["numpy"].argmax(1), logits["torch"].argmax(1))
    np.testing.assert_allclose(logits["torch"], logits["numpy"], rtol=0, atol=1e-4)


def test_evaluate_gives_the_same_report_on_both_backends(tmp_path, splits, mnist_dir, capsys):
    spec = MLPSpec(hidden=(32,))
    learner = make_learner("numpy", spec, TrainConfig(epochs=1), len(splits.train))
    learner.train_epoch(splits.train.x, splits.train.y, np.random.default_rng(0), None)
    path = tmp_path / "model.safetensors"
    save_model(path, spec, learner.params())
    reports = {}
    for backend in ("numpy", "torch"):
        argv = ["evaluate", str(path), "--backend", backend, "--json", "--data-dir", str(mnist_dir)]
        assert main(argv) == 0
        reports[backend] = json.loads(capsys.readouterr().out)
    assert reports["numpy"] == reports["torch"]
    assert reports["numpy"]["test_acc"] > 0.8
