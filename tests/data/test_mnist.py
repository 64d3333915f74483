"""The real files, split as the lab expects: 50,000 train, 10,000 validation, 10,000 test."""

from __future__ import annotations

import dataclasses
import gzip
from pathlib import Path

import numpy as np
import pytest

from mnistlab.data import idx, sources
from mnistlab.data.mnist import load_splits
from mnistlab.data.splits import Split, Splits
from mnistlab.errors import DataError, UserError
from mnistlab.numpy_version.data_loader import flatten, load_data

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(scope="module")
def splits(mnist_dir: Path) -> Splits:
    return load_splits(data_dir=mnist_dir)


def check_split(split: Split, n: int) -> None:
    assert split.x.shape == (n, 28, 28) and split.y.shape == (n,)
    assert split.x.dtype == np.float32 and split.x.flags.c_contiguous
    assert split.y.dtype == np.int64
    assert split.x.min() == 0.0 and split.x.max() == 1.0
    assert set(np.unique(split.y)) == set(range(10))


@pytest.mark.mnist
def test_real_mnist(splits: Splits, mnist_dir: Path) -> None:
    check_split(splits.train, 50_000)
    check_split(splits.val, 10_000)
    check_split(splits.test, 10_000)
    assert splits.dataset == "mnist" and splits.source == str(mnist_dir)
    images = idx.read_images(mnist_dir / "train-images-idx3-ubyte.gz")
    labels = idx.read_labels(mnist_dir / "train-labels-idx1-ubyte.gz")
    np.testing.assert_array_equal(splits.val.x, images[50_000:] / np.float32(255))
    np.testing.assert_array_equal(splits.val.y, labels[50_000:])
    np.testing.assert_array_equal(splits.train.x[-1], images[49_999] / np.float32(255))
    assert splits.test.y[:5].tolist() == [7, 2, 1, 0, 4]  # the well-known first test digits


@pytest.mark.mnist
def test_limit_train(splits: Splits, mnist_dir: Path) -> None:
    small = load_splits(data_dir=mnist_dir, limit_train=100)
    assert (len(small.train), len(small.val), len(small.test)) == (100, 10_000, 10_000)
    np.testing.assert_array_equal(small.train.x, splits.train.x[:100])
    np.testing.assert_array_equal(small.val.y, splits.val.y)
    assert len(load_splits(data_dir=mnist_dir, limit_train=np.int64(7)).train) == 7


@pytest.mark.parametrize("limit", [0, -1, 50_001, True, 2.5, "10"])
def test_bad_limit(limit: object, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="--limit-train must be"):
        load_splits(data_dir=tmp_path / "not-read", limit_train=limit)  # type: ignore[arg-type]


def test_unknown_dataset() -> None:
    with pytest.raises(UserError, match="unknown dataset"):
        load_splits("kmnist")


@pytest.mark.mnist
def test_env_var(mnist_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sources.ENV_VAR, str(mnist_dir))
    assert load_splits(limit_train=10).source == str(mnist_dir)


@pytest.mark.mnist
def test_damaged_file_is_caught(mnist_dir: Path, tmp_path: Path) -> None:
    for path in mnist_dir.glob("*.gz"):
        (tmp_path / path.name).symlink_to(path)
    labels = tmp_path / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(labels.read_bytes()))
    raw[-1] = (raw[-1] + 1) % 10  # still a valid label file, but not MNIST's
    labels.unlink()
    labels.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz: checksum mismatch"):
        load_splits(data_dir=tmp_path)


@pytest.mark.mnist
def test_numpy_adapter(mnist_dir: Path) -> None:
    data = load_data(data_dir=mnist_dir, limit_train=20)
    x, y = flatten(data.train)
    assert x.shape == (20, 784) and x.dtype == np.float32 and y.shape == (20,)
    assert np.shares_memory(x, data.train.x)


@pytest.mark.mnist
@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="apt-get install dataset-fashion-mnist")
def test_fashion_mnist(mnist_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sources.ENV_VAR, str(mnist_dir))  # names MNIST's folder, not this one
    fashion = load_splits("fashion-mnist")
    assert fashion.dataset == "fashion-mnist" and fashion.source == str(FASHION_DIR)
    assert fashion.test.y[:5].tolist() == [9, 2, 1, 1, 6]  # ankle boot, pullover, trousers...
    for split, n in ((fashion.train, 50_000), (fashion.val, 10_000), (fashion.test, 10_000)):
        check_split(split, n)


def test_fashion_mnist_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    spec = dataclasses.replace(
        sources.DATASETS["fashion-mnist"],
        system_dir=tmp_path / "none",
        mirrors=("http://127.0.0.1:1/",),
    )
    monkeypatch.setitem(sources.DATASETS, "fashion-mnist", spec)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(sources.ENV_VAR, raising=False)
    with pytest.raises(DataError, match=r"Fashion-MNIST's four files yourself.*apt-get install"):
        load_splits("fashion-mnist")
    assert not (tmp_path / "data").exists()
