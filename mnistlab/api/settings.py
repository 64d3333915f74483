"""The settings of one training run, as `mnistlab train` takes them and as Python passes them.

`TrainSettings` has one field per `train` flag (the flag's name with `_` for `-`). A field
left at None takes the default the command line gives: the recipe's setting, else the
model's own default (LeNet-5 trains 15 epochs at λ = 25, the MLP 30 at λ = 5). The
functions below turn settings (a TrainSettings or the command line's namespace, which has
the same attribute names) into an architecture and a TrainConfig: one place for both.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from mnistlab.config import TrainConfig, default_config, get_recipe
from mnistlab.errors import UserError
from mnistlab.models.spec import ModelSpec, build_spec

PathLike = str | os.PathLike[str]


@dataclass
class TrainSettings:
    """Everything `mnistlab train` takes; None means "the default", as a flag not given.

    `hidden` may be written as on the command line ("256,128") or as numbers (100,
    (256, 128)). `out` is the run directory (None: the run stays in memory); `resume`,
    `init`, `force` and `tensorboard` are the flags of the same names. `lr_changes` are
    learning-rate changes at given steps, as the page records them ("400:0.005,..." or
    ((400, 0.005), ...)); with `out`, a live record is written there unless `no_live`.
    """

    backend: str | None = None  # "numpy" (default) or "torch"
    device: str | None = None  # "auto" (default: CUDA for long torch runs), "cpu", "cuda"
    recipe: str | None = None  # "fast", "lenet5"
    model: str | None = None  # "mlp" (default), "lenet5", "convnet"
    hidden: str | int | Sequence[int] | None = None  # "256" by default
    activation: str | None = None  # "relu" (default), "tanh", "sigmoid"
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    lr_decay: float | None = None
    schedule: str | None = None
    warmup: float | None = None
    l2: float | None = None
    optimizer: str | None = None
    momentum: float | None = None
    beta1: float | None = None
    beta2: float | None = None
    seed: int | None = None  # 0 by default
    dtype: str | None = None  # "float32" by default
    dataset: str | None = None  # "mnist" by default, or "fashion-mnist"
    data_dir: PathLike | None = None
    limit_train: int | None = None
    out: PathLike | None = None
    force: bool = False
    resume: PathLike | None = None
    init: PathLike | None = None
    tensorboard: PathLike | None = None
    lr_changes: str | Sequence[tuple[int, float]] | None = None  # "400:0.005,900:0.001"
    no_live: bool = False  # True: no live record (events.jsonl, live.json) in `out`

    def given(self) -> set[str]:
        """The settings that were set (not left to their default), as flag names."""
        return {
            f.name for f in dataclasses.fields(self) if getattr(self, f.name) not in (None, False)
        }

    def resolved(self) -> TrainSettings:
        """A copy with the defaults that do not depend on the model filled in, and `hidden`
        written as the command line writes it."""
        filled = {name: value for name, value in DEFAULTS.items() if getattr(self, name) is None}
        return replace(self, **filled, hidden=hidden_text(self.hidden))


DEFAULTS: dict[str, Any] = {
    "backend": "numpy",
    "device": "auto",
    "seed": TrainConfig.seed,
    "dtype": TrainConfig.dtype,
    "dataset": "mnist",
}
SETTINGS = tuple(f.name for f in dataclasses.fields(TrainSettings))


def settings_with(settings: TrainSettings | None, keywords: dict[str, Any]) -> TrainSettings:
    """`settings` (or the defaults) with `keywords` on top; an unknown name is a TypeError,
    as for any Python call."""
    unknown = sorted(set(keywords) - set(SETTINGS))
    if unknown:
        raise TypeError(f"unknown training settings {unknown}: choose from {', '.join(SETTINGS)}")
    return replace(settings or TrainSettings(), **keywords)


def hidden_text(hidden: str | int | Sequence[int] | None) -> str | None:
    """100 → "100", (256, 128) → "256,128": the command line's form, checked by build_spec."""
    if hidden is None or isinstance(hidden, str):
        return hidden
    if isinstance(hidden, int):
        return str(hidden)
    try:
        return ",".join(str(m) for m in hidden)
    except TypeError:
        raise UserError(
            f"hidden must be widths such as 100 or (256, 128), not {hidden!r}"
        ) from None


# The settings a recipe may fix and a flag may override (flag dest = TrainConfig field).
RECIPE_FIELDS = (
    "epochs",
    "batch_size",
    "lr",
    "lr_decay",
    "schedule",
    "warmup",
    "l2",
    "optimizer",
    "momentum",
    "beta1",
    "beta2",
)


def model_from_args(args: Any) -> str:
    """--model, else the --recipe's model, else the MLP; a clash between the two is refused."""
    name = getattr(args, "recipe", None)
    if name is None:
        return args.model or "mlp"
    recipe = get_recipe(name)
    if args.model is not None and args.model != recipe.model:
        raise UserError(
            f"--recipe {name} trains --model {recipe.model}, not {args.model}: drop one of them"
        )
    return recipe.model


def spec_from_args(args: Any) -> ModelSpec:
    return build_spec(model_from_args(args), args.hidden, args.activation or "relu")


def config_from_args(args: Any) -> TrainConfig:
    """The --recipe's settings (else the model's defaults), then every flag given on top."""
    name = getattr(args, "recipe", None)
    base = get_recipe(name).config() if name else default_config(model_from_args(args))
    given = {f: getattr(args, f) for f in RECIPE_FIELDS if getattr(args, f, None) is not None}
    if given.get("schedule") == "onecycle" and "lr_decay" not in given:
        given["lr_decay"] = 1.0  # one-cycle sets its own decay
    changes = getattr(args, "lr_changes", None)
    if changes is not None:
        given["lr_changes"] = parse_lr_changes(changes)
    return replace(base, **given, seed=args.seed, dtype=args.dtype)


def parse_lr_changes(changes: str | Sequence[tuple[int, float]]) -> tuple[tuple[int, float], ...]:
    """ "400:0.005,900:0.001" → ((400, 0.005), (900, 0.001)); TrainConfig checks the values."""
    if not isinstance(changes, str):
        return tuple(changes)  # TrainConfig converts each pair
    parsed = []
    for item in filter(None, (part.strip() for part in changes.split(","))):
        step, _, lr = item.partition(":")
        try:
            parsed.append((int(step), float(lr)))
        except ValueError:
            raise UserError(f"--lr-changes: {item!r} is not STEP:LR (e.g. 400:0.005)") from None
    if not parsed:
        raise UserError("--lr-changes: give at least one STEP:LR (e.g. 400:0.005)")
    return tuple(parsed)
