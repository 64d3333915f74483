"""Gradient descent, momentum and Adam, written out by hand with PyTorch's update rules.

The NumPy and PyTorch backends are meant to agree step for step, so each optimiser makes
torch.optim's update (torch SGD: dampening 0, no Nesterov):

    sgd        p ← p − lr·g
    momentum   v ← μ·v + g;  p ← p − lr·v
    adam       m ← m + (1−β₁)(g − m);  v ← β₂·v + (1−β₂)·g²
               p ← p − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε)

Each works on θ, every parameter in one vector (see parameters.py), in place, in its own
dtype, so a step is a few whole-vector NumPy calls. SGD and momentum also take their
gradient already multiplied by lr (`grad_scale`): the model scales its small output δ
for free, and each step saves a pass over all the weights. Momentum therefore keeps
u = lr·v, the same steps in exact arithmetic (u ← μ·u + lr·g; p ← p − u), and rescales u
when the learning rate changes. Scalars are Python floats, which never upcast float32.

`state()` and `load_state()` hand an optimiser's memory to a checkpoint and back under
PyTorch's names (momentum_buffer, exp_avg, exp_avg_sq, step), as whole θ-sized vectors.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from mnistlab.config import TrainConfig


class Optimizer(Protocol):
    lr: float  # may change between epochs (a learning-rate schedule)

    @property
    def grad_scale(self) -> float:
        """The factor that the gradient handed to `step` must already carry."""
        ...

    def step(self, grad: np.ndarray) -> None:
        """Move θ against grad_scale × its gradient, in place."""
        ...

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, float | int]]:
        """Copies of the optimiser's memory: θ-sized vectors by slot, and scalars."""
        ...

    def load_state(self, slots: dict[str, np.ndarray], scalars: dict[str, float | int]) -> None:
        """Take back what `state` returned (this backend's or the other's)."""
        ...


class SGD:
    """Plain stochastic gradient descent: p ← p − lr·g, given lr·g."""

    def __init__(self, theta: np.ndarray, lr: float) -> None:
        self.theta = theta
        self.lr = float(lr)

    @property
    def grad_scale(self) -> float:
        return self.lr

    def step(self, grad: np.ndarray) -> None:
        np.subtract(self.theta, grad, out=self.theta)

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, float | int]]:
        return {}, {}

    def load_state(self, slots: dict[str, np.ndarray], scalars: dict[str, float | int]) -> None:
        """Plain SGD remembers nothing."""


class Momentum:
    """SGD with momentum, v ← μ·v + g; p ← p − lr·v, kept as u = lr·v and given lr·g.

    u starts at zero, so the first step is p − lr·g exactly, as in PyTorch.
    """

    def __init__(self, theta: np.ndarray, lr: float, momentum: float) -> None:
        self.theta = theta
        self._lr = float(lr)
        self.momentum = float(momentum)
        self.velocity = np.zeros_like(theta)  # u = lr·v

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        """A new rate applies to the stored v too: u = lr·v becomes new_lr·v."""
        if value != self._lr:
            self.velocity *= float(value) / self._lr
            self._lr = float(value)

    @property
    def grad_scale(self) -> float:
        return self._lr

    def step(self, grad: np.ndarray) -> None:
        u = self.velocity
        u *= self.momentum
        u += grad
        np.subtract(self.theta, u, out=self.theta)

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, float | int]]:
        """u as it is, with its scale lr: u = lr·v."""
        return {"momentum_buffer": self.velocity.copy()}, {"buffer_scale": self._lr}

    def load_state(self, slots: dict[str, np.ndarray], scalars: dict[str, float | int]) -> None:
        """A buffer s·v becomes u with lr = s, exactly; the next lr change rescales it."""
        self.velocity[...] = slots["momentum_buffer"]
        self._lr = float(scalars.get("buffer_scale", 1.0))


class Adam:
    """Adam with bias correction (Kingma & Ba), PyTorch's defaults and arithmetic."""

    grad_scale = 1.0  # Adam is invariant to the gradient's scale only up to ε: take it plain

    def __init__(
        self,
        theta: np.ndarray,
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.theta = theta
        self.lr = float(lr)
        self.beta1, self.beta2 = float(betas[0]), float(betas[1])
        self.eps = float(eps)
        self.t = 0
        self.m = np.zeros_like(theta)
        self.v = np.zeros_like(theta)
        self.scratch = np.empty_like(theta)

    def step(self, grad: np.ndarray) -> None:
        self.t += 1
        step_size = self.lr / (1.0 - self.beta1**self.t)
        root_correction2 = math.sqrt(1.0 - self.beta2**self.t)
        g, m, v, tmp = grad, self.m, self.v, self.scratch
        m += np.multiply(np.subtract(g, m, out=tmp), 1.0 - self.beta1, out=tmp)  # lerp
        v *= self.beta2
        v += np.multiply(np.multiply(g, g, out=tmp), 1.0 - self.beta2, out=tmp)
        denom = np.sqrt(v, out=tmp)
        denom /= root_correction2
        denom += self.eps
        self.theta -= np.multiply(np.divide(m, denom, out=tmp), step_size, out=tmp)

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, float | int]]:
        return {"exp_avg": self.m.copy(), "exp_avg_sq": self.v.copy()}, {"step": self.t}

    def load_state(self, slots: dict[str, np.ndarray], scalars: dict[str, float | int]) -> None:
        self.m[...] = slots["exp_avg"]
        self.v[...] = slots["exp_avg_sq"]
        self.t = int(scalars["step"])


def make_optimizer(config: TrainConfig, theta: np.ndarray) -> Optimizer:
    """The optimiser `config` names, bound to the live parameter vector θ it will update."""
    if config.optimizer == "sgd":
        return SGD(theta, config.lr)
    if config.optimizer == "momentum":
        return Momentum(theta, config.lr, config.momentum)
    if config.optimizer == "adam":
        return Adam(theta, config.lr, (config.beta1, config.beta2))
    raise ValueError(f"unknown optimizer {config.optimizer!r}")
