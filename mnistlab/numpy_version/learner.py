"""Training any NumPy model with the lab's protocol: shuffled mini-batches, L2, an optimiser.

The model supplies the cross-entropy and its gradients; this module adds the L2 term of the
cost, C = CE + λ/(2n)·Σ‖W‖² (weights only, n = training-set size), whose gradient is
(λ/n)·W, and hands the sum to the optimiser. The gradient checker tests exactly this cost.

A training step allocates nothing the size of the weights: the model writes its gradients
into one reused vector, already multiplied by the factor the optimiser asks for (lr for
SGD and momentum), the L2 term is one operation on the leading weight slice of that
vector, and the optimiser updates θ as one vector.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import numpy as np

from mnistlab.config import TrainConfig
from mnistlab.learner import (
    EVAL_BATCH,
    SINGLE_THREAD_BELOW,
    OptimizerState,
    Progress,
    Score,
    Ticker,
    accuracy_and_loss,
    diverged,
    minibatches,
)
from mnistlab.models.spec import ConvNetSpec, LeNet5Spec, MLPSpec, ModelSpec
from mnistlab.numpy_version.model import NumpyModel
from mnistlab.numpy_version.optimizers import make_optimizer
from mnistlab.numpy_version.parallel import BatchSplit
from mnistlab.numpy_version.parameters import ParameterVector
from mnistlab.threads import available_cores, blas_threads

#: From this batch size on (with two or more cores), each batch is split between threads
#: (parallel.BatchSplit: one part per core, each on one BLAS thread) instead of the BLAS
#: threading each product. Measured on the convnet at batch 256: see parallel.py.
SPLIT_FROM = 256


class NumpyLearner:
    """The Learner protocol for any NumpyModel."""

    def __init__(
        self,
        model: NumpyModel,
        config: TrainConfig,
        n_train: int,
        make_twin: Callable[[], NumpyModel] | None = None,
        cores: int | None = None,
    ) -> None:
        self.model = model
        self.cores = available_cores() if cores is None else cores
        self.split = (
            BatchSplit(model, make_twin, self.cores)
            if make_twin is not None and self.cores > 1
            else None
        )
        self.spec = model.spec
        self.config = config
        self.n_train = n_train
        self.decay = config.l2 / max(n_train, 1)  # λ/n, the L2 gradient is decay·W
        self.theta = model.theta
        self.grad = model.theta.zeros_like()  # reused by every training step
        self.scratch = np.empty_like(self.theta.weights)
        self.optimizer = make_optimizer(config, self.theta.vector)
        self.epochs_done = 0
        self.steps_done = 0  # across epochs: the one-cycle schedule's position
        self.train_acc = math.nan  # the last epoch's running accuracy

    def train_epoch(
        self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator, progress: Progress | None
    ) -> float:
        """One shuffled pass; returns the mean batch cross-entropy plus the L2 term at the end."""
        small = self.config.batch_size < SINGLE_THREAD_BELOW
        # One BLAS thread for small products and for each part of a split batch; else
        # as many as this process has cores (not the machine's count, nor N × parts).
        threads = 1 if small or self.split_train else self.cores
        # A diverging run overflows before its loss turns inf: _train_epoch says so in one
        # line, the same as PyTorch, instead of a RuntimeWarning first.
        with blas_threads(threads), np.errstate(over="ignore", invalid="ignore"):
            return self._train_epoch(x, y, rng, progress)

    @property
    def split_train(self) -> bool:
        """Whether training splits each batch between threads (see SPLIT_FROM)."""
        return self.split is not None and self.config.batch_size >= SPLIT_FROM

    def _train_epoch(
        self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator, progress: Progress | None
    ) -> float:
        """train_epoch's loop: the model's gradients plus L2, one optimiser step a batch."""
        epoch = self.epochs_done + 1
        config, optimizer = self.config, self.optimizer
        total_steps = config.total_steps(len(y))
        optimizer.lr = config.lr_at(epoch, self.steps_done)
        grad, step = self.grad, optimizer.step
        split = self.split if self.split_train else None
        grads_of = split.loss_and_grads if split is not None else self._loss_and_grads
        total_loss = 0.0
        steps = seen = correct = 0
        ticker = Ticker()
        for idx in minibatches(len(y), config.batch_size, rng):
            if config.per_step:
                optimizer.lr = config.lr_at_step(self.steps_done, total_steps, epoch)
            scale = optimizer.grad_scale
            loss = grads_of(x[idx], y[idx], scale=scale, out=grad)
            self.steps_done += 1
            steps += 1
            if not math.isfinite(loss):
                raise diverged(loss, epoch)
            self.add_l2_grad(grad, scale)
            step(grad.vector)
            total_loss += loss
            seen += len(idx)
            correct += split.correct if split is not None else self.model.correct
            if progress is not None and ticker.due(len(idx)):
                progress(ticker.take(), total_loss / steps, correct / seen)
                config = self.config  # a watcher may have changed the learning rate
        if progress is not None and ticker.unreported:
            progress(ticker.take(), total_loss / max(steps, 1), correct / max(seen, 1))
        self.epochs_done = epoch
        self.train_acc = correct / max(seen, 1)
        cost = total_loss / max(steps, 1) + self.l2_penalty()
        if not math.isfinite(cost):  # the last step can overflow the weights themselves
            raise diverged(cost, epoch)
        return cost

    def _loss_and_grads(
        self, x: np.ndarray, y: np.ndarray, *, scale: float, out: ParameterVector
    ) -> float:
        return self.model.loss_and_grads(x, y, scale=scale, out=out)[0]

    def add_l2_grad(self, grad: ParameterVector, scale: float = 1.0) -> None:
        """grad W += scale·(λ/n)·W for every weight, in place; biases are not regularised."""
        if self.decay == 0.0:
            return
        weight_grads = grad.weights  # a view: += updates grad in place
        weight_grads += np.multiply(self.theta.weights, scale * self.decay, out=self.scratch)

    def l2_penalty(self) -> float:
        """λ/(2n)·Σ‖W‖², the regularisation part of the cost."""
        if self.decay == 0.0:
            return 0.0  # not 0·∞ = nan when the weights have blown up
        w = self.theta.weights
        return 0.5 * self.decay * float(np.dot(w, w))

    def cost_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        """The full regularised cost on (x, y) and its gradients (new arrays, by name):
        what training descends."""
        grad = self.theta.zeros_like()
        loss, grads = self.model.loss_and_grads(x, y, out=grad)
        self.add_l2_grad(grad)
        return loss + self.l2_penalty(), grads

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> Score:
        return accuracy_and_loss(self.logits, x, y)

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Forward in chunks, so a 10,000-image set never needs 10,000-row activations."""
        if self.split is None:
            forward = self.model.forward
            threads: AbstractContextManager = nullcontext()
        else:
            forward, threads = self.split.forward, blas_threads(1)
        with threads:
            chunks = [forward(x[i : i + EVAL_BATCH]) for i in range(0, len(x), EVAL_BATCH)]
        if not chunks:
            return np.empty((0, 10), dtype=next(iter(self.model.params.values())).dtype)
        return np.concatenate(chunks)

    def params(self) -> dict[str, np.ndarray]:
        return {name: p.copy() for name, p in self.model.params.items()}

    def optimizer_state(self) -> OptimizerState:
        """The optimiser's θ-sized vectors cut into per-parameter tensors (views of the
        copies `state()` returns, so apart from the live buffers)."""
        vectors, scalars = self.optimizer.state()
        slots = {slot: self.theta.named(vector) for slot, vector in vectors.items()}
        return OptimizerState(self.config.optimizer, slots, dict(scalars))

    def load_optimizer_state(
        self, state: OptimizerState, epochs_done: int, steps_done: int
    ) -> None:
        vectors = {}
        for slot, tensors in state.slots.items():
            vector = self.theta.zeros_like()
            for name, view in vector.views.items():
                view[...] = tensors[name]
            vectors[slot] = vector.vector
        self.optimizer.load_state(vectors, state.scalars)
        self.epochs_done = epochs_done
        self.steps_done = steps_done


