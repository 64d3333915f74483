"""The lab's rule, checked with a scripted stand-in for a network."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import pytest

from mnistlab.data.splits import Split, Splits
from mnistlab.errors import DivergedError
from mnistlab.learner import Score, minibatches
from mnistlab.protocol import format_epoch, run_protocol


class ScriptedLearner:
    """Plays back a fixed validation curve and counts how often each set is scored."""

    def __init__(self, val_accs: list[float], losses: list[float] | None = None) -> None:
        self.val_accs = val_accs
        self.losses = losses or [1.0] * len(val_accs)
        self.epoch = 0
        self.scored: list[tuple[int, str]] = []

    def train_epoch(self, x, y, rng, progress):
        self.epoch += 1
        if progress:
            progress(len(y), self.losses[self.epoch - 1], 0.5)
        return self.losses[self.epoch - 1]

    def evaluate(self, x, y):
        which = "val" if len(y) == 3 else "test"
        self.scored.append((self.epoch, which))
        acc = self.val_accs[self.epoch - 1] if which == "val" else 0.5 + self.epoch / 100
        return Score(loss=0.1, acc=acc)


def tiny_splits() -> Splits:
    def split(n: int) -> Split:
        return Split(np.zeros((n, 28, 28), np.float32), np.zeros(n, np.int64))

    return Splits(split(5), split(3), split(4), "mnist", "nowhere")


def test_test_is_scored_only_when_validation_improves() -> None:
    learner = ScriptedLearner([0.90, 0.92, 0.91, 0.92, 0.95, 0.94])
    improved: list[int] = []
    history = run_protocol(
        learner,
        tiny_splits(),
        6,
        {},
        seed=0,
        on_improve=lambda r, h: improved.append(r.epoch),
        show_progress=False,
    )
    tests = [epoch for epoch, which in learner.scored if which == "test"]
    assert tests == [1, 2, 5]  # ties (epoch 4) and drops (3, 6) do not count
    assert improved == [1, 2, 5]
    assert [e.test_acc for e in history.epochs] == [0.51, 0.52, None, None, 0.55, None]
    assert history.best == {"epoch": 5, "val_acc": 0.95, "test_acc": 0.55}
    assert [which for _, which in learner.scored].count("val") == 6


def test_result_is_test_accuracy_at_best_validation_epoch_not_best_test() -> None:
    learner = ScriptedLearner([0.97, 0.96])
    history = run_protocol(learner, tiny_splits(), 2, {}, seed=0, show_progress=False)
    assert history.best["epoch"] == 1
    assert history.best["test_acc"] == pytest.approx(0.51)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_loss_stops_the_run_with_advice(bad: float) -> None:
    learner = ScriptedLearner([0.9, 0.9, 0.9], losses=[1.0, bad, 1.0])
    with pytest.raises(DivergedError, match="lower learning rate"):
        run_protocol(learner, tiny_splits(), 3, {}, seed=0, show_progress=False)
    assert learner.epoch == 2


def test_history_round_trips_through_json() -> None:
    from mnistlab.protocol import History

    history = run_protocol(
        ScriptedLearner([0.5, 0.6]), tiny_splits(), 2, {"a": 1}, seed=0, show_progress=False
    )
    again = History.from_json(history.to_json())
    assert again == history


def test_epoch_line_says_when_test_was_skipped() -> None:
    history = run_protocol(
        ScriptedLearner([0.9, 0.8]), tiny_splits(), 2, {}, seed=0, show_progress=False
    )
    first, second = history.epochs
    assert "test  51.00%" in format_epoch(first, history.best)
    assert "skipped" in format_epoch(second, history.best)


# The shared batch order: every example once per epoch, in the seed's shuffled order.


def test_minibatches_cover_a_shuffled_epoch_once() -> None:
    batches = list(minibatches(10, 4, np.random.default_rng(5)))
    assert [len(b) for b in batches] == [4, 4, 2]
    order = np.concatenate(batches)
    np.testing.assert_array_equal(order, np.random.default_rng(5).permutation(10))
    assert not np.array_equal(order, np.arange(10))  # shuffled, not in file order


def test_one_batch_when_the_batch_is_larger_than_the_set() -> None:
    (batch,) = minibatches(3, 20, np.random.default_rng(0))
    assert sorted(batch.tolist()) == [0, 1, 2]


# ---------------------------------------------------------------- the generator and resuming


class RecordingLearner(ScriptedLearner):
    """Draws one number per epoch from the generator it is given, and keeps both."""

    def __init__(self, val_accs: list[float]) -> None:
        super().__init__(val_accs)
        self.rngs: list[np.random.Generator] = []
        self.draws: list[float] = []

    def train_epoch(self, x, y, rng, progress):
        assert x.shape == (5, 28, 28) and y.shape == (5,)  # the training split, not another
        self.rngs.append(rng)
        self.draws.append(float(rng.random()))
        return super().train_epoch(x, y, rng, progress)


def test_batches_are_shuffled_by_the_seeds_generator() -> None:
    learner = RecordingLearner([0.5, 0.6])
    run_protocol(learner, tiny_splits(), 2, {}, seed=7, show_progress=False)
    expected = np.random.default_rng(7)
    assert learner.draws == [expected.random(), expected.random()]


def test_a_given_generator_is_used_as_it_is() -> None:
    learner, rng = RecordingLearner([0.5]), np.random.default_rng(99)
    run_protocol(learner, tiny_splits(), 1, {}, seed=7, rng=rng, show_progress=False)
    assert learner.rngs == [rng]


def test_a_resumed_run_goes_on_from_its_history() -> None:
    from mnistlab.protocol import EpochRecord, History

    done = [EpochRecord(e, 1.0, 0.5, acc, 0.5, 1.0) for e, acc in ((1, 0.90), (2, 0.92))]
    history = History({"a": 1}, done, {"epoch": 2, "val_acc": 0.92, "test_acc": 0.5})
    learner = ScriptedLearner([0.0, 0.0, 0.91, 0.93])
    learner.epoch = 2
    again = run_protocol(learner, tiny_splits(), 4, {"b": 2}, seed=0, history=history)
    assert again is history and history.config == {"a": 1}
    assert [e.epoch for e in history.epochs] == [1, 2, 3, 4]
    assert history.epochs[2].test_acc is None  # 0.91 does not beat the recorded 0.92
    assert history.best == {"epoch": 4, "val_acc": 0.93, "test_acc": 0.54}


def test_epoch_line_names_the_validation_to_beat() -> None:
    from mnistlab.protocol import EpochRecord

    record = EpochRecord(3, 0.12345, 0.2, 0.9, None, 12.34, train_acc=0.9876)
    line = format_epoch(record, {"epoch": 2, "val_acc": 0.9512, "test_acc": 0.9})
    assert line == (
        "epoch   3  train cost (with L2) 0.1235  train acc  98.76%  val cross-entropy 0.2000  "
        "val  90.00%  test skipped (val did not beat 95.12%)    12.3 s"
    )
    assert "(val did not beat nan%)" in format_epoch(record, None)


class Bar:
    """Stands in for tqdm: keeps its settings and what was counted."""

    made: ClassVar[list[Bar]] = []

    def __init__(self, **kwargs) -> None:
        self.kwargs, self.count = kwargs, 0
        Bar.made.append(self)

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def update(self, n: int) -> None:
        self.count += n


@pytest.mark.parametrize(("show", "disable"), [(True, None), (False, True)])
def test_each_epoch_has_a_progress_bar_over_the_training_images(
    monkeypatch: pytest.MonkeyPatch, show: bool, disable: bool | None
) -> None:
    import mnistlab.protocol

    Bar.made = []
    monkeypatch.setattr(mnistlab.protocol, "progress_bar", Bar)
    run_protocol(ScriptedLearner([0.5, 0.6]), tiny_splits(), 2, {}, seed=0, show_progress=show)
    expected = {"total": 5, "unit": "img", "leave": False, "disable": disable}
    assert [b.kwargs for b in Bar.made] == [expected | {"desc": f"epoch {e}"} for e in (1, 2)]
    assert [b.count for b in Bar.made] == [5, 5]  # the learner reported every image


def test_progress_is_shown_unless_asked_not_to(monkeypatch: pytest.MonkeyPatch) -> None:
    import mnistlab.protocol

    Bar.made = []
    monkeypatch.setattr(mnistlab.protocol, "progress_bar", Bar)
    run_protocol(ScriptedLearner([0.5]), tiny_splits(), 1, {}, seed=0)
    assert Bar.made[0].kwargs["disable"] is None  # tqdm's own choice: shown on a terminal


def test_callbacks_get_the_epoch_and_the_history_so_far() -> None:
    seen: list[tuple[int, int, float | None]] = []
    learner = RecordingLearner([0.5, 0.4])
    splits = tiny_splits()
    history = run_protocol(
        learner,
        splits,
        2,
        {},
        seed=0,
        on_epoch=lambda r, h: seen.append((r.epoch, len(h.epochs), r.test_acc)),
        show_progress=False,
    )
    assert seen == [(1, 1, 0.51), (2, 2, None)]
    assert history.epochs[1].val_acc == 0.4


def test_a_diverged_run_names_the_loss_and_the_epoch() -> None:
    learner = ScriptedLearner([0.9, 0.9], losses=[1.0, math.inf])
    with pytest.raises(DivergedError, match=r"^the training loss became inf in epoch 2; "):
        run_protocol(learner, tiny_splits(), 2, {}, seed=0, show_progress=False)


class ShapeCheckingLearner(ScriptedLearner):
    """Scores only the split it is handed: validation has 3 images, test 4."""

    def evaluate(self, x, y):
        assert len(x) == len(y)
        return super().evaluate(x, y)


def test_every_epoch_is_recorded_as_it_was_measured() -> None:
    improved: list[int] = []
    history = run_protocol(
        ShapeCheckingLearner([0.5, 0.7]),
        tiny_splits(),
        2,
        {"a": 1},
        seed=0,
        on_improve=lambda r, h: improved.append(len(h.epochs)),
        show_progress=False,
    )
    assert history.config == {"a": 1}
    assert improved == [1, 2]  # the history so far, with this epoch in it
    for e in history.epochs:
        assert e.val_loss == 0.1 and e.train_loss == 1.0
        assert 0 <= e.seconds < 60
