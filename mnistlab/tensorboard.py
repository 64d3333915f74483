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

Accuracies are fractions, as in history.json. The files are written with tensorboardX's
FileWriter: pure Python (numpy and protobuf), TensorBoard's own format, written from a
background thread so the run never waits for the disk. The summaries are built here, each
report's three scalars as one event, histograms with numpy's equal-width bins, and the
weights as an 8-bit palette PNG (2 ms for 100 neurons): tensorboardX's own add_scalar,
add_histogram and add_image took about 1 ms, 20 ms and 100 ms a call here (the image
resized with Lanczos even at scale 1), several per cent of a 2-second MLP epoch.
tensorboardX imports torch when it is installed (to recognise its tensors): a NumPy run
with TensorBoard logs pays that import once.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from mnistlab.errors import UserError
from mnistlab.learner import Learner
from mnistlab.models.spec import first_weights
from mnistlab.protocol import EpochRecord, History

FLUSH_SECONDS = 5  # TensorBoard shows a running run with at most this delay
BINS = 30  # histogram buckets, equal width from the tensor's minimum to its maximum


def tensorboardx() -> tuple[Any, Any, Any]:
    """tensorboardX's FileWriter, Summary and HistogramProto, or one line saying how to
    install it."""
    try:
        from tensorboardX import FileWriter
        from tensorboardX.proto.summary_pb2 import HistogramProto, Summary
    except ImportError:
        raise UserError(
            "TensorBoard logs need tensorboardX: pip install 'mnistlab[tensorboard]'"
        ) from None
    return FileWriter, Summary, HistogramProto


class TensorBoardWatcher:
    """Writes a run's scalars, first-layer weights and histograms to `logdir`.

    Made before anything else happens, it refuses at once (UserError) when tensorboardX is
    missing; the log directory is created when the run starts.
    """

    def __init__(self, logdir: str | os.PathLike[str]) -> None:
        self.logdir = Path(logdir)
        self.file_writer, self.summary, self.histogram_proto = tensorboardx()
        self.writer: Any = None
        self.learner: Learner | None = None
        self.n_train = 0

    def started(self, learner: Learner, history: History) -> None:
        if self.writer is None:
            self.writer = self.file_writer(str(self.logdir), flush_secs=FLUSH_SECONDS)
        self.learner = learner
        self.n_train = int(history.config["n_train"])
        if not history.epochs:  # the starting weights, at 0 images seen
            self.weights(0)

    def steps(self, epoch: int, seen: int, loss: float, acc: float) -> None:
        running = {
            "train/loss": loss,
            "train/accuracy": acc,
            "train/learning_rate": self.learning_rate(epoch),
        }
        self.write(running, self.images_seen(epoch - 1) + seen)

    def epoch_saved(self, record: EpochRecord, history: History) -> None:
        step = self.images_seen(record.epoch)
        scalars = {
            "epoch/train_cost": record.train_loss,
            "epoch/val_loss": record.val_loss,
            "epoch/val_accuracy": record.val_acc,
            "epoch/test_accuracy": record.test_acc,
            "epoch/seconds": record.seconds,
        }
        self.write({tag: v for tag, v in scalars.items() if v is not None}, step)
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
        from mnistlab.plots.digits import kernel_tiles, weight_tiles

        assert self.learner is not None
        params = self.learner.params()
        first = first_weights(self.learner.spec, params)
        tiles = weight_tiles(first)[0] if first.ndim == 2 else kernel_tiles(first)
        values = [self.image("weights/first_layer", tiles)]
        values += [self.histogram(f"parameters/{name}", t) for name, t in params.items()]
        self.writer.add_summary(self.summary(value=values), step)

    def write(self, scalars: dict[str, float], step: int) -> None:
        """Scalars at one step, as one event."""
        values = [self.summary.Value(tag=t, simple_value=float(v)) for t, v in scalars.items()]
        self.writer.add_summary(self.summary(value=values), step)

    def histogram(self, tag: str, tensor: np.ndarray) -> Any:
        """A TensorBoard histogram of `tensor`: BINS equal-width buckets (right edges)."""
        values = np.asarray(tensor).ravel()
        counts, edges = np.histogram(values, bins=BINS)
        proto = self.histogram_proto(
            min=float(edges[0]),
            max=float(edges[-1]),
            num=float(values.size),
            sum=float(values.sum(dtype=np.float64)),
            sum_squares=float(np.dot(values, values)),
            bucket_limit=edges[1:].tolist(),
            bucket=counts.astype(np.float64).tolist(),
        )
        return self.summary.Value(tag=tag, histo=proto)

    def image(self, tag: str, tiles: np.ndarray) -> Any:
        """Signed tiles in [-1, 1] (NaN: gaps) as a palette PNG summary value, red +, blue −."""
        from mnistlab.plots.digits import diverging_palette

        indices, palette = diverging_palette(tiles)
        picture = Image.fromarray(indices, mode="P")
        picture.putpalette(palette)
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG", compress_level=1)
        height, width = indices.shape
        image = self.summary.Image(
            height=height, width=width, colorspace=3, encoded_image_string=buffer.getvalue()
        )
        return self.summary.Value(tag=tag, image=image)
