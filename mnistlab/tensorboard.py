"""TensorBoard logs of a run, written by a watcher (watch.Watcher) while it trains.

`tensorboard --logdir DIR` then shows, on one x axis, the training images seen so far:

- `train/loss`, `train/accuracy`: the epoch's running cross-entropy and accuracy, each time
  the learner reports (a few times a second); `train/learning_rate`, the rate of that
  step (schedules and changes made while training included);
- `epoch/train_cost` (with the L2 term), `epoch/val_loss`, `epoch/val_accuracy`,
  `epoch/test_accuracy` (only at epochs whose validation improved: the lab protocol
  scores the test set nowhere else), `epoch/seconds`, once an epoch;
- `weights/first_layer`: the first layer's weights as an image (an MLP's neurons as
  28×28 tiles, a convolution's kernels), and a histogram of every parameter tensor,
  once an epoch.

Accuracies are fractions, as in history.json. The writer is tensorboardX: pure Python
(numpy and protobuf), TensorBoard's own file format, written from a background thread so
the run never waits for the disk. It imports torch when torch is installed (to recognise
its tensors): a NumPy run with TensorBoard logs pays torch's import once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from mnistlab.errors import UserError
from mnistlab.learner import Learner
from mnistlab.protocol import EpochRecord, History

FLUSH_SECONDS = 5  # TensorBoard shows a running run with at most this delay


def summary_writer_class() -> Any:
    """tensorboardX's SummaryWriter, or one line saying how to install it."""
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise UserError(
            "TensorBoard logs need tensorboardX: pip install 'mnistlab[tensorboard]'"
        ) from None
    return SummaryWriter


class TensorBoardWatcher:
    """Writes a run's scalars, first-layer weights and histograms to `logdir`.

    Made before anything else happens, it refuses at once (UserError) when tensorboardX is
    missing; the log directory is created when the run starts.
    """

    def __init__(self, logdir: str | os.PathLike[str]) -> None:
        self.logdir = Path(logdir)
        self.writer_class = summary_writer_class()
        self.writer: Any = None
        self.learner: Learner | None = None
        self.n_train = 0

    def started(self, learner: Learner, history: History) -> None:
        if self.writer is None:
            self.writer = self.writer_class(logdir=str(self.logdir), flush_secs=FLUSH_SECONDS)
        self.learner = learner
        self.n_train = int(history.config["n_train"])
        if not history.epochs:  # the starting weights, at 0 images seen
            self.weights(0)

    def steps(self, epoch: int, seen: int, loss: float, acc: float) -> None:
        step = self.images_seen(epoch - 1) + seen
        self.writer.add_scalar("train/loss", loss, step)
        self.writer.add_scalar("train/accuracy", acc, step)
        self.writer.add_scalar("train/learning_rate", self.learning_rate(epoch), step)

    def epoch_saved(self, record: EpochRecord, history: History) -> None:
        step = self.images_seen(record.epoch)
        scalars = {
            "epoch/train_cost": record.train_loss,
            "epoch/val_loss": record.val_loss,
            "epoch/val_accuracy": record.val_acc,
            "epoch/test_accuracy": record.test_acc,
            "epoch/seconds": record.seconds,
        }
        for tag, value in scalars.items():
            if value is not None:
                self.writer.add_scalar(tag, value, step)
        self.weights(step)

    def finished(self, history: History, error: BaseException | None) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def images_seen(self, epochs: int) -> int:
        """Training images seen by the end of epoch `epochs`: the x axis of every chart."""
        return epochs * self.n_train

    def learning_rate(self, epoch: int) -> float:
        """The rate the learner's last step ran at (its schedule and any change included)."""
        assert self.learner is not None
        config = self.learner.config
        last = max(self.learner.steps_done - 1, 0)
        return config.lr_at_step(last, config.total_steps(self.n_train), epoch)

    def weights(self, step: int) -> None:
        """The first layer as an image and a histogram of every parameter tensor."""
        from mnistlab.plots.digits import kernel_mosaic, weight_mosaic

        assert self.learner is not None
        params = self.learner.params()
        first = params[next(iter(self.learner.spec.parameter_shapes()))]  # the first weights
        mosaic = weight_mosaic(first) if first.ndim == 2 else kernel_mosaic(first)
        image = np.round(mosaic * 255).astype(np.uint8)
        self.writer.add_image("weights/first_layer", image, step, dataformats="HWC")
        for name, tensor in params.items():
            self.writer.add_histogram(f"parameters/{name}", tensor, step)
