"""Atomic writes: a file is either the old one or the complete new one, never half."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mnistlab.errors import UserError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it over `path`.

    A failed write (a full disk, a vanished directory) is one line naming the file and the
    cause, and `path` keeps its previous content.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise write_error(path, exc) from None
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes 0600, and a writer may replace the file with its own (safetensors
        # does, also 0600): give the result the user's normal permissions, as open() would.
        os.chmod(tmp_path, 0o666 & ~current_umask())
        os.replace(tmp_path, path)
    except OSError as exc:
        if exc.errno not in WRITE_ERRNOS:
            raise  # not the disk's doing (a download's network error, say): the caller's
        raise write_error(path, exc) from None
    finally:
        tmp_path.unlink(missing_ok=True)


# What a failing write looks like: full disk or quota, read-only or vanished directory.
WRITE_ERRNOS = {
    errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO, errno.EACCES,
    errno.EPERM, errno.ENOENT, errno.ENOTDIR, errno.EISDIR,
}  # fmt: skip


def write_error(path: Path, exc: OSError) -> UserError:
    return UserError(f"cannot write {path}: {exc.strerror or exc}")


def check_writable_dir(path: str | os.PathLike[str], flag: str = "--out") -> Path:
    """Fail at once, in one line, when `path` cannot be created or written; creates nothing.

    Commands call it before any training, so `--out /proc/x` or an --out below a plain file
    costs the user nothing. The test is real: make and remove a directory where it would go.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{flag} {path} is a file, not a directory")
    missing = missing_dirs(path)  # a path below a plain file does not "exist" either
    existing = missing[-1].parent if missing else path
    if not existing.is_dir():
        raise UserError(f"{flag} {path} cannot be created: {existing} is a file")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".mnistlab-probe-", dir=existing))
    except OSError as exc:
        raise UserError(f"{flag} {path} cannot be written: {exc.strerror or exc}") from None
    return path


def missing_dirs(path: Path) -> list[Path]:
    """`path` and its ancestors that do not exist yet, deepest first: the folders making
    `path` creates, so that a failure can take them back (remove_empty_dirs)."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    return missing


def remove_empty_dirs(dirs: Sequence[Path]) -> None:
    """Remove each of `dirs` (deepest first) that is empty; a folder with files stays."""
    for directory in dirs:
        with contextlib.suppress(OSError):
            directory.rmdir()


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2) + "\n")


def write_with(path: str | os.PathLike[str], writer: Callable[[Path], None]) -> None:
    """Let `writer` fill a temporary file (e.g. savefig), then move it into place."""
    with atomic_path(path) as tmp:
        writer(tmp)


def write_safetensors(
    path: str | os.PathLike[str], tensors: dict[str, np.ndarray], metadata: dict[str, str]
) -> None:
    """Write a safetensors file atomically (model files and checkpoints alike).

    safetensors 0.8 silently corrupts non-C-contiguous arrays, so every array is made
    contiguous here, once for every caller. Serialised in memory and written by
    write_bytes, so a full disk is one line naming the file.
    """
    from safetensors.numpy import save

    contiguous = {name: np.ascontiguousarray(t) for name, t in tensors.items()}
    write_bytes(path, save(contiguous, metadata=metadata))


def read_safetensors(path: Path) -> tuple[dict[str, str], dict[str, np.ndarray]]:
    """A safetensors file's header and tensors; ValueError with the reason if unreadable."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            header = f.metadata() or {}
            tensors = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118
    except Exception as exc:  # safetensors raises several unrelated types for bad files
        raise ValueError(str(exc)) from None
    return header, tensors
