"""Watchers see a run as it trains, and a learning-rate change made while it trains is part
of the run: recorded, and the same numbers as a run that had it in its settings from the
start."""

from __future__ import annotations

import dataclasses
import functools
import json
import math

import numpy as np
import pytest

from mnistlab.config import TrainConfig
from mnistlab.errors import UserError
from mnistlab.learner import change_lr
from mnistlab.models.spec import LeNet5Spec, MLPSpec
from mnistlab.training import HISTORY, train

from .test_checkpoint import numbers, synthetic_splits


class Recorder:
    """A watcher that notes every call, and changes the learning rate once if asked."""

    def __init__(self, change_at_seen: int | None = None, lr: float = 0.0) -> None:
        self.calls: list[tuple] = []
        self.change_at_seen, self.lr = change_at_seen, lr
        self.learner = None

    def started(self, learner, history) -> None:
        self.learner = learner
        self.calls.append(("started", len(history.epochs)))

    def steps(self, epoch, seen, loss, acc) -> None:
        self.calls.append(("steps", epoch, seen, loss, acc))
        if self.change_at_seen is not None and epoch == 2 and seen >= self.change_at_seen:
            change_lr(self.learner, self.lr)
            self.change_at_seen = None

    def epoch_saved(self, record, history) -> None:
        self.calls.append(("epoch", record.epoch))

    def finished(self, history, error) -> None:
        self.calls.append(("finished", type(error).__name__ if error else None))


def test_config_changes_the_base_rate_from_a_step_on() -> None:
    config = TrainConfig(lr=0.1, lr_decay=0.5).with_lr_change(10, 0.02)
    assert config.per_step and config.lr_changes == ((10, 0.02),)
    assert config.lr_at_step(9, 100, 1) == pytest.approx(0.1)
    assert config.lr_at_step(10, 100, 1) == pytest.approx(0.02)
    assert config.lr_at_step(50, 100, 3) == pytest.approx(0.02 * 0.25)  # decay goes on
    again = config.with_lr_change(10, 0.03).with_lr_change(20, 0.01)
    assert again.lr_changes == ((10, 0.03), (20, 0.01))  # the same step: replaced
    assert TrainConfig(**json.loads(json.dumps(again.to_json()))) == again


def test_one_cycle_is_scaled_by_a_change() -> None:
    plain = TrainConfig(schedule="onecycle", lr=0.01)
    changed = plain.with_lr_change(0, 0.02)
    for step in (0, 10, 99):
        assert changed.lr_at_step(step, 100, 1) == pytest.approx(2 * plain.lr_at_step(step, 100, 1))


@pytest.mark.parametrize(
    "changes", [[(-1, 0.1)], [(5, 0.0)], [(5, math.nan)], [(5, 0.1), (5, 0.2)]]
)
def test_bad_changes_are_refused_in_one_line(changes) -> None:
    with pytest.raises(UserError, match="learning-rate change"):
        TrainConfig(lr_changes=tuple(changes))


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_watchers_are_called_in_order_with_running_figures(backend, monkeypatch) -> None:
    monkeypatch.setattr("mnistlab.learner.PROGRESS_SECONDS", 0.0)  # every step reports
    splits = synthetic_splits(100)
    watcher = Recorder()
    config = TrainConfig(epochs=2, batch_size=25)
    history, _ = train(
        MLPSpec(hidden=(8,)), config, splits, backend, None, log=None, show_progress=False,
        watchers=[watcher],
    )  # fmt: skip
    kinds = [c[0] for c in watcher.calls]
    assert kinds == ["started", *["steps"] * 4, "epoch", *["steps"] * 4, "epoch", "finished"]
    steps = [c for c in watcher.calls if c[0] == "steps"]
    assert [c[2] for c in steps] == [25, 50, 75, 100] * 2
    last = steps[-1]
    assert last[4] == pytest.approx(history.epochs[-1].train_acc)
    assert all(e.train_acc is not None and 0 <= e.train_acc <= 1 for e in history.epochs)
    assert watcher.calls[-1] == ("finished", None)


def test_a_watcher_hears_why_a_run_stopped() -> None:
    class Boom(Exception):
        pass

    watcher = Recorder()

    def stop(epoch: int) -> None:
        raise Boom

    with pytest.raises(Boom):
        train(
            MLPSpec(hidden=(4,)), TrainConfig(epochs=2), synthetic_splits(50), "numpy", None,
            log=None, show_progress=False, watchers=[watcher], on_saved=stop,
        )  # fmt: skip
    assert watcher.calls[-1] == ("finished", "Boom")


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("spec", [MLPSpec(hidden=(16,)), LeNet5Spec()], ids=["mlp", "lenet5"])
def test_a_change_while_training_equals_the_same_change_in_the_settings(
    tmp_path, backend, spec, monkeypatch
) -> None:
    monkeypatch.setattr("mnistlab.learner.PROGRESS_SECONDS", 0.0)
    splits = synthetic_splits(200 if isinstance(spec, MLPSpec) else 60)
    config = TrainConfig(epochs=3, lr=0.05, batch_size=20)
    quiet = functools.partial(train, spec, log=None, show_progress=False)
    watcher = Recorder(change_at_seen=splits.train.x.shape[0] // 2, lr=0.005)
    steered, steered_learner = quiet(config, splits, backend, tmp_path / "a", watchers=[watcher])
    changes = steered_learner.config.lr_changes
    per_epoch = -(-len(splits.train) // config.batch_size)
    assert len(changes) == 1 and per_epoch < changes[0][0] < 2 * per_epoch
    recorded = json.loads((tmp_path / "a" / HISTORY).read_text())["config"]["train"]
    assert recorded["lr_changes"] == [[changes[0][0], 0.005]]
    replayed, replayed_learner = quiet(
        dataclasses.replace(config, lr_changes=changes), splits, backend, tmp_path / "b"
    )
    assert numbers(replayed) == numbers(steered)
    for name, tensor in steered_learner.params().items():
        np.testing.assert_array_equal(replayed_learner.params()[name], tensor, err_msg=name)
    unsteered, _ = quiet(config, splits, backend, None)
    assert numbers(unsteered)[:1] == numbers(steered)[:1]  # the change came in epoch 2
    assert numbers(unsteered)[1:] != numbers(steered)[1:]
