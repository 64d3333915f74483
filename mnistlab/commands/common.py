"""Flags that several commands share, defined once so they mean the same everywhere."""

from __future__ import annotations

import argparse

from mnistlab.api.settings import RECIPE_FIELDS as RECIPE_FIELDS
from mnistlab.api.settings import config_from_args as config_from_args
from mnistlab.api.settings import model_from_args as model_from_args
from mnistlab.api.settings import spec_from_args as spec_from_args
from mnistlab.backends import BACKENDS
from mnistlab.config import (
    DEVICES,
    OPTIMIZERS,
    RECIPES,
    SCHEDULES,
    TrainConfig,
    default_config,
)
from mnistlab.models.spec import ACTIVATIONS, DEFAULT_HIDDEN, MODELS

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


def add_device_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--device",
        default="auto",
        choices=DEVICES,
        help="where --backend torch runs: auto picks CUDA when PyTorch sees a GPU and the run "
        "is estimated at 3 s or more on the CPU, else the CPU; the run's first line says "
        "which and why (default: auto); NumPy always runs on the CPU",
    )


def add_recipe_flag(p: argparse.ArgumentParser) -> None:
    listing = "; ".join(f"{name}: {r.about}" for name, r in RECIPES.items())
    p.add_argument(
        "--recipe",
        default=None,
        choices=list(RECIPES),
        help=f"a named way to train, model included ({listing}); flags given beside it "
        "override its settings (default: the model's own recipe, if it has one)",
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
        choices=MODELS,
        help=f"feed-forward network, LeNet-5 or the fast recipe's convnet {default('mlp')}",
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


def model_flags(args: argparse.Namespace) -> dict[str, str]:
    """The architecture flags the user actually gave, e.g. {"model": "lenet5"}."""
    names = ("model", "hidden", "activation")
    return {f: getattr(args, f) for f in names if getattr(args, f, None) is not None}


def add_train_flags(p: argparse.ArgumentParser, epochs: int | None = None) -> None:
    """Training flags. Left at None, the recipe's settings and the model's defaults
    (default_config) fill them in config_from_args; `epochs` fixes that default for every
    model."""
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
        default=None,
        help=f"mini-batch size (default: {DEFAULTS.batch_size})",
    )
    p.add_argument("--lr", type=float, default=None, help=f"learning rate (default: {DEFAULTS.lr})")
    p.add_argument(
        "--lr-decay",
        type=float,
        default=None,
        metavar="GAMMA",
        help="multiply the learning rate by GAMMA after every epoch "
        f"(default: 1, fixed, for the MLP; {LENET5.lr_decay:g} for LeNet-5)",
    )
    p.add_argument(
        "--schedule",
        default=None,
        choices=SCHEDULES,
        help="epoch: --lr, times --lr-decay after each epoch; onecycle: per step, up from "
        "lr/25 to --lr over the --warmup fraction of all steps, then down to lr/25/10⁴ "
        f"(default: {DEFAULTS.schedule})",
    )
    p.add_argument(
        "--warmup",
        type=float,
        default=None,
        metavar="FRACTION",
        help=f"one-cycle's rising share of the steps (default: {DEFAULTS.warmup})",
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
        "--optimizer", default=None, choices=OPTIMIZERS, help=f"default: {DEFAULTS.optimizer}"
    )
    p.add_argument(
        "--momentum",
        type=float,
        default=None,
        help=f"for --optimizer momentum (default: {DEFAULTS.momentum})",
    )
    p.add_argument(
        "--beta1",
        type=float,
        default=None,
        help=f"Adam's decay rate for its mean of gradients (default: {DEFAULTS.beta1})",
    )
    p.add_argument(
        "--beta2",
        type=float,
        default=None,
        help=f"Adam's decay rate for its mean of squared gradients (default: {DEFAULTS.beta2})",
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
