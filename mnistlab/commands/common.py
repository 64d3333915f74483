"""Flags that several commands share, defined once so they mean the same everywhere."""

from __future__ import annotations

import argparse

from mnistlab.backends import BACKENDS
from mnistlab.config import OPTIMIZERS, TrainConfig, default_config
from mnistlab.models.spec import ACTIVATIONS, DEFAULT_HIDDEN, ModelSpec, build_spec

DEFAULTS = TrainConfig()
LENET5 = default_config("lenet5")


def add_data_flags(p: argparse.ArgumentParser, from_model: bool = False) -> None:
    """--dataset/--data-dir; with from_model=True (commands reading a model file) --dataset
    defaults to the dataset the file records, and --allow-dataset-mismatch is added."""
    p.add_argument(
        "--dataset",
        default=None if from_model else "mnist",
        choices=["mnist", "fashion-mnist"],
        help="which images to read (default: the dataset the model was trained on)"
        if from_model
        else "which digits (or clothes) to read (default: mnist)",
    )
    p.add_argument(
        "--data-dir",
        default=None,
        help="folder with the dataset's four IDX files (else $MNISTLAB_DATA/<dataset>/, then "
        "./data/<dataset>/ under the current directory, then Debian's "
        "/usr/share/datasets/<dataset>, then a download into ./data/<dataset>/)",
    )
    if from_model:
        p.add_argument(
            "--allow-dataset-mismatch",
            action="store_true",
            help="let --dataset differ from the dataset the model was trained on",
        )


def add_backend_flag(p: argparse.ArgumentParser, default: str = "numpy", what: str = "") -> None:
    p.add_argument(
        "--backend",
        default=default,
        choices=BACKENDS,
        help=what or f"numpy (from scratch) or torch (default: {default})",
    )


def add_model_flags(
    p: argparse.ArgumentParser, defaults: bool = True, file_optional: bool = False
) -> None:
    """--model/--hidden/--activation; with defaults=False (commands reading a model file)
    they stay None when not given, and each one given is checked against the file."""

    def default(value: str) -> str:
        if defaults:
            return f"(default: {value})"
        without = f"; without one: {value}" if file_optional else ""
        return f"(default: read from MODEL_FILE{without}; given, it must match the file)"

    p.add_argument(
        "--model",
        default="mlp" if defaults else None,
        choices=["mlp", "lenet5"],
        help=f"feed-forward network or LeNet-5 {default('mlp')}",
    )
    p.add_argument(
        "--hidden",
        default=None,
        help=f"hidden widths, comma-separated: k = how many {default(DEFAULT_HIDDEN)}",
    )
    p.add_argument(
        "--activation",
        default="relu" if defaults else None,
        choices=ACTIVATIONS,
        help=f"hidden-layer activation {default('relu')}",
    )


def spec_from_args(args: argparse.Namespace) -> ModelSpec:
    return build_spec(args.model or "mlp", args.hidden, args.activation or "relu")


def model_flags(args: argparse.Namespace) -> dict[str, str]:
    """The architecture flags the user actually gave, e.g. {"model": "lenet5"}."""
    names = ("model", "hidden", "activation")
    return {f: getattr(args, f) for f in names if getattr(args, f, None) is not None}


def add_train_flags(p: argparse.ArgumentParser, epochs: int | None = None) -> None:
    """Training flags. Left at None, --epochs, --l2 and --lr-decay take the model's defaults
    (default_config) in config_from_args; `epochs` fixes that default for every model."""
    p.add_argument(
        "--epochs",
        type=int,
        default=epochs,
        help=f"default: {epochs}"
        if epochs
        else f"default: {DEFAULTS.epochs} for the MLP, {LENET5.epochs} for LeNet-5",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULTS.batch_size,
        help=f"mini-batch size (default: {DEFAULTS.batch_size})",
    )
    p.add_argument(
        "--lr", type=float, default=DEFAULTS.lr, help=f"learning rate (default: {DEFAULTS.lr})"
    )
    p.add_argument(
        "--lr-decay",
        type=float,
        default=None,
        metavar="GAMMA",
        help="multiply the learning rate by GAMMA after every epoch "
        f"(default: 1, fixed, for the MLP; {LENET5.lr_decay:g} for LeNet-5)",
    )
    p.add_argument(
        "--l2",
        type=float,
        default=None,
        help=f"λ in the cost term λ/(2n)·Σ‖W‖², n = the number of training images, so "
        "with --limit-train the same λ weighs more (default: "
        f"{DEFAULTS.l2:g} for the MLP, {LENET5.l2:g} for LeNet-5)",
    )
    p.add_argument(
        "--optimizer",
        default=DEFAULTS.optimizer,
        choices=OPTIMIZERS,
        help=f"default: {DEFAULTS.optimizer}",
    )
    p.add_argument(
        "--momentum",
        type=float,
        default=DEFAULTS.momentum,
        help=f"for --optimizer momentum (default: {DEFAULTS.momentum})",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=DEFAULTS.seed,
        help=f"seeds weights and shuffling: same seed, same numbers (default: {DEFAULTS.seed})",
    )
    p.add_argument(
        "--dtype",
        default=DEFAULTS.dtype,
        choices=["float32", "float64"],
        help="floating-point type of the weights and of all training arithmetic; float64 "
        f"for numerical checks, float32 is faster (default: {DEFAULTS.dtype})",
    )
    p.add_argument(
        "--limit-train",
        type=int,
        default=None,
        metavar="N",
        help="train on the first N of the 50,000 training images (quick runs); n = N in "
        "λ/(2n), so the same --l2 regularises 50,000/N times more strongly "
        "(default: all 50,000)",
    )


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    base = default_config(getattr(args, "model", None) or "mlp")
    return TrainConfig(
        lr=args.lr,
        lr_decay=base.lr_decay if args.lr_decay is None else args.lr_decay,
        l2=base.l2 if args.l2 is None else args.l2,
        optimizer=args.optimizer,
        momentum=args.momentum,
        batch_size=args.batch_size,
        epochs=base.epochs if args.epochs is None else args.epochs,
        seed=args.seed,
        dtype=args.dtype,
    )
