"""load_splits on a tiny dataset with MNIST's layout: 60,000 + 10 images of 2×2 pixels.

The real-MNIST tests check the same on the real files but are marked `mnist`; this one
runs in a second, so `make mutate` can use it too. Files and checksums are written here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mnistlab.data import idx, mnist, sources
from mnistlab.errors import DataError, UserError

N_TEST = 10


def idx_bytes(arr: np.ndarray) -> bytes:
    header = (0x0800 | arr.ndim).to_bytes(4, "big")
    return header + b"".join(d.to_bytes(4, "big") for d in arr.shape) + arr.tobytes()


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    rng = np.random.default_rng(0)
    arrays = {
        "tr-img": rng.integers(0, 256, (60_000, 2, 2), dtype=np.uint8),
        "tr-lab": rng.integers(0, 10, 60_000, dtype=np.uint8),
        "te-img": rng.integers(0, 256, (N_TEST, 2, 2), dtype=np.uint8),
        "te-lab": rng.integers(0, 10, N_TEST, dtype=np.uint8),
    }
    files = []
    for name, arr in arrays.items():
        data = idx_bytes(arr)
        (tmp_path / name).write_bytes(data)
        files.append(sources.DataFile(name, idx.md5_hex(data)))
    spec = sources.Dataset("tiny", *files, label="Tiny")
    monkeypatch.setitem(sources.DATASETS, "tiny", spec)
    return {"dir": tmp_path, "arrays": arrays}


def scaled(images: np.ndarray) -> np.ndarray:
    return images.astype(np.float64) / 255


def test_first_50000_train_last_10000_validate_t10k_tests(tiny: dict) -> None:
    a = tiny["arrays"]
    splits = mnist.load_splits("tiny", tiny["dir"])
    assert (len(splits.train), len(splits.val), len(splits.test)) == (50_000, 10_000, N_TEST)
    for split, x, y in [
        (splits.train, a["tr-img"][:50_000], a["tr-lab"][:50_000]),
        (splits.val, a["tr-img"][50_000:], a["tr-lab"][50_000:]),
        (splits.test, a["te-img"], a["te-lab"]),
    ]:
        assert split.x.dtype == np.float32 and split.y.dtype == np.int64
        np.testing.assert_allclose(split.x, scaled(x), rtol=1e-7)
        np.testing.assert_array_equal(split.y, y)
    assert splits.dataset == "tiny" and splits.source == str(tiny["dir"])


def test_limit_train_keeps_the_first_images_and_whole_evaluation_sets(tiny: dict) -> None:
    a = tiny["arrays"]
    splits = mnist.load_splits("tiny", tiny["dir"], limit_train=123)
    np.testing.assert_array_equal(splits.train.y, a["tr-lab"][:123])
    np.testing.assert_allclose(splits.train.x, scaled(a["tr-img"][:123]), rtol=1e-7)
    assert (len(splits.val), len(splits.test)) == (10_000, N_TEST)
    assert len(mnist.load_splits("tiny", tiny["dir"], limit_train=50_000).train) == 50_000
    assert len(mnist.load_splits("tiny", tiny["dir"], limit_train=1).train) == 1


@pytest.mark.parametrize("damaged", ["tr-img", "tr-lab", "te-img", "te-lab"])
def test_each_file_is_checked_against_its_own_checksum(tiny: dict, damaged: str) -> None:
    path = tiny["dir"] / damaged
    data = bytearray(path.read_bytes())
    data[-1] = (data[-1] + 1) % 10
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=f"^{damaged}: checksum mismatch"):
        mnist.load_splits("tiny", tiny["dir"])


@pytest.mark.parametrize(
    ("limit", "message"),
    [
        (0, "--limit-train must be between 1 and 50000, not 0"),
        (50_001, "--limit-train must be between 1 and 50000, not 50001"),
        (True, "--limit-train must be a whole number, not True"),
        (2.5, "--limit-train must be a whole number, not 2.5"),
        ("10", "--limit-train must be a whole number, not '10'"),
    ],
)
def test_bad_limits_say_what_is_allowed(tiny: dict, limit: object, message: str) -> None:
    with pytest.raises(UserError, match=f"^{message}$"):
        mnist.load_splits("tiny", tiny["dir"], limit_train=limit)  # type: ignore[arg-type]


def test_the_mirrors_given_are_the_ones_tried(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = []

    def locate(*args):
        asked.append(args)
        raise DataError("stop here")

    monkeypatch.setattr(sources, "locate", locate)
    with pytest.raises(DataError, match="stop here"):
        mnist.load_splits("mnist", None, mirrors=["http://127.0.0.1:1/"])
    assert asked == [("mnist", None, ["http://127.0.0.1:1/"])]
