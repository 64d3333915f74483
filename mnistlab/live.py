"""A run's live record: what the page shows while a run trains, and how the page steers it.

`LiveRecord` is a `watch.Watcher`: `mnistlab train` adds one unless --no-live. It writes,
in the run directory (docs/live.md gives every field):

- `events.jsonl`, append-only, one JSON object a line: "start" (also for each resume),
  "step" (at most every STEP_SECONDS, and at each epoch's end: step, epoch as a
  fraction, running loss and accuracy, learning rate, images/s, time left), "epoch" (the
  epoch's record, once its files are saved), "lr", "pause", "resume" and "end" (status
  and reason);
- `live.json`, the snapshot the page draws, rewritten atomically about every
  SNAPSHOT_SECONDS (further apart when that would cost the run more than SNAPSHOT_SHARE
  of its time): the first layer's weights, the current guesses on a fixed panel of PANEL
  validation digits, and every layer's activations for the first of them;
- `live.safetensors`, the network as it is now (a model file), written with each snapshot,
  so that the server reads a drawn digit with the current weights without ever talking to
  the training process.

It reads `control.json`, which whoever steers the run writes atomically:
`{"pause": bool, "stop": bool, "lr": [request number, learning rate] | null}`. Reading it
costs one stat() between steps; pause waits between two steps, stop raises
`StopRequested` (the Ctrl-C path: finished epochs and the best model stay saved), and a new
learning-rate request is `learner.change_lr`, logged as an "lr" event and written to
history.json at once (with the epochs saved so far). A control file left
by an earlier process is removed when a run starts, so an old "stop" never stops a new one.

The snapshot's numbers come from a NumPy twin of the network loaded with the learner's
current parameters, so both backends produce the same snapshot and the learner itself is
only read: a watched run gives the same numbers as one nobody watches.
"""

from __future__ import annotations

import base64
import json
import math
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from mnistlab.data.splits import Splits
from mnistlab.errors import UserError
from mnistlab.fileio import write_text
from mnistlab.interrupt import Interrupted, StopRequested
from mnistlab.learner import Learner, change_lr, softmax
from mnistlab.models.modelfile import save_model
from mnistlab.models.spec import MLPSpec, first_weights
from mnistlab.protocol import EpochRecord, History

EVENTS = "events.jsonl"
SNAPSHOT = "live.json"
LIVE_MODEL = "live.safetensors"
CONTROL = "control.json"
LIVE_FILES = (EVENTS, SNAPSHOT, LIVE_MODEL, CONTROL)
STEP_SECONDS = 0.25  # at most 4 step events a second: a smooth curve, a small log
SNAPSHOT_SECONDS = 1.0
# A snapshot (the parameters copied, a forward pass of the panel, two files written) takes
# 5 to 60 ms; snapshots come further apart than SNAPSHOT_SECONDS when that would cost the
# run more than this share of its time, on a slow or busy machine and for a big network.
SNAPSHOT_SHARE = 0.02
PAUSE_POLL_SECONDS = 0.1  # how soon a paused run sees resume, stop or a new rate
PANEL = 32  # validation digits whose guesses the page shows
WEIGHT_IMAGES = 32  # MLP: the first hidden units drawn as 28×28 images


def b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")


def to_bytes(a: np.ndarray) -> tuple[np.ndarray, float, float]:
    """`a` mapped linearly onto 0–255 (uint8), with the (low, high) that 0 and 255 stand for."""
    low, high = float(a.min()), float(a.max())
    span = high - low if high > low else 1.0
    return np.rint((a - low) / span * 255).astype(np.uint8), low, high


def encode(a: np.ndarray) -> dict[str, Any]:
    """An array for the page: its shape, uint8 bytes as base64, and the range they span."""
    data, low, high = to_bytes(np.asarray(a, dtype=np.float64))
    return {"shape": list(a.shape), "data": b64(data), "min": round(low, 6), "max": round(high, 6)}


