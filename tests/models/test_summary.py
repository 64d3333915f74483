"""Parameter and multiply-add counts from the architecture."""

from __future__ import annotations

import pytest

from mnistlab.models.spec import LeNet5Spec, MLPSpec
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
