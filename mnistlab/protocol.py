"""The lab protocol, the same for every backend and model.

Each epoch: train on the training set, score validation (p_i). Only if p_i beats the best
validation accuracy so far (p) is the test set scored, p set to p_i and the model saved.
The result of a run is the test accuracy at the best validation epoch: the test set never
influences a choice.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from mnistlab.bars import progress_bar
from mnistlab.data.splits import Splits
from mnistlab.learner import Learner, diverged


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    val_loss: float
    val_acc: float
    test_acc: float | None  # None when validation did not improve: test was not scored
    seconds: float
    train_acc: float | None = None  # running accuracy over the epoch's batches (None: older runs)


@dataclass
class History:
    config: dict[str, Any]
    epochs: list[EpochRecord] = field(default_factory=list)
    best: dict[str, Any] | None = None  # {epoch, val_acc, test_acc}

    def to_json(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "epochs": [asdict(e) for e in self.epochs],
            "best": self.best,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> History:
        return cls(
            config=data["config"],
            epochs=[EpochRecord(**e) for e in data["epochs"]],
            best=data.get("best"),
        )


Callback = Callable[[EpochRecord, History], None]
# Between training steps, a few times a second: (epoch, examples trained on so far in it,
# the epoch's running cross-entropy, its running accuracy).
StepsCallback = Callable[[int, int, float, float], None]


def run_protocol(
    learner: Learner,
    splits: Splits,
    epochs: int,
    config: dict[str, Any],
    *,
    seed: int,
    on_improve: Callback | None = None,
    on_epoch: Callback | None = None,
    on_steps: StepsCallback | None = None,
    show_progress: bool = True,
    history: History | None = None,
    rng: np.random.Generator | None = None,
) -> History:
    """Train up to epoch `epochs` under the lab's rule; callbacks save models and history,
    `on_steps` sees the epoch as it trains.

    Given the `history` of the epochs already done and the shuffling generator `rng` as
    they left it (a checkpoint's), the run goes on exactly as if it had never stopped.
    """
    rng = np.random.default_rng(seed) if rng is None else rng
    history = History(config=config) if history is None else history
    best_val = history.best["val_acc"] if history.best else -math.inf
    n = len(splits.train)
    for epoch in range(len(history.epochs) + 1, epochs + 1):
        start = time.perf_counter()
        with progress_bar(
            total=n,
            desc=f"epoch {epoch}",
            unit="img",
            leave=False,
            disable=None if show_progress else True,
        ) as bar:
            seen = 0

            def progress(examples: int, loss: float, acc: float, epoch: int = epoch) -> None:
                nonlocal seen
                seen += examples
                bar.update(examples)
                if on_steps is not None:
                    on_steps(epoch, seen, loss, acc)

            train_loss = learner.train_epoch(splits.train.x, splits.train.y, rng, progress)
        if not math.isfinite(train_loss):
            raise diverged(train_loss, epoch)
        val = learner.evaluate(splits.val.x, splits.val.y)
        test_acc = None
        improved = val.acc > best_val
        if improved:
            best_val = val.acc
            test_acc = learner.evaluate(splits.test.x, splits.test.y).acc
        record = EpochRecord(
            epoch=epoch,
            train_loss=float(train_loss),
            val_loss=val.loss,
            val_acc=val.acc,
            test_acc=test_acc,
            seconds=time.perf_counter() - start,
            train_acc=getattr(learner, "train_acc", None),
        )
        history.epochs.append(record)
        if improved:
            history.best = {"epoch": epoch, "val_acc": val.acc, "test_acc": test_acc}
            if on_improve:
                on_improve(record, history)
        if on_epoch:
            on_epoch(record, history)
    return history


def format_epoch(record: EpochRecord, best: dict[str, Any] | None) -> str:
    """One line per epoch: what the student watches scroll by, named as the learning
    curves name it (train cost with L2; validation cross-entropy)."""
    if record.test_acc is not None:
        test = f"test {record.test_acc:7.2%}"
    else:
        best_val = best["val_acc"] if best else float("nan")
        test = f"test skipped (val did not beat {best_val:.2%})"
    train_acc = "" if record.train_acc is None else f"  train acc {record.train_acc:7.2%}"
    return (
        f"epoch {record.epoch:3d}  train cost (with L2) {record.train_loss:.4f}{train_acc}  "
        f"val cross-entropy {record.val_loss:.4f}  val {record.val_acc:7.2%}  {test}  "
        f"{record.seconds:6.1f} s"
    )
