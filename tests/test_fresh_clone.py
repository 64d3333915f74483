"""The suite on a machine that is not this one: its real-MNIST fixture finds the files the
way mnistlab does (`sources.find`), in every layout the README documents, from a clone
with no ../shared beside it.

Each case runs pytest in a clone-like folder (the project's own tests/conftest.py and a
probe test that asks for the `mnist_dir` fixture and reads MNIST through it), in a
process of its own, with $MNISTLAB_DATA set only where the layout says so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mnistlab.data import sources

CONFTEST = Path(__file__).with_name("conftest.py")
PROBE = """
from mnistlab.data.mnist import load_splits


def test_probe(mnist_dir):
    splits = load_splits("mnist", mnist_dir, limit_train=10)
    assert splits.test.y[:5].tolist() == [7, 2, 1, 0, 4]
    print(f"\\nMNIST_DIR={mnist_dir}")
"""


def place(mnist_dir: Path, folder: Path) -> Path:
    """MNIST's four files (links to the real ones) in `folder`."""
    folder.mkdir(parents=True)
    for path in sources.file_paths(mnist_dir, sources.DATASETS["mnist"]):
        (folder / path.name).symlink_to(path)
    return folder


def clone(root: Path) -> Path:
    repo = root / "clone"
    (repo / "tests").mkdir(parents=True)
    shutil.copy(CONFTEST, repo / "tests" / "conftest.py")
    (repo / "tests" / "test_probe.py").write_text(PROBE)
    return repo


def run_probe(repo: Path, env_data: Path | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != sources.ENV_VAR}
    if env_data is not None:
        env[sources.ENV_VAR] = str(env_data)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-n", "0"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


# Each layout: where the files go (under the test's folder) and what $MNISTLAB_DATA names.
LAYOUTS: dict[str, Callable[[Path], tuple[Path, Path | None]]] = {
    "./data/mnist only": lambda root: (root / "clone" / "data" / "mnist", None),
    "$MNISTLAB_DATA laid out like data/": lambda root: (
        root / "elsewhere" / "mnist",
        root / "elsewhere",
    ),
    "$MNISTLAB_DATA naming MNIST's own folder": lambda root: (
        root / "mnist-files",
        root / "mnist-files",
    ),
}


@pytest.mark.mnist
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_the_suite_finds_mnist_in_each_documented_layout(
    layout: str, tmp_path: Path, mnist_dir: Path
) -> None:
    repo = clone(tmp_path)
    files, env_data = LAYOUTS[layout](tmp_path)
    place(mnist_dir, files)
    assert not (tmp_path / "shared").exists() and not (repo.parent / "shared").exists()
    result = run_probe(repo, env_data)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"MNIST_DIR={files.resolve()}" in result.stdout


def test_without_mnist_the_suite_stops_in_one_line_saying_how_to_get_it(tmp_path: Path) -> None:
    result = run_probe(clone(tmp_path), None)
    assert result.returncode == 1
    said = (
        "MNIST not found in $MNISTLAB_DATA or ./data/mnist: `make test` downloads it "
        "(`mnistlab data`), or set MNISTLAB_DATA to its folder"
    )
    lines = result.stdout.splitlines()
    assert said in lines  # the fixture's failure, alone on its line
    assert "Traceback" not in result.stdout and "conftest.py:" not in result.stdout
