"""Where and when a number was measured, so every figure in a report can be traced."""

from __future__ import annotations

import datetime as dt
import functools
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from mnistlab import __version__


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
    }
    if "torch" in sys.modules:
        info["torch"] = sys.modules["torch"].__version__
    return info


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@functools.cache
def software() -> dict[str, str | None]:
    """The mnistlab version and, run from a git checkout, its commit (`-dirty` with changes).

    Recorded in every run directory, model file and sweep row, so a number can be traced
    to the code that produced it. Untracked files (runs, reports) do not count as changes.
    """
    return {"version": __version__, "commit": git_commit(Path(__file__).resolve().parent)}


def git_commit(where: Path) -> str | None:
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(where), *args], capture_output=True, text=True, timeout=10
        )
        if done.returncode != 0:
            raise OSError(done.stderr.strip())
        return done.stdout.strip()

    try:
        top = Path(git("rev-parse", "--show-toplevel"))
        if not (top / "mnistlab" / "__init__.py").is_file():
            return None  # an installed copy that happens to sit inside some other repository
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty else "")


def describe_software(info: dict[str, Any] | None) -> str:
    """'mnistlab 0.1.0 (commit 1a2b3c4d5e6f-dirty)', or 'an unrecorded mnistlab version'."""
    if not info or not info.get("version"):
        return "an unrecorded mnistlab version"
    commit = info.get("commit")
    if not commit:
        return f"mnistlab {info['version']}"
    short = commit[:12] + ("-dirty" if commit.endswith("-dirty") else "")
    return f"mnistlab {info['version']} (commit {short})"
