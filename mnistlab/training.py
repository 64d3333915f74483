"""One training run: a network, the lab protocol, and a run directory that records it.

The run directory holds `history.json` (rewritten after every epoch, so a stopped run
keeps what it did), `model.safetensors` (the best-validation network),
`checkpoint.safetensors` (everything needed to go on: see checkpoint.py) and
`learning_curves.png`. The files of one epoch are written together, with Ctrl-C held
back until they are all on disk.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mnistlab.backends import make_learner
from mnistlab.checkpoint import (
    CHECKPOINT,
    Checkpoint,
    capture,
    restore,
    resumed_history,
    save_checkpoint,
)
from mnistlab.config import TrainConfig
from mnistlab.data.splits import Splits
from mnistlab.fileio import write_json
from mnistlab.interrupt import signals_deferred
from mnistlab.learner import Learner
from mnistlab.live import LIVE_FILES
from mnistlab.models.modelfile import save_model
from mnistlab.models.spec import ModelSpec
from mnistlab.protocol import EpochRecord, History, format_epoch, run_protocol
from mnistlab.runinfo import machine_info, now, software
from mnistlab.watch import Watcher, Watchers

HISTORY = "history.json"
MODEL = "model.safetensors"
CURVES = "learning_curves.png"
RUN_FILES = (HISTORY, MODEL, CURVES, CHECKPOINT, *LIVE_FILES)


def clear_run_dir(out: Path) -> None:
    """With --force: drop the previous run's files so nothing stale is mistaken for new."""
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / "figures", ignore_errors=True)


def run_config(
    spec: ModelSpec, config: TrainConfig, backend: str, splits: Splits, limit_train: int | None
) -> dict[str, Any]:
    return {
        "backend": backend,
        "architecture": spec.to_json(),
        "train": config.to_json(),
        "dataset": splits.dataset,
        "data_dir": splits.source,
        "n_train": len(splits.train),
        "limit_train": limit_train,
        "started": now(),
        "machine": machine_info(),
        "mnistlab": software(),
    }


def model_info(backend: str, learner: Learner, history: History, dataset: str) -> dict[str, Any]:
    """What a best model's file records about its training."""
    return {
        "backend": backend,
        "train": learner.config.to_json(),
        "best": history.best,
        "dataset": dataset,
    }


def train(
    spec: ModelSpec,
    config: TrainConfig,
    splits: Splits,
    backend: str,
    out: Path | None,
    *,
    limit_train: int | None = None,
    log: Callable[[str], None] | None = print,
    show_progress: bool = True,
    device: str = "cpu",
    resume: Checkpoint | None = None,
    init: dict[str, np.ndarray] | None = None,
    record: dict[str, Any] | None = None,
    checkpoint: Path | None = None,
    on_saved: Callable[[int], None] | None = None,
    watchers: Sequence[Watcher] = (),
) -> tuple[History, Learner]:
    """Train under the lab protocol; with `out`, record the run there as it goes.

    `resume` goes on from a checkpoint (same numbers as a run never stopped); `init` starts
    from given weights with a fresh optimiser (fine-tuning); `record` adds to the run's
    recorded settings. `checkpoint` is where to checkpoint each epoch (default: in `out`);
    `on_saved(epoch)` runs once an epoch's files are all written. `device` places the
    PyTorch backend ("cpu", "cuda" or "auto"). `watchers` see the run as it trains
    (watch.Watcher).
    """
    params = resume.params if resume else init
    learner = make_learner(backend, spec, config, len(splits.train), params, device=device)
    rng = np.random.default_rng(config.seed)
    if resume is not None:
        restore(learner, resume, rng)
        history = resumed_history(resume, config, backend)
    else:
        history = History(
            {**run_config(spec, config, backend, splits, limit_train), **(record or {})}
        )
    if checkpoint is None and out is not None:
        checkpoint = out / CHECKPOINT
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        if resume is None:
            clear_run_dir(out)

    def on_epoch(record: EpochRecord, history: History) -> None:
        # one hold for all of an epoch's files: a signal cannot leave a best model of
        # epoch N beside the history and checkpoint of epoch N-1
        history.config["train"] = learner.config.to_json()  # a watcher may have changed it
        with signals_deferred():
            if out is not None and history.best and history.best["epoch"] == record.epoch:
                info = model_info(backend, learner, history, splits.dataset)
                save_model(out / MODEL, spec, learner.params(), info)
            if out is not None:
                write_json(out / HISTORY, history.to_json())  # the settings set above
            if checkpoint is not None:
                save_checkpoint(checkpoint, capture(learner, rng, history, backend))
            if on_saved is not None:
                on_saved(record.epoch)
        watching.epoch_saved(record, history)
        if log:  # once its files are written: an epoch shown is an epoch saved
            log(format_epoch(record, history.best))

    watching = Watchers(watchers)
    watching.started(learner, history)
    try:
        history = run_protocol(
            learner,
            splits,
            config.epochs,
            history.config,
            seed=config.seed,
            on_epoch=on_epoch,
            on_steps=watching.steps if watching.watchers else None,
            show_progress=show_progress,
            history=history,
            rng=rng,
        )
    except BaseException as error:
        if isinstance(error, KeyboardInterrupt) and out is not None and history.epochs:
            plot_curves(history, out, f"{spec.describe()} ({backend})")  # the saved epochs
        watching.finished(history, error)
        raise
    if out is not None:
        plot_curves(history, out, f"{spec.describe()} ({backend})")
    watching.finished(history, None)
    return history, learner


def write_history(out: Path, history: History, config: TrainConfig) -> None:
    """history.json with the settings as trained so far: a watcher may have changed the
    learning rate (live.py writes it at once then, so that a resume re-applies a change
    made in an epoch that a stop dropped: checkpoint.with_recorded_changes)."""
    history.config["train"] = config.to_json()
    write_json(out / HISTORY, history.to_json())


def plot_curves(history: History, out: Path, title: str) -> None:
    from mnistlab.plots.curves import plot_learning_curves

    plot_learning_curves(history, out / CURVES, title=title)
