"""Re-run issue 12's mutation audit: each one-line change that once passed the whole suite
must now make the tests fail.

Each change is applied to a temporary copy of the repository (tracked and untracked,
not ignored, files), the tests that guard it run there against that copy, and the
change is undone before the next. A change whose line no longer exists is reported as
"not applied": update its text here when the code moves.

    .venv/bin/python benchmarks/mutation_audit.py           # the guarding test files
    .venv/bin/python benchmarks/mutation_audit.py --full    # the whole suite, per change
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Change:
    what: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


CHANGES = (
    Change(
        "accuracy_and_loss: correct += → correct =",
        "mnistlab/learner.py",
        "correct += int(",
        "correct = int(",
        ("tests/test_scores.py",),
    ),
    Change(
        "per_class_accuracy: cm.sum(axis=1) → axis=0 (precision)",
        "mnistlab/evaluation.py",
        "totals = cm.sum(axis=1)",
        "totals = cm.sum(axis=0)",
        ("tests/test_scores.py",),
    ),
    Change(
        "sources.fetch: the payload MD5 check removed",
        "mnistlab/data/sources.py",
        "idx.check_md5(target.name, payload, file.md5)",
        "pass",
        ("tests/data/test_sources.py",),
    ),
    Change(
        "gradcheck: the checker run with l2=0.0",
        "mnistlab/numpy_version/gradcheck.py",
        'TrainConfig(l2=l2, optimizer="sgd")',
        'TrainConfig(l2=0.0, optimizer="sgd")',
        ("tests/numpy_version/test_gradcheck.py",),
    ),
    Change(
        "report: the sweep table's validation column filled with test accuracy",
        "mnistlab/experiments/report.py",
        "f\"{r['val_acc']:.2%}{mark}\"",
        "f\"{r['test_acc']:.2%}{mark}\"",
        ("tests/experiments/test_report.py",),
    ),
    Change(
        "prediction grid: mistakes never marked",
        "mnistlab/plots/digits.py",
        "wrong = preds[i] is not None and preds[i] != int(labels[i])",
        "wrong = False",
        ("tests/plots",),
    ),
    Change(
        "sweep: the --workers with --scheduler check removed",
        "mnistlab/commands/sweep.py",
        "if args.scheduler is not None and args.workers is not None:",
        "if False:",
        ("tests/test_commands.py",),
    ),
)


def copy_repo(dest: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for name in filter(None, (n.decode() for n in listed)):
        src = REPO / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def run_tests(copy: Path, tests: tuple[str, ...], full: bool) -> tuple[int, float]:
    """pytest in the copy, importing the copy's mnistlab (not the editable install)."""
    env = os.environ | {"PYTHONPATH": str(copy), "MPLBACKEND": "Agg"}
    env.setdefault("MNISTLAB_DATA", str(REPO.parent / "shared" / "data" / "mnist"))
    args = ["-n", "2"] if full else [*tests, "-x", "-n", "0"]
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider"]
    start = time.perf_counter()
    done = subprocess.run([*cmd, *args], cwd=copy, env=env, capture_output=True, text=True)
    return done.returncode, time.perf_counter() - start


def check_imports_copy(copy: Path) -> None:
    env = os.environ | {"PYTHONPATH": str(copy)}
    probe = "import mnistlab, sys; print(mnistlab.__file__)"
    where = subprocess.run(
        [sys.executable, "-c", probe], cwd=copy, env=env, capture_output=True, text=True
    ).stdout.strip()
    if not where.startswith(str(copy)):
        sys.exit(f"the copy's tests would import {where}, not the copy: audit meaningless")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="run the whole suite per change")
    parser.add_argument("--baseline", action="store_true", help="first run the tests unchanged")
    args = parser.parse_args()
    missed = 0
    with tempfile.TemporaryDirectory(prefix="mnistlab-audit-") as tmp:
        copy = Path(tmp)
        copy_repo(copy)
        check_imports_copy(copy)
        if args.baseline:
            tests = tuple(sorted({t for c in CHANGES for t in c.tests}))
            code, seconds = run_tests(copy, tests, args.full)
            print(f"{'unchanged code':70s} {'pass' if code == 0 else 'FAIL'} {seconds:6.1f} s")
            if code != 0:
                return 1
        for change in CHANGES:
            path = copy / change.path
            original = path.read_text()
            if original.count(change.old) != 1:
                print(f"{change.what:70s} not applied ({change.old!r} not found once)")
                missed += 1
                continue
            path.write_text(original.replace(change.old, change.new))
            try:
                code, seconds = run_tests(copy, change.tests, args.full)
            finally:
                path.write_text(original)
            verdict = "caught" if code == 1 else ("MISSED" if code == 0 else f"error {code}")
            missed += verdict != "caught"
            print(f"{change.what:70s} {verdict:8s} {seconds:6.1f} s", flush=True)
    print(f"{len(CHANGES) - missed} of {len(CHANGES)} changes caught")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
