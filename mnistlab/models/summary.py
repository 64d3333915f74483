"""Parameters and arithmetic per layer, computed from the architecture alone.

FLOPs are counted as 2 per multiply-add (the convention of
`torch.utils.flop_counter.FlopCounterMode`); bias additions, activations and pooling are
not counted, as is usual: they are a rounding error next to the products.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any

from mnistlab.models.spec import (
    IMAGE_SIDE,
    N_CLASSES,
    N_INPUTS,
    ConvNetSpec,
    LeNet5Spec,
    MLPSpec,
    ModelSpec,
)


@dataclass(frozen=True)
class LayerCost:
    name: str
    kind: str
    output_shape: tuple[int, ...]  # per image
    params: int
    macs: int  # multiply-adds per image

    @property
    def flops(self) -> int:
        return 2 * self.macs


def linear(name: str, n_in: int, n_out: int) -> LayerCost:
    return LayerCost(name, "linear", (n_out,), n_in * n_out + n_out, n_in * n_out)


def conv(name: str, c_in: int, c_out: int, k: int, side_out: int) -> LayerCost:
    per_pixel = c_in * k * k
    return LayerCost(
        name,
        f"conv {k}x{k}",
        (c_out, side_out, side_out),
        c_out * per_pixel + c_out,
        c_out * side_out * side_out * per_pixel,
    )


def pool(name: str, channels: int, side_out: int) -> LayerCost:
    return LayerCost(name, "max pool 2x2", (channels, side_out, side_out), 0, 0)


def layer_costs(spec: ModelSpec) -> list[LayerCost]:
    if isinstance(spec, MLPSpec):
        sizes = spec.sizes
        return [linear(f"layers.{i}", a, b) for i, (a, b) in enumerate(itertools.pairwise(sizes))]
    if isinstance(spec, LeNet5Spec):
        return [
            conv("conv1", 1, 6, 5, IMAGE_SIDE),  # padding 2 keeps 28×28
            pool("pool1", 6, 14),
            conv("conv2", 6, 16, 5, 10),
            pool("pool2", 16, 5),
            conv("conv3", 16, 120, 5, 1),
            linear("fc1", 120, 84),
            linear("fc2", 84, N_CLASSES),
        ]
    if isinstance(spec, ConvNetSpec):
        c1, c2 = spec.channels
        return [
            conv("conv1", 1, c1, 5, 24),
            pool("pool1", c1, 12),
            conv("conv2", c1, c2, 3, 10),
            pool("pool2", c2, 5),
            linear("fc1", spec.flat, spec.hidden),
            linear("fc2", spec.hidden, N_CLASSES),
        ]
    raise TypeError(f"no cost model for {spec!r}")


def summarize(spec: ModelSpec) -> dict[str, Any]:
    layers = layer_costs(spec)
    return {
        "model": spec.to_json(),
        "input_shape": [N_INPUTS] if isinstance(spec, MLPSpec) else [1, IMAGE_SIDE, IMAGE_SIDE],
        "params": sum(layer.params for layer in layers),
        "macs": sum(layer.macs for layer in layers),
        "flops": sum(layer.flops for layer in layers),
        "layers": [
            {**asdict(layer), "output_shape": list(layer.output_shape), "flops": layer.flops}
            for layer in layers
        ],
    }


def format_summary(summary: dict[str, Any]) -> str:
    header = (
        f"{'layer':10s} {'kind':14s} {'output':>12s} {'params':>10s} {'MACs':>12s} {'FLOPs':>12s}"
    )
    lines = [header, "-" * len(header)]
    for layer in summary["layers"]:
        shape = "×".join(str(d) for d in layer["output_shape"])
        lines.append(
            f"{layer['name']:10s} {layer['kind']:14s} {shape:>12s} "
            f"{layer['params']:>10,} {layer['macs']:>12,} {layer['flops']:>12,}"
        )
    lines.append("-" * len(header))
    lines.append(
        f"{'total':10s} {'':14s} {'':>12s} {summary['params']:>10,} "
        f"{summary['macs']:>12,} {summary['flops']:>12,}"
    )
    lines.append("MACs and FLOPs per image; 1 multiply-add = 2 FLOPs.")
    return "\n".join(lines)
