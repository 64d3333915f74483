"""Convolution and max pooling from scratch: the "custom operators" of the NumPy LeNet-5.

Layout. Feature maps are (C, N, H, W): channels first, then the batch. (PyTorch uses
(N, C, H, W); `to_cnhw` / `to_nchw` convert at the edges.) With the batch inside the
channels, a convolution is ONE matrix product over the whole batch,

    out (O, N·…) = W (O, C·k·k) @ cols (C·k·k, N·…),

and its result is already the next layer's (C, N, H, W) input: no per-example loop and no
transposes between layers. The weights keep PyTorch's (O, C, k, k) layout.

im2col on flattened rows. Flatten each padded map (Hp, Wp) to one line of Hp·Wp pixels.
Output pixel (y, x) sits at q = y·Wp + x, and its kernel tap (i, j) reads pixel
q + i·Wp + j. So row (c, i, j) of `cols` is simply the line of map c shifted by i·Wp + j:
an `as_strided` view whose copy runs along long contiguous stretches. The price is that
q also visits the Wp − Wo "wrap-around" positions at the end of each output row, which
straddle two image rows; they are computed and thrown away (40 % extra products for C3).
In exchange the im2col copy and the col2im additions run over stretches of ~(Ho·Wp)
pixels instead of Wo-pixel rows: measured 2–4.5× faster, which more than pays.

col2im is the adjoint: each of the k·k taps adds its row block back at its shift, a loop
of 25 slab additions over the whole batch. (The loop-free alternative, a "full"
convolution of the zero-padded output gradient with the flipped kernel, builds a ~5×
larger im2col matrix; measured on C3's input gradient it took 4.5× longer.)

Scratch memory. The multi-megabyte scratch arrays (padded input, im2col matrix, products)
live in a per-layer `Workspace` and are reused from step to step. A fresh array is not
free: the kernel maps it in one 4 KiB page fault at a time on first touch, and on the
lab's VMs that cost more than the arithmetic (C3 forward + backward: ~1,500 faults, 10 ms,
against 3 ms of work).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import as_strided

from mnistlab.errors import UserError
from mnistlab.models.spec import IMAGE_SIDE


class Workspace:
    """Named scratch arrays that grow to the largest size asked for and are then reused."""

    def __init__(self) -> None:
        self._flat: dict[str, np.ndarray] = {}

    def take(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """An uninitialised (shape, dtype) array; it is overwritten by the next take(name)."""
        size = math.prod(shape)
        flat = self._flat.get(name)
        if flat is None or flat.dtype != dtype or flat.size < size:
            flat = self._flat[name] = np.empty(size, dtype=dtype)
        return flat[:size].reshape(shape)


def to_cnhw(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) → (C, N, H, W), contiguous."""
    return np.ascontiguousarray(x.transpose(1, 0, 2, 3))


def to_nchw(x: np.ndarray) -> np.ndarray:
    """(C, N, H, W) → (N, C, H, W), contiguous."""
    return np.ascontiguousarray(x.transpose(1, 0, 2, 3))


def images_last_to_nchw(x: np.ndarray) -> np.ndarray:
    """(C, H, W, N), `Conv2DPool2x2`'s layout → (N, C, H, W), contiguous."""
    return np.ascontiguousarray(x.transpose(3, 0, 1, 2))


def as_images(x: np.ndarray, dtype: np.dtype, who: str) -> np.ndarray:
    """Images (N, 28, 28), (N, 1, 28, 28) or (N, 784) → (1, N, 28, 28) in `dtype`.

    With one channel, (N, 1, H, W) and (1, N, H, W) have the same memory layout, so this is
    a reshape, not a copy (unless the dtype has to change).
    """
    x = np.asarray(x)
    if x.dtype != dtype:
        x = x.astype(dtype)
    if x.ndim == 0 or x.size != len(x) * IMAGE_SIDE * IMAGE_SIDE:
        raise UserError(f"{who} needs 28×28 images, got an array of shape {x.shape}")
    return x.reshape(1, len(x), IMAGE_SIDE, IMAGE_SIDE)


