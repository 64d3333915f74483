"""Seeded initial weights, drawn once in NumPy and handed to either backend.

Glorot (Xavier) uniform suits sigmoid and tanh, He (Kaiming) normal suits ReLU; biases
start at zero. Drawing them here means the same seed gives the same starting network on
both backends, so their runs can be compared step by step.
"""

from __future__ import annotations

import numpy as np

from mnistlab.models.spec import ModelSpec


def fan_in_out(shape: tuple[int, ...]) -> tuple[int, int]:
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def init_params(
    spec: ModelSpec, rng: np.random.Generator, dtype: np.dtype | str = np.float32
) -> dict[str, np.ndarray]:
    params: dict[str, np.ndarray] = {}
    for name, shape in spec.parameter_shapes().items():
        if name.endswith(".bias"):
            params[name] = np.zeros(shape, dtype=dtype)
            continue
        fan_in, fan_out = fan_in_out(shape)
        if spec.activation == "relu":
            w = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)
        else:
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            w = rng.uniform(-limit, limit, size=shape)
        params[name] = w.astype(dtype)
    return params
