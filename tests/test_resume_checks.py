"""`train --resume` and `--init` refusals: one line, exit 2, the run untouched.

Every refusal comes before any data is read, so a run trained here on a few synthetic
images stands in for a real one (no MNIST needed: these run in `make mutate` too).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mnistlab.cli import main
from mnistlab.config import TrainConfig
from mnistlab.data.splits import Split, Splits
from mnistlab.models.spec import MLPSpec
from mnistlab.training import HISTORY, MODEL, train


@pytest.fixture
def finished_run(tmp_path) -> Path:
    """A finished 2-epoch run of MLP [784, 16, 10] relu at the MLP's defaults."""
    rng = np.random.default_rng(0)
    data = Split(rng.random((40, 28, 28), dtype=np.float32), rng.integers(0, 10, 40))
    splits = Splits(data, data, data, "mnist", str(tmp_path / "images"))
    out = tmp_path / "done"
    train(
        MLPSpec((16,)), TrainConfig(epochs=2), splits, "numpy", out, log=None, show_progress=False
    )
    return out


def files(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


def refused(capsys, *argv: str) -> str:
    """The one stderr line of a refused `mnistlab train ARGV`."""
    code = main(["train", *argv])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (
            ["--epochs", "3", "--hidden", "32"],
            "architecture MLP [784, 16, 10] relu there, MLP [784, 32, 10] relu here",
        ),
        (["--epochs", "3", "--activation", "tanh"], "activation relu there, tanh here"),
        (["--model", "lenet5"], "model mlp there, lenet5 here"),
        (["--lr", "0.5", "--seed", "3"], "lr 0.01 there, 0.5 here; seed 0 there, 3 here"),
        (["--batch-size", "50"], "batch-size 20 there, 50 here"),
        (["--l2", "1"], "l2 5.0 there, 1.0 here"),
        (["--optimizer", "adam"], "optimizer momentum there, adam here"),
        (["--dataset", "fashion-mnist"], "dataset mnist there, fashion-mnist here"),
        (["--limit-train", "30"], "limit-train None there, 30 here"),
        (["--recipe", "fast"], "model mlp there, convnet here"),
        ([], "finished all its 2 epochs; add --epochs N (more than 2)"),
        (["--epochs", "2"], "has already trained 2 epochs; --epochs must be more than that"),
        (["--epochs", "1"], "has already trained 2 epochs"),
        (["--force"], "--force cannot be used with --resume"),
        (["--epochs", "3", "--init", "MODEL"], "--init cannot be used with --resume"),
        (["--epochs", "3", "--out", "elsewhere"], "is not --resume"),
    ],
)
def test_a_resume_that_contradicts_the_run_is_one_line_and_touches_nothing(
    finished_run, capsys, flags, said
) -> None:
    before = files(finished_run)
    flags = [str(finished_run / MODEL) if f == "MODEL" else f for f in flags]
    assert said in refused(capsys, "--resume", str(finished_run), *flags)
    assert files(finished_run) == before


def test_a_resume_of_nothing_says_what_is_there(finished_run, tmp_path, capsys) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    no_checkpoint = tmp_path / "stopped"
    no_checkpoint.mkdir()
    (no_checkpoint / HISTORY).write_text((finished_run / HISTORY).read_text())
    assert refused(capsys, "--resume", str(tmp_path / "missing")).endswith(
        f"--resume {tmp_path / 'missing'}: no such run directory"
    )
    assert refused(capsys, "--resume", str(empty)).endswith(
        "no run there (no checkpoint.safetensors)"
    )
    assert f"train it again with --out {no_checkpoint} --force" in refused(
        capsys, "--resume", str(no_checkpoint)
    )
    assert list(empty.iterdir()) == [] and not (tmp_path / "missing").exists()


def test_bad_inits_are_one_line(finished_run, tmp_path, capsys) -> None:
    for argv, words in (
        (["--init", str(finished_run / HISTORY)], "not a model file"),
        (["--init", str(finished_run / MODEL), "--hidden", "32"], "asks for"),
        (["--init", str(finished_run / MODEL), "--model", "lenet5"], "asks for"),
    ):
        assert words in refused(capsys, *argv, "--out", str(tmp_path / "new"))
    assert not (tmp_path / "new").exists()
