"""Load MNIST or Fashion-MNIST as the lab's train / validation / test splits.

The training file's first 50,000 images train, its last 10,000 validate, and the t10k file
tests: the split of LeCun's and Nielsen's MNIST experiments, so results compare.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from mnistlab.data import idx, sources
from mnistlab.data.splits import N_TRAIN, N_VAL, Split, Splits
from mnistlab.errors import UserError

_SCALE = np.float32(255)


def load_splits(
    dataset: str = "mnist",
    data_dir: str | os.PathLike[str] | None = None,
    limit_train: int | None = None,
    mirrors: Sequence[str] | None = None,
) -> Splits:
    """Read, verify and split a dataset: Splits of train (50,000), val (10,000) and test
    (10,000), each images `.x` (N, 28, 28) float32 in [0, 1] and labels `.y` (N,) int64.
    (`mnistlab.load_data` is this function.)

    `limit_train=N` keeps the first N training images (for quick runs); validation and
    test stay whole so scores remain comparable.
    """
    spec = sources.get_dataset(dataset)
    n_train = check_limit(limit_train)
    directory = sources.locate(dataset, data_dir, mirrors)
    paths = sources.file_paths(directory, spec)
    md5s = [file.md5 for file in spec.files]  # the checksums also pin the shapes
    # zlib and hashlib release the GIL: decompress the two image files side by side.
    with ThreadPoolExecutor(max_workers=2) as pool:
        train = pool.submit(idx.read_pair, paths[0], paths[1], md5s[0], md5s[1])
        test = pool.submit(idx.read_pair, paths[2], paths[3], md5s[2], md5s[3])
        (train_x, train_y), (test_x, test_y) = train.result(), test.result()
    return Splits(
        train=_split(train_x[:n_train], train_y[:n_train]),
        val=_split(train_x[N_TRAIN : N_TRAIN + N_VAL], train_y[N_TRAIN : N_TRAIN + N_VAL]),
        test=_split(test_x, test_y),
        dataset=spec.name,
        source=str(directory),
    )


def check_limit(limit_train: int | None) -> int:
    if limit_train is None:
        return N_TRAIN
    try:
        if isinstance(limit_train, bool):
            raise TypeError
        n = operator.index(limit_train)  # ints, NumPy ints; not floats or strings
    except TypeError:
        raise UserError(f"--limit-train must be a whole number, not {limit_train!r}") from None
    if not 1 <= n <= N_TRAIN:
        raise UserError(f"--limit-train must be between 1 and {N_TRAIN}, not {n}")
    return n


def _split(images: np.ndarray, labels: np.ndarray) -> Split:
    """Scale uint8 pixels to [0, 1] in one pass, straight into a new float32 array."""
    x = np.divide(images, _SCALE, dtype=np.float32)
    return Split(x=x, y=labels.astype(np.int64))