def make_model(
    spec: ModelSpec, config: TrainConfig, params: dict[str, np.ndarray] | None = None
) -> NumpyModel:
    """The NumPy network for `spec`, seeded from the config when no params are given."""
    if isinstance(spec, MLPSpec):
        from mnistlab.numpy_version.network import Network

        return Network(spec, params, seed=config.seed, dtype=config.dtype)
    if isinstance(spec, LeNet5Spec):
        from mnistlab.numpy_version.lenet5 import LeNet5

        return LeNet5(spec, params, seed=config.seed, dtype=config.dtype)
    if isinstance(spec, ConvNetSpec):
        from mnistlab.numpy_version.convnet import ConvNet

        return ConvNet(spec, params, seed=config.seed, dtype=config.dtype)
    raise TypeError(f"no NumPy model for {spec!r}")


def make_learner(
    spec: ModelSpec,
    config: TrainConfig,
    n_train: int,
    params: dict[str, np.ndarray] | None = None,
    cores: int | None = None,
) -> NumpyLearner:
    """A ready-to-train NumPy learner: `params` if given, else seeded initial weights.

    Convolutional networks get replicas for splitting big batches between threads, one per
    core (`cores`, default: threads.available_cores())."""
    model = make_model(spec, config, params)
    twin = None if isinstance(spec, MLPSpec) else lambda: make_model(spec, config, params)
    return NumpyLearner(model, config, n_train, twin, cores)
