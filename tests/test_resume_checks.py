"""`train --resume` and `--init`: refusals in one line with the run untouched, and the
resume command a stopped run prints.

A run trained here on a few synthetic images stands in for a real one, and commands that
go on to train read those images instead of MNIST (the data layer is tested elsewhere):
no MNIST is needed, so these run in `make mutate` too.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pytest

from mnistlab.cli import main
from mnistlab.commands.train import interrupted_line
from mnistlab.config import TrainConfig
from mnistlab.data.splits import Split, Splits
from mnistlab.interrupt import Interrupted
from mnistlab.models.spec import ConvNetSpec, MLPSpec
from mnistlab.training import HISTORY, MODEL, train

IMAGES = 40  # synthetic training images, recorded as the run's --limit-train


def synthetic(where: Path) -> Splits:
    rng = np.random.default_rng(0)
    data = Split(rng.random((IMAGES, 28, 28), dtype=np.float32), rng.integers(0, 10, IMAGES))
    return Splits(data, data, data, "mnist", str(where))


@pytest.fixture
def finished_run(tmp_path, monkeypatch) -> Path:
    """A finished 2-epoch run of MLP [784, 16, 10] relu at the MLP's defaults."""
    splits = synthetic(tmp_path / "images")
    monkeypatch.setattr("mnistlab.data.mnist.load_splits", lambda *args, **kwargs: splits)
    out = tmp_path / "done"
    train(
        MLPSpec((16,)), TrainConfig(epochs=2), splits, "numpy", out,
        limit_train=IMAGES, log=None, show_progress=False,
    )  # fmt: skip
    return out


def epochs_in(run: Path) -> int:
    return len(json.loads((run / HISTORY).read_text())["epochs"])


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
        (["--limit-train", "30"], "limit-train 40 there, 30 here"),
        (["--recipe", "fast"], "model mlp there, convnet here"),
        (["--recipe", "fast", "--seed", "3"], "seed 0 there, 3 here"),
        ([], "finished all its 2 epochs; add --epochs N (more than 2)"),
        (["--epochs", "2"], "has already trained 2 epochs; --epochs must be more than that"),
        (["--epochs", "1"], "has already trained 2 epochs"),
        (["--force"], "--force cannot be used with --resume"),
        (["--epochs", "3", "--init", "MODEL"], "--init cannot be used with --resume"),
        (["--epochs", "3", "--lr-changes", "5:0.02"], "--lr-changes cannot be used with --resume"),
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


def test_flags_that_agree_with_the_run_are_accepted_and_epochs_extend_it(finished_run) -> None:
    same = ["--lr", "0.01", "--seed", "0", "--hidden", "16", "--limit-train", str(IMAGES)]
    assert main(["train", "--resume", str(finished_run), "--epochs", "3", *same]) == 0
    assert epochs_in(finished_run) == 3


def test_a_convnet_run_is_checked_like_any_other(tmp_path, capsys) -> None:
    out = tmp_path / "convnet"
    spec = ConvNetSpec(channels=(4, 6), hidden=16)
    splits = synthetic(tmp_path / "images")
    train(spec, TrainConfig(epochs=1), splits, "numpy", out, log=None, show_progress=False)
    assert "lr 0.01 there, 0.5 here" in refused(capsys, "--resume", str(out), "--lr", "0.5")


@pytest.mark.parametrize(
    ("flags", "again"),
    [
        (["--epochs", "4"], " --epochs 4"),
        (["--epochs", "3", "--backend", "torch"], " --epochs 3 --backend torch"),
    ],
)
def test_a_stopped_resume_prints_the_command_that_goes_on(
    finished_run, monkeypatch, capsys, flags, again
) -> None:
    """Stopped before its first new epoch: the printed command, run as printed, works."""
    from mnistlab import training

    def stopped(*args, **kwargs):
        raise Interrupted(2)  # Ctrl-C while the first new epoch trains

    with monkeypatch.context() as patch:
        patch.setattr(training, "run_protocol", stopped)
        assert main(["train", "--resume", str(finished_run), *flags]) == 130
    err = capsys.readouterr().err
    assert err == (
        f"mnistlab train: stopped by SIGINT; every finished epoch is saved in {finished_run}. "
        f"Resume with: mnistlab train --resume {finished_run}{again}\n"
    )
    assert main(shlex.split(err.split("Resume with: ")[1])[1:]) == 0
    assert epochs_in(finished_run) == int(flags[1])


