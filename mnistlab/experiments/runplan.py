"""A run to have: what to train, on which backend, in which directory (compare, report).

Light on purpose (no plotting, no training): the report's plan and its time estimate are
built from it when `--help` is printed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from mnistlab.config import LENET5_RECIPE, TrainConfig
from mnistlab.models.spec import LeNet5Spec, ModelSpec


@dataclass(frozen=True)
class RunPlan:
    """One run to have: what to train, on which backend, and the name of its directory."""

    name: str
    backend: str
    spec: ModelSpec
    config: TrainConfig
    limit_train: int | None = None
    dataset: str = "mnist"

    def identity(self) -> dict[str, Any]:
        """The recorded fields that decide the run's numbers (where the data lives does not)."""
        return {
            "backend": self.backend,
            "architecture": self.spec.to_json(),
            "train": self.config.to_json(),
            "dataset": self.dataset,
            "limit_train": self.limit_train,
        }


def lenet_plan(
    backend: str,
    config: TrainConfig,
    epochs: int,
    limit_train: int | None,
    activation: str = "relu",
    dataset: str = "mnist",
) -> RunPlan:
    """LeNet-5 with the MLP's learning rate, optimiser and batch size, and its own recipe's
    L2 strength and learning-rate decay (config.LENET5_RECIPE), for `epochs` epochs."""
    spec = LeNet5Spec(activation=activation)
    config = replace(config, **{**LENET5_RECIPE, "epochs": epochs})
    return RunPlan(f"{backend}-lenet5", backend, spec, config, limit_train, dataset)
