"""What the lab protocol needs from a network, whichever backend trains it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from mnistlab.config import TrainConfig
from mnistlab.errors import DivergedError
from mnistlab.models.spec import ModelSpec

Progress = Callable[[int], None]  # called with the number of examples just processed


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


def diverged(loss: float, epoch: int) -> DivergedError:
    """The one wording of a blown-up loss, whichever backend noticed it."""
    return DivergedError(
        f"the training loss became {loss} in epoch {epoch}; try a lower learning rate (--lr)"
    )


def minibatches(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Index arrays of one shuffled epoch. Both backends use it, so they see the same batches."""
    order = rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


EVAL_BATCH = 2_000  # large enough to be fast, small enough to bound memory
PROGRESS_EVERY = 5_000  # examples between progress callbacks: keeps tqdm out of the hot loop
# Batches smaller than this train on one thread, on both backends: their matrix products
# are too small to share out, and a second thread that has to wait for a busy core turns
# every step into a hand-off (an epoch at batch 10 ran 2× slower with two, or far worse
# when another process held the other core).
SINGLE_THREAD_BELOW = 100


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
