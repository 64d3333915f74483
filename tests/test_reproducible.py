"""The same --seed gives the same numbers, run after run, on both backends.

Each run is a fresh `python -m mnistlab train` process, as a user would start it, so
nothing carried over inside one interpreter (a global RNG, a warm cache) can make two runs
agree by accident. Only the wall-clock fields may differ.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open

CLOCK_FIELDS = ("seconds", "started")

pytestmark = pytest.mark.mnist


def train(out: Path, data_dir: Path, *flags: str) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # two runs side by side under pytest -n 2
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mnistlab",
            "train",
            "--data-dir",
            str(data_dir),
            "--out",
            str(out),
            *flags,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def without_clock(value):
    """history.json with the wall-clock fields taken out, recursively."""
    if isinstance(value, dict):
        return {k: without_clock(v) for k, v in value.items() if k not in CLOCK_FIELDS}
    if isinstance(value, list):
        return [without_clock(v) for v in value]
    return value


@pytest.mark.parametrize(
    "flags",
    [
        ["--backend", "numpy", "--hidden", "32,16", "--epochs", "2", "--limit-train", "3000"],
        ["--backend", "torch", "--hidden", "32,16", "--epochs", "2", "--limit-train", "3000"],
        ["--backend", "numpy", "--model", "lenet5", "--epochs", "1", "--limit-train", "500"],
        ["--backend", "torch", "--model", "lenet5", "--epochs", "1", "--limit-train", "500"],
    ],
    ids=["numpy-mlp", "torch-mlp", "numpy-lenet5", "torch-lenet5"],
)
def test_same_seed_same_history_and_model(tmp_path, mnist_dir, flags) -> None:
    runs = [tmp_path / "first", tmp_path / "second"]
    for out in runs:
        train(out, mnist_dir, "--seed", "7", *flags)
    first, second = (json.loads((out / "history.json").read_text()) for out in runs)
    assert first["epochs"][0]["seconds"] > 0  # the clock fields exist and were dropped
    assert without_clock(first) == without_clock(second)
    (meta_a, tensors_a), (meta_b, tensors_b) = (saved_model(out) for out in runs)
    assert meta_a == meta_b
    assert tensors_a.keys() == tensors_b.keys()
    for name, value in tensors_a.items():
        assert value.tobytes() == tensors_b[name].tobytes(), name


def saved_model(run: Path) -> tuple[dict[str, str], dict[str, np.ndarray]]:
    """The model file's metadata and tensors. Not its bytes: safetensors writes the header's
    metadata keys in the arbitrary order of a Rust hash map, which changes run to run."""
    with safe_open(str(run / "model.safetensors"), "np") as f:
        return f.metadata(), {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118


def test_another_seed_gives_other_numbers(tmp_path, mnist_dir) -> None:
    flags = ["--backend", "numpy", "--hidden", "32", "--epochs", "1", "--limit-train", "2000"]
    for seed in ("1", "2"):
        train(tmp_path / seed, mnist_dir, "--seed", seed, *flags)
    losses = [
        json.loads((tmp_path / seed / "history.json").read_text())["epochs"][0]["train_loss"]
        for seed in ("1", "2")
    ]
    assert losses[0] != losses[1]
