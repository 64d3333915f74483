"""`mnistlab compare`: one configuration on NumPy and on PyTorch, and an MLP against LeNet-5.

The MLP the flags describe trains on both backends for --epochs; LeNet-5 trains with its
own recipe on --lenet-backend for --lenet-epochs (15 by default, whatever --epochs says).
Each run is recorded in its own directory under --out (numpy-mlp/, torch-mlp/,
torch-lenet5/, …) and reused when it is already there and finished with the same
settings, so running the command again only re-tabulates. Each run trains in its own
process with its share of the cores (cores ÷ --workers; batches under 100 train on one
thread). What will train, and roughly how long it takes, is printed before anything
starts. Writes DIR/compare.json (every number, with its run directory),
DIR/compare.md (the two tables) and DIR/val_acc_curves.png (validation accuracy per
epoch of every run) beside the runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mnistlab.backends import BACKENDS
from mnistlab.commands import common
from mnistlab.data.splits import N_TRAIN
from mnistlab.errors import UserError
from mnistlab.fileio import check_writable_dir
from mnistlab.models.spec import LeNet5Spec

DEFAULT_LENET_EPOCHS = common.LENET5.epochs  # its recipe's


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare", help="NumPy vs PyTorch, and MLP vs LeNet-5, side by side", description=__doc__
    )
    common.add_model_flags(p)
    common.add_train_flags(p)
    common.add_data_flags(p)
    p.add_argument(
        "--lenet-epochs",
        type=int,
        default=DEFAULT_LENET_EPOCHS,
        help="epochs of the LeNet-5 run; --epochs sets the MLP's only "
        f"(default: {DEFAULT_LENET_EPOCHS})",
    )
    p.add_argument(
        "--lenet-backend",
        default="torch",
        choices=BACKENDS,
        help="backend of the LeNet-5 run, compared with the MLP on the same backend "
        "(default: torch)",
    )
    p.add_argument(
        "--out",
        default="runs/compare",
        metavar="DIR",
        help="one run directory per run inside DIR, plus compare.json, compare.md and "
        "val_acc_curves.png (default: runs/compare)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="runs to train side by side, each with cores ÷ N threads (default: 1, one after "
        "another, so their timings do not disturb each other)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="train again a run whose directory holds different settings",
    )
    p.set_defaults(run=run)


def check_args(args: argparse.Namespace) -> Path:
    """Every flag checked before any run starts; returns the output directory."""
    out = check_writable_dir(args.out)
    if args.workers < 1:
        raise UserError(f"--workers must be at least 1, got {args.workers}")
    if args.lenet_epochs < 1:
        raise UserError(f"--lenet-epochs must be at least 1, got {args.lenet_epochs}")
    if args.limit_train is not None and not 1 <= args.limit_train <= N_TRAIN:
        raise UserError(f"--limit-train must be between 1 and {N_TRAIN}, got {args.limit_train}")
    return out


def run(args: argparse.Namespace) -> int:
    spec = common.spec_from_args(args)
    config = common.config_from_args(args)
    out = check_args(args)
    from mnistlab.experiments import compare

    data = compare.DataCache(args.dataset, args.data_dir)
    if not isinstance(spec, LeNet5Spec):
        print(
            f"compare {spec.describe()} on NumPy and PyTorch, "
            f"{compare.plural(config.epochs, 'epoch')}; "
            f"LeNet-5 on {args.lenet_backend}, --lenet-epochs {args.lenet_epochs}"
        )
    comparison = compare.run_compare(
        spec,
        config,
        out,
        data,
        limit_train=args.limit_train,
        lenet_epochs=args.lenet_epochs,
        lenet_backend=args.lenet_backend,
        force=args.force,
        workers=args.workers,
    )
    if not comparison.model_runs:
        print("(--model lenet5: the MLP vs LeNet-5 table needs an MLP and is left out)")
    print()
    print(compare.comparison_markdown(comparison, out))
    print(f"wrote {out}/{{{compare.COMPARE_JSON}, {compare.COMPARE_MD}, {compare.CURVES_FIGURE}}}")
    return 0
