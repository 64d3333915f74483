"""Run directories: one writer at a time, and a good run is never lost to a new one.

`train --force` sets the old run aside and brings it back, byte for byte, unless the new
run saved an epoch; a process killed in between leaves the decision to the next command
on the directory. Fake run files stand in for a run: only names and bytes matter here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mnistlab.errors import UserError
from mnistlab.rundir import ASIDE, claimed_run, locked

FILES = ("history.json", "model.safetensors", "checkpoint.safetensors", "figures")
MARKER = "checkpoint.safetensors"


def old_run(path: Path) -> dict[str, bytes]:
    path.mkdir()
    contents = {}
    for name in FILES[:3]:
        contents[name] = f"old {name}".encode()
        (path / name).write_bytes(contents[name])
    (path / "figures").mkdir()
    (path / "figures" / "a.png").write_bytes(b"old figure")
    return contents


def files_of(path: Path) -> dict[str, bytes]:
    """The run's files as a user sees them (not the lock, not what is set aside)."""
    return {
        str(p.relative_to(path)): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file() and not str(p.relative_to(path)).startswith(".")
    }


def new_files(path: Path, *names: str) -> None:
    for name in names:
        (path / name).write_bytes(f"new {name}".encode())


def test_a_new_run_that_fails_before_its_first_epoch_brings_the_old_one_back(tmp_path) -> None:
    run = tmp_path / "run"
    old_run(run)
    before = files_of(run)
    with pytest.raises(RuntimeError), claimed_run(run, FILES, MARKER, force=True):
        assert files_of(run) == {}  # set aside while the new run trains
        new_files(run, "history.json", "model.safetensors")  # no checkpoint yet
        raise RuntimeError("the loss became nan in epoch 1")
    assert files_of(run) == before and not (run / ASIDE).exists()


def test_a_new_run_that_saved_an_epoch_replaces_the_old_one(tmp_path) -> None:
    run = tmp_path / "run"
    old_run(run)
    with claimed_run(run, FILES, MARKER, force=True) as claimed:
        new_files(run, *FILES[:3])
        claimed.saved_first_epoch()
    assert files_of(run) == {name: f"new {name}".encode() for name in FILES[:3]}
    assert not (run / ASIDE).exists()


def test_a_failure_after_the_first_epoch_keeps_the_new_run(tmp_path) -> None:
    run = tmp_path / "run"
    old_run(run)
    with pytest.raises(RuntimeError), claimed_run(run, FILES, MARKER, force=True) as claimed:
        new_files(run, *FILES[:3])
        claimed.saved_first_epoch()
        raise RuntimeError("disk full in epoch 2")
    assert files_of(run) == {name: f"new {name}".encode() for name in FILES[:3]}


def killed_while_forcing(run: Path, saved_epoch: bool) -> None:
    """What a forced run killed with -9 leaves: the old run aside, some new files."""
    (run / ASIDE).mkdir()
    for name in FILES:
        (run / name).rename(run / ASIDE / name)
    new_files(run, "history.json", *([MARKER] if saved_epoch else []))


def test_after_a_kill_before_the_first_epoch_a_resume_finds_the_old_run(tmp_path) -> None:
    run = tmp_path / "run"
    old_run(run)
    before = files_of(run)
    killed_while_forcing(run, saved_epoch=False)
    with claimed_run(run, FILES, MARKER, resume=True):
        assert files_of(run) == before and not (run / ASIDE).exists()


def test_after_a_kill_before_the_first_epoch_a_new_run_is_refused_over_the_old(tmp_path) -> None:
    run = tmp_path / "run"
    old_run(run)
    before = files_of(run)
    killed_while_forcing(run, saved_epoch=False)
    with (
        pytest.raises(UserError, match="already holds another run"),
        claimed_run(run, FILES, MARKER),
    ):
        pass
    assert files_of(run) == before and not (run / ASIDE).exists()


def test_after_a_kill_past_the_first_epoch_the_next_command_keeps_the_new_run(tmp_path) -> None:
    run = tmp_path / "run"
    old_run(run)
    killed_while_forcing(run, saved_epoch=True)
    with claimed_run(run, FILES, MARKER, resume=True):
        assert files_of(run) == {
            "history.json": b"new history.json",
            MARKER: f"new {MARKER}".encode(),
        }
        assert not (run / ASIDE).exists()


def test_without_force_a_run_is_never_overwritten(tmp_path) -> None:
    run = tmp_path / "run"
    old_run(run)
    before = files_of(run)
    with (
        pytest.raises(UserError, match="already holds another run; pass --force"),
        claimed_run(run, FILES, MARKER),
    ):
        pass
    assert files_of(run) == before


def test_a_second_writer_is_refused_and_a_created_empty_directory_removed(tmp_path) -> None:
    run = tmp_path / "new" / "run"
    with locked(run):
        with pytest.raises(UserError, match="in use by another mnistlab process"), locked(run):
            pass
        assert run.is_dir()
    assert not (tmp_path / "new").exists()  # created here and left empty: removed


def test_a_new_directory_needs_no_force_and_a_stray_file_is_kept(tmp_path) -> None:
    with claimed_run(tmp_path / "fresh", FILES, MARKER) as claimed:
        new_files(claimed.path, "history.json")  # its own lock file is not "files"
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    with (
        pytest.raises(UserError, match="already holds files; pass --force"),
        claimed_run(taken, FILES, MARKER),
    ):
        pass
    assert files_of(taken) == {"notes.txt": b"mine"}


def test_the_new_runs_figures_go_and_the_old_ones_come_back(tmp_path) -> None:
    run = tmp_path / "run"
    old_run(run)
    before = files_of(run)
    with pytest.raises(RuntimeError), claimed_run(run, FILES, MARKER, force=True):
        (run / "figures").mkdir()
        (run / "figures" / "b.png").write_bytes(b"new figure")
        raise RuntimeError("stopped in epoch 1")
    assert files_of(run) == before
