"""Architectures as plain data, shared by both backends.

A spec names every parameter tensor and its shape. Both the NumPy and the PyTorch
networks are built from a spec and use exactly these names, which is what lets one model
file load on either backend. Weights are stored PyTorch-style, (out, in[, kh, kw]).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mnistlab.errors import UserError

IMAGE_SIDE = 28
N_INPUTS = IMAGE_SIDE * IMAGE_SIDE
N_CLASSES = 10
ACTIVATIONS = ("sigmoid", "tanh", "relu")
MAX_HIDDEN_LAYERS = 3
DEFAULT_HIDDEN = "256"


@dataclass(frozen=True)
class MLPSpec:
    """784 → hidden[0] → … → hidden[k-1] → 10, one activation for every hidden layer."""

    hidden: tuple[int, ...] = (100,)
    activation: str = "relu"

    def __post_init__(self) -> None:
        k = len(self.hidden)
        if not 1 <= k <= MAX_HIDDEN_LAYERS:
            raise UserError(
                f"the number of hidden layers k must be 1 to {MAX_HIDDEN_LAYERS}, got k={k}"
            )
        for m in self.hidden:
            if int(m) != m or m < 1:
                raise UserError(f"every hidden layer needs at least one neuron, got m={m}")
        if self.activation not in ACTIVATIONS:
            raise UserError(
                f"unknown activation {self.activation!r}: choose one of {', '.join(ACTIVATIONS)}"
            )

    name = "mlp"

    @property
    def sizes(self) -> list[int]:
        """Layer widths, Nielsen-style: [784, *hidden, 10]."""
        return [N_INPUTS, *self.hidden, N_CLASSES]

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes: dict[str, tuple[int, ...]] = {}
        for i, (n_in, n_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:], strict=True)):
            shapes[f"layers.{i}.weight"] = (n_out, n_in)
            shapes[f"layers.{i}.bias"] = (n_out,)
        return shapes

    def to_json(self) -> dict[str, Any]:
        return {"model": "mlp", "hidden": list(self.hidden), "activation": self.activation}

    def describe(self) -> str:
        return f"MLP {self.sizes} {self.activation}"


@dataclass(frozen=True)
class LeNet5Spec:
    """LeNet-5 with ReLU and 2×2 max pooling (see README for the departures from 1998).

    C1 6@5×5 pad 2 → pool → C3 16@5×5 → pool → C5 120@5×5 → F6 84 → 10.
    """

    activation: str = "relu"

    name = "lenet5"

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise UserError(
                f"unknown activation {self.activation!r}: choose one of {', '.join(ACTIVATIONS)}"
            )

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        return {
            "conv1.weight": (6, 1, 5, 5),
            "conv1.bias": (6,),
            "conv2.weight": (16, 6, 5, 5),
            "conv2.bias": (16,),
            "conv3.weight": (120, 16, 5, 5),
            "conv3.bias": (120,),
            "fc1.weight": (84, 120),
            "fc1.bias": (84,),
            "fc2.weight": (10, 84),
            "fc2.bias": (10,),
        }

    def to_json(self) -> dict[str, Any]:
        return {"model": "lenet5", "activation": self.activation}

    def describe(self) -> str:
        return f"LeNet-5 {self.activation}"


@dataclass(frozen=True)
class ConvNetSpec:
    """A small, fast CNN: two valid convolutions, each followed by 2×2 max pooling then ReLU
    (pooling first: max and ReLU commute, and ReLU then runs on a quarter of the pixels).

    conv1 c1@5×5 → pool → relu → conv2 c2@3×3 → pool → relu → fc1 c2·5·5 → hidden → relu
    → fc2 hidden → 10. The published one-epoch recipe uses 24, 32, 256.
    """

    channels: tuple[int, int] = (24, 32)
    hidden: int = 256

    name = "convnet"
    activation = "relu"  # fixed: the pool-then-activate order needs a monotone activation

    def __post_init__(self) -> None:
        if len(self.channels) != 2 or any(int(c) != c or c < 1 for c in self.channels):
            raise UserError(f"a convnet needs two positive channel counts, got {self.channels}")
        if int(self.hidden) != self.hidden or self.hidden < 1:
            raise UserError(f"a convnet needs a positive hidden width, got {self.hidden}")

    @property
    def flat(self) -> int:
        """Features into fc1: c2 maps of 5×5 (28 −4 → 24 → pool 12 −2 → 10 → pool 5)."""
        return self.channels[1] * 5 * 5

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        c1, c2 = self.channels
        return {
            "conv1.weight": (c1, 1, 5, 5),
            "conv1.bias": (c1,),
            "conv2.weight": (c2, c1, 3, 3),
            "conv2.bias": (c2,),
            "fc1.weight": (self.hidden, self.flat),
            "fc1.bias": (self.hidden,),
            "fc2.weight": (N_CLASSES, self.hidden),
            "fc2.bias": (N_CLASSES,),
        }

    def to_json(self) -> dict[str, Any]:
        return {"model": "convnet", "channels": list(self.channels), "hidden": self.hidden}

    def describe(self) -> str:
        c1, c2 = self.channels
        return f"ConvNet {c1}@5×5-{c2}@3×3-{self.hidden}"


ModelSpec = MLPSpec | LeNet5Spec | ConvNetSpec
MODELS = ("mlp", "lenet5", "convnet")


def spec_from_json(data: dict[str, Any] | str) -> ModelSpec:
    """Rebuild a spec from `to_json()` output (a dict or its JSON text)."""
    if isinstance(data, str):
        data = json.loads(data)
    if not isinstance(data, dict):
        raise UserError("architecture must be a JSON object")
    model = data.get("model")
    if model == "mlp":
        hidden = data.get("hidden")
        if not isinstance(hidden, list) or not all(isinstance(m, int) for m in hidden):
            raise UserError("MLP architecture needs a list of integer hidden widths")
        return MLPSpec(hidden=tuple(hidden), activation=str(data.get("activation", "relu")))
    if model == "lenet5":
        return LeNet5Spec(activation=str(data.get("activation", "relu")))
    if model == "convnet":
        channels, hidden = data.get("channels"), data.get("hidden")
        if (
            not isinstance(channels, list)
            or not all(isinstance(c, int) for c in channels)
            or not isinstance(hidden, int)
        ):
            raise UserError("convnet architecture needs integer channels and hidden width")
        return ConvNetSpec(channels=tuple(channels), hidden=hidden)  # type: ignore[arg-type]
    raise UserError(f"unknown model {model!r}: choose {', '.join(MODELS)}")


def parse_hidden(text: str) -> tuple[int, ...]:
    """'100' → (100,), '256,128' → (256, 128); k is the number of widths."""
    parts = [p.strip() for p in str(text).split(",")]
    if not parts or any(p == "" for p in parts):
        raise UserError(f"--hidden must be widths separated by commas, got {text!r}")
    try:
        widths = tuple(int(p) for p in parts)
    except ValueError:
        raise UserError(
            f"--hidden must be whole numbers separated by commas, got {text!r}"
        ) from None
    return widths


def build_spec(model: str, hidden: str | None, activation: str) -> ModelSpec:
    """The spec the command-line flags describe."""
    if model == "lenet5":
        if hidden is not None:
            raise UserError("--hidden applies to --model mlp only; LeNet-5's layers are fixed")
        return LeNet5Spec(activation=activation)
    if model == "mlp":
        widths = parse_hidden(DEFAULT_HIDDEN if hidden is None else hidden)
        try:
            return MLPSpec(hidden=widths, activation=activation)
        except UserError as exc:  # name the flag as typed: --hidden 64,0: … m=0
            raise UserError(
                f"--hidden {hidden}: {exc}" if hidden is not None else str(exc)
            ) from None
    if model == "convnet":
        if hidden is not None or activation != "relu":
            raise UserError("--hidden and --activation apply to --model mlp and lenet5 only")
        return ConvNetSpec()
    raise UserError(f"unknown model {model!r}: choose {', '.join(MODELS)}")


def is_weight(name: str) -> bool:
    """L2 applies to weights only, never to biases."""
    return name.endswith(".weight")


def first_weights(spec: ModelSpec, params: dict[str, Any]) -> Any:
    """The first layer's weights in `params`: an MLP's (units, 784), else the first
    convolution's kernels (k, 1, h, w)."""
    return params[next(iter(spec.parameter_shapes()))]


def parameter_mismatch(spec: ModelSpec, params: dict[str, Any]) -> str | None:
    """Why `params` cannot be `spec`'s parameters (wrong names, else a wrong shape), or None."""
    shapes = spec.parameter_shapes()
    if set(params) != set(shapes):
        missing = sorted(set(shapes) - set(params))
        extra = sorted(set(params) - set(shapes))
        return (
            f"the parameters do not match {spec.describe()}: missing {missing}, unexpected {extra}"
        )
    for name, shape in shapes.items():
        got = tuple(params[name].shape)
        if got != shape:
            return f"parameter {name} has shape {got}, expected {shape}"
    return None
