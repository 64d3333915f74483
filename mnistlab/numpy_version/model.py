"""What every NumPy network offers, and the maths that all of them share.

A NumPy model is a plain object with live parameter arrays and two methods: `forward` for
predictions and `loss_and_grads` for training. The learner, the optimisers and the gradient
checker only ever talk to this interface, so the MLP and LeNet-5 are trained the same way.

The activations are written so that backprop needs only their *outputs*: σ'(z) = a(1 − a),
tanh'(z) = 1 − a², relu'(z) = [a > 0]. The forward pass can then overwrite z with a, and
the backward pass never has to keep or recompute z.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from mnistlab.models.spec import ModelSpec
from mnistlab.numpy_version.parameters import ParameterVector


class NumpyModel(Protocol):
    """A network whose parameters are NumPy arrays that the optimisers update in place."""

    spec: ModelSpec
    theta: ParameterVector  # every parameter in one vector
    params: dict[str, np.ndarray]  # theta's named views, under the spec's names and shapes
    correct: int  # how many of the last `loss_and_grads` batch it classified right

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Images (N, 28, 28) or (N, 784) → logits (N, 10)."""
        ...

    def loss_and_grads(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        scale: float = 1.0,
        out: ParameterVector | None = None,
    ) -> tuple[float, dict[str, np.ndarray]]:
        """Mean softmax cross-entropy of the batch (no L2 term) and, by name, the gradients
        of `scale` × that loss: written into `out`'s views when given, else into new arrays.

        A scale costs nothing (it multiplies the small output δ) and lets an optimiser ask
        for lr·∇ directly, saving a pass over every weight at every step.
        """
        ...


def softmax_cross_entropy(
    logits: np.ndarray, y: np.ndarray, scale: float = 1.0
) -> tuple[float, np.ndarray, int]:
    """Mean cross-entropy of softmax(logits) against labels y, `scale` × its gradient
    with respect to the logits, and how many rows the logits classify right (the running
    train accuracy's count, nearly free here: the row maxima are at hand).

    Shifting each row by its maximum makes every exponent ≤ 0, so exp cannot overflow, and
    the loss is taken in log-sum-exp form, log Σ e^z − z_y, so it never takes log(0) even
    when the softmax of the right class underflows. The gradient is (softmax − onehot)/N;
    the one-hot is never built: 1/N is subtracted at [row, label] instead.
    """
    n = len(y)
    rows = np.arange(n)
    correct = int(np.count_nonzero(np.argmax(logits, axis=1) == y))
    z = logits - np.maximum.reduce(logits, axis=1, keepdims=True)
    label_z = z[rows, y]
    np.exp(z, out=z)
    sums = np.add.reduce(z, axis=1)
    loss = float(np.add.reduce(np.log(sums) - label_z)) / n
    z *= (scale / n) / sums[:, None]  # Python floats keep float32 arrays float32
    z[rows, y] -= scale / n
    return loss, z, correct


def sigmoid(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """σ(z) = ½(1 + tanh(z/2)): the same function, but no exp that could overflow or warn.

    Absolute error is about one unit in the last place, so σ(z) reads 0 below z ≈ −17 in
    float32 (−37 in float64), where the true value and its slope are negligible anyway.
    """
    out = np.multiply(z, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def sigmoid_prime(a: np.ndarray) -> np.ndarray:
    """σ'(z) from a = σ(z): a(1 − a)."""
    slope = np.subtract(1.0, a)
    slope *= a
    return slope


def tanh(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    return np.tanh(z, out=out)


def tanh_prime(a: np.ndarray) -> np.ndarray:
    """tanh'(z) from a = tanh(z): 1 − a²."""
    slope = np.multiply(a, a)
    np.subtract(1.0, slope, out=slope)
    return slope


def relu(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    return np.maximum(z, 0, out=out)


def relu_prime(a: np.ndarray) -> np.ndarray:
    """relu'(z) from a = relu(z) ≥ 0: sign(a), 1 where a > 0 and 0 at and below the kink, as
    in PyTorch. Same values as the mask [a > 0], but already in a's dtype: multiplying δ
    by a boolean mask would cast it to floats first."""
    return np.sign(a)


@dataclass(frozen=True)
class Activation:
    """An activation f and its slope f' written in terms of the output a = f(z)."""

    name: str
    apply: Callable[..., np.ndarray]  # apply(z, out=None); out=z overwrites z in place
    prime: Callable[[np.ndarray], np.ndarray]  # prime(a) = f'(z) where a = f(z)

    def backprop(self, delta: np.ndarray, a: np.ndarray) -> np.ndarray:
        """∂C/∂z = ∂C/∂a ⊙ f'(z), computed in place in `delta`."""
        delta *= self.prime(a)
        return delta


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation("sigmoid", sigmoid, sigmoid_prime),
    "tanh": Activation("tanh", tanh, tanh_prime),
    "relu": Activation("relu", relu, relu_prime),
}
