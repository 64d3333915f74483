"""What the lab protocol needs from a network, whichever backend trains it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from mnistlab.config import TrainConfig
from mnistlab.errors import DivergedError
from mnistlab.models.spec import ModelSpec

# Called between training steps, a few times a second: (examples since the last call, the
# epoch's mean batch cross-entropy so far, the fraction of its examples classified right so
# far). A watcher may change the learner's config here (`change_lr`); the step after it
# trains with the new one.
Progress = Callable[[int, float, float], None]


@dataclass(frozen=True)
class Score:
    loss: float  # mean cross-entropy (no L2 term)
    acc: float  # fraction correct


@dataclass
class OptimizerState:
    """An optimiser's memory in a layout both backends read: PyTorch's names.

    `slots[slot][param]` is one tensor per parameter, shaped as that parameter:
    "momentum_buffer" (SGD with momentum), "exp_avg" and "exp_avg_sq" (Adam's m and v).
    `scalars` holds the rest: Adam's step count "step"; "buffer_scale" s, meaning the
    momentum buffer holds s·v (the NumPy backend keeps lr·v, PyTorch v itself, s = 1), so
    each backend reads its own buffer back bit for bit and the other's after one scaling.
    """

    name: str  # the optimiser: sgd, momentum, adam
    slots: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    scalars: dict[str, Any] = field(default_factory=dict)


class Learner(Protocol):
    spec: ModelSpec
    config: TrainConfig
    epochs_done: int  # epochs trained so far: the next one trains at config.lr_at(epochs_done + 1)
    steps_done: int  # optimiser steps so far, across epochs: config.lr_at_step's position
    train_acc: float  # the last epoch's running accuracy: its batches, each before its step

    def train_epoch(
        self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator, progress: Progress | None
    ) -> float:
        """One pass over (x, y) in shuffled mini-batches; returns the mean regularised cost."""
        ...

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> Score: ...

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Pre-softmax outputs (N, 10) as a NumPy array."""
        ...

    def params(self) -> dict[str, np.ndarray]:
        """Copies of the parameters under the spec's names, ready to save."""
        ...

    def optimizer_state(self) -> OptimizerState:
        """Copies of the optimiser's memory, for a checkpoint."""
        ...

    def load_optimizer_state(
        self, state: OptimizerState, epochs_done: int, steps_done: int
    ) -> None:
        """Go on from a checkpoint: the optimiser's memory, the epochs and the steps already
        trained (a per-step learning-rate schedule's position)."""
        ...


def change_lr(learner: Learner, lr: float) -> None:
    """Train on at base learning rate `lr` from the next step, recorded in the learner's
    config (`TrainConfig.lr_changes`) so that the run can be resumed and repeated."""
    learner.config = learner.config.with_lr_change(learner.steps_done, lr)


def diverged(loss: float, epoch: int) -> DivergedError:
    """The one wording of a blown-up loss, whichever backend noticed it."""
    return DivergedError(
        f"the training loss became {loss} in epoch {epoch}; try a lower learning rate (--lr)"
    )


def epoch_order(n: int, rng: np.random.Generator) -> np.ndarray:
    """The shuffled order of one epoch's n examples: what every backend and device trains in."""
    return rng.permutation(n)


def minibatches(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Index arrays of one shuffled epoch. Both backends use it, so they see the same batches."""
    order = epoch_order(n, rng)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


EVAL_BATCH = 2_000  # large enough to be fast, small enough to bound memory
# A learner reports progress after PROGRESS_EVERY examples or PROGRESS_SECONDS, whichever
# comes first: often enough for a live curve, rarely enough to keep tqdm and the watchers
# out of the hot loop (a clock read per step costs ~0.1 µs; a step, 100 µs or more).
PROGRESS_EVERY = 5_000
PROGRESS_SECONDS = 0.1
# Batches smaller than this train on one thread, on both backends: their matrix products
# are too small to share out, and a second thread that has to wait for a busy core turns
# every step into a hand-off (an epoch at batch 10 ran 2× slower with two, or far worse
# when another process held the other core).
SINGLE_THREAD_BELOW = 100


class Ticker:
    """When a training loop should report: counts the examples since it last did."""

    def __init__(self, every: float | None = None) -> None:
        # examples between reports (math.inf: by the clock alone); read when made
        self.every = PROGRESS_EVERY if every is None else every
        self.unreported = 0
        self.last = time.perf_counter()

    def due(self, examples: int) -> bool:
        """Add a step's examples; True when `every` of them or PROGRESS_SECONDS have
        passed since the last report (then call `take`)."""
        self.unreported += examples
        return self.unreported >= self.every or time.perf_counter() - self.last >= PROGRESS_SECONDS

    def take(self) -> int:
        """The examples to report now; the count starts again."""
        examples, self.unreported = self.unreported, 0
        self.last = time.perf_counter()
        return examples


def softmax(z: np.ndarray) -> np.ndarray:
    """exp(z − max z) / Σ exp(z − max z), row by row: never overflows."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def accuracy_and_loss(
    logits_fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, y: np.ndarray
) -> Score:
    """Score a network in chunks with a numerically stable cross-entropy."""
    total_loss = 0.0
    correct = 0
    for start in range(0, len(y), EVAL_BATCH):
        z = np.asarray(logits_fn(x[start : start + EVAL_BATCH]), dtype=np.float64)
        t = y[start : start + EVAL_BATCH]
        z_max = z.max(axis=1, keepdims=True)
        log_norm = z_max[:, 0] + np.log(np.exp(z - z_max).sum(axis=1))
        total_loss += float((log_norm - z[np.arange(len(t)), t]).sum())
        correct += int((z.argmax(axis=1) == t).sum())
    n = max(len(y), 1)
    return Score(loss=total_loss / n, acc=correct / n)
