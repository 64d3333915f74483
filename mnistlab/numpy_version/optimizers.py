"""Gradient descent, momentum and Adam, written out by hand with PyTorch's exact formulas.

The NumPy and PyTorch backends are meant to agree step for step, so each update follows
torch.optim's arithmetic (same order of operations where it affects rounding):

    sgd        p ← p − lr·g
    momentum   v ← μ·v + g;  p ← p − lr·v          (torch SGD, dampening 0, no Nesterov)
    adam       m ← m + (1−β₁)(g − m);  v ← β₂·v + (1−β₂)·g²
               p ← p − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε)

Every update is done in place, in the parameters' own dtype, through one scratch array
per parameter: at batch size 10 the optimiser runs 5,000 times an epoch, so it avoids
allocating temporaries. Scalars are Python floats, which never upcast float32 arrays.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from mnistlab.config import TrainConfig


class Optimizer(Protocol):
    lr: float  # read at every step, so a schedule may change it between epochs

    def step(self, grads: dict[str, np.ndarray]) -> None:
        """Move every parameter against its gradient, in place."""
        ...


class SGD:
    """Plain stochastic gradient descent: p ← p − lr·g."""

    def __init__(self, params: dict[str, np.ndarray], lr: float) -> None:
        self.params = params
        self.lr = float(lr)
        self.scratch = {name: np.empty_like(p) for name, p in params.items()}

    def step(self, grads: dict[str, np.ndarray]) -> None:
        for name, p in self.params.items():
            p -= np.multiply(grads[name], self.lr, out=self.scratch[name])


class Momentum:
    """SGD with momentum: v ← μ·v + g; p ← p − lr·v.

    v starts at zero, so the first step sets v = g exactly, as PyTorch does.
    """

    def __init__(self, params: dict[str, np.ndarray], lr: float, momentum: float) -> None:
        self.params = params
        self.lr = float(lr)
        self.momentum = float(momentum)
        self.velocity = {name: np.zeros_like(p) for name, p in params.items()}
        self.scratch = {name: np.empty_like(p) for name, p in params.items()}

    def step(self, grads: dict[str, np.ndarray]) -> None:
        for name, p in self.params.items():
            v = self.velocity[name]
            v *= self.momentum
            v += grads[name]
            p -= np.multiply(v, self.lr, out=self.scratch[name])


class Adam:
    """Adam with bias correction (Kingma & Ba), PyTorch's defaults and arithmetic."""

    def __init__(
        self,
        params: dict[str, np.ndarray],
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params = params
        self.lr = float(lr)
        self.beta1, self.beta2 = float(betas[0]), float(betas[1])
        self.eps = float(eps)
        self.t = 0
        self.m = {name: np.zeros_like(p) for name, p in params.items()}
        self.v = {name: np.zeros_like(p) for name, p in params.items()}
        self.scratch = {name: np.empty_like(p) for name, p in params.items()}

    def step(self, grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        step_size = self.lr / (1.0 - self.beta1**self.t)
        root_correction2 = math.sqrt(1.0 - self.beta2**self.t)
        for name, p in self.params.items():
            g, m, v, tmp = grads[name], self.m[name], self.v[name], self.scratch[name]
            m += np.multiply(np.subtract(g, m, out=tmp), 1.0 - self.beta1, out=tmp)  # lerp
            v *= self.beta2
            v += np.multiply(np.multiply(g, g, out=tmp), 1.0 - self.beta2, out=tmp)
            denom = np.sqrt(v, out=tmp)
            denom /= root_correction2
            denom += self.eps
            p -= np.multiply(np.divide(m, denom, out=tmp), step_size, out=tmp)


def make_optimizer(config: TrainConfig, params: dict[str, np.ndarray]) -> Optimizer:
    """The optimiser `config` names, bound to the live parameter arrays it will update."""
    if config.optimizer == "sgd":
        return SGD(params, config.lr)
    if config.optimizer == "momentum":
        return Momentum(params, config.lr, config.momentum)
    if config.optimizer == "adam":
        return Adam(params, config.lr)
    raise ValueError(f"unknown optimizer {config.optimizer!r}")
