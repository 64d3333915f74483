"""`mnistlab train`: one network, trained and scored under the lab protocol.

A run checkpoints after every epoch. `--resume DIR` goes on from DIR's checkpoint with
the settings recorded there (`--epochs N` extends it, also a finished run); `--init
MODEL_FILE` starts a new run from a saved model's weights (fine-tuning). Ctrl-C or
SIGTERM stops at once, keeps every finished epoch and prints the command that resumes.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from mnistlab.backends import check_device
from mnistlab.commands import common
from mnistlab.errors import UserError

# Flags that define a run: with --resume each must agree with the recorded run, and so
# must a --recipe's settings. --epochs extends the run; --backend may differ (both backends
# read one checkpoint layout), and
# --device too.
RUN_FLAGS = (
    "model", "hidden", "activation",
    *(f for f in common.RECIPE_FIELDS if f != "epochs"),
    "seed", "dtype", "dataset", "limit_train",
)  # fmt: skip


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
    given = take_given(args)
    if args.resume is not None:
        return resume(args, given)
    spec = common.spec_from_args(args)  # bad flags fail here, before anything is touched
    init, record = None, {}
    if args.init is not None:
        spec, init, record = init_weights(args, given)
        if not given & {"model", "recipe"}:
            args.model = spec.name  # the model's own defaults (LeNet-5's recipe, say)
    config = common.config_from_args(args)
    if args.lr_changes is not None:
        config = dataclasses.replace(config, lr_changes=parse_lr_changes(args.lr_changes))
    out = args.out or f"runs/{args.backend}-{spec.name}-{dt.datetime.now():%Y%m%d-%H%M%S}"
    return start(args, Path(out), spec, config, force=args.force, init=init, record=record)


def parse_lr_changes(text: str) -> tuple[tuple[int, float], ...]:
    """ "400:0.005,900:0.001" → ((400, 0.005), (900, 0.001)); TrainConfig checks the values."""
    changes = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        step, _, lr = item.partition(":")
        try:
            changes.append((int(step), float(lr)))
        except ValueError:
            raise UserError(f"--lr-changes: {item!r} is not STEP:LR (e.g. 400:0.005)") from None
    if not changes:
        raise UserError("--lr-changes: give at least one STEP:LR (e.g. 400:0.005)")
    return tuple(changes)


def init_weights(args: argparse.Namespace, given: set[str]) -> tuple[Any, Any, dict]:
    """The architecture and weights of --init's model file; model flags given must agree."""
    from mnistlab.models.modelfile import check_matches, load_model

    model = load_model(args.init)
    flags = {f: getattr(args, f) for f in ("model", "hidden", "activation") if f in given}
    check_matches(model, flags, args.init)
    record = {"init": {"model_file": str(args.init), "trained": model.info}}
    return model.spec, model.params, record


def resume(args: argparse.Namespace, given: set[str]) -> int:
    """Go on with the run in --resume DIR, refusing flags that contradict it."""
    from mnistlab.checkpoint import CHECKPOINT, load_checkpoint

    run_dir = Path(args.resume)
    for flag in ("force", "init", "lr_changes"):
        if flag in given:
            raise UserError(f"--{flag} cannot be used with --resume")
    if "out" in given and Path(args.out).resolve() != run_dir.resolve():
        raise UserError(f"--out {args.out} is not --resume {run_dir}: a run resumes in place")
    if not (run_dir / CHECKPOINT).is_file():
        raise UserError(no_checkpoint(run_dir))
    checkpoint = load_checkpoint(run_dir / CHECKPOINT)
    config = recorded_config(run_dir, checkpoint)
    diffs = contradictions(args, given, checkpoint)
    if diffs:
        raise UserError(f"{run_dir} was trained with other settings: {'; '.join(diffs)}")
    if "epochs" in given:
        if args.epochs <= checkpoint.epoch:
            raise UserError(
                f"{run_dir} has already trained {checkpoint.epoch} epochs; "
                f"--epochs must be more than that to go on"
            )
        config = dataclasses.replace(config, epochs=args.epochs)
    elif checkpoint.epoch >= config.epochs:
        raise UserError(
            f"{run_dir} finished all its {config.epochs} epochs; "
            f"add --epochs N (more than {config.epochs}) to train it further"
        )
    backend = args.backend if "backend" in given else checkpoint.history.config["backend"]
    return start(args, run_dir, checkpoint.spec, config, backend=backend, resume=checkpoint)


def recorded_config(run_dir: Path, checkpoint: Any) -> Any:
    """The checkpoint's settings, with the learning-rate changes made after it (in the epoch
    a stop dropped) that history.json recorded: re-applied at the same steps."""
    from mnistlab.checkpoint import with_recorded_changes
    from mnistlab.training import HISTORY

    config = checkpoint.config()
    try:
        recorded = json.loads((run_dir / HISTORY).read_text())["config"]["train"]
    except (OSError, ValueError, KeyError, TypeError):
        return config
    resumed = with_recorded_changes(config, recorded, checkpoint.step)
    again = [c for c in resumed.lr_changes if c[0] >= checkpoint.step]
    if again:
        listed = ", ".join(f"{lr:g} from step {step}" for step, lr in again)
        print(f"re-applying the learning-rate changes made after the checkpoint: {listed}")
    return resumed


def no_checkpoint(run_dir: Path) -> str:
    from mnistlab.training import HISTORY

    if not run_dir.is_dir():
        return f"--resume {run_dir}: no such run directory"
    if (run_dir / HISTORY).is_file():
        return (
            f"{run_dir} holds a run without a checkpoint (it stopped before its first "
            f"epoch, or an older mnistlab trained it); train it again with --out {run_dir} "
            "--force"
        )
    return f"--resume {run_dir}: no run there (no checkpoint.safetensors)"


