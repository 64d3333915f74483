"""Every core for one big batch: each part on its own thread, with its own model replica.

The cost of a batch of n = n₀ + … + n_{k−1} examples is the mean of the parts' means
weighted by size, so its gradient is

    ∇L = Σᵢ (nᵢ/n)·∇Lᵢ,

and each part can be computed independently: part 0 on the calling thread, the others on
helper threads, each with one BLAS thread and its own layers (their scratch arrays and
caches), all reading the same parameter vector θ. NumPy releases the GIL inside matrix
products, copies and element-wise loops, so the parts really run at the same time.

Why not the BLAS's own threads: they split each matrix product, but most of a
convolution's time is im2col copies, pooling and element-wise work that NumPy runs on one
thread, and OpenBLAS's idle threads spin while they wait for the next product. On this
project's shared 2-core machine, with other processes busy, that spinning made a batch-256
convnet epoch 2–6× slower than one thread; the parts never spin. Each helper thread
limits its own BLAS pool to one thread when it starts (threads.set_blas_threads): in an
OpenMP build of OpenBLAS the limit is per thread, and a helper left at the default would
start a pool as large as the machine, once per helper.

How many parts: one per available core, but never fewer than MIN_PART_ROWS rows a part.
Python holds the GIL between NumPy calls (a few hundred microseconds a part and step for
the convnet), so tiny parts would queue for it instead of computing.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from mnistlab.numpy_version.model import NumpyModel
from mnistlab.numpy_version.parameters import ParameterVector
from mnistlab.threads import set_blas_threads

MIN_PART_ROWS = 32


def start_helper() -> None:
    """A helper thread's set-up: one BLAS thread, and overflow while diverging left to
    the learner's one-line error rather than a RuntimeWarning (errstate is per thread)."""
    set_blas_threads(1)
    np.seterr(over="ignore", invalid="ignore")


def part_edges(n: int, parts: int, min_rows: int = MIN_PART_ROWS) -> list[int]:
    """Row boundaries splitting n rows into at most `parts` near-equal parts of at least
    `min_rows` rows (one part when n is smaller): [0, …, n]."""
    k = max(1, min(parts, n // max(1, min_rows)))
    return [n * i // k for i in range(k + 1)]


class BatchSplit:
    """A NumpyModel and replicas sharing its θ; each call splits its batch between them."""

    def __init__(
        self,
        model: NumpyModel,
        make_twin: Callable[[], NumpyModel],
        parts: int,
        min_rows: int | None = None,
    ) -> None:
        models = [model]
        for _ in range(parts - 1):
            twin = make_twin()
            twin.theta, twin.params = model.theta, model.theta.views  # one θ, many layers
            models.append(twin)
        self.models = tuple(models)
        self.min_rows = MIN_PART_ROWS if min_rows is None else min_rows
        self.grads = [model.theta.zeros_like() for _ in models[1:]]
        self.pool = ThreadPoolExecutor(
            max_workers=max(1, parts - 1),
            thread_name_prefix="mnistlab-part",
            initializer=start_helper,
        )
        self.used = 1  # parts the last call used

    @property
    def parts(self) -> int:
        return len(self.models)

    def loss_and_grads(
        self, x: np.ndarray, y: np.ndarray, *, scale: float, out: ParameterVector
    ) -> float:
        """The batch's mean loss; scale·∇ of it written into `out` (see NumpyModel)."""
        n = len(y)
        bounds = list(itertools.pairwise(part_edges(n, self.parts, self.min_rows)))
        self.used = len(bounds)
        later: list[Future] = [
            self.pool.submit(
                self.models[i].loss_and_grads,
                x[a:b],
                y[a:b],
                scale=scale * (b - a) / n,
                out=self.grads[i - 1],
            )
            for i, (a, b) in enumerate(bounds[1:], start=1)
        ]
        b0 = bounds[0][1]
        losses = [self.models[0].loss_and_grads(x[:b0], y[:b0], scale=scale * b0 / n, out=out)[0]]
        losses += [future.result()[0] for future in later]
        for grad in self.grads[: self.used - 1]:
            np.add(out.vector, grad.vector, out=out.vector)
        return sum(loss * (b - a) for loss, (a, b) in zip(losses, bounds, strict=True)) / n

    @property
    def correct(self) -> int:
        """Right answers in the last `loss_and_grads` batch, all parts together."""
        return sum(model.correct for model in self.models[: self.used])

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Logits for x, the parts computed at the same time."""
        bounds = list(itertools.pairwise(part_edges(len(x), self.parts, self.min_rows)))
        later = [
            self.pool.submit(self.models[i].forward, x[a:b])
            for i, (a, b) in enumerate(bounds[1:], start=1)
        ]
        first = self.models[0].forward(x[: bounds[0][1]])
        if not later:
            return first
        return np.concatenate([first, *(future.result() for future in later)])
