"""Shared fixtures. Real-MNIST tests read the data where mnistlab finds it, never the network."""

from __future__ import annotations

from pathlib import Path

import pytest


def find_dataset(name: str) -> Path | None:
    """Where mnistlab itself would read `name` (`sources.find`: $MNISTLAB_DATA in either
    layout, ./data/<name>/, Debian's folder), as an absolute path, or None."""
    from mnistlab.data.sources import find

    found = find(name)
    return None if found is None else found.resolve()


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    path = find_dataset("mnist")
    if path is None:
        pytest.fail(
            "MNIST not found in $MNISTLAB_DATA or ./data/mnist: `make test` downloads it "
            "(`mnistlab data`), or set MNISTLAB_DATA to its folder",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def fashion_dir() -> Path:
    """Fashion-MNIST where mnistlab finds it (.ci/run installs Debian's copy); a skip that
    says so where there is none."""
    path = find_dataset("fashion-mnist")
    if path is None:
        pytest.skip(
            "Fashion-MNIST not found ($MNISTLAB_DATA, ./data/fashion-mnist, Debian's "
            "/usr/share/datasets/fashion-mnist): apt-get install dataset-fashion-mnist"
        )
    return path


@pytest.fixture(autouse=True)
def _headless(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path_factory.getbasetemp() / "mpl"))


@pytest.fixture(scope="session")
def bomb_png() -> bytes:
    """A 150-byte PNG that claims 40,000 × 40,000 pixels: Pillow's decompression-bomb case."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 40_000, 40_000, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="session")
def quick_lenet5(tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path, worker_id: str) -> Path:
    """A LeNet-5 model file trained for one epoch on 20,000 images (about 97% test).

    Trained once per test session: under pytest-xdist the workers share it through a file
    lock in the session's common temporary directory.
    """
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        root = root.parent  # shared by every worker of this session
    path = root / "quick-lenet5" / "model.safetensors"
    with FileLock(str(root / "quick-lenet5.lock")):
        if not path.exists():
            _train_quick_lenet5(mnist_dir, path.parent)
    return path


def _train_quick_lenet5(mnist_dir: Path, out: Path) -> None:
    from dataclasses import replace

    from mnistlab.config import default_config
    from mnistlab.data.mnist import load_splits
    from mnistlab.models.spec import LeNet5Spec
    from mnistlab.training import train

    config = replace(default_config("lenet5"), epochs=1)
    splits = load_splits("mnist", mnist_dir, limit_train=20_000)
    train(LeNet5Spec(), config, splits, "numpy", out, log=None, show_progress=False)


CHROMIUM = Path("/usr/bin/chromium")
# Debian's Chromium as root, offline: no sandbox, no GPU, no calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """pytest-playwright drives Debian's Chromium (offline: no browser is downloaded)."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does) for browser tests"
        )
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}
