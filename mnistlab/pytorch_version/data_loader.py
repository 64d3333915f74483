"""MNIST for the PyTorch networks: a thin adapter, the real work lives in `mnistlab.data`.

Both backends read the same files through `mnistlab.data.mnist.load_splits`, so they train
and are scored on exactly the same images. Here the NumPy arrays only become tensors, and
without a copy: a tensor from `torch.from_numpy` shares the array's memory.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import torch

from mnistlab.data.splits import Split, Splits


def as_tensor(array: np.ndarray) -> torch.Tensor:
    """A tensor sharing `array`'s memory, read-only arrays included.

    torch warns about read-only arrays because it cannot forbid writes; the lab only ever
    reads its images and labels, so the warning would be noise.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(np.asarray(array))


def to_tensors(split: Split) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 28, 28) float32 and labels (N,) int64, as tensors sharing the split's memory."""
    return as_tensor(split.x), as_tensor(split.y)


def load_data(
    dataset: str = "mnist",
    data_dir: str | os.PathLike[str] | None = None,
    limit_train: int | None = None,
) -> Splits:
    """The lab's train/val/test splits, exactly as the NumPy backend sees them."""
    from mnistlab.data.mnist import load_splits

    return load_splits(dataset=dataset, data_dir=data_dir, limit_train=limit_train)
