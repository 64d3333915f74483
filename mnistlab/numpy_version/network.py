"""A fully connected network trained by backpropagation, in NumPy only.

In the spirit of Nielsen's network.py, with two changes that matter for speed: a whole
mini-batch goes through each layer as one matrix (rows are examples), and weights are
stored PyTorch-style as (out, in), so each layer computes

    z = a @ W.T + b,    a' = f(z)

and backprop, with δ = ∂C/∂z for the batch, gives

    ∂C/∂W = δ.T @ a,    ∂C/∂b = Σ_rows δ,    δ_prev = (δ @ W) ⊙ f'(z_prev).

BLAS reads the transposes in place, without copies. Everything stays in the network's
dtype: NumPy only upcasts float32 when an operand is float64, so inputs are cast once on
the way in, and the input layer's δ, which nothing needs, is never computed. The
parameters live in one vector θ (see parameters.py); `params` names its views.
"""

from __future__ import annotations

import numpy as np

from mnistlab.models.spec import MLPSpec
from mnistlab.numpy_version.model import ACTIVATIONS, softmax_cross_entropy
from mnistlab.numpy_version.parameters import ParameterVector


class Network:
    """An MLP [784, hidden..., 10] with one activation for all hidden layers."""

    def __init__(
        self,
        spec: MLPSpec,
        params: dict[str, np.ndarray] | None = None,
        *,
        seed: int = 0,
        dtype: str | np.dtype = "float32",
    ) -> None:
        self.spec = spec
        self.dtype = np.dtype(dtype)
        self.theta = ParameterVector.start(spec, params, seed, self.dtype)
        self.params = self.theta.views
        self.activation = ACTIVATIONS[spec.activation]
        self.correct = 0  # right answers in the last training batch
        self.num_layers = len(spec.sizes)
        self.names = [
            (f"layers.{i}.weight", f"layers.{i}.bias") for i in range(self.num_layers - 1)
        ]

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Logits (N, 10) for images (N, 28, 28) or (N, 784), as an ordinary C-order array."""
        return np.ascontiguousarray(self.feedforward(x)[-1])

    def feedforward(self, x: np.ndarray) -> list[np.ndarray]:
        """Every layer's output for the batch: [input, hidden activations..., logits]."""
        a = self.as_input(x)
        outputs = [a]
        last = len(self.names) - 1
        for i, (w_name, b_name) in enumerate(self.names):
            z = affine(a, self.params[w_name], self.params[b_name])
            a = z if i == last else self.activation.apply(z, out=z)
            outputs.append(a)
        return outputs

    def layers(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Each layer's output for the batch, by name (the page draws them): the hidden
        layers' activations and the logits, as new arrays."""
        outputs = self.feedforward(x)[1:]
        names = [f"hidden {i}" for i in range(1, len(outputs))] + ["logits"]
        return {name: np.array(a) for name, a in zip(names, outputs, strict=True)}

    def loss_and_grads(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        scale: float = 1.0,
        out: ParameterVector | None = None,
    ) -> tuple[float, dict[str, np.ndarray]]:
        """Mean cross-entropy of the batch and `scale` × its gradient for every parameter
        (into `out` when given; see NumpyModel).

        One backward sweep over the layers, each a pair of matrix products for the whole
        batch. The input layer's δ is never formed: nothing upstream needs it.
        """
        outputs = self.feedforward(x)
        loss, delta, self.correct = softmax_cross_entropy(outputs[-1], y, scale)
        grads = (out or self.theta.zeros_like()).views
        for i in range(len(self.names) - 1, -1, -1):
            w_name, b_name = self.names[i]
            a = outputs[i]
            np.matmul(delta.T, a, out=grads[w_name])
            np.add.reduce(delta, axis=0, out=grads[b_name])
            if i > 0:
                delta = self.activation.backprop(delta @ self.params[w_name], a)
        return loss, grads

    def as_input(self, x: np.ndarray) -> np.ndarray:
        """Flatten images to rows of 784 in the network's dtype (a view when possible)."""
        x = np.asarray(x)
        if x.dtype != self.dtype:
            x = x.astype(self.dtype)
        return x.reshape(len(x), -1)


def affine(a: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """z = a @ W.T + b for a batch of rows a.

    Computed as (W @ a.T).T: the same product, but OpenBLAS runs it about 15% faster at
    batch 10 with the tall W on the left (no difference at 128), and the result is just a
    transposed view, so nothing is copied.
    """
    z = (w @ a.T).T
    z += b
    return z
