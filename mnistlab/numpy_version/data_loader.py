"""The NumPy lab's data loader, under the name the lab text uses.

A thin adapter: reading, checking and downloading the files lives in `mnistlab.data`.
"""

from __future__ import annotations

import os

import numpy as np

from mnistlab.data.mnist import load_splits
from mnistlab.data.splits import Split, Splits


def load_data(
    dataset: str = "mnist",
    data_dir: str | os.PathLike[str] | None = None,
    limit_train: int | None = None,
) -> Splits:
    return load_splits(dataset, data_dir, limit_train)


def flatten(split: Split) -> tuple[np.ndarray, np.ndarray]:
    """Images as (N, 784) rows for the fully connected network: a view, not a copy."""
    return split.x.reshape(len(split), -1), split.y
