"""The lab's networks as PyTorch modules, built from the shared specs.

Parameter names are exactly the spec's (`layers.{i}.weight`, `conv1.weight`, …), so a
state_dict, a model file and the NumPy networks all speak the same language.

LeNet-5 here departs from LeCun et al. (1998) in five ways, each the modern default:

- ReLU (or the spec's activation) instead of the scaled tanh 1.7159·tanh(2x/3);
- 2×2 max pooling instead of trainable subsampling (average × weight + bias, then squash);
- C3 sees all 6 maps of S2 instead of the paper's sparse connection table;
- a linear layer with softmax cross-entropy instead of the Euclidean RBF output units;
- the 28×28 MNIST images are padded by 2 inside C1 instead of being stored as 32×32.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mnistlab.models.spec import (
    IMAGE_SIDE,
    N_INPUTS,
    ConvNetSpec,
    LeNet5Spec,
    MLPSpec,
    ModelSpec,
)

Activation = Callable[[torch.Tensor], torch.Tensor]

ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": F.relu,
}

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def torch_dtype(dtype: str | np.dtype | torch.dtype) -> torch.dtype:
    """'float32', np.float64, torch.float32 … → the torch dtype; other dtypes are refused."""
    if isinstance(dtype, torch.dtype):
        return dtype
    return DTYPES[np.dtype(dtype).name]


class MLP(nn.Module):
    """784 → hidden… → 10, fully connected; returns logits (softmax lives in the loss)."""

    def __init__(self, spec: MLPSpec) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            nn.Linear(n_in, n_out) for n_in, n_out in itertools.pairwise(spec.sizes)
        )
        self.activation = ACTIVATIONS[spec.activation]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(len(x), N_INPUTS)  # (N, 28, 28), (N, 1, 28, 28) and (N, 784) alike
        *hidden, output = self.layers
        for layer in hidden:
            x = self.activation(layer(x))
        return output(x)


class LeNet5(nn.Module):
    """C1 6@28×28 → pool → C3 16@10×10 → pool → C5 120 → F6 84 → 10 logits."""

    def __init__(self, spec: LeNet5Spec) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.conv3 = nn.Conv2d(16, 120, 5)
        self.fc1 = nn.Linear(120, 84)
        self.fc2 = nn.Linear(84, 10)
        self.activation = ACTIVATIONS[spec.activation]

    def conv_maps(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Activations of C1 (N, 6, 28, 28) and C3 (N, 16, 10, 10), before pooling."""
        x = x.reshape(len(x), 1, IMAGE_SIDE, IMAGE_SIDE)
        c1 = self.activation(self.conv1(x))
        c3 = self.activation(self.conv2(F.max_pool2d(c1, 2)))
        return c1, c3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, c3 = self.conv_maps(x)
        x = self.activation(self.conv3(F.max_pool2d(c3, 2)))
        x = self.activation(self.fc1(torch.flatten(x, 1)))
        return self.fc2(x)


class ConvNet(nn.Module):
    """conv1 → pool → relu → conv2 → pool → relu → fc1 → relu → fc2 (see ConvNetSpec)."""

    def __init__(self, spec: ConvNetSpec) -> None:
        super().__init__()
        c1, c2 = spec.channels
        self.conv1 = nn.Conv2d(1, c1, 5)
        self.conv2 = nn.Conv2d(c1, c2, 3)
        self.fc1 = nn.Linear(spec.flat, spec.hidden)
        self.fc2 = nn.Linear(spec.hidden, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(len(x), 1, IMAGE_SIDE, IMAGE_SIDE)
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2(x), 2))
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        return self.fc2(x)


def make_module(spec: ModelSpec) -> nn.Module:
    if isinstance(spec, MLPSpec):
        return MLP(spec)
    if isinstance(spec, LeNet5Spec):
        return LeNet5(spec)
    return ConvNet(spec)


def build_network(
    spec: ModelSpec,
    params: dict[str, np.ndarray] | None = None,
    dtype: str | np.dtype | torch.dtype = "float32",
) -> nn.Module:
    """The module for `spec` in `dtype`, holding copies of `params` when given.

    Copies, so that training never writes into the caller's arrays (a model file's arrays
    may even be read-only). Without params the weights are PyTorch's default ones; the lab
    always passes `init_params` so both backends start from the same network.
    """
    model = make_module(spec)
    dtype = torch_dtype(dtype)
    model.to(dtype)
    if isinstance(spec, ConvNetSpec):
        # Channels-last (NHWC) weights make the CPU convolutions use oneDNN's NHWC kernels:
        # a batch-256 convnet epoch ran 3× faster (12-22 s against 38-76 s per 50,000
        # images on the busy 2-core machine). The values and names are unchanged.
        model.to(memory_format=torch.channels_last)
    if params is not None:
        np_dtype = np.float64 if dtype == torch.float64 else np.float32
        state = {name: torch.from_numpy(np.array(p, dtype=np_dtype)) for name, p in params.items()}
        model.load_state_dict(state)  # strict: a missing, extra or misshapen tensor is an error
    return model


def feature_maps(model: LeNet5, x: np.ndarray) -> dict[str, np.ndarray]:
    """What LeNet-5's two convolutional layers see in images `x`, for plotting."""
    dtype = next(model.parameters()).dtype
    model.eval()
    with torch.inference_mode():
        c1, c3 = model.conv_maps(torch.as_tensor(np.asarray(x), dtype=dtype))
    return {"conv1": c1.numpy(), "conv2": c3.numpy()}
