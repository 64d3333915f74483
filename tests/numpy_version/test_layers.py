"""The from-scratch convolution and max pooling against PyTorch's, value for value.

Everything runs in float64, where an exact implementation agrees with PyTorch to ~1e-15;
the 1e-6 bound leaves room for summation order and nothing else.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mnistlab.numpy_version.layers import (
    Conv2D,
    Conv2DPool2x2,
    MaxPool2x2,
    images_last_to_nchw,
    to_cnhw,
    to_nchw,
)

TOL = 1e-6


def rel_err(ours: np.ndarray, ref: torch.Tensor) -> float:
    """Max absolute difference relative to the reference's largest entry."""
    ref_np = ref.detach().numpy()
    assert ours.shape == ref_np.shape
    return float(np.abs(ours - ref_np).max() / max(np.abs(ref_np).max(), 1e-300))


def conv_against_torch(
    n: int, c: int, h: int, w: int, o: int, k: int, padding: int, seed: int = 0
) -> list[float]:
    """Relative errors of out, dx, dW, db for one random convolution and output gradient."""
    rng = np.random.default_rng(seed)
    x, weight = rng.standard_normal((n, c, h, w)), rng.standard_normal((o, c, k, k))
    bias = rng.standard_normal(o)
    conv = Conv2D(padding)
    out = to_nchw(conv.forward(to_cnhw(x), weight, bias))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, weight, bias))
    tout = F.conv2d(tx, tw, tb, padding=padding)
    grad = rng.standard_normal(tout.shape)
    tout.backward(torch.from_numpy(grad))
    dx, dw, db = conv.backward(to_cnhw(grad))
    assert dx is not None
    return [
        rel_err(out, tout),
        rel_err(to_nchw(dx), tx.grad),
        rel_err(dw, tw.grad),
        rel_err(db, tb.grad),
    ]


@pytest.mark.parametrize(
    ("n", "c", "h", "w", "o", "k", "padding"),
    [
        (3, 1, 28, 28, 6, 5, 2),  # LeNet-5's C1
        (4, 6, 14, 14, 16, 5, 0),  # C3
        (2, 16, 5, 5, 120, 5, 0),  # C5: 1×1 output
        (2, 3, 9, 7, 4, 3, 1),  # not square, 3×3 kernel
        (1, 2, 6, 8, 3, 5, 2),  # padding larger than the overlap
    ],
)
def test_conv2d_matches_torch(n: int, c: int, h: int, w: int, o: int, k: int, padding: int) -> None:
    errors = conv_against_torch(n, c, h, w, o, k, padding)
    assert max(errors) < TOL, errors


def test_conv2d_can_skip_the_input_gradient() -> None:
    rng = np.random.default_rng(1)
    conv = Conv2D(padding=2)
    x, weight, bias = (
        rng.standard_normal((1, 2, 8, 8)),
        rng.standard_normal((3, 1, 5, 5)),
        np.zeros(3),
    )
    out = conv.forward(x, weight, bias)
    dx, dw, db = conv.backward(np.ones_like(out), need_dx=False)
    assert dx is None and dw.shape == weight.shape and db.shape == (3,)


def test_conv2d_backward_needs_a_cached_forward() -> None:
    conv = Conv2D()
    x, weight, bias = np.zeros((1, 1, 6, 6)), np.zeros((2, 1, 5, 5)), np.zeros(2)
    with pytest.raises(RuntimeError):
        conv.backward(np.zeros((2, 1, 2, 2)))
    conv.forward(x, weight, bias, cache=False)
    with pytest.raises(RuntimeError):
        conv.backward(np.zeros((2, 1, 2, 2)))


def test_conv2d_float32_stays_float32() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 4, 10, 10), dtype=np.float32)
    weight = rng.standard_normal((3, 1, 5, 5), dtype=np.float32)
    conv = Conv2D(padding=2)
    out = conv.forward(x, weight, np.zeros(3, np.float32))
    dx, dw, db = conv.backward(np.ones_like(out))
    assert {a.dtype for a in (out, dx, dw, db)} == {np.dtype(np.float32)}


