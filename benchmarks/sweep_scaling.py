"""How much faster does a sweep run on 2 local workers than on 1? (target: ≥ 1.7×)

Runs the same 6-cell grid (k ∈ {1,2,3} × m ∈ {256,512}, numpy backend, 10,000 training
images, 4 epochs, batch 20) once with `--workers 1` and once with `--workers 2`, each in a
fresh Python process with one BLAS thread per process, so that one worker means one core.
The time is the sweep's wall clock from start to the last result, worker start-up and
data loading included: what a user waits for. Cells of several seconds keep those
one-off costs (≈ 1 s) small next to the work; with 1-epoch cells of 5,000 images the
benchmark measured process start-up instead (1.64× at 2 epochs).

    python benchmarks/sweep_scaling.py [--data-dir DIR]

Takes about a minute on 2 idle cores; measured 1.78× and 1.84× there. Run it on an idle
machine: with other programs busy on the same 2 cores there is no second core to gain
(0.74× was measured at load average 9).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GRID = ("1,2,3", "256,512")
SETTINGS = {"epochs": 4, "batch_size": 20, "limit_train": 10_000}
ONE_THREAD = {v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def child(workers: int, data_dir: str | None) -> None:
    """Run the sweep in this process and print {cells, seconds, cell_seconds} as JSON."""
    from mnistlab.experiments.grid import parse_grid
    from mnistlab.experiments.sweep import SweepSettings, run_sweep

    grid = parse_grid(*GRID)
    settings = SweepSettings(data_dir=data_dir, **SETTINGS)  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        outcome = run_sweep(grid, settings, Path(out), workers=workers, echo=lambda _: None)
        seconds = time.perf_counter() - start
    cell_seconds = sum(row["seconds"] for row in outcome.rows)
    print(json.dumps({"cells": outcome.ran, "seconds": seconds, "cell_seconds": cell_seconds}))


def measure(workers: int, data_dir: str | None) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", str(workers)]
    if data_dir:
        cmd += ["--data-dir", data_dir]
    env = {**os.environ, **ONE_THREAD}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"the {workers}-worker sweep failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="MNIST folder (else $MNISTLAB_DATA …)")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.data_dir)
        return
    print(
        f"grid k ∈ {{{GRID[0]}}} × m ∈ {{{GRID[1]}}}, {SETTINGS}, numpy, "
        f"one BLAS thread per process, {os.cpu_count()} cores"
    )
    rates = {}
    for workers in (1, 2):
        result = measure(workers, args.data_dir)
        rates[workers] = 60 * result["cells"] / result["seconds"]
        print(
            f"{workers} worker{'s' if workers > 1 else ' '}: {result['cells']:.0f} cells in "
            f"{result['seconds']:5.1f} s = {rates[workers]:5.2f} cells/min "
            f"(cells' own time {result['cell_seconds']:.1f} s)"
        )
    ratio = rates[2] / rates[1]
    print(f"speed-up with 2 workers: {ratio:.2f}× (target ≥ 1.7×)")


if __name__ == "__main__":
    main()
