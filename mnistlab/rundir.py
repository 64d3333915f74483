"""Directories that one process writes at a time, and runs that never destroy a good one.

`locked(path)` creates the directory if needed and holds a lock file in it (`filelock`,
an OS lock: it dies with its process, so a lock left by a killed run blocks nobody). A
second command on the same directory is refused in one line. A directory the command
created and left empty (a refused or failed run) is removed again.

`claimed_run(path, force)` adds what `train --force` needs: the previous run's files are
moved into `.replaced/` inside the directory, not deleted, and come back if the new run
fails before it has saved its first epoch (NaN, Ctrl-C, a full disk), and what the new run
wrote until then (its live record) goes. Only once the new run has a checkpoint are they
dropped. A process killed in between leaves `.replaced/`,
and the next command on the directory settles it the same way.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

from mnistlab.errors import UserError
from mnistlab.fileio import check_writable_dir, missing_dirs, remove_empty_dirs

LOCK = ".mnistlab.lock"
ASIDE = ".replaced"


@contextlib.contextmanager
def locked(path: str | Path, flag: str = "--out") -> Iterator[Path]:
    """Hold `path` (created if missing) for this process; refuse if another holds it."""
    from filelock import FileLock, Timeout

    path = check_writable_dir(path, flag)
    created = missing_dirs(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{flag} {path} cannot be created: {exc.strerror or exc}") from None
    lock = FileLock(path / LOCK, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        remove_empty_dirs(created)
        raise UserError(
            f"{path} is in use by another mnistlab process; wait for it to finish "
            "or choose another --out"
        ) from None
    try:
        yield path
    finally:
        (path / LOCK).unlink(missing_ok=True)
        lock.release()
        remove_empty_dirs(created)


class ClaimedRun:
    """A run directory held by this process, with the run it replaces kept aside."""

    def __init__(self, path: Path, files: Sequence[str]) -> None:
        self.path = path
        self.files = tuple(files)
        self.aside = path / ASIDE
        self.saved = False

    def saved_first_epoch(self) -> None:
        """The new run has a checkpoint: the old one is no longer needed."""
        self.saved = True
        if self.aside.exists():
            shutil.rmtree(self.aside)

    def set_aside(self) -> None:
        self.aside.mkdir()
        for name in self.files:
            if (self.path / name).exists():
                (self.path / name).rename(self.aside / name)

    def put_back(self) -> None:
        """Drop the new run's files and return the old run's, exactly as they were."""
        for name in self.files:
            target = self.path / name
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
            if (self.aside / name).exists():
                (self.aside / name).rename(target)
        if self.aside.exists():
            self.aside.rmdir()

    def settle(self, finished_epoch: bool) -> None:
        """After a killed process: keep the new run if it saved an epoch, else the old one."""
        if self.aside.exists():
            self.saved_first_epoch() if finished_epoch else self.put_back()

    def holds_files(self) -> bool:
        return any(p.name not in (LOCK, ASIDE) for p in self.path.iterdir())


@contextlib.contextmanager
def claimed_run(
    path: str | Path,
    files: Sequence[str],
    marker: str,
    *,
    force: bool = False,
    resume: bool = False,
) -> Iterator[ClaimedRun]:
    """Hold a run directory for a new run (`force`: over an old one) or to resume one.

    `files` are the names a run writes; `marker` the one that shows a run saved an epoch.
    """
    with locked(path) as directory:
        run = ClaimedRun(directory, files)
        run.settle(finished_epoch=(directory / marker).exists())
        if not resume and run.holds_files():
            if not force:
                what = "another run" if any((directory / f).exists() for f in files) else "files"
                raise UserError(
                    f"{directory} already holds {what}; pass --force to overwrite it "
                    "or choose another --out"
                )
            run.set_aside()
        try:
            yield run
        except BaseException:
            if not resume and not run.saved:
                run.put_back()  # what it wrote before its first epoch (its live record) too
            raise
        run.saved_first_epoch()
