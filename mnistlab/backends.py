"""Pick a backend by name; each is imported only when asked for (torch costs ~2 s)."""

from __future__ import annotations

import numpy as np

from mnistlab.config import DEVICES, TrainConfig
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
    device: str = "cpu",
) -> Learner:
    """A ready-to-train network: `params` if given, else seeded initial weights.

    `device` ("auto", "cpu", "cuda") places the PyTorch backend; NumPy runs on the CPU.
    """
    check_device(backend, device)
    if backend == "numpy":
        from mnistlab.numpy_version.learner import make_learner as make_numpy

        return make_numpy(spec, config, n_train, params)
    from mnistlab.pytorch_version.learner import make_learner as make_torch

    return make_torch(spec, config, n_train, params, device)


def check_device(backend: str, device: str) -> None:
    """Refuse an unknown backend or device, and a GPU for the NumPy backend (torch-free)."""
    if backend not in BACKENDS:
        raise UserError(f"unknown backend {backend!r}: choose numpy or torch")
    if device not in DEVICES:
        raise UserError(f"unknown device {device!r}: choose one of {', '.join(DEVICES)}")
    if backend == "numpy" and device == "cuda":
        raise UserError("--device cuda needs --backend torch: the NumPy backend runs on the CPU")
