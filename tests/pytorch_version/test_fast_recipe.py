"""The fast recipe learns on real MNIST on both backends, and its file works everywhere.

A few thousand images only: the 99% bar is the benchmark's (benchmarks/bench.py), not a
test's.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from mnistlab.backends import make_learner
from mnistlab.cli import main
from mnistlab.config import get_recipe
from mnistlab.data.mnist import load_splits
from mnistlab.models.spec import build_spec

pytestmark = pytest.mark.mnist
N_TRAIN = 4_000


@pytest.fixture(scope="module")
def splits(mnist_dir):
    return load_splits(data_dir=mnist_dir, limit_train=N_TRAIN)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_fast_recipe_learns_a_few_thousand_images(splits, backend) -> None:
    """Two epochs of the recipe (one cycle over both) on 4,000 images: > 90% on 2,000
    validation images, from 10% at the start."""
    recipe = get_recipe("fast")
    config = recipe.config(epochs=2)
    learner = make_learner(backend, build_spec(recipe.model, None, "relu"), config, N_TRAIN)
    x_val, y_val = splits.val.x[:2_000], splits.val.y[:2_000]
    before = learner.evaluate(x_val, y_val).acc
    rng = np.random.default_rng(0)
    for _ in range(config.epochs):
        learner.train_epoch(splits.train.x, splits.train.y, rng, None)
    assert learner.steps_done == 2 * -(-N_TRAIN // config.batch_size)
    assert before < 0.3 < 0.9 < learner.evaluate(x_val, y_val).acc


def test_train_recipe_fast_records_it_and_its_file_loads_in_summary(
    tmp_path, mnist_dir, capsys
) -> None:
    """(Both backends reading one convnet file: test_model_transfer.py.)"""
    out = tmp_path / "run"
    argv = ["train", "--recipe", "fast", "--limit-train", "1000", "--data-dir", str(mnist_dir)]
    assert main([*argv, "--backend", "torch", "--device", "cpu", "--out", str(out)]) == 0
    trained = json.loads((out / "history.json").read_text())["config"]["train"]
    assert trained["optimizer"] == "adam" and trained["schedule"] == "onecycle"
    capsys.readouterr()
    assert main(["summary", str(out / "model.safetensors"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["model"]["model"] == "convnet" and summary["flops"] > 0
