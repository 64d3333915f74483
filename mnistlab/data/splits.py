"""The lab's three sets, as the networks see them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_TRAIN = 50_000  # training file images 0..49,999
N_VAL = 10_000  # training file images 50,000..59,999


@dataclass(frozen=True)
class Split:
    """Images (N, 28, 28) float32 in [0, 1] and labels (N,) int64 in 0..9."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Splits:
    train: Split
    val: Split
    test: Split
    dataset: str  # "mnist" or "fashion-mnist"
    source: str  # the directory the files were read from

    @property
    def classes(self) -> tuple[str, ...]:
        """What labels 0-9 mean: the digits, or Fashion-MNIST's garments."""
        from mnistlab.data.sources import class_names

        return class_names(self.dataset)
