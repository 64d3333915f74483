"""`mnistlab train`: one network, trained and scored under the lab protocol.

A run checkpoints after every epoch. `--resume DIR` goes on from DIR's checkpoint with
the settings recorded there (`--epochs N` extends it, also a finished run); `--init
MODEL_FILE` starts a new run from a saved model's weights (fine-tuning). Ctrl-C or
SIGTERM stops at once, keeps every finished epoch and prints the command that resumes.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mnistlab.commands import common


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train one network under the lab protocol", description=__doc__
    )
    common.add_backend_flag(p)
    common.add_device_flag(p)
    common.add_recipe_flag(p)
    common.add_model_flags(p)
    p.set_defaults(model=None, activation=None)  # unset: --recipe may choose the model
    common.add_train_flags(p)
    common.add_data_flags(p)
    p.add_argument(
        "--out",
        default=None,
        help="run directory for history.json, the best model, the checkpoint and plots "
        "(default: runs/<backend>-<model>-<time>)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace the run in --out (kept until the new run has saved its first epoch)",
    )
    p.add_argument(
        "--resume",
        metavar="DIR",
        default=None,
        help="go on with the run in DIR from its last checkpoint, with its recorded "
        "settings; --epochs N extends it to N epochs",
    )
    p.add_argument(
        "--tensorboard",
        metavar="DIR",
        default=None,
        help="also write TensorBoard logs to DIR: train loss a few times a second, "
        "validation and test scores and the learning rate, first-layer weights and "
        "histograms each epoch (`tensorboard --logdir DIR`; needs mnistlab[tensorboard])",
    )
    p.add_argument(
        "--lr-changes",
        metavar="STEP:LR,...",
        default=None,
        help="learning-rate changes at given optimiser steps (counted from 0 across "
        "epochs), as the page records them in history.json: 400:0.005 trains at 0.005 "
        "from step 400 on; a rerun with a steered run's changes gives its numbers",
    )
    p.add_argument(
        "--no-live",
        action="store_true",
        help="write no live record (events.jsonl, live.json, live.safetensors) and read "
        "no control.json: nobody can watch or steer the run from the page",
    )
    p.add_argument(
        "--init",
        metavar="MODEL_FILE",
        default=None,
        help="start from this saved model's weights (fine-tuning); the architecture "
        "comes from the file",
    )
    track_given(p)
    p.set_defaults(run=run)


class _Default:
    """A value argparse filled in because the flag was not given."""

    def __init__(self, value: Any) -> None:
        self.value = value


def track_given(p: argparse.ArgumentParser) -> None:
    """Mark every flag's default, so `take_given` can tell what the user typed."""
    for action in p._actions:
        if action.option_strings and action.default is not argparse.SUPPRESS:
            action.default = _Default(action.default)


def take_given(args: argparse.Namespace) -> set[str]:
    """Unwrap the defaults in `args`; return the names of the flags that were given."""
    given = set()
    for key, value in vars(args).items():
        if isinstance(value, _Default):
            setattr(args, key, value.value)
        else:
            given.add(key)
    return given


def run(args: argparse.Namespace) -> int:
    """Train with the flags given (the rest left to `mnistlab.train`'s defaults)."""
    from mnistlab.api.runs import best_line, run_training
    from mnistlab.api.settings import SETTINGS, TrainSettings
    from mnistlab.interrupt import Interrupted

    given = take_given(args)
    settings = TrainSettings(**{name: getattr(args, name) for name in SETTINGS if name in given})
    try:
        run = run_training(settings, default_out=True)
    except Interrupted as stop:
        print(interrupted_line(stop, stop.run_dir, stop.resumable, stop.again), file=sys.stderr)
        return stop.exit_code
    print(best_line(run.history))
    print(
        f"run saved in {run.out}/ (history.json, model.safetensors, checkpoint, "
        "learning_curves.png)"
    )
    return 0


def interrupted_line(
    stop: Any, out: Path | None, resumable: bool, again: Sequence[str] = ()
) -> str:
    """What a stopped run prints: the command that resumes it, exactly as it will work
    (`again`: the flags it must repeat, api.runs.Launch.again)."""
    if not resumable:
        return (
            f"mnistlab train: stopped by {stop.name} before the first epoch finished; "
            f"nothing was saved in {out} (a run it would have replaced is kept)"
        )
    return (
        f"mnistlab train: stopped by {stop.name}; every finished epoch is saved in {out}. "
        f"Resume with: {shlex.join(['mnistlab', 'train', '--resume', str(out)])}"
        + "".join(f" {flag}" for flag in again)
    )
