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


ModelSpec = MLPSpec | LeNet5Spec


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
    raise UserError(f"unknown model {model!r}: choose mlp or lenet5")


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
    raise UserError(f"unknown model {model!r}: choose mlp or lenet5")


def is_weight(name: str) -> bool:
    """L2 applies to weights only, never to biases."""
    return name.endswith(".weight")


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
