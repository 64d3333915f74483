"""Rough run times, printed before long work starts so nobody waits blind.

Per-image CPU costs, measured with one thread per run (as compare, report and sweep train)
on this project's 2-core machine by `benchmarks/run_time_rates.py` (numpy 2.4 with
OpenBLAS, torch 2.13; process time, so other users' load does not inflate them):

- MLP training, per image: MACs × (0.04 + 1.8/B) ns, B the batch size (small matrix
  products run far below the machine's peak), plus 300/B µs on PyTorch (dispatch,
  autograd and the optimiser: ~300 µs a step). Within 0.8-1.3× of the measured costs for
  784-64-10 to 784-512-512-512-10 at batch 10, 20 and 128 (784-64-10 at batch 10: 1.8×).
- LeNet-5 training at batch 20: 150 µs (NumPy) and 165 µs (PyTorch) per image, scaled to
  other batch sizes like the MLP.
- Scoring, per image: 1 µs + MACs × 0.015 ns (MLP); LeNet-5 130 µs (NumPy), 85 µs (PyTorch).
- The fast recipe's convnet at batch 256, per image: training 130 µs (NumPy, two threads)
  and 85 µs (PyTorch), scoring 40 µs and 25 µs: its one-epoch runs measured 8.1 s and
  5.4 s on the idle machine (README, the fast recipe against the peer); other convnets
  in proportion to their multiply-adds.

An epoch trains on n images and scores the 10,000 validation images and, when validation
improved, the 10,000 test images (counted as 15,000 in all). The total is multiplied by
1.15 for what this leaves out (the default `make run` measured 1.57 s an epoch where the
rates alone give 1.38 s). Good to about a factor of 2 on an idle machine; a busy one takes
longer (at load 11 on the 2 cores, epochs took 2-3× the estimate).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mnistlab.data.splits import N_TRAIN
from mnistlab.models.spec import ConvNetSpec, LeNet5Spec, ModelSpec
from mnistlab.models.summary import summarize

if TYPE_CHECKING:
    from mnistlab.experiments.runplan import RunPlan

SCORED_PER_EPOCH = 15_000
UNMODELLED = 1.15
LENET_TRAIN_US = {"numpy": 150.0, "torch": 165.0}  # per image at batch 20
LENET_SCORE_US = {"numpy": 130.0, "torch": 85.0}
TORCH_STEP_US = 300.0
CONVNET_TRAIN_US = {"numpy": 130.0, "torch": 85.0}  # per image at batch 256
CONVNET_SCORE_US = {"numpy": 40.0, "torch": 25.0}
# What a run costs besides its epochs: building the learner, the run directory's files and
# figures, and on PyTorch loading torch itself (measured by `make bench`, "estimates").
RUN_START_S = {"numpy": 1.0, "torch": 3.0}
REPORT_WRITE_S = 10.0  # a report's figures, tables and HTML once its runs are done


def batch_factor(batch_size: int) -> float:
    """ns per multiply-add of one training image at this batch size (fwd + backward)."""
    return 0.04 + 1.8 / batch_size


def epoch_seconds(spec: ModelSpec, backend: str, batch_size: int, n_train: int) -> float:
    """Rough seconds of one epoch (training plus scoring) on one thread."""
    if isinstance(spec, LeNet5Spec):
        train_us = LENET_TRAIN_US[backend] * batch_factor(batch_size) / batch_factor(20)
        score_us = LENET_SCORE_US[backend]
    elif isinstance(spec, ConvNetSpec):  # scaled from the recipe's own convnet by its MACs
        size = summarize(spec)["macs"] / summarize(ConvNetSpec())["macs"]
        train_us = size * CONVNET_TRAIN_US[backend] * batch_factor(batch_size) / batch_factor(256)
        score_us = size * CONVNET_SCORE_US[backend]
    else:
        macs = summarize(spec)["macs"]
        train_us = macs * batch_factor(batch_size) / 1_000
        if backend == "torch":
            train_us += TORCH_STEP_US / batch_size
        score_us = 1 + macs * 0.015 / 1_000
    return UNMODELLED * (n_train * train_us + SCORED_PER_EPOCH * score_us) / 1e6


def run_seconds(spec: ModelSpec, backend: str, batch_size: int, n_train: int, epochs: int) -> float:
    return epochs * epoch_seconds(spec, backend, batch_size, n_train)


def plan_seconds(plan: RunPlan) -> float:
    """Rough seconds of one planned run, start-up included."""
    n = plan.limit_train or N_TRAIN
    epochs = run_seconds(plan.spec, plan.backend, plan.config.batch_size, n, plan.config.epochs)
    return RUN_START_S[plan.backend] + epochs


def side_by_side(seconds: Sequence[float], workers: int) -> float:
    """Wall-clock seconds of jobs run `workers` at a time, each next job on the first free
    worker (longest first, as a scheduler that knew the times would)."""
    free = [0.0] * max(1, min(workers, len(seconds) or 1))
    for job in sorted(seconds, reverse=True):
        free[free.index(min(free))] += job
    return max(free)


def duration(seconds: float) -> str:
    """'~40 s', '~3 min', '~1.5 h': rough numbers, written as rough numbers."""
    if seconds < 90:
        return f"~{max(5, round(seconds / 5) * 5):.0f} s"
    if seconds < 90 * 60:
        return f"~{round(seconds / 60):.0f} min"
    return f"~{seconds / 3600:.1f} h"
