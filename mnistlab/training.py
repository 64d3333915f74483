"""One training run: a network, the lab protocol, and a run directory that records it.

The run directory holds `history.json` (rewritten after every epoch, so a stopped run
keeps what it did), `model.safetensors` (the best-validation network) and
`learning_curves.png`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mnistlab.backends import make_learner
from mnistlab.config import TrainConfig
from mnistlab.data.splits import Splits
from mnistlab.errors import UserError
from mnistlab.fileio import write_json
from mnistlab.learner import Learner
from mnistlab.models.modelfile import save_model
from mnistlab.models.spec import ModelSpec
from mnistlab.protocol import EpochRecord, History, format_epoch, run_protocol
from mnistlab.runinfo import machine_info, now

HISTORY = "history.json"
MODEL = "model.safetensors"
CURVES = "learning_curves.png"
RUN_FILES = (HISTORY, MODEL, CURVES)


def check_run_dir(out: str | os.PathLike[str], force: bool) -> Path:
    """Refuse to write into a directory that already holds something, unless forced.

    Called before any work, so a refused run leaves the directory exactly as it was.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file, not a directory")
    if out.is_dir() and any(out.iterdir()) and not force:
        what = "another run" if (out / HISTORY).exists() else "files"
        raise UserError(
            f"{out} already holds {what}; pass --force to overwrite it or choose another --out"
        )
    return out


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
) -> tuple[History, Learner]:
    """Train under the lab protocol; with `out`, record the run there as it goes.
    `device` places the PyTorch backend ("cpu", "cuda" or "auto")."""
    learner = make_learner(backend, spec, config, len(splits.train), device=device)
    meta = run_config(spec, config, backend, splits, limit_train)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        clear_run_dir(out)

    def on_improve(record: EpochRecord, history: History) -> None:
        if out is not None:
            info = {
                "backend": backend,
                "train": config.to_json(),
                "best": history.best,
                "dataset": splits.dataset,
            }
            save_model(out / MODEL, spec, learner.params(), info)

    def on_epoch(record: EpochRecord, history: History) -> None:
        if log:
            log(format_epoch(record, history.best))
        if out is not None:
            write_json(out / HISTORY, history.to_json())

    history = run_protocol(
        learner,
        splits,
        config.epochs,
        meta,
        seed=config.seed,
        on_improve=on_improve,
        on_epoch=on_epoch,
        show_progress=show_progress,
    )
    if out is not None:
        from mnistlab.plots.curves import plot_learning_curves

        plot_learning_curves(history, out / CURVES, title=f"{spec.describe()} ({backend})")
    return history, learner
