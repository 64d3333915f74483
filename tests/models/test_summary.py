"""Parameter and multiply-add counts from the architecture."""

from __future__ import annotations

import pytest

from mnistlab.models.spec import ConvNetSpec, LeNet5Spec, MLPSpec
from mnistlab.models.summary import summarize


def test_lenet5_counts() -> None:
    s = summarize(LeNet5Spec())
    assert s["params"] == 61_706
    assert s["macs"] == 416_520
    assert s["flops"] == 2 * 416_520


def test_mlp_784_100_10_counts() -> None:
    s = summarize(MLPSpec((100,)))
    assert (s["params"], s["macs"]) == (79_510, 79_400)


@pytest.mark.parametrize("hidden", [(16,), (64, 32), (5, 6, 7)])
def test_mlp_params_equal_the_spec_shapes(hidden) -> None:
    import numpy as np

    spec = MLPSpec(hidden)
    expected = sum(int(np.prod(s)) for s in spec.parameter_shapes().values())
    assert summarize(spec)["params"] == expected


@pytest.mark.parametrize(
    "spec",
    [
        MLPSpec((100,)),
        MLPSpec((256, 128), "sigmoid"),
        MLPSpec((7, 5, 3), "tanh"),
        LeNet5Spec(),
        ConvNetSpec(),
        ConvNetSpec((5, 7), 9),
    ],
    ids=["mlp-100", "mlp-256-128", "mlp-7-5-3", "lenet5", "convnet", "convnet-small"],
)
def test_flops_agree_with_torch_flop_counter_layer_by_layer(spec) -> None:
    """The counts come from the architecture; PyTorch counts the same network as it runs."""
    import numpy as np
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from mnistlab.models.init import init_params
    from mnistlab.pytorch_version.network import build_network

    model = build_network(spec, init_params(spec, np.random.default_rng(0), "float32"), "float32")
    batch = 3
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(batch, 28, 28))
    measured = {
        name.split(".", 1)[1]: sum(ops.values())
        for name, ops in counter.get_flop_counts().items()
        if "." in name
    }
    summary = summarize(spec)
    expected = {layer["name"]: batch * layer["flops"] for layer in summary["layers"]}
    expected = {name: flops for name, flops in expected.items() if flops}  # pooling: none
    assert measured == expected
    assert counter.get_total_flops() == batch * summary["flops"]