def test_the_resume_command_quotes_what_a_shell_would_split(tmp_path) -> None:
    out = tmp_path / "my runs" / "first"
    line = interrupted_line(Interrupted(15), out, True, ["--epochs 9"])
    command = line.split("Resume with: ")[1]
    assert shlex.split(command) == ["mnistlab", "train", "--resume", str(out), "--epochs", "9"]
    assert interrupted_line(Interrupted(15), out, False) == (
        f"mnistlab train: stopped by SIGTERM before the first epoch finished; nothing was "
        f"saved in {out} (a run it would have replaced is kept)"
    )


def stopped_run(where: Path, splits: Splits, backend: str = "numpy") -> Path:
    """A 3-epoch run of MLP [784, 16, 10] stopped after its first epoch (2 steps)."""

    class Stop(Exception):
        pass

    def stop_after_1(epoch: int) -> None:
        if epoch == 1:
            raise Stop

    with pytest.raises(Stop):
        train(
            MLPSpec((16,)), TrainConfig(epochs=3), splits, backend, where,
            limit_train=IMAGES, log=None, show_progress=False, on_saved=stop_after_1,
        )  # fmt: skip
    return where


def test_a_resume_goes_on_where_the_run_was_and_repeats_nothing_it_need_not(
    tmp_path, monkeypatch, capsys
) -> None:
    """A run trained on PyTorch and stopped after 1 of 3 epochs goes on on PyTorch without
    --backend; stopped again, its resume command needs no flag at all."""
    from mnistlab import training

    splits = synthetic(tmp_path / "images")
    monkeypatch.setattr("mnistlab.data.mnist.load_splits", lambda *args, **kwargs: splits)
    out = stopped_run(tmp_path / "torch-run", splits, "torch")
    with monkeypatch.context() as patch:
        patch.setattr(
            training, "run_protocol", lambda *a, **k: (_ for _ in ()).throw(Interrupted(2))
        )
        assert main(["train", "--resume", str(out)]) == 130
    assert capsys.readouterr().err.endswith(f"Resume with: mnistlab train --resume {out}\n")
    assert main(["train", "--resume", str(out)]) == 0
    history = json.loads((out / HISTORY).read_text())
    assert len(history["epochs"]) == 3 and history["config"]["backend"] == "torch"
    assert [r["backend"] for r in history["config"]["resumed"]] == ["torch"]


def test_a_resume_re_applies_the_changes_made_after_the_checkpoint(
    tmp_path, monkeypatch, capsys
) -> None:
    """history.json holds a learning-rate change made in the epoch the stop dropped (at
    step 3, after the checkpoint's step 2): the resume says so and trains with it."""
    splits = synthetic(tmp_path / "images")
    monkeypatch.setattr("mnistlab.data.mnist.load_splits", lambda *args, **kwargs: splits)
    out = stopped_run(tmp_path / "run", splits)
    history = json.loads((out / HISTORY).read_text())
    history["config"]["train"]["lr_changes"] = [[3, 0.005]]
    (out / HISTORY).write_text(json.dumps(history))
    assert main(["train", "--resume", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "re-applying the learning-rate changes made after the checkpoint: 0.005 from step 3" in (
        printed
    )
    assert json.loads((out / HISTORY).read_text())["config"]["train"]["lr_changes"] == [[3, 0.005]]


def test_the_api_resumes_on_the_images_it_is_given(tmp_path, monkeypatch, capsys) -> None:
    """`mnistlab.train(resume=DIR, data=splits, log=...)` reads no files (the data is what
    it was given) and says what it does through `log` alone."""
    import mnistlab

    splits = synthetic(tmp_path / "images")
    out = stopped_run(tmp_path / "run", splits)
    history = json.loads((out / HISTORY).read_text())
    history["config"]["train"]["lr_changes"] = [[3, 0.005]]
    (out / HISTORY).write_text(json.dumps(history))

    def no_files(*args, **kwargs):
        raise AssertionError("the images were read from files")

    monkeypatch.setattr("mnistlab.data.mnist.load_splits", no_files)
    lines: list[str] = []
    run = mnistlab.train(resume=str(out), data=splits, progress=False, log=lines.append)
    assert len(run.history.epochs) == 3
    assert any("epoch   3" in line for line in lines), lines
    assert any(line.startswith("re-applying the learning-rate changes") for line in lines)
    assert capsys.readouterr().out == ""  # every line went to `log`
