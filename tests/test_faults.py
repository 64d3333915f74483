"""The fault matrix: each fault a user can meet, and proof that nothing was lost.

Runs are real `python -m mnistlab` processes on a few thousand MNIST images and tiny
networks, killed or signalled at moments read from their own output, so each test takes
seconds. In-process tests (`main([...])`) cover what needs no separate process.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import pathlib
import random
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open

from mnistlab.checkpoint import CHECKPOINT, load_checkpoint
from mnistlab.cli import main
from mnistlab.training import HISTORY, MODEL

pytestmark = pytest.mark.mnist

SMALL = ["--hidden", "16", "--limit-train", "1500", "--batch-size", "50"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "mnistlab", *args]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(*args), env=ENV, capture_output=True, text=True, timeout=300, cwd=cwd
    )


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command(*args), env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def read_lines(child: subprocess.Popen[str], n: int, starting: str = "") -> list[str]:
    """The child's next `n` stdout lines that start with `starting` (fewer if it ends)."""
    lines: list[str] = []
    while len(lines) < n:
        line = child.stdout.readline()
        if not line:
            break
        if line.startswith(starting):
            lines.append(line)
    return lines


def stop(child: subprocess.Popen[str], signum: int = signal.SIGKILL) -> tuple[int, str]:
    child.send_signal(signum)
    _, err = child.communicate(timeout=60)
    return child.returncode, err


def epochs_of(run_dir: Path) -> list[dict]:
    history = json.loads((run_dir / HISTORY).read_text())
    numbers = [{k: v for k, v in e.items() if k != "seconds"} for e in history["epochs"]]
    return [*numbers, history["best"]]