def pool_against_torch(x: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """Max absolute differences of the pooled maps and of dx, for random output gradients."""
    pool = MaxPool2x2()
    out = to_nchw(pool.forward(to_cnhw(x)))
    tx = torch.tensor(x, requires_grad=True)
    tout = F.max_pool2d(tx, 2)
    grad = np.random.default_rng(seed).standard_normal(tout.shape)
    tout.backward(torch.from_numpy(grad))
    dx = to_nchw(pool.backward(to_cnhw(grad)))
    assert out.shape == tuple(tout.shape) and dx.shape == x.shape
    return (
        float(np.abs(out - tout.detach().numpy()).max()),
        float(np.abs(dx - tx.grad.numpy()).max()),
    )


@pytest.mark.parametrize("shape", [(4, 6, 28, 28), (3, 16, 10, 10), (2, 3, 7, 9)])
def test_maxpool_matches_torch(shape: tuple[int, ...]) -> None:
    x = np.random.default_rng(3).standard_normal(shape)  # continuous: no ties
    assert pool_against_torch(x) == (0.0, 0.0)


def test_maxpool_ties_go_to_the_first_maximum_like_torch() -> None:
    x = np.random.default_rng(4).integers(0, 3, size=(3, 4, 10, 10)).astype(np.float64)
    x[0, 0] = 1.0  # every window a four-way tie
    assert pool_against_torch(x) == (0.0, 0.0)


def test_maxpool_float32_stays_float32() -> None:
    x = np.random.default_rng(5).standard_normal((2, 3, 8, 8), dtype=np.float32)
    pool = MaxPool2x2()
    out = pool.forward(x)
    assert out.dtype == np.float32
    assert pool.backward(np.ones_like(out)).dtype == np.float32


def test_layout_helpers_round_trip() -> None:
    x = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    assert to_cnhw(x).shape == (3, 2, 4, 5)
    assert np.array_equal(to_nchw(to_cnhw(x)), x)
    images_last = x.transpose(1, 2, 3, 0)  # (C, H, W, N), as Conv2DPool2x2 keeps maps
    assert np.array_equal(images_last_to_nchw(images_last), x)
    assert images_last_to_nchw(images_last).flags.c_contiguous


@pytest.mark.parametrize(
    ("c", "o", "k", "side", "n"),
    [(1, 4, 5, 28, 3), (3, 5, 3, 12, 2), (2, 3, 3, 11, 2)],
    ids=["convnet-conv1", "convnet-conv2", "odd-output"],
)
def test_conv_pool_layer_is_torchs_conv_then_max_pool(c, o, k, side, n) -> None:
    """Forward and every gradient (x, W, b) of Conv2DPool2x2 against F.conv2d + max_pool2d."""
    rng = np.random.default_rng(k * side)
    x = rng.standard_normal((n, c, side, side))
    w = rng.standard_normal((o, c, k, k))
    b = rng.standard_normal(o)
    layer = Conv2DPool2x2()
    out = layer.forward(x.transpose(1, 2, 3, 0), w, b)  # images last: (C, H, W, N)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = layer.backward(dout)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ref = F.max_pool2d(F.conv2d(tx, tw, tb), 2)
    ref.backward(torch.from_numpy(dout.transpose(3, 0, 1, 2).copy()))
    np.testing.assert_allclose(out.transpose(3, 0, 1, 2), ref.detach().numpy(), rtol=1e-12,
                               atol=1e-12)  # fmt: skip
    np.testing.assert_allclose(dx.transpose(3, 0, 1, 2), tx.grad.numpy(), rtol=1e-10,
                               atol=1e-12)  # fmt: skip
    np.testing.assert_allclose(dw, tw.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(db, tb.grad.numpy(), rtol=1e-10, atol=1e-12)
