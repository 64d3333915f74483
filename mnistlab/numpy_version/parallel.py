"""Both cores for one big batch: each half on its own thread, with its own model replica.

The cost of a batch of n = n₀ + n₁ examples is the mean of the halves' means weighted by
size, so its gradient is

    ∇L = (n₀/n)·∇L₀ + (n₁/n)·∇L₁,

and each half can be computed independently: half 0 on the calling thread, half 1 on a
helper thread, each with one BLAS thread and its own layers (their scratch arrays and
caches), both reading the same parameter vector θ. NumPy releases the GIL inside matrix
products, copies and element-wise loops, so the halves really run at the same time.

Why not OpenBLAS's own threads: they split each matrix product, but most of a
convolution's time is im2col copies, pooling and element-wise work that NumPy runs on one
thread, and OpenBLAS's idle threads spin while they wait for the next product. On this
shared 2-core machine, with other processes busy, that spinning made a batch-256 convnet
epoch 2–6× slower than one thread; the halves never spin.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from mnistlab.numpy_version.model import NumpyModel
from mnistlab.numpy_version.parameters import ParameterVector


class TwoHalves:
    """A NumpyModel and a replica sharing its θ; each call splits its batch between them."""

    def __init__(self, model: NumpyModel, make_twin: Callable[[], NumpyModel]) -> None:
        twin = make_twin()
        twin.theta, twin.params = model.theta, model.theta.views  # one θ, two sets of layers
        self.models = (model, twin)
        self.twin_grad = model.theta.zeros_like()
        self.pool = ThreadPoolExecutor(
            max_workers=1,
            thread_name_prefix="mnistlab-half",
            # errstate is per thread: overflow while diverging is the learner's one-line
            # error, not a RuntimeWarning from this thread (see NumpyLearner.train_epoch)
            initializer=functools.partial(np.seterr, over="ignore", invalid="ignore"),
        )

    def loss_and_grads(
        self, x: np.ndarray, y: np.ndarray, *, scale: float, out: ParameterVector
    ) -> float:
        """The batch's mean loss; scale·∇ of it written into `out` (see NumpyModel)."""
        n = len(y)
        h = n // 2
        if h == 0:
            self.models[1].correct = 0
            return self.models[0].loss_and_grads(x, y, scale=scale, out=out)[0]
        later: Future = self.pool.submit(
            self.models[1].loss_and_grads,
            x[h:],
            y[h:],
            scale=scale * (n - h) / n,
            out=self.twin_grad,
        )
        loss0 = self.models[0].loss_and_grads(x[:h], y[:h], scale=scale * h / n, out=out)[0]
        loss1 = later.result()[0]
        np.add(out.vector, self.twin_grad.vector, out=out.vector)
        return (loss0 * h + loss1 * (n - h)) / n

    @property
    def correct(self) -> int:
        """Right answers in the last `loss_and_grads` batch, both halves together."""
        return sum(model.correct for model in self.models)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Logits for x, the two halves computed at the same time."""
        h = len(x) // 2
        if h == 0:
            return self.models[0].forward(x)
        later = self.pool.submit(self.models[1].forward, x[h:])
        first = self.models[0].forward(x[:h])
        return np.concatenate([first, later.result()])
