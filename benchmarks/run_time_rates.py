"""Per-image CPU costs behind `mnistlab.experiments.estimate` (the rough run times
`compare` prints before it starts).

Run it with one BLAS thread, as compare, report and sweep train:

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/run_time_rates.py

It prints, for each backend, network and batch size, the process time (not wall time, so
other users' load inflates it less) of one training pass and one scoring pass per image,
best of two, on random images, and the estimate's figure beside it.
"""

from __future__ import annotations

import time

import numpy as np

from mnistlab.backends import make_learner
from mnistlab.config import TrainConfig
from mnistlab.experiments import estimate
from mnistlab.models.spec import LeNet5Spec, MLPSpec, ModelSpec

N = 2_000
SPECS: tuple[ModelSpec, ...] = (
    MLPSpec((64,)),
    MLPSpec((256,)),
    MLPSpec((512, 512)),
    MLPSpec((512, 512, 512)),
    LeNet5Spec(),
)


def per_image_us(spec: ModelSpec, backend: str, batch_size: int) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    n = N // 2 if isinstance(spec, LeNet5Spec) else N
    x = rng.random((n, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, n)
    learner = make_learner(backend, spec, TrainConfig(batch_size=batch_size), 50_000)
    learner.train_epoch(x[:200], y[:200], np.random.default_rng(1), None)  # warm up
    train = []
    for _ in range(2):
        start = time.process_time()
        learner.train_epoch(x, y, np.random.default_rng(1), None)
        train.append(time.process_time() - start)
    start = time.process_time()
    learner.evaluate(x, y)
    score = time.process_time() - start
    return 1e6 * min(train) / n, 1e6 * score / n


def main() -> None:
    print(
        f"{'backend':7} {'network':32} {'batch':>5} {'train µs/img':>13} {'score µs/img':>13} "
        f"{'estimated epoch s':>18}"
    )
    for backend in ("numpy", "torch"):
        for spec in SPECS:
            for batch_size in (20,) if isinstance(spec, LeNet5Spec) else (10, 20, 128):
                train_us, score_us = per_image_us(spec, backend, batch_size)
                guess = estimate.epoch_seconds(spec, backend, batch_size, 50_000)
                print(
                    f"{backend:7} {spec.describe():32} {batch_size:>5} {train_us:>13.1f} "
                    f"{score_us:>13.1f} {guess:>18.1f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