def in_chunks(logits: Callable[[np.ndarray], np.ndarray], a0: np.ndarray, chunk: int) -> np.ndarray:
    """`logits` (n, 10) of each `chunk` images of a0 (1, N, 28, 28), stacked: big sets go
    through in pieces, so the scratch arrays stay bounded."""
    parts = [logits(a0[:, i : i + chunk]) for i in range(0, max(a0.shape[1], 1), chunk)]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def dense(weight: np.ndarray, x: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """weight (out, in) @ x (in, N) + bias: a fully connected layer on columns."""
    out = weight @ x
    out += bias[:, None]
    return out


def wide_length(ho: int, wo: int, wp: int) -> int:
    """Flattened positions from output pixel (0, 0) to (ho-1, wo-1), rows wp apart."""
    return (ho - 1) * wp + wo


def windows(xp: np.ndarray, k: int) -> np.ndarray:
    """Padded (C, N, Hp, Wp) → view (C, k, k, N, L): [c, i, j, n] is map (c, n), flattened,
    shifted by i·Wp + j. Position q of it is output pixel (q // Wp, q % Wp), garbage where
    q % Wp ≥ Wo; L = `wide_length`."""
    c, n, hp, wp = xp.shape
    length = wide_length(hp - k + 1, wp - k + 1, wp)
    sc, sn, sh, sw = xp.strides
    return as_strided(xp, (c, k, k, n, length), (sc, sh, sw, sn, sw), writeable=False)


def narrow(wide: np.ndarray, ho: int, wo: int, wp: int) -> np.ndarray:
    """View (O, N, L) wide outputs as (O, N, Ho, Wo), skipping the wrap-around positions."""
    so, sn, sq = wide.strides
    return as_strided(wide, (*wide.shape[:2], ho, wo), (so, sn, wp * sq, sq))


def col2im(dcols: np.ndarray, dxp: np.ndarray, k: int) -> np.ndarray:
    """Adjoint of im2col: add (C·k·k, N·L) window gradients into the zeroed padded dxp."""
    c, n, hp, wp = dxp.shape
    length = wide_length(hp - k + 1, wp - k + 1, wp)
    taps = dcols.reshape(c, k, k, n, length)
    lines = dxp.reshape(c, n, hp * wp)
    for i in range(k):
        for j in range(k):
            shift = i * wp + j
            lines[:, :, shift : shift + length] += taps[:, i, j]
    return dxp


class Conv2D:
    """Stride-1 2-D convolution (cross-correlation, as in PyTorch) with zero padding.

    One instance per layer: `forward` caches the im2col matrix and the weight for
    `backward`, since ∂L/∂W is the output gradient times that same matrix.
    """

    def __init__(self, padding: int = 0) -> None:
        self.padding = padding
        self.work = Workspace()
        self._cache: tuple[np.ndarray, np.ndarray, tuple[int, ...]] | None = None

    def forward(
        self, x: np.ndarray, weight: np.ndarray, bias: np.ndarray, *, cache: bool = True
    ) -> np.ndarray:
        """(C, N, H, W) → (O, N, Ho, Wo); cache=False for inference (backward then refuses)."""
        o, c, k, _ = weight.shape
        xp = self._pad(x)
        _, n, hp, wp = xp.shape
        ho, wo = hp - k + 1, wp - k + 1
        length = wide_length(ho, wo, wp)
        cols = self.work.take("cols", (c * k * k, n * length), x.dtype)
        np.copyto(cols.reshape(c, k, k, n, length), windows(xp, k))  # im2col
        wide = self.work.take("wide", (o, n * length), x.dtype)
        np.matmul(weight.reshape(o, c * k * k), cols, out=wide)
        out = np.empty((o, n, ho, wo), dtype=x.dtype)
        np.add(narrow(wide.reshape(o, n, length), ho, wo, wp), bias[:, None, None, None], out=out)
        self._cache = (cols, weight, xp.shape) if cache else None
        return out

    def backward(
        self, dout: np.ndarray, *, need_dx: bool = True
    ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        """∂L/∂out (O, N, Ho, Wo) → (∂L/∂x or None, ∂L/∂W, ∂L/∂b); need_dx=False skips the
        input gradient, which nobody needs for the image itself."""
        if self._cache is None:
            raise RuntimeError("Conv2D.backward needs a forward(..., cache=True) first")
        cols, weight, xp_shape = self._cache
        self._cache = None
        o, c, k, _ = weight.shape
        dwide = self._widen(dout, xp_shape[3])
        # (cols @ dwideᵀ)ᵀ, not dwide @ colsᵀ: the same product, but OpenBLAS runs it
        # 1.2-1.6× faster with the long K = N·L dimension as the inner one of the left
        # operand's rows (measured on one thread, LeNet-5's and the convnet's layers).
        dweight = (cols @ dwide.T).T.reshape(weight.shape)
        dbias = np.add.reduce(dout.reshape(o, -1), axis=1)
        if not need_dx:
            return None, dweight, dbias
        dcols = self.work.take("cols", cols.shape, cols.dtype)  # cols is no longer needed
        np.matmul(weight.reshape(o, c * k * k).T, dwide, out=dcols)
        dxp = col2im(dcols, np.zeros(xp_shape, dtype=dout.dtype), k)
        p = self.padding
        return (dxp[:, :, p:-p, p:-p] if p else dxp), dweight, dbias

    def _pad(self, x: np.ndarray) -> np.ndarray:
        """x zero-padded into a contiguous scratch array (a slice copy beats np.pad)."""
        p = self.padding
        if p == 0:
            return np.ascontiguousarray(x)
        c, n, h, w = x.shape
        xp = self.work.take("padded", (c, n, h + 2 * p, w + 2 * p), x.dtype)
        xp.fill(0)
        xp[:, :, p : p + h, p : p + w] = x
        return xp

    def _widen(self, dout: np.ndarray, wp: int) -> np.ndarray:
        """(O, N, Ho, Wo) → (O, N·L), zero at the wrap-around positions: narrow's adjoint."""
        o, n, ho, wo = dout.shape
        wide = self.work.take("wide", (o, n, wide_length(ho, wo, wp)), dout.dtype)
        wide.fill(0)
        narrow(wide, ho, wo, wp)[...] = dout
        return wide.reshape(o, -1)


def max_of_corners(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray, *, winners: bool
) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """The maximum of each 2×2 window given as its corners (a b / c d), and with `winners`
    which corner won: a later one only when strictly greater, as in PyTorch's scan."""
    top, bottom = np.maximum(a, b), np.maximum(c, d)
    won = (b > a, d > c, bottom > top) if winners else ()
    return np.maximum(top, bottom, out=top), won


def corner_masks(won: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """Where each corner a, b, c, d won, from max_of_corners' record: one true per window."""
    right_top, right_bottom, lower = won
    upper = ~lower
    return (upper & ~right_top, upper & right_top, lower & ~right_bottom, lower & right_bottom)


class MaxPool2x2:
    """2×2 max pooling with stride 2 on (C, N, H, W); an odd last row/column is dropped.

    The four corners of every window are first copied apart into a contiguous
    (4, C, N, H/2, W/2) array: NumPy's element-wise ops are several times faster on
    contiguous operands than on stride-2 views, so this one copy pays for itself.

    Ties: the gradient goes to ONE element, the first maximum in row-major order within
    the window. PyTorch's CPU kernel does the same (it replaces the running maximum only on
    a strictly greater value), so gradients match it even on ties. NaNs are not
    special-cased (PyTorch propagates them).
    """

    def __init__(self) -> None:
        self.work = Workspace()
        self._cache: tuple[tuple[np.ndarray, ...], tuple[int, ...]] | None = None

    def forward(self, x: np.ndarray, *, cache: bool = True) -> np.ndarray:
        """(C, N, H, W) → (C, N, H//2, W//2); with cache, remembers each window's winner."""
        pooled, won = max_of_corners(*self._corners(x), winners=cache)
        self._cache = (won, x.shape) if cache else None
        return pooled

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """Send each pooled gradient to its window's winner; the other three get zero."""
        if self._cache is None:
            raise RuntimeError("MaxPool2x2.backward needs a forward(..., cache=True) first")
        won, x_shape = self._cache
        self._cache = None
        ho, wo = dout.shape[2:]
        even = x_shape[2] == 2 * ho and x_shape[3] == 2 * wo
        dx = (np.empty if even else np.zeros)(x_shape, dtype=dout.dtype)
        masks = corner_masks(won)
        for (i, j), mask in zip(((0, 0), (0, 1), (1, 0), (1, 1)), masks, strict=True):
            np.multiply(dout, mask, out=dx[:, :, i : 2 * ho : 2, j : 2 * wo : 2])
        return dx

    def _corners(self, x: np.ndarray) -> np.ndarray:
        """(C, N, H, W) → (4, C, N, H//2, W//2) scratch: [2i + j] holds x[..., i::2, j::2]."""
        c, n, h, w = x.shape
        ho, wo = h // 2, w // 2
        quads = self.work.take("corners", (2, 2, c, n, ho, wo), x.dtype)
        even = x[:, :, : 2 * ho, : 2 * wo].reshape(c, n, ho, 2, wo, 2)
        np.copyto(quads, even.transpose(3, 5, 0, 1, 2, 4))
        return quads.reshape(4, c, n, ho, wo)


class Conv2DPool2x2:
    """A valid stride-1 convolution and the 2×2 max pooling after it, as one layer, on maps
    laid out images last: (C, H, W, N).

    The im2col matrix is built in "corner order": column (a, b, y, x, n) holds the window
    of conv output pixel (2y + a, 2x + b) of image n. The matrix product

        z (O, 4·Hq·Wq·N) = W (O, C·k·k) @ cols (C·k·k, 4·Hq·Wq·N)

    then lays the four corners of every pooling window out as four contiguous slabs, so
    pooling is three element-wise maxima: no narrowing of wrap-around positions, no
    corner-gathering copy and no stride-2 scatter in backward, and the pooled output
    (O, Hq, Wq, N) is already the next layer's input. The bias is added after pooling
    (max(z + b) = max(z) + b), on a quarter of the pixels. An odd last row/column of the
    conv output is dropped, as in MaxPool2x2; ties go to the first maximum in row-major
    order, as in MaxPool2x2 and PyTorch.

    Images last, because every copy then moves runs of N contiguous numbers: im2col reads
    and col2im writes whole rows of a batch at a time, where with (C, N, H, W) their inner
    runs were a few pixels at stride 2 (the convnet's conv2 reads 5 of a 12-pixel row).
    A 128-image training step of the convnet on one thread took 29-31 ms this way against
    46 ms with (C, N, H, W) (interleaved, best of 25, load 3.3-3.5 on the 2-core machine),
    and its flattening for fc1 became a reshape (PyTorch's (c, h, w) order per image).

    Backward: δz is δ(pooled) in the winning corner's slab and zero in the other three;
    ∂W = (cols @ δzᵀ)ᵀ, ∂b = Σ δ(pooled), and ∂x is col2im in corner order (4·k·k
    stride-2 slab additions).
    """

    def __init__(self) -> None:
        self.work = Workspace()
        self._cache: tuple[np.ndarray, np.ndarray, tuple, tuple[int, ...]] | None = None

    def forward(
        self, x: np.ndarray, weight: np.ndarray, bias: np.ndarray, *, cache: bool = True
    ) -> np.ndarray:
        """(C, H, W, N) → pooled (O, (H−k+1)//2, (W−k+1)//2, N)."""
        o, c, k, _ = weight.shape
        x = np.ascontiguousarray(x)
        _, h, w, n = x.shape
        hq, wq = (h - k + 1) // 2, (w - k + 1) // 2
        sc, sh, sw, sn = x.strides
        windows = as_strided(
            x,
            (c, k, k, 2, 2, hq, wq, n),
            (sc, sh, sw, sh, sw, 2 * sh, 2 * sw, sn),
            writeable=False,
        )
        cols = self.work.take("cols", (c * k * k, 4 * hq * wq * n), x.dtype)
        np.copyto(cols.reshape(windows.shape), windows)  # im2col, corner order
        z = self.work.take("z", (o, 4, hq * wq * n), x.dtype)
        np.matmul(weight.reshape(o, c * k * k), cols, out=z.reshape(o, -1))
        out, won = max_of_corners(z[:, 0], z[:, 1], z[:, 2], z[:, 3], winners=cache)
        out += bias[:, None]
        self._cache = (cols, weight, won, x.shape) if cache else None
        return out.reshape(o, hq, wq, n)

    def backward(
        self, dout: np.ndarray, *, need_dx: bool = True
    ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        """∂L/∂pooled (O, Hq, Wq, N) → (∂L/∂x or None, ∂L/∂W, ∂L/∂b)."""
        if self._cache is None:
            raise RuntimeError("Conv2DPool2x2.backward needs a forward(..., cache=True) first")
        cols, weight, won, x_shape = self._cache
        self._cache = None
        o, c, k, _ = weight.shape
        d = dout.reshape(o, -1)
        dz = self.work.take("dz", (o, 4, d.shape[1]), dout.dtype)
        for corner, mask in enumerate(corner_masks(won)):
            np.multiply(d, mask, out=dz[:, corner])
        dz2 = dz.reshape(o, -1)
        dweight = (cols @ dz2.T).T.reshape(weight.shape)
        dbias = np.add.reduce(d, axis=1)
        if not need_dx:
            return None, dweight, dbias
        _, hq, wq, n = dout.shape
        dcols = self.work.take("cols", cols.shape, cols.dtype)  # cols is no longer needed
        np.matmul(weight.reshape(o, c * k * k).T, dz2, out=dcols)
        taps = dcols.reshape(c, k, k, 2, 2, hq, wq, n)
        dx = np.zeros(x_shape, dtype=dout.dtype)
        for i in range(k):
            for j in range(k):
                for a in range(2):
                    for b in range(2):
                        r, s = i + a, j + b
                        dx[:, r : r + 2 * hq : 2, s : s + 2 * wq : 2] += taps[:, i, j, a, b]
        return dx, dweight, dbias