def contradictions(args: argparse.Namespace, given: set[str], checkpoint: Any) -> list[str]:
    """'lr 0.01 there, 0.1 here' for each given flag that disagrees with the recorded run
    (a --recipe counts as giving each setting it fixes, and its model)."""
    from mnistlab.config import get_recipe

    recorded = checkpoint.history.config
    spec = checkpoint.spec
    there: dict[str, Any] = {
        **checkpoint.config().to_json(),
        "model": spec.name,
        "activation": getattr(spec, "activation", None),
        "dataset": recorded.get("dataset"),
        "limit_train": recorded.get("limit_train"),
    }
    here: dict[str, Any] = {**vars(args), **common.config_from_args(args).to_json()}
    flags = set(given)
    if "recipe" in given:
        recipe = get_recipe(args.recipe)
        flags |= (set(recipe.settings) - {"epochs"}) | {"model"}
        here["model"] = args.model or recipe.model
    diffs = []
    for flag in RUN_FLAGS:
        if flag not in flags:
            continue
        if flag == "hidden":
            wanted = common.spec_from_args(args)
            if wanted != spec:
                diffs.append(f"architecture {spec.describe()} there, {wanted.describe()} here")
        elif there.get(flag) != here.get(flag):
            diffs.append(f"{flag.replace('_', '-')} {there.get(flag)} there, {here[flag]} here")
    return diffs


def start(
    args: argparse.Namespace,
    out: Path,
    spec: Any,
    config: Any,
    *,
    force: bool = False,
    backend: str | None = None,
    resume: Any = None,
    init: Any = None,
    record: dict | None = None,
) -> int:
    """Hold the run directory, train (from scratch, from --init, or resuming), report."""
    from mnistlab.data.mnist import load_splits
    from mnistlab.interrupt import Interrupted, stop_on_signals
    from mnistlab.live import LiveRecord
    from mnistlab.rundir import claimed_run
    from mnistlab.training import CHECKPOINT, RUN_FILES, train

    backend = backend or args.backend
    check_device(backend, args.device)
    if backend == "torch":  # refuses --device cuda without a GPU before any work
        from mnistlab.pytorch_version.device import choose_device

        choose_device(args.device)
    recorded = resume.history.config if resume is not None else {}
    dataset = recorded.get("dataset", args.dataset)
    limit_train = recorded.get("limit_train") if resume is not None else args.limit_train
    data_dir = args.data_dir
    if data_dir is None and recorded.get("data_dir") and Path(recorded["data_dir"]).is_dir():
        data_dir = recorded["data_dir"]  # where the run read its images, unless told otherwise
    files = (*RUN_FILES, "figures")
    saved: list[int] = []  # epochs this command saved

    def on_saved(epoch: int) -> None:
        saved.append(epoch)
        run.saved_first_epoch()

    try:
        with (
            stop_on_signals(),
            claimed_run(out, files, CHECKPOINT, force=force, resume=resume is not None) as run,
        ):
            splits = load_splits(dataset, data_dir, limit_train)
            what = f"resuming at epoch {resume.epoch + 1} of " if resume is not None else ""
            epochs = config.epochs - (resume.epoch if resume is not None else 0)
            device, where = placement(backend, args.device, spec, config, len(splits.train), epochs)
            print(
                f"{what}{spec.describe()} on {backend}, {len(splits.train):,} train / "
                f"{len(splits.val):,} validation / {len(splits.test):,} test images "
                f"from {splits.source}, {where}"
            )
            watchers = [] if args.no_live else [LiveRecord(out, splits)]
            history, _ = train(
                spec,
                config,
                splits,
                backend,
                out,
                limit_train=limit_train,
                resume=resume,
                init=init,
                record=record,
                device=device,
                on_saved=on_saved,
                watchers=watchers,
            )
    except Interrupted as stop:
        print(interrupted_line(stop, out, resume is not None or bool(saved)), file=sys.stderr)
        return stop.exit_code
    best = history.best
    assert best is not None  # at least one epoch ran, and the first always improves
    print(
        f"best validation {best['val_acc']:.2%} at epoch {best['epoch']}: "
        f"test accuracy {best['test_acc']:.2%}"
    )
    print(f"run saved in {out}/ (history.json, model.safetensors, checkpoint, learning_curves.png)")
    return 0


def placement(
    backend: str, requested: str, spec: Any, config: Any, n_train: int, epochs: int
) -> tuple[str, str]:
    """Where the run trains, and the first line's words for it: the device and why (for
    --device auto, the run's estimated CPU time decides: pytorch_version/device.py)."""
    if backend == "numpy":
        from mnistlab.threads import available_cores

        cores = available_cores()
        return "cpu", f"on cpu ({cores} core{'s' if cores != 1 else ''}; NumPy runs on the CPU)"
    from mnistlab.experiments.estimate import run_seconds
    from mnistlab.pytorch_version.device import choose_device

    seconds = run_seconds(spec, backend, config.batch_size, n_train, epochs)
    choice = choose_device(requested, seconds)
    return choice.device, f"on {choice.device} ({choice.reason})"


def interrupted_line(stop: Any, out: Path, resumable: bool) -> str:
    if not resumable:
        return (
            f"mnistlab train: stopped by {stop.name} before the first epoch finished; "
            f"nothing was saved in {out} (a run it would have replaced is kept)"
        )
    return (
        f"mnistlab train: stopped by {stop.name}; every finished epoch is saved in {out}. "
        f"Resume with: mnistlab train --resume {out}"
    )
