"""LeNet-5 in NumPy, forward and backward by hand, on the operators in `layers.py`.

x (N, 1, 28, 28) → C1 6@5×5 pad 2 → act → pool → C3 16@5×5 → act → pool → C5 120@5×5 → act
→ F6 84 → act → 10 logits: the same network as `pytorch_version.network.LeNet5`.

Inside, feature maps are (C, N, H, W) and the fully connected layers work on columns
(features, N), so every layer is one matrix product for the whole batch and no layer
transposes its input (see `layers.py`). The parameters keep PyTorch's names and layout, so
one model file loads on either backend.
"""

from __future__ import annotations

import numpy as np

from mnistlab.models.spec import LeNet5Spec
from mnistlab.numpy_version.layers import (
    Conv2D,
    MaxPool2x2,
    as_images,
    dense,
    in_chunks,
    to_nchw,
)
from mnistlab.numpy_version.model import ACTIVATIONS, softmax_cross_entropy
from mnistlab.numpy_version.parameters import ParameterVector

Array = np.ndarray


class LeNet5:
    """NumPy LeNet-5 with the NumpyModel interface: `params`, `forward`, `loss_and_grads`."""

    #: `forward` takes big sets this many images at a time. The scratch arrays grow with
    #: it (~0.2 MB an image, C1's im2col matrix alone 89 KB); 64 to 256 measured equally
    #: fast, larger was slower.
    CHUNK = 128

    def __init__(
        self,
        spec: LeNet5Spec,
        params: dict[str, Array] | None = None,
        *,
        seed: int = 0,
        dtype: str | np.dtype = "float32",
    ) -> None:
        self.spec = spec
        self.dtype = np.dtype(dtype)
        self.theta = ParameterVector.start(spec, params, seed, self.dtype)
        self.params = self.theta.views
        self.activation = ACTIVATIONS[spec.activation]
        self.conv1, self.conv2, self.conv3 = Conv2D(padding=2), Conv2D(), Conv2D()
        self.pool1, self.pool2 = MaxPool2x2(), MaxPool2x2()
        self.correct = 0  # right answers in the last training batch

    def forward(self, x: Array) -> Array:
        """Logits (N, 10) for images (N, 28, 28), (N, 1, 28, 28) or (N, 784)."""
        return in_chunks(self._predict, as_images(x, self.dtype, "LeNet-5"), self.CHUNK)

    def _predict(self, a0: Array) -> Array:
        """Logits (N, 10) for a (1, N, 28, 28) chunk, caching nothing."""
        return self._logits(*self._maps(a0, cache=False))[1].T

    def loss_and_grads(
        self, x: Array, y: Array, *, scale: float = 1.0, out: ParameterVector | None = None
    ) -> tuple[float, dict[str, Array]]:
        """Mean softmax cross-entropy of the batch and scale·∂loss/∂p for every parameter p,
        into `out` when given (see NumpyModel)."""
        a1, a2, a3 = self._maps(as_images(x, self.dtype, "LeNet-5"), cache=True)
        a4, logits = self._logits(a1, a2, a3)
        loss, dlogits, self.correct = softmax_cross_entropy(logits.T, np.asarray(y), scale)
        grads = self._backward(dlogits.T, a1, a2, a3, a4)
        if out is None:
            return loss, grads
        for name, g in grads.items():  # a copy, but small next to the convolutions
            out.views[name][...] = g
        return loss, out.views

    def feature_maps(self, x: Array) -> dict[str, Array]:
        """What the convolutions see: activations of C1 (N, 6, 28, 28), C3 (N, 16, 10, 10)
        and C5 (N, 120, 1, 1), in PyTorch's layout, for plotting."""
        a1, a2, a3 = self._maps(as_images(x, self.dtype, "LeNet-5"), cache=False)
        return {"conv1": to_nchw(a1), "conv2": to_nchw(a2), "conv3": to_nchw(a3)}

    def layers(self, x: Array) -> dict[str, Array]:
        """Each layer's output for the batch, by name (the page draws them): C1 (N, 6, 28,
        28), C3 (N, 16, 10, 10), C5 (N, 120), F6 (N, 84) and the logits (N, 10)."""
        a1, a2, a3 = self._maps(as_images(x, self.dtype, "LeNet-5"), cache=False)
        a4, logits = self._logits(a1, a2, a3)
        return {
            "C1": to_nchw(a1),
            "C3": to_nchw(a2),
            "C5": np.array(a3.reshape(len(a3), -1).T),
            "F6": np.array(a4.T),
            "logits": np.array(logits.T),
        }

    def _maps(self, a0: Array, *, cache: bool) -> tuple[Array, Array, Array]:
        """C1, C3 and C5 activations, (C, N, H, W); cache=True keeps what backprop needs."""
        p, f = self.params, self.activation.apply
        z1 = self.conv1.forward(a0, p["conv1.weight"], p["conv1.bias"], cache=cache)
        a1 = f(z1, out=z1)
        z2 = self.conv2.forward(
            self.pool1.forward(a1, cache=cache), p["conv2.weight"], p["conv2.bias"], cache=cache
        )
        a2 = f(z2, out=z2)
        z3 = self.conv3.forward(
            self.pool2.forward(a2, cache=cache), p["conv3.weight"], p["conv3.bias"], cache=cache
        )
        return a1, a2, f(z3, out=z3)

    def _logits(self, a1: Array, a2: Array, a3: Array) -> tuple[Array, Array]:
        """F6 activation (84, N) and logits (10, N) from C5's 1×1 maps (120, N, 1, 1)."""
        p, f = self.params, self.activation.apply
        z4 = dense(p["fc1.weight"], a3.reshape(len(a3), -1), p["fc1.bias"])
        a4 = f(z4, out=z4)
        return a4, dense(p["fc2.weight"], a4, p["fc2.bias"])

    def _backward(self, d5: Array, a1: Array, a2: Array, a3: Array, a4: Array) -> dict[str, Array]:
        """Backprop ∂loss/∂logits (10, N) down to C1's weights; never to the image."""
        p, backprop = self.params, self.activation.backprop
        f3 = a3.reshape(len(a3), -1)
        g = {"fc2.weight": d5 @ a4.T, "fc2.bias": np.add.reduce(d5, axis=1)}
        d4 = backprop(p["fc2.weight"].T @ d5, a4)
        g["fc1.weight"], g["fc1.bias"] = d4 @ f3.T, np.add.reduce(d4, axis=1)
        d3 = backprop((p["fc1.weight"].T @ d4).reshape(a3.shape), a3)
        ds2, g["conv3.weight"], g["conv3.bias"] = self.conv3.backward(d3)
        d2 = backprop(self.pool2.backward(ds2), a2)
        ds1, g["conv2.weight"], g["conv2.bias"] = self.conv2.backward(d2)
        d1 = backprop(self.pool1.backward(ds1), a1)
        _, g["conv1.weight"], g["conv1.bias"] = self.conv1.backward(d1, need_dx=False)
        return {name: g[name] for name in self.params}
