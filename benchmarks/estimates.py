"""Time estimates against measured times, for each kind of plan the commands print.

    python benchmarks/estimates.py [--data-dir DIR]      (also `make bench`, section 12)

Each plan is run as a user runs it (a fresh `mnistlab` process, wall clock from start to
exit) and set beside the estimate the commands print before they start
(`experiments/estimate.py`: per-image rates, a start-up cost per run, the report's
writing): one-run plans of each model on each backend on a subset, and `report --quick`
in a fresh directory. An estimate is meant to be good to about a factor of 2 on an idle
machine; the load average is printed beside the numbers, since a busy machine is slower.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from mnistlab.config import TrainConfig, get_recipe
from mnistlab.experiments import report_plan
from mnistlab.experiments.estimate import plan_seconds
from mnistlab.experiments.runplan import RunPlan, lenet_plan
from mnistlab.models.spec import ConvNetSpec, MLPSpec
from mnistlab.threads import available_cores

N = 10_000  # training images per one-run plan: seconds each, not minutes
RUNS = [
    RunPlan("numpy-mlp", "numpy", MLPSpec((100,)), TrainConfig(epochs=2), N),
    RunPlan("torch-mlp", "torch", MLPSpec((100,)), TrainConfig(epochs=2), N),
    replace(lenet_plan("numpy", TrainConfig(), 1, N), name="numpy-lenet5"),
    replace(lenet_plan("torch", TrainConfig(), 1, N), name="torch-lenet5"),
    RunPlan("numpy-fast", "numpy", ConvNetSpec(), get_recipe("fast").config(), N),
    RunPlan("torch-fast", "torch", ConvNetSpec(), get_recipe("fast").config(), N),
]


def train_argv(plan: RunPlan, out: Path) -> list[str]:
    c = plan.config
    flags = ["--backend", plan.backend, "--epochs", str(c.epochs), "--limit-train", str(N)]
    if plan.name.endswith("fast"):
        flags += ["--recipe", "fast"]
    elif plan.name.endswith("lenet5"):
        flags += ["--model", "lenet5"]
    else:
        flags += ["--hidden", ",".join(map(str, plan.spec.hidden))]
    return ["train", *flags, "--out", str(out)]


def timed(argv: list[str], data_dir: str | None) -> float:
    env = os.environ | ({"MNISTLAB_DATA": data_dir} if data_dir else {})
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "mnistlab", *argv], env=env, check=True, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - start


def show(name: str, estimate: float, measured: float) -> None:
    print(f"     {name:<22} {estimate:8.1f}s {measured:8.1f}s {measured / estimate:7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="MNIST folder (else the usual search)")
    args = parser.parse_args()
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"12. Time estimates against measured (load average {load})")
    print(f"     {'plan':<22} {'estimate':>9} {'measured':>9} {'× est.':>7}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for plan in RUNS:
            measured = timed(train_argv(plan, Path(tmp) / plan.name), args.data_dir)
            rows.append((f"train {plan.name}", plan_seconds(plan), measured))
            show(*rows[-1])
        _, quick = report_plan.report_seconds(report_plan.quick_plan(), available_cores())
        measured = timed(["report", "--quick", "--out", str(Path(tmp) / "report")], args.data_dir)
        rows.append(("report --quick", quick, measured))
        show(*rows[-1])
    within = sum(0.5 <= m / e <= 2.0 for _, e, m in rows)
    print(f"     {within} of {len(rows)} within a factor of 2 (load average {load} at the start)")


if __name__ == "__main__":
    main()
