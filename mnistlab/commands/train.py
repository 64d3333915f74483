"""`mnistlab train`: one network, trained and scored under the lab protocol."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from mnistlab.backends import check_device
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
        help="run directory for history.json, the best model and plots "
        "(default: runs/<backend>-<model>-<time>)",
    )
    p.add_argument("--force", action="store_true", help="overwrite a run directory")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    spec = common.spec_from_args(args)  # bad flags fail here, before anything is touched
    config = common.config_from_args(args)
    check_device(args.backend, args.device)
    from mnistlab.data.mnist import load_splits
    from mnistlab.training import check_run_dir, train

    if args.backend == "torch":  # refuses --device cuda without a GPU before any work
        from mnistlab.pytorch_version.learner import resolve_device

        device = resolve_device(args.device)
    else:
        device = "cpu"

    out = args.out or f"runs/{args.backend}-{spec.name}-{dt.datetime.now():%Y%m%d-%H%M%S}"
    out_dir = check_run_dir(out, args.force)
    splits = load_splits(args.dataset, args.data_dir, args.limit_train)
    print(
        f"{spec.describe()} on {args.backend}, {len(splits.train):,} train / "
        f"{len(splits.val):,} validation / {len(splits.test):,} test images "
        f"from {splits.source}" + (f", on {device}" if args.backend == "torch" else "")
    )
    history, _ = train(
        spec,
        config,
        splits,
        args.backend,
        Path(out_dir),
        limit_train=args.limit_train,
        device=device,
    )
    best = history.best
    assert best is not None  # at least one epoch ran, and the first always improves
    print(
        f"best validation {best['val_acc']:.2%} at epoch {best['epoch']}: "
        f"test accuracy {best['test_acc']:.2%}"
    )
    print(f"run saved in {out_dir}/ (history.json, model.safetensors, learning_curves.png)")
    return 0
