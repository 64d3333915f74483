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


# Counted by hand: conv1 6·(25+1) parameters and 6·28·28·25 MACs; conv2 16·(6·25+1) and
# 16·10·10·150; conv3 120·(16·25+1) and 120·400; fc1 84·121 and 84·120; fc2 10·85 and 840.
LENET5_TABLE = """\
layer      kind                 output     params         MACs        FLOPs
---------------------------------------------------------------------------
conv1      conv 5x5            6×28×28        156      117,600      235,200
pool1      max pool 2x2        6×14×14          0            0            0
conv2      conv 5x5           16×10×10      2,416      240,000      480,000
pool2      max pool 2x2         16×5×5          0            0            0
conv3      conv 5x5            120×1×1     48,120       48,000       96,000
fc1        linear                   84     10,164       10,080       20,160
fc2        linear                   10        850          840        1,680
---------------------------------------------------------------------------
total                                      61,706      416,520      833,040
MACs and FLOPs per image; 1 multiply-add = 2 FLOPs."""


def test_lenet5_table_by_hand() -> None:
    from mnistlab.models.summary import format_summary

    assert format_summary(summarize(LeNet5Spec())) == LENET5_TABLE


class LayerLog:
    """What a PyTorch network runs on a batch of images: each convolution, pooling and
    linear operation in order, named by its module (pools, which are functions, by their
    order), with the shapes one image has going in and coming out."""

    OPS = ("conv2d", "max_pool2d", "linear")

    def __init__(self, model) -> None:
        from torch import nn
        from torch.overrides import TorchFunctionMode

        self.ops: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = []
        self.modules: list[str] = []  # conv and linear modules, in the order they ran
        log = self

        class Mode(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                if getattr(func, "__name__", "") in LayerLog.OPS:
                    log.ops.append((func.__name__, args[0].shape[1:], out.shape[1:]))
                return out

        self.mode = Mode()
        for name, module in model.named_modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                module.register_forward_hook(lambda *_, name=name: self.modules.append(name))

    def layers(self) -> list[tuple[str, list[int]]]:
        names, pools = iter(self.modules), 0
        rows = []
        for op, _, shape in self.ops:
            pools += op == "max_pool2d"
            rows.append((f"pool{pools}" if op == "max_pool2d" else next(names), list(shape)))
        return rows


@pytest.mark.parametrize(
    "spec",
    [MLPSpec((7, 5)), LeNet5Spec(), ConvNetSpec(), ConvNetSpec((5, 7), 9)],
    ids=["mlp-7-5", "lenet5", "convnet", "convnet-small"],
)
def test_layers_and_shapes_are_what_the_network_runs(spec) -> None:
    """Names, order and per-image output shapes of every layer, pooling included, and the
    input shape, against what the PyTorch network does to a batch of 28×28 images."""
    import numpy as np
    import torch

    from mnistlab.models.init import init_params
    from mnistlab.pytorch_version.network import build_network

    model = build_network(spec, init_params(spec, np.random.default_rng(0), "float32"), "float32")
    log = LayerLog(model)
    with log.mode, torch.no_grad():
        model(torch.zeros(2, 28, 28))
    summary = summarize(spec)
    assert [(layer["name"], layer["output_shape"]) for layer in summary["layers"]] == log.layers()
    assert summary["input_shape"] == list(log.ops[0][1])


def test_a_model_without_a_cost_model_is_named() -> None:
    with pytest.raises(TypeError, match="no cost model for 'not a spec'"):
        summarize("not a spec")
