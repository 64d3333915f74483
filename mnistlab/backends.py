"""Pick a backend by name; each is imported only when asked for (torch costs ~2 s)."""

from __future__ import annotations

import numpy as np

from mnistlab.config import TrainConfig
from mnistlab.errors import UserError
from mnistlab.learner import Learner
from mnistlab.models.spec import ModelSpec

BACKENDS = ("numpy", "torch")


def make_learner(
    backend: str,
    spec: ModelSpec,
    config: TrainConfig,
    n_train: int,
    params: dict[str, np.ndarray] | None = None,
) -> Learner:
    """A ready-to-train network: `params` if given, else seeded initial weights."""
    if backend == "numpy":
        from mnistlab.numpy_version.learner import make_learner as make
    elif backend == "torch":
        from mnistlab.pytorch_version.learner import make_learner as make
    else:
        raise UserError(f"unknown backend {backend!r}: choose numpy or torch")
    return make(spec, config, n_train, params)
