"""TensorBoard logs, read back with TensorBoard's own reader: the numbers are history.json's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mnistlab.cli import main
from mnistlab.config import TrainConfig
from mnistlab.models.spec import ConvNetSpec, LeNet5Spec, MLPSpec
from mnistlab.tensorboard import TensorBoardWatcher
from mnistlab.training import HISTORY, train

from .test_checkpoint import synthetic_splits

pytest.importorskip("tensorboardX")
accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def read_events(logdir: Path):
    """Everything in the event files: TensorBoard keeps only a sample unless told not to."""
    events = accumulator.EventAccumulator(
        str(logdir), size_guidance={"scalars": 0, "images": 0, "histograms": 0}
    )
    events.Reload()
    return events


def scalars(events, tag: str) -> list[tuple[int, float]]:
    return [(e.step, e.value) for e in events.Scalars(tag)]


def check_against_history(logdir: Path, run: Path, param_names: list[str]) -> None:
    history = json.loads((run / HISTORY).read_text())
    n = history["config"]["n_train"]
    epochs = history["epochs"]
    events = read_events(logdir)
    for tag, key in [
        ("epoch/val_accuracy", "val_acc"),
        ("epoch/val_loss", "val_loss"),
        ("epoch/train_cost", "train_loss"),
        ("epoch/seconds", "seconds"),
    ]:
        expected = [(e["epoch"] * n, e[key]) for e in epochs]
        got = scalars(events, tag)
        assert [s for s, _ in got] == [s for s, _ in expected], tag
        np.testing.assert_allclose([v for _, v in got], [v for _, v in expected], rtol=1e-6)
    tested = [(e["epoch"] * n, e["test_acc"]) for e in epochs if e["test_acc"] is not None]
    got = scalars(events, "epoch/test_accuracy")
    assert [s for s, _ in got] == [s for s, _ in tested]
    np.testing.assert_allclose([v for _, v in got], [v for _, v in tested], rtol=1e-6)
    # the running figures end each epoch on that epoch's train accuracy
    train_acc = dict(scalars(events, "train/accuracy"))
    for e in epochs:
        assert train_acc[e["epoch"] * n] == pytest.approx(e["train_acc"], rel=1e-6)
    loss = scalars(events, "train/loss")
    assert len(loss) >= len(epochs) and all(np.isfinite(v) for _, v in loss)
    assert [s for s, _ in loss] == sorted(s for s, _ in loss)
    images = events.Images("weights/first_layer")
    assert [i.step for i in images] == [0] + [e["epoch"] * n for e in epochs]
    assert images[-1].encoded_image_string.startswith(b"\x89PNG")
    for name in param_names:
        histograms = events.Histograms(f"parameters/{name}")
        assert [h.step for h in histograms] == [0] + [e["epoch"] * n for e in epochs]


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize(
    "spec", [MLPSpec(hidden=(8,)), LeNet5Spec(), ConvNetSpec(channels=(4, 6), hidden=16)]
)
def test_logs_hold_the_runs_numbers(tmp_path: Path, monkeypatch, backend: str, spec) -> None:
    monkeypatch.setattr("mnistlab.learner.PROGRESS_SECONDS", 0.0)  # every step reports
    splits = synthetic_splits(60 if isinstance(spec, MLPSpec) else 40)
    config = TrainConfig(epochs=3, batch_size=20, lr=0.05, lr_decay=0.5)
    logdir = tmp_path / "tb"
    train(
        spec, config, splits, backend, tmp_path / "run", log=None, show_progress=False,
        watchers=[TensorBoardWatcher(logdir)],
    )  # fmt: skip
    check_against_history(logdir, tmp_path / "run", list(spec.parameter_shapes()))
    lr = scalars(read_events(logdir), "train/learning_rate")
    assert len(lr) == 3 * len(splits.train) // 20  # every step of 20 images reported
    for step, value in lr:  # epoch e trains at 0.05 · 0.5^(e-1)
        epoch = -(-step // len(splits.train))
        assert value == pytest.approx(0.05 * 0.5 ** (epoch - 1)), step


def test_a_one_cycle_rate_is_logged_as_it_changes(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("mnistlab.learner.PROGRESS_SECONDS", 0.0)
    config = TrainConfig(epochs=2, batch_size=10, lr=0.01, schedule="onecycle")
    train(
        MLPSpec(hidden=(8,)), config, synthetic_splits(100), "numpy", None, log=None,
        show_progress=False, watchers=[TensorBoardWatcher(tmp_path)],
    )  # fmt: skip
    lr = [v for _, v in scalars(read_events(tmp_path), "train/learning_rate")]
    total = config.total_steps(100)
    expected = [config.lr_at_step(s, total, 1 + s // 10) for s in range(total)]
    np.testing.assert_allclose(lr, expected, rtol=1e-6)


@pytest.mark.mnist
def test_train_tensorboard_flag(tmp_path: Path, mnist_dir: Path, capsys) -> None:
    run, logdir = tmp_path / "run", tmp_path / "tb"
    argv = ["train", "--data-dir", str(mnist_dir), "--out", str(run), "--hidden", "32"]
    argv += ["--epochs", "2", "--limit-train", "2000", "--tensorboard", str(logdir)]
    assert main(argv) == 0
    check_against_history(logdir, run, list(MLPSpec(hidden=(32,)).parameter_shapes()))


def test_missing_tensorboardx_is_one_line(monkeypatch, capsys, tmp_path: Path) -> None:
    import builtins

    real_import = builtins.__import__

    def no_tensorboardx(name, *args, **kwargs):
        if name == "tensorboardX":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboardx)
    argv = ["train", "--data-dir", str(tmp_path), "--tensorboard", str(tmp_path / "tb")]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "mnistlab train: error: TensorBoard logs need tensorboardX: "
        "pip install 'mnistlab[tensorboard]'"
    )
    assert not (tmp_path / "run").exists() and not (tmp_path / "tb").exists()
