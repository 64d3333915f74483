"""The Python API and the command line are one implementation: the same settings give the
same run, the same defaults, the same refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import mnistlab as ml
from mnistlab.cli import main
from mnistlab.training import HISTORY

from .test_checkpoint import synthetic_splits

VARYING = ("started", "seconds", "machine")  # wall-clock times and load, nothing else


def comparable(path: Path) -> dict:
    """history.json without the times, which no two runs share."""
    history = json.loads((path / HISTORY).read_text())
    for key in VARYING:
        history["config"].pop(key, None)
    for epoch in history["epochs"]:
        epoch.pop("seconds")
    return history


@pytest.mark.mnist
@pytest.mark.parametrize(
    ("flags", "settings"),
    [
        (["--hidden", "32,16", "--activation", "tanh", "--epochs", "2"],
         {"hidden": (32, 16), "activation": "tanh", "epochs": 2}),
        (["--backend", "torch", "--optimizer", "adam", "--lr", "0.002", "--epochs", "2"],
         {"backend": "torch", "optimizer": "adam", "lr": 0.002, "epochs": 2}),
        (["--model", "lenet5", "--epochs", "1"], {"model": "lenet5", "epochs": 1}),
    ],
    ids=["mlp", "torch-adam", "lenet5-recipe"],
)  # fmt: skip
def test_the_command_line_and_the_api_give_the_same_history(
    tmp_path: Path, mnist_dir: Path, flags: list[str], settings: dict
) -> None:
    limit = 1_000 if "lenet5" not in flags else 300
    common = ["--data-dir", str(mnist_dir), "--limit-train", str(limit), "--seed", "3"]
    assert main(["train", *common, *flags, "--out", str(tmp_path / "cli")]) == 0
    run = ml.train(
        data_dir=mnist_dir, limit_train=limit, seed=3, out=tmp_path / "api", log=None,
        progress=False, **settings,
    )  # fmt: skip
    assert comparable(tmp_path / "api") == comparable(tmp_path / "cli")
    assert (
        run.history.to_json()["epochs"][0]["val_acc"]
        == comparable(tmp_path / "cli")["epochs"][0]["val_acc"]
    )
    cli_model = ml.load_model(tmp_path / "cli" / "model.safetensors")
    for name, tensor in cli_model.params.items():
        np.testing.assert_array_equal(run.model.params[name], tensor, err_msg=name)


def test_in_memory_and_given_data_match_a_recorded_run(tmp_path: Path) -> None:
    splits = synthetic_splits(300)
    quiet = {"log": None, "progress": False, "data": splits, "hidden": 8, "epochs": 3}
    kept = ml.train(**quiet, limit_train=200)
    recorded = ml.train(ml.TrainSettings(limit_train=200, out=tmp_path / "run"), **quiet)
    assert kept.out is None and recorded.out == tmp_path / "run"
    numbers = [(e.train_loss, e.val_acc, e.test_acc) for e in kept.history.epochs]
    assert numbers == [(e.train_loss, e.val_acc, e.test_acc) for e in recorded.history.epochs]
    assert kept.history.config["n_train"] == 200 and kept.history.config["limit_train"] == 200
    best = kept.best["epoch"]
    assert kept.model.info["best"]["epoch"] == best
    saved = ml.load_model(tmp_path / "run" / "model.safetensors")
    for name, tensor in saved.params.items():  # the best epoch's network, in memory too
        np.testing.assert_array_equal(kept.model.params[name], tensor, err_msg=name)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"lr": 0}, "--lr: the learning rate must be a positive number, got 0"),
        ({"hidden": "64,0"}, "--hidden 64,0: every hidden layer needs at least one neuron"),
        ({"hidden": (64, 0)}, "--hidden 64,0: every hidden layer needs at least one neuron"),
        ({"recipe": "fast", "model": "mlp"}, "--recipe fast trains --model convnet, not mlp"),
        ({"backend": "jax"}, "unknown backend 'jax'"),
        ({"limit_train": 0}, "--limit-train must be between 1 and 50000, not 0"),
        ({"resume": "nowhere"}, "--resume nowhere: no such run directory"),
    ],
)
def test_the_api_refuses_what_the_command_refuses(settings: dict, message: str) -> None:
    with pytest.raises(ml.UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ml.train(data=synthetic_splits(40), log=None, progress=False, **settings)


def test_an_unknown_setting_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="unknown training settings \\['colour'\\]"):
        ml.train(colour="blue")


def test_defaults_are_the_commands(capsys) -> None:
    run = ml.train(data=synthetic_splits(40), epochs=1, progress=False)
    config = run.history.config
    assert config["backend"] == "numpy" and config["architecture"]["hidden"] == [256]
    assert config["train"] == {**ml.TrainConfig(epochs=1).to_json()}
    assert "MLP [784, 256, 10] relu on numpy, 40 train" in capsys.readouterr().out
    lenet = ml.train(data=synthetic_splits(20), model="lenet5", epochs=1, log=None, progress=False)
    assert lenet.history.config["train"]["l2"] == 25.0  # LeNet-5's recipe


def test_a_model_reads_arrays_and_scores_them() -> None:
    splits = synthetic_splits(200)
    run = ml.train(data=splits, hidden=16, epochs=2, lr=0.05, log=None, progress=False)
    model = run.model
    logits = model.logits(splits.test.x)
    assert logits.shape == (200, 10) and logits.dtype == np.float32
    np.testing.assert_array_equal(model.predict(splits.test.x), logits.argmax(axis=1))
    np.testing.assert_array_equal(model.predict(splits.test.x[0]), logits[:1].argmax(axis=1))
    np.testing.assert_allclose(model.probabilities(splits.test.x).sum(axis=1), 1.0)
    result = model.evaluate(splits)
    assert result.accuracy == pytest.approx(np.mean(logits.argmax(axis=1) == splits.test.y))
    assert result.confusion.sum() == 200 and np.trace(result.confusion) == result.correct
    assert len(result.mistakes) == 200 - result.correct
    assert model.evaluate(splits.val).accuracy == pytest.approx(run.best["val_acc"])
    assert result.accuracy == pytest.approx(run.best["test_acc"])
    with pytest.raises(ml.UserError, match="feature maps are drawn for LeNet-5"):
        model.feature_maps(splits.test.x[:1])


def test_figures_show_inline(tmp_path: Path) -> None:
    splits = synthetic_splits(60)
    run = ml.train(data=splits, hidden=8, epochs=2, log=None, progress=False)
    figure = ml.plot_curves(run)
    png = figure._repr_png_()  # what Jupyter asks a displayed object for
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    assert figure.save(tmp_path / "c.png").read_bytes().startswith(b"\x89PNG")
    assert isinstance(ml.plot_weights(run.model), ml.Figure)


def test_a_resumed_run_whose_best_epoch_came_before_returns_that_model(tmp_path: Path) -> None:
    quiet = {"data": synthetic_splits(100), "hidden": 8, "log": None, "progress": False}
    first = ml.train(**quiet, epochs=1, lr=1e-9, out=tmp_path / "run")
    more = ml.train(**quiet, resume=tmp_path / "run", epochs=2)
    assert [e.epoch for e in more.history.epochs] == [1, 2] and more.best["epoch"] == 1
    for name, tensor in first.model.params.items():
        np.testing.assert_array_equal(more.model.params[name], tensor, err_msg=name)


def test_every_train_flag_is_a_setting() -> None:
    """The command passes the flags given to `train` by name: a flag without a field of
    the same name in TrainSettings would be dropped silently."""
    from mnistlab.api.settings import SETTINGS
    from mnistlab.cli import build_parser

    sub = build_parser()._subparsers._group_actions[0]  # type: ignore[union-attr]
    train = sub.choices["train"]
    flags = {a.dest for a in train._actions if a.option_strings and a.dest != "help"}
    assert flags == set(SETTINGS), flags ^ set(SETTINGS)