def tensors(path: Path) -> dict[str, np.ndarray]:
    with safe_open(str(path), framework="numpy") as f:
        return {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118


def assert_same_run(a: Path, b: Path) -> None:
    assert epochs_of(b) == epochs_of(a)
    model_a, model_b = tensors(a / MODEL), tensors(b / MODEL)
    assert model_a.keys() == model_b.keys()
    for name, tensor in model_a.items():
        np.testing.assert_array_equal(model_b[name], tensor, err_msg=name)


def digest(directory: Path) -> dict[str, str]:
    """Every file under `directory` and the hash of its bytes."""
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def assert_one_line(code: int, err: str, expected_code: int, *words: str) -> None:
    assert code == expected_code, err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and "Warning" not in err, err
    for word in words:
        assert word in err, err


def cli(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


@pytest.fixture
def finished_run(tmp_path, mnist_dir) -> Path:
    """A finished 2-epoch NumPy run (in this process: no start-up cost)."""
    out = tmp_path / "done"
    argv = ["train", "--data-dir", str(mnist_dir), *SMALL, "--epochs", "2", "--out", str(out)]
    assert main(argv) == 0
    return out


# ---------------------------------------------------------------- kill -9, Ctrl-C, SIGTERM


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_kill_9_at_random_moments_then_resume_ends_as_if_never_stopped(
    tmp_path, mnist_dir, backend
) -> None:
    flags = ["--backend", backend, "--data-dir", str(mnist_dir), *SMALL, "--epochs", "9"]
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert run("train", *flags, "--out", str(whole)).returncode == 0
    # Kill within one epoch's time of an epoch line, timed from the uninterrupted run, so
    # each kill lands mid-epoch and the run is killed several times on a fast idle
    # machine (a fixed 0–0.3 s let it finish after two kills) as on a loaded one.
    epoch_s = statistics.median(
        e["seconds"] for e in json.loads((whole / HISTORY).read_text())["epochs"]
    )
    moments = random.Random()
    kills: list[tuple[int, float]] = []
    finished = False
    while len(kills) < 5 and not finished:
        if (killed / CHECKPOINT).exists():
            if load_checkpoint(killed / CHECKPOINT).epoch == 9:
                finished = True  # killed after its last epoch was saved
                break
            child = start("train", "--resume", str(killed))
        else:  # killed before its first checkpoint: start again (over what epoch 1 wrote)
            child = start("train", *flags, "--out", str(killed), "--force")
        lines, delay = (1 if kills else 0), moments.uniform(0.0, epoch_s)
        read_lines(child, 1)  # the header: data loaded
        read_lines(child, lines, "epoch")
        time.sleep(delay)
        code, err = stop(child)
        finished = code == 0
        assert code in (0, -signal.SIGKILL), err
        kills.append((lines, round(delay, 3)))
    assert len(kills) >= 3, f"the run finished before it could be killed 3 times: {kills}"
    if not finished and load_checkpoint(killed / CHECKPOINT).epoch < 9:
        done = run("train", "--resume", str(killed))
        assert done.returncode == 0, done.stderr
    assert_same_run(whole, killed)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_and_sigterm_print_the_resume_command(tmp_path, mnist_dir, signum, code) -> None:
    out = tmp_path / "run"
    child = start(
        "train", "--data-dir", str(mnist_dir), *SMALL, "--epochs", "30", "--out", str(out)
    )
    assert read_lines(child, 1, "epoch")
    returncode, err = stop(child, signum)
    assert_one_line(returncode, err, code, f"Resume with: mnistlab train --resume {out}")
    checkpoint = load_checkpoint(out / CHECKPOINT)  # intact: it loads and its checksum holds
    assert 1 <= checkpoint.epoch < 30
    assert len(json.loads((out / HISTORY).read_text())["epochs"]) == checkpoint.epoch
    assert (out / "learning_curves.png").is_file()  # the epochs kept, drawn on the way out
    done = run("train", "--resume", str(out), "--epochs", str(checkpoint.epoch + 1))
    assert done.returncode == 0, done.stderr
    assert len(json.loads((out / HISTORY).read_text())["epochs"]) == checkpoint.epoch + 1


def stop_before_the_first_epoch(monkeypatch) -> None:
    """Ctrl-C lands while the next epoch trains: before any epoch of this command is saved."""
    from mnistlab import training
    from mnistlab.interrupt import Interrupted

    def interrupted(*args, **kwargs):
        raise Interrupted(signal.SIGINT)

    monkeypatch.setattr(training, "run_protocol", interrupted)


def test_a_new_run_stopped_before_its_first_epoch_says_nothing_was_saved(
    tmp_path, mnist_dir, monkeypatch, capsys
) -> None:
    out = tmp_path / "run"
    stop_before_the_first_epoch(monkeypatch)
    code, err = cli(capsys, "train", "--data-dir", str(mnist_dir), *SMALL, "--out", str(out))
    assert_one_line(code, err, 130, f"before the first epoch finished; nothing was saved in {out}")
    assert "Resume" not in err and not out.exists()


# ---------------------------------------------------------------- sweeps


def sweep_args(mnist_dir: Path, out: Path) -> list[str]:
    grid = ["--k", "1", "--m", "8,24", "--epochs", "4", "--limit-train", "1500"]
    return ["sweep", *grid, "--workers", "1", "--data-dir", str(mnist_dir), "--out", str(out)]


def table_numbers(out: Path) -> list[tuple]:
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    keys = ("k", "m", "val_acc", "test_acc", "best_epoch", "val_accs")
    return sorted(tuple(json.dumps(r[k]) for k in keys) for r in rows)


def test_kill_9_of_a_sweep_mid_cell_resumes_the_cell_from_its_checkpoint(tmp_path, mnist_dir):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert run(*sweep_args(mnist_dir, whole)).returncode == 0
    child = start(*sweep_args(mnist_dir, killed))
    checkpoints = killed / "checkpoints"
    deadline = time.monotonic() + 120
    while not any(checkpoints.glob("*.safetensors")) and child.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    stop(child)
    assert not (killed / "results.jsonl").exists() or table_numbers(killed) == []
    again = run(*sweep_args(mnist_dir, killed))
    assert again.returncode == 0, again.stderr
    assert "resume from" in again.stdout
    assert table_numbers(killed) == table_numbers(whole)
    assert not checkpoints.exists()


def test_a_partial_results_line_is_dropped_with_one_line_saying_so(tmp_path, mnist_dir, capsys):
    out = tmp_path / "sweep"
    assert main(sweep_args(mnist_dir, out)) == 0
    results = out / "results.jsonl"
    lines = results.read_text().splitlines(keepends=True)
    results.write_text(lines[0] + lines[1][:20])  # a kill in the middle of the append
    assert main(sweep_args(mnist_dir, out)) == 0
    stdout = capsys.readouterr().out
    assert stdout.count("dropped the unfinished last line") == 1
    assert len(results.read_text().splitlines()) == 2


def test_two_sweeps_on_one_out_the_second_refuses(tmp_path, mnist_dir) -> None:
    out = tmp_path / "sweep"
    first = start(*sweep_args(mnist_dir, out))
    assert read_lines(first, 1, "sweep")  # it holds the directory now
    second = run(*sweep_args(mnist_dir, out))
    assert_one_line(second.returncode, second.stderr, 2, "in use by another mnistlab process")
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert len(table_numbers(out)) == 2


def test_two_trains_on_one_run_directory_the_second_refuses(tmp_path, mnist_dir) -> None:
    out = tmp_path / "run"
    flags = ["--data-dir", str(mnist_dir), *SMALL]
    # Far more epochs than the test needs: the first must still be training when the
    # second starts, however fast the machine (6 epochs of SMALL take well under a second).
    first = start("train", *flags, "--epochs", "1000", "--out", str(out))
    assert read_lines(first, 1, "epoch")
    for second in (
        run("train", *flags, "--epochs", "2", "--out", str(out), "--force"),
        run("train", "--resume", str(out), "--epochs", "2000"),
    ):
        assert_one_line(second.returncode, second.stderr, 2, "in use by another mnistlab process")
    assert first.poll() is None, "the first run ended before the second could be refused"
    code, err = stop(first, signal.SIGINT)
    assert code == 130, err
    kept = load_checkpoint(out / CHECKPOINT).epoch  # the first's files: whole and its own
    assert kept >= 1
    assert len(json.loads((out / HISTORY).read_text())["epochs"]) == kept
    assert json.loads((out / HISTORY).read_text())["config"]["train"]["epochs"] == 1000


# ---------------------------------------------------------------- a full disk


def fail_writes_of(monkeypatch, name: str, after: int = 0) -> None:
    """The next write of file `name` (after `after` good ones) finds the disk full."""
    real = pathlib.Path.write_bytes
    seen = []

    def write_bytes(self: pathlib.Path, data: bytes) -> int:
        if self.name.startswith(f".{name}."):
            seen.append(self)
            if len(seen) > after:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, data)

    monkeypatch.setattr(pathlib.Path, "write_bytes", write_bytes)


@pytest.mark.parametrize("name", [CHECKPOINT, HISTORY])
def test_disk_full_keeps_the_previous_version(finished_run, monkeypatch, capsys, name) -> None:
    before = (finished_run / name).read_bytes()
    fail_writes_of(monkeypatch, name)
    code, err = cli(capsys, "train", "--resume", str(finished_run), "--epochs", "3")
    assert_one_line(code, err, 2, str(finished_run / name), "No space left on device")
    assert (finished_run / name).read_bytes() == before
    assert load_checkpoint(finished_run / CHECKPOINT).epoch == 2
    assert not list(finished_run.glob(".*.tmp"))


def test_disk_full_for_the_model_of_a_forced_run_keeps_the_old_run(
    finished_run, mnist_dir, monkeypatch, capsys
) -> None:
    before = digest(finished_run)
    fail_writes_of(monkeypatch, MODEL)
    argv = ["train", "--data-dir", str(mnist_dir), *SMALL, "--epochs", "1", "--seed", "5"]
    code, err = cli(capsys, *argv, "--out", str(finished_run), "--force")
    assert_one_line(code, err, 2, str(finished_run / MODEL), "No space left on device")
    assert digest(finished_run) == before
    assert sorted(p.name for p in finished_run.iterdir()) == sorted(before)


# ---------------------------------------------------------------- --force over a good run


def test_force_then_nan_in_epoch_1_keeps_the_old_run(finished_run, mnist_dir) -> None:
    before = digest(finished_run)
    for backend in ("numpy", "torch"):
        done = run(
            "train", "--backend", backend, "--data-dir", str(mnist_dir), *SMALL,
            "--lr", "1e4", "--out", str(finished_run), "--force",
        )  # fmt: skip
        assert_one_line(done.returncode, done.stderr, 2, "loss became", "in epoch 1; try a lower")
        assert digest(finished_run) == before


def test_force_then_ctrl_c_in_epoch_1_keeps_the_old_run(finished_run, mnist_dir) -> None:
    before = digest(finished_run)
    child = start(
        "train", "--data-dir", str(mnist_dir), "--hidden", "64",
        "--batch-size", "1", "--out", str(finished_run), "--force",
    )  # fmt: skip
    # 50,000 single-image steps: seconds, even on an idle machine, so the signal lands
    # inside epoch 1 (20,000 images at batch 10 sometimes finished before it did).
    assert read_lines(child, 1, "MLP")  # data loaded, epoch 1 under way
    time.sleep(0.3)
    code, err = stop(child, signal.SIGINT)
    assert_one_line(code, err, 130, "before the first epoch finished")
    assert digest(finished_run) == before


def test_a_diverging_new_run_leaves_no_directory(tmp_path, mnist_dir) -> None:
    out = tmp_path / "new" / "run"
    done = run("train", "--data-dir", str(mnist_dir), *SMALL, "--lr", "1e4", "--out", str(out))
    assert_one_line(done.returncode, done.stderr, 2, "the training loss became", "in epoch 1")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- bad --out


@pytest.mark.parametrize("command", ["train", "sweep", "compare", "report"])
def test_an_out_that_cannot_be_written_is_one_line_before_any_work(
    tmp_path, capsys, command
) -> None:
    plain = tmp_path / "plain"
    plain.write_text("not a directory")
    for out, words in (("/proc/x", "cannot be written"), (str(plain / "x"), "is a file")):
        code, err = cli(capsys, command, "--out", out, "--data-dir", str(tmp_path / "none"))
        assert_one_line(code, err, 2, f"--out {out}", words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain"]


# ---------------------------------------------------------------- bad checkpoints, --resume, --init


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_a_damaged_checkpoint_is_refused_and_nothing_overwritten(finished_run, capsys, damage):
    path = finished_run / CHECKPOINT
    raw = bytearray(path.read_bytes())
    if damage == "flip":
        raw[-7] ^= 0x10
    else:
        del raw[len(raw) // 3 :]
    path.write_bytes(bytes(raw))
    before = digest(finished_run)
    code, err = cli(capsys, "train", "--resume", str(finished_run), "--epochs", "3")
    assert_one_line(code, err, 2, str(path))
    assert digest(finished_run) == before


def test_init_starts_from_the_saved_weights(finished_run, mnist_dir, tmp_path, capsys) -> None:
    out = tmp_path / "tuned"
    argv = ["train", "--init", str(finished_run / MODEL), "--data-dir", str(mnist_dir)]
    argv += ["--limit-train", "200", "--epochs", "1", "--lr", "1e-12", "--l2", "0"]
    assert main([*argv, "--out", str(out)]) == 0
    said = capsys.readouterr().out.splitlines()[0]
    assert said.startswith(f"starting from the weights in {finished_run / MODEL}: MLP [784, 16")
    start_weights, tuned = tensors(finished_run / MODEL), tensors(out / MODEL)
    for name, tensor in start_weights.items():
        np.testing.assert_allclose(tuned[name], tensor, atol=1e-7)
    history = json.loads((out / HISTORY).read_text())
    assert history["config"]["init"]["model_file"] == str(finished_run / MODEL)
    assert history["config"]["architecture"]["hidden"] == [16]


def test_a_resume_reads_the_images_where_the_run_read_them(
    finished_run, mnist_dir, tmp_path, monkeypatch, capsys
) -> None:
    """The recorded folder, not the search from here ($MNISTLAB_DATA names a folder that
    is not there: searching would be an error); --data-dir says where they are now."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MNISTLAB_DATA", str(tmp_path / "not-here"))
    assert main(["train", "--resume", str(finished_run), "--epochs", "3"]) == 0
    assert f"from {mnist_dir}" in capsys.readouterr().out
    moved = tmp_path / "moved"
    moved.mkdir()
    for path in mnist_dir.iterdir():
        (moved / path.name).symlink_to(path)
    argv = ["train", "--resume", str(finished_run), "--epochs", "4", "--data-dir", str(moved)]
    assert main(argv) == 0
    assert f"from {moved}" in capsys.readouterr().out


def test_extending_a_finished_run_equals_training_longer(finished_run, mnist_dir, tmp_path):
    longer = tmp_path / "longer"
    argv = ["train", "--data-dir", str(mnist_dir), *SMALL]
    assert main([*argv, "--epochs", "3", "--out", str(longer)]) == 0
    assert main(["train", "--resume", str(finished_run), "--epochs", "3"]) == 0
    longer_history = json.loads((longer / HISTORY).read_text())
    extended = json.loads((finished_run / HISTORY).read_text())
    assert extended["config"]["train"] == longer_history["config"]["train"]
    assert_same_run(longer, finished_run)


# ---------------------------------------------------------------- what the files say


def test_version_and_commit_are_recorded_and_shown(finished_run, mnist_dir, capsys) -> None:
    history = json.loads((finished_run / HISTORY).read_text())
    assert history["config"]["mnistlab"]["version"]
    with safe_open(str(finished_run / MODEL), framework="numpy") as f:
        assert json.loads(f.metadata()["mnistlab"]) == history["config"]["mnistlab"]
    assert main(["evaluate", str(finished_run / MODEL), "--data-dir", str(mnist_dir)]) == 0
    out = capsys.readouterr().out
    assert f"trained with mnistlab {history['config']['mnistlab']['version']}" in out


def test_output_piped_into_a_closed_reader_ends_quietly() -> None:
    child = subprocess.Popen(
        command("summary", "--model", "lenet5"),
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    child.stdout.close()  # like `| head` that has already gone
    err = child.stderr.read().decode()
    child.wait(timeout=60)
    assert err == ""
    assert child.returncode == 141