def first_layer(params: dict[str, np.ndarray], spec: Any) -> tuple[str, np.ndarray]:
    """(what they are, images (k, h, w)): the MLP's first WEIGHT_IMAGES hidden units as 28×28,
    or a convolutional network's first-layer kernels."""
    first = first_weights(spec, params)
    if isinstance(spec, MLPSpec):
        w = first[:WEIGHT_IMAGES]
        return f"first hidden layer: {len(w)} of {spec.hidden[0]} units", w.reshape(-1, 28, 28)
    w = first[:, 0]
    return f"first layer: {len(w)} kernels {w.shape[1]}×{w.shape[2]}", w


def signed_images(w: np.ndarray) -> dict[str, Any]:
    """Each image scaled by its own largest |w| onto 0–255, 128 meaning 0 (a diverging
    colour map shows sign and shape; `scale` gives each image's |w| at 0 and 255)."""
    scale = np.abs(w).reshape(len(w), -1).max(axis=1)
    safe = np.where(scale > 0, scale, 1.0)[:, None, None]
    data = np.clip(np.rint(w / safe * 127.5 + 127.5), 0, 255).astype(np.uint8)
    return {"shape": list(w.shape), "data": b64(data), "scale": np.round(scale, 5).tolist()}


class LiveRecord:
    """The live record of one run directory (see the module's docstring)."""

    def __init__(self, out: Path, splits: Splits) -> None:
        self.out = Path(out)
        self.n_train = len(splits.train)
        self.dataset = splits.dataset
        self.panel_x = np.ascontiguousarray(splits.val.x[:PANEL])
        self.panel_y = np.asarray(splits.val.y[:PANEL])
        self.panel_images = encode(self.panel_x)["data"]  # the same in every snapshot
        self.snapshot_every = SNAPSHOT_SECONDS
        self.snapshot_step: int | None = None  # the step the last snapshot shows
        self.control_seen: tuple[int, int] | None = None
        self.lr_request: int | None = None
        self.paused_seconds = 0.0

    # --- the Watcher protocol ---------------------------------------------------------

    def started(self, learner: Learner, history: History) -> None:
        self.learner, self.history = learner, history
        self.epoch, self.seen = len(history.epochs) + 1, 0  # progress: the epochs done
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / CONTROL).unlink(missing_ok=True)  # an earlier process's request
        self.t0 = self.last_step = self.last_snapshot = time.monotonic()
        self.start_progress = float(len(history.epochs))
        self.rate_mark = (self.t0, self.start_progress)
        self.rate = math.nan
        self.events = open_log(self.out / EVENTS)
        self.twin = self._numpy_twin()
        self.emit(
            "start",
            resumed=bool(history.epochs),
            epochs=learner.config.epochs,
            n_train=self.n_train,
            steps_per_epoch=-(-self.n_train // learner.config.batch_size),
            description=learner.spec.describe(),
            pid=os.getpid(),
            config=history.config,
        )
        self.snapshot()

    def steps(self, epoch: int, seen: int, loss: float, acc: float) -> None:
        self.epoch, self.seen = epoch, seen
        self.poll_control()
        now = time.monotonic()
        # the epoch's last report always: the curve gets its end, the page says "scoring"
        if now - self.last_step >= STEP_SECONDS or seen >= self.n_train:
            self.last_step = now
            self.emit("step", loss=round(loss, 6), acc=round(acc, 5), **self.speed(now))
        if now - self.last_snapshot >= self.snapshot_every:
            self.snapshot()

    def epoch_saved(self, record: EpochRecord, history: History) -> None:
        self.epoch, self.seen = record.epoch, self.n_train
        self.emit("epoch", record=asdict(record), best=history.best)
        if time.monotonic() - self.last_snapshot >= self.snapshot_every:
            self.snapshot()  # short epochs: not after every one

    def finished(self, history: History, error: BaseException | None) -> None:
        status, reason = outcome(error)
        try:
            self.snapshot(unless_current=True)  # the network as it ends
        finally:
            self.emit("end", status=status, reason=reason, best=history.best)
            self.events.close()

    # --- steering ---------------------------------------------------------------------

    def poll_control(self) -> None:
        """Act on control.json if it changed since the last look (one stat() otherwise)."""
        control = self.read_control()
        if control is None:
            return
        self.apply(control)
        if control.get("pause") and not control.get("stop"):
            self.pause()

    def read_control(self) -> dict[str, Any] | None:
        """control.json when it is new (another inode or mtime), else None."""
        path = self.out / CONTROL
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        key = (stat.st_ino, stat.st_mtime_ns)
        if key == self.control_seen:
            return None
        self.control_seen = key
        try:
            control = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # written atomically, so only a foreign hand makes it unreadable
        return control if isinstance(control, dict) else None

    def apply(self, control: dict[str, Any]) -> None:
        """A new learning-rate request, then a stop."""
        request = control.get("lr")
        if isinstance(request, list) and len(request) == 2 and request[0] != self.lr_request:
            self.lr_request = request[0]
            try:
                change_lr(self.learner, float(request[1]))
                self.emit("lr", lr=float(request[1]))
                self.record_settings()
            except (UserError, TypeError, ValueError) as exc:
                self.emit("lr_refused", lr=str(request[1]), reason=str(exc))
        if control.get("stop"):
            raise StopRequested("a stop request (the page's Stop button)")

    def record_settings(self) -> None:
        """history.json with the change, at once: if a stop drops this epoch, a resume
        still re-applies it at the same step."""
        from mnistlab.training import write_history

        write_history(self.out, self.history, self.learner.config)

    def pause(self) -> None:
        """Wait between two steps until the control file says go on (or stop)."""
        self.emit("pause")
        self.snapshot(unless_current=True)  # the pad reads the paused network
        since = time.monotonic()
        try:
            while True:
                time.sleep(PAUSE_POLL_SECONDS)
                control = self.read_control()
                if control is None:
                    continue
                self.apply(control)
                if not control.get("pause"):
                    break
        finally:
            paused = time.monotonic() - since
            self.paused_seconds += paused
            self.last_step = time.monotonic()
            self.rate_mark = (self.rate_mark[0] + paused, self.rate_mark[1])
        self.emit("resume")

    # --- what is written ----------------------------------------------------------------

    def position(self) -> dict[str, Any]:
        """Where the run is: optimiser steps so far, the epoch, the epoch as a fraction."""
        return {
            "step": self.learner.steps_done,
            "epoch": self.epoch,
            "progress": round(self.epoch - 1 + self.seen / max(self.n_train, 1), 5),
        }

    def emit(self, kind: str, **fields: Any) -> None:
        event = {"event": kind, "time": round(time.time(), 3), **self.position(), **fields}
        self.events.write(json_line(event))
        self.events.flush()

    def speed(self, now: float) -> dict[str, Any]:
        """The learning rate of the next step, images a second since the last step event,
        and the time left at the pace of this run so far (pauses not counted)."""
        config = self.learner.config
        where = self.position()
        progress = where["progress"]
        mark_time, mark_progress = self.rate_mark
        if now > mark_time and progress > mark_progress:
            self.rate = (progress - mark_progress) * self.n_train / (now - mark_time)
        self.rate_mark = (now, progress)
        active = now - self.t0 - self.paused_seconds
        done = progress - self.start_progress
        left = active / done * (config.epochs - progress) if done > 0 else None
        total = config.total_steps(self.n_train)
        return {
            "lr": config.lr_at_step(where["step"], total, where["epoch"]),
            "images_per_s": None if math.isnan(self.rate) else round(self.rate, 1),
            "eta_s": None if left is None else round(left, 1),
        }

    def _numpy_twin(self) -> Any:
        """A NumPy network of the same architecture, loaded with the learner's parameters at
        each snapshot (float32 whatever the run's dtype: it only draws)."""
        from dataclasses import replace

        from mnistlab.numpy_version.learner import make_model

        config = replace(self.learner.config, dtype="float32")
        return make_model(self.learner.spec, config, self.learner.params())

    def snapshot(self, unless_current: bool = False) -> None:
        """live.safetensors and live.json (both atomic), from the parameters as they are;
        `unless_current`: not if the last snapshot already shows this step."""
        from mnistlab.threads import blas_threads

        if unless_current and self.snapshot_step == self.learner.steps_done:
            return
        began = time.monotonic()
        self.last_snapshot = began
        params = self.learner.params()
        if not all(np.isfinite(p).all() for p in params.values()):
            return  # a diverged network: the last finite snapshot stays
        where = self.position()
        info = {
            "backend": self.history.config.get("backend"),
            "dataset": self.dataset,
            "train": self.learner.config.to_json(),
            "live": where,
        }
        save_model(self.out / LIVE_MODEL, self.learner.spec, params, info)
        for name, view in self.twin.params.items():
            view[...] = params[name]
        # one BLAS thread: a second one would go on spinning for a while after this small
        # forward pass, on the core that a PyTorch run at a small batch is training on
        with blas_threads(1):
            snapshot = {"time": round(time.time(), 3), **where, **self.draw()}
        write_text(self.out / SNAPSHOT, json.dumps(snapshot, separators=(",", ":")))
        self.snapshot_step = self.learner.steps_done
        cost = time.monotonic() - began
        self.snapshot_every = max(SNAPSHOT_SECONDS, cost / SNAPSHOT_SHARE)

    def draw(self) -> dict[str, Any]:
        """What the page draws: first-layer weights, the panel's guesses, one digit's layers."""
        title, w = first_layer(self.twin.params, self.learner.spec)
        layers = self.twin.layers(self.panel_x)  # one forward pass for the panel and digit 0
        probabilities = softmax(np.asarray(layers["logits"], dtype=np.float64))
        return {
            "weights": {"title": title, **signed_images(w)},
            "panel": {
                "images": self.panel_images,
                "labels": self.panel_y.tolist(),
                "probabilities": np.round(probabilities, 4).tolist(),
            },
            "activations": {
                "label": int(self.panel_y[0]),
                "layers": [{"name": n, **encode(a[0])} for n, a in layers.items()],
            },
        }


def open_log(path: Path) -> Any:
    """The event log, opened to append; a line cut short by a killed process is ended
    first, so the next event starts on a line of its own."""
    try:
        with path.open("rb") as log:
            log.seek(-1, os.SEEK_END)
            cut = log.read(1) != b"\n"
    except OSError:  # no log yet, or an empty one
        cut = False
    events = path.open("a", encoding="utf-8")
    if cut:
        events.write("\n")
    return events


def json_line(event: dict[str, Any]) -> str:
    """One event as a line of strict JSON (what a browser parses): a number that is not
    finite (a diverging loss) is written as null."""
    try:
        return json.dumps(event, allow_nan=False, default=str) + "\n"
    except ValueError:
        return json.dumps(finite(event), default=str) + "\n"


def finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def outcome(error: BaseException | None) -> tuple[str, str]:
    """(status, reason) of a run's end, for the "end" event and the page's one line."""
    if error is None:
        return "finished", "trained all its epochs"
    if isinstance(error, StopRequested):
        return "stopped", f"stopped by {error.name}"
    if isinstance(error, Interrupted):
        return "interrupted", f"stopped by {error.name}"
    if isinstance(error, KeyboardInterrupt):
        return "interrupted", "stopped by Ctrl-C"
    if isinstance(error, UserError):
        return "failed", str(error)
    return "failed", f"{type(error).__name__}: {error}"
