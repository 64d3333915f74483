"""The fast recipe's CNN in NumPy, forward and backward by hand, on `layers.py`'s operators.

x (N, 1, 28, 28) → conv1 c1@5×5 → pool → relu → conv2 c2@3×3 → pool → relu → fc1 → relu
→ fc2 → 10 logits: the same network as `pytorch_version.network.ConvNet`.

Forward, with feature maps images last, (C, H, W, N), and fully connected layers on
columns (features, N):

    z1 = conv1(x)      a1 = relu(pool(z1))       (c1, 12, 12, N)
    z2 = conv2(a1)     a2 = relu(pool(z2))       (c2, 5, 5, N) → f (c2·25, N), a reshape
    a3 = relu(W3 f + b3)                         (hidden, N)
    z4 = W4 a3 + b4                              (10, N), the logits

Backward, δ = ∂loss/∂(pre-activation), ⊙ relu' written from the outputs (sign a):

    δ4 = softmax − onehot;     ∂W4 = δ4 a3ᵀ
    δ3 = (W4ᵀ δ4) ⊙ relu'(a3); ∂W3 = δ3 fᵀ
    δ2 = pool'((W3ᵀ δ3 as maps) ⊙ relu'(a2));  conv2' gives ∂W2 and ∂a1
    δ1 = pool'(∂a1 ⊙ relu'(a1));               conv1' gives ∂W1 (never ∂x)

Pooling before the ReLU gives the same network as ReLU before pooling (max and ReLU
commute) but runs the ReLU and its slope on a quarter of the pixels.
"""

from __future__ import annotations

import numpy as np

from mnistlab.models.spec import ConvNetSpec
from mnistlab.numpy_version.layers import (
    Conv2DPool2x2,
    as_images,
    dense,
    images_last_to_nchw,
    in_chunks,
)
from mnistlab.numpy_version.model import relu, relu_prime, softmax_cross_entropy
from mnistlab.numpy_version.parameters import ParameterVector

Array = np.ndarray


class ConvNet:
    """NumPy ConvNet with the NumpyModel interface: `params`, `forward`, `loss_and_grads`."""

    #: `forward` takes big sets this many images at a time, bounding the scratch arrays.
    CHUNK = 500

    def __init__(
        self,
        spec: ConvNetSpec,
        params: dict[str, Array] | None = None,
        *,
        seed: int = 0,
        dtype: str | np.dtype = "float32",
    ) -> None:
        self.spec = spec
        self.dtype = np.dtype(dtype)
        self.theta = ParameterVector.start(spec, params, seed, self.dtype)
        self.params = self.theta.views
        self.conv1, self.conv2 = Conv2DPool2x2(), Conv2DPool2x2()  # each with its pooling
        self.correct = 0  # right answers in the last training batch

    def forward(self, x: Array) -> Array:
        """Logits (N, 10) for images (N, 28, 28), (N, 1, 28, 28) or (N, 784)."""
        a0 = as_images(x, self.dtype, "the convnet")
        return in_chunks(lambda a: self._logits(a, cache=False)[-1].T, a0, self.CHUNK)

    def layers(self, x: Array) -> dict[str, Array]:
        """Each layer's output for the batch, by name (the page draws them): conv1 and
        conv2 after pooling and ReLU (N, c, 12, 12) and (N, c, 5, 5), fc1 (N, hidden) and
        the logits (N, 10)."""
        a1, a2, _, a3, z4 = self._logits(as_images(x, self.dtype, "the convnet"), cache=False)
        return {
            "conv1": images_last_to_nchw(a1),
            "conv2": images_last_to_nchw(a2),
            "fc1": np.array(a3.T),
            "logits": np.array(z4.T),
        }

    def loss_and_grads(
        self, x: Array, y: Array, *, scale: float = 1.0, out: ParameterVector | None = None
    ) -> tuple[float, dict[str, Array]]:
        """Mean softmax cross-entropy of the batch and scale·∂loss/∂p for every parameter p,
        into `out` when given (see NumpyModel)."""
        a1, a2, f, a3, z4 = self._logits(as_images(x, self.dtype, "the convnet"), cache=True)
        loss, d4, self.correct = softmax_cross_entropy(z4.T, np.asarray(y), scale)
        g = (out or self.theta.zeros_like()).views
        self._backward(np.ascontiguousarray(d4.T), a1, a2, f, a3, g)
        return loss, g

    def _logits(self, a0: Array, *, cache: bool) -> tuple[Array, Array, Array, Array, Array]:
        """a1, a2 (maps), f (c2·25, N), a3 (hidden, N) and the logits z4 (10, N)."""
        p = self.params
        a0 = np.ascontiguousarray(a0.transpose(0, 2, 3, 1))  # (1, 28, 28, N): images last
        a1 = self.conv1.forward(a0, p["conv1.weight"], p["conv1.bias"], cache=cache)
        relu(a1, out=a1)
        a2 = self.conv2.forward(a1, p["conv2.weight"], p["conv2.bias"], cache=cache)
        relu(a2, out=a2)
        c2, hq, wq, n = a2.shape
        f = a2.reshape(c2 * hq * wq, n)  # PyTorch's (c, h, w) order for each image
        a3 = dense(p["fc1.weight"], f, p["fc1.bias"])
        relu(a3, out=a3)
        return a1, a2, f, a3, dense(p["fc2.weight"], a3, p["fc2.bias"])

    def _backward(self, d4: Array, a1: Array, a2: Array, f: Array, a3: Array, g: dict) -> None:
        """Backprop δ4 = ∂loss/∂logits (10, N) into the gradient views `g`."""
        p = self.params
        np.matmul(d4, a3.T, out=g["fc2.weight"])
        np.add.reduce(d4, axis=1, out=g["fc2.bias"])
        d3 = p["fc2.weight"].T @ d4
        d3 *= relu_prime(a3)
        np.matmul(d3, f.T, out=g["fc1.weight"])
        np.add.reduce(d3, axis=1, out=g["fc1.bias"])
        da2 = (p["fc1.weight"].T @ d3).reshape(a2.shape)
        da2 *= relu_prime(a2)
        da1, g["conv2.weight"][...], g["conv2.bias"][...] = self.conv2.backward(da2)
        da1 *= relu_prime(a1)
        _, g["conv1.weight"][...], g["conv1.bias"][...] = self.conv1.backward(da1, need_dx=False)
