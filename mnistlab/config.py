"""Training hyper-parameters shared by both backends, validated once."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from mnistlab.errors import UserError

OPTIMIZERS = ("sgd", "momentum", "adam")
DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class TrainConfig:
    """How to train. `l2` is λ in the cost term λ/(2n)·Σ‖W‖², n = training-set size.

    `lr_decay` multiplies the learning rate after every epoch (epoch e trains at
    lr·lr_decay^(e−1)); the default 1 keeps it fixed, as the lab's sweep requires.
    """

    lr: float = 0.01
    l2: float = 5.0
    optimizer: str = "momentum"
    momentum: float = 0.9
    batch_size: int = 20
    epochs: int = 30
    seed: int = 0
    dtype: str = "float32"
    lr_decay: float = 1.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise UserError(f"--lr: the learning rate must be a positive number, got {self.lr}")
        if not 0 < self.lr_decay <= 1:
            raise UserError(
                f"--lr-decay: the learning-rate decay must be in (0, 1], got {self.lr_decay}"
            )
        if not (math.isfinite(self.l2) and self.l2 >= 0):
            raise UserError(f"--l2: the L2 strength must be zero or positive, got {self.l2}")
        if self.optimizer not in OPTIMIZERS:
            raise UserError(
                f"--optimizer: unknown optimizer {self.optimizer!r}: "
                f"choose one of {', '.join(OPTIMIZERS)}"
            )
        if not 0 <= self.momentum < 1:
            raise UserError(f"--momentum must be in [0, 1), got {self.momentum}")
        if self.batch_size < 1:
            raise UserError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.epochs < 1:
            raise UserError(f"--epochs must be at least 1, got {self.epochs}")
        if self.dtype not in DTYPES:
            raise UserError(f"--dtype: unknown dtype {self.dtype!r}: choose float32 or float64")

    def lr_at(self, epoch: int) -> float:
        """The learning rate of epoch `epoch` (counted from 1)."""
        return self.lr * self.lr_decay ** (epoch - 1)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# LeNet-5's recipe: the MLP's learning rate, momentum and batch size, with weight decay
# 5e-4 (λ = 25 at n = 50,000) and the learning rate × 0.8 after each epoch, for 15 epochs.
# At the MLP's fixed rate and λ = 5 it stalls near 98.9% test on PyTorch; with these it
# reached 99.20% and 99.10% (seeds 0 and 1).
LENET5_RECIPE: dict[str, Any] = {"l2": 25.0, "lr_decay": 0.8, "epochs": 15}


def default_config(model: str = "mlp") -> TrainConfig:
    """The defaults `mnistlab train` uses for this model ("mlp" or "lenet5")."""
    return replace(TrainConfig(), **LENET5_RECIPE) if model == "lenet5" else TrainConfig()
