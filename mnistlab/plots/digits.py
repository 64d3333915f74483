"""Figures that look inside a trained network: its mistakes, its weights, what it sees.

All are drawn with `matplotlib.figure.Figure` (no pyplot state) and written with
`save_figure`, so they are safe to draw from worker processes and never half-written.
Signed quantities (weights, kernels) use a diverging colour map centred on zero, so
white always means "no influence" and red/blue read as excitatory/inhibitory.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from mnistlab.plots import Figure, save_figure

DIVERGING = "RdBu_r"
MISTAKE = "tab:red"
FRAME_MARGIN = 3  # pixels of room around a prediction grid, so edge tiles' frames fit
SIDE = 28


def _symmetric_limit(values: np.ndarray) -> float:
    """±limit for a centred colour scale; never zero so an all-zero array still draws."""
    limit = float(np.max(np.abs(values))) if values.size else 0.0
    return limit if limit > 0 else 1.0


def _grid_shape(count: int, max_cols: int) -> tuple[int, int]:
    cols = max(1, min(count, max_cols))
    return math.ceil(count / cols), cols


def _blank(ax: Axes) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def _tile_axes(fig: Figure, count: int, max_cols: int) -> list[Axes]:
    """`count` image axes on a grid; the unused cells of the last row are hidden."""
    rows, cols = _grid_shape(count, max_cols)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel().tolist()
    for ax in axes[count:]:
        ax.set_axis_off()
    for ax in axes[:count]:
        _blank(ax)
    return axes[:count]


def _mosaic(
    tiles: np.ndarray, cols: int, gap: int = 2, row_gap: int | None = None
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Tiles (n, h, w) in one array with NaN between them (drawn as a gap), and each
    tile's top-left (x, y): one imshow instead of one axes per tile is many times faster."""
    n, h, w = tiles.shape
    row_gap = gap if row_gap is None else row_gap
    rows = math.ceil(n / cols)
    out = np.full((rows * (h + row_gap) - row_gap, cols * (w + gap) - gap), np.nan)
    corners = []
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        x, y = c * (w + gap), r * (h + row_gap)
        out[y : y + h, x : x + w] = tile
        corners.append((x, y))
    return out, corners


def plot_confusion_matrix(
    cm: np.ndarray,
    path: str | os.PathLike[str],
    title: str = "",
    classes: Sequence[str] | None = None,
) -> Path:
    """`confusion_matrix_figure` as a PNG file at `path`."""
    return save_figure(confusion_matrix_figure(cm, title, classes), path)


def confusion_matrix_figure(
    cm: np.ndarray, title: str = "", classes: Sequence[str] | None = None
) -> Figure:
    """Counts in the cells, colour by row share: a rare class's errors still show up.

    `classes` names the rows and columns (the dataset's class names; default 0..n-1).
    """
    cm = np.asarray(cm)
    totals = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, totals, out=np.zeros(cm.shape, dtype=float), where=totals > 0)
    n = cm.shape[0]
    names = [str(c) for c in (classes if classes is not None else range(n))]
    fig = Figure(figsize=(7.5, 6.5))
    ax = fig.subplots()
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, label="share of the true class")
    for i in range(n):
        for j in range(n):
            colour = "white" if share[i, j] > 0.5 else "black"
            ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center", fontsize=8, color=colour)
    slanted = max(map(len, names)) > 2  # words, not digits
    ax.set_xticks(
        range(n), names, rotation=40 if slanted else 0, ha="right" if slanted else "center"
    )
    ax.set_yticks(range(n), names)
    ax.set(xlabel="predicted class", ylabel="true class")
    ax.set_title(title or f"confusion matrix ({int(cm.sum()):,} images)")
    return fig


def _tile_title(label: int, prediction: int | None, names: Sequence[str]) -> str:
    """The one class name, or "prediction (truth)" for a mistake."""
    if prediction is None or prediction == label:
        return names[label]
    return f"{names[prediction]} ({names[label]})"


def plot_prediction_grid(
    images: np.ndarray,
    labels: Sequence[int] | np.ndarray,
    predictions: Sequence[int] | np.ndarray | None,
    path: str | os.PathLike[str],
    n: int = 64,
    cols: int = 8,
    title: str = "",
    classes: Sequence[str] | None = None,
) -> Path:
    """`prediction_grid_figure` as a PNG file at `path`."""
    figure = prediction_grid_figure(images, labels, predictions, n, cols, title, classes)
    return save_figure(figure, path)


def prediction_grid_figure(
    images: np.ndarray,
    labels: Sequence[int] | np.ndarray,
    predictions: Sequence[int] | np.ndarray | None,
    n: int = 64,
    cols: int = 8,
    title: str = "",
    classes: Sequence[str] | None = None,
) -> Figure:
    """The first `n` images (8 × 8 by default), each titled with its predicted class;
    a mistake reads "prediction (truth)" in red, inside a red frame.

    Without predictions each image is titled with its label: a plain sample of the data.
    `classes` names the labels (the dataset's class names; default the digits).
    """
    names = [str(c) for c in (classes if classes is not None else range(10))]
    count = min(n, len(images))
    cols = max(1, min(count, cols))
    preds = [None] * count if predictions is None else [int(p) for p in predictions[:count]]
    titles = [_tile_title(int(labels[i]), preds[i], names) for i in range(count)]
    fontsize = 9 if max(map(len, titles), default=0) <= 6 else 7
    # Gaps wide enough for the longest title: a character is ~0.28·fontsize pixels wide.
    gap = max(6, math.ceil(0.28 * fontsize * max(map(len, titles), default=0)) - SIDE + 4)
    tiles = np.asarray(images[:count], dtype=float).reshape(count, SIDE, SIDE)
    mosaic, corners = _mosaic(tiles, cols, gap=gap, row_gap=12)
    rows = math.ceil(count / cols)
    inch = 1.05 / (SIDE + 6)  # per mosaic pixel: a digit grid keeps its old size
    fig = Figure(figsize=(inch * mosaic.shape[1] + 0.3, 1.2 * rows + (0.5 if title else 0.2)))
    ax = fig.subplots()
    ax.set_axis_off()
    cmap = matplotlib.colormaps["gray_r"].with_extremes(bad="white")
    ax.imshow(mosaic, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    # Pixels span -0.5 … shape - 0.5; the margins leave room for the first row's titles
    # and for the frames, which reach 1 pixel (plus half their line) beyond a tile.
    ax.set_xlim(-0.5 - FRAME_MARGIN, mosaic.shape[1] - 0.5 + FRAME_MARGIN)
    ax.set_ylim(mosaic.shape[0] - 0.5 + FRAME_MARGIN, -11)
    for i, (x, y) in enumerate(corners):
        wrong = preds[i] is not None and preds[i] != int(labels[i])
        colour = MISTAKE if wrong else "black"
        ax.text(
            x + SIDE / 2,
            y - 3,
            titles[i],
            ha="center",
            va="bottom",
            fontsize=fontsize,
            color=colour,
        )
        if wrong:
            corner = (x - 1.5, y - 1.5)
            ax.add_patch(
                Rectangle(corner, SIDE + 2, SIDE + 2, fill=False, edgecolor=MISTAKE, linewidth=2)
            )
    if title:
        fig.suptitle(title)
    return fig


def pick_for_grid(
    labels: np.ndarray, predictions: np.ndarray, n: int = 40, mistakes: int | None = None
) -> np.ndarray:
    """Indices of the first test digits plus the first few mistakes, in test-set order.

    A grid of the first n digits alone would often show no mistake at all at 98%, which
    teaches nothing; a grid of mistakes alone hides how good the network is.
    """
    mistakes = n // 4 if mistakes is None else mistakes
    wrong = np.flatnonzero(np.asarray(labels) != np.asarray(predictions))[:mistakes]
    skip = set(wrong.tolist())
    head = range(min(len(labels), n + len(wrong)))
    first = [i for i in head if i not in skip][: n - len(wrong)]
    return np.sort(np.concatenate([np.asarray(first, dtype=np.int64), wrong]))


def plot_weight_images(
    w: np.ndarray, path: str | os.PathLike[str], max_images: int = 100, title: str = ""
) -> Path:
    """`weight_images_figure` as a PNG file at `path`."""
    return save_figure(weight_images_figure(w, max_images, title), path)


def weight_images_figure(w: np.ndarray, max_images: int = 100, title: str = "") -> Figure:
    """Each hidden neuron's 784 input weights as a 28×28 image, each on its own ±scale.

    Per-neuron scales show every neuron's pattern; a shared scale would let a few large
    neurons wash out the rest. One mosaic image instead of one axes per neuron keeps a
    100-neuron figure fast to draw.
    """
    w = np.asarray(w, dtype=float)
    count = min(len(w), max_images)
    tiles, corners = weight_tiles(w, max_images)
    rgba = diverging_rgba(tiles)
    x, y = corners[-1]
    rgba[max(y - 2, 0) :, x + SIDE :] = 0.0  # the empty end of the last row: transparent
    cols = min(count, 10)
    rows = math.ceil(count / cols)
    fig = Figure(figsize=(0.9 * cols + 1.0, 0.9 * rows + 0.8))
    ax = fig.subplots()
    ax.set_axis_off()
    ax.imshow(rgba, interpolation="nearest")
    shown = f"first {count} of {len(w)}" if count < len(w) else f"all {count}"
    ax.set_title(title or f"first-layer weights, {shown} hidden neurons (red +, blue −)")
    return fig


def weight_tiles(
    w: np.ndarray, max_images: int = 100, cols: int = 10
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The first `max_images` neurons' 784 input weights as 28×28 tiles, `cols` a row, each
    divided by its own largest |weight| (so in [-1, 1]), NaN between and after the tiles;
    and each tile's top-left (x, y)."""
    w = np.asarray(w, dtype=float)
    if w.ndim != 2 or w.shape[1] != SIDE * SIDE:
        raise ValueError(f"expected first-layer weights of shape (m, 784), got {w.shape}")
    count = min(len(w), max_images)
    limits = np.array([_symmetric_limit(row) for row in w[:count]])
    tiles = (w[:count] / limits[:, None]).reshape(count, SIDE, SIDE)
    return _mosaic(tiles, min(count, cols))


def kernel_tiles(w: np.ndarray, zoom: int = 6) -> np.ndarray:
    """First-layer kernels (C, 1, k, k) side by side on one shared scale (so in [-1, 1]),
    each pixel `zoom`×`zoom`, NaN between them."""
    w = np.asarray(w, dtype=float)
    if w.ndim != 4 or w.shape[1] != 1:
        raise ValueError(f"expected first-layer kernels of shape (C, 1, k, k), got {w.shape}")
    tiles = np.kron(w[:, 0] / _symmetric_limit(w), np.ones((zoom, zoom)))
    return _mosaic(tiles, min(len(w), 12), gap=zoom)[0]


def diverging_rgba(tiles: np.ndarray) -> np.ndarray:
    """Signed tiles in [-1, 1] as RGBA floats (H, W, 4): red +, blue −, white 0; NaN grey."""
    cmap = matplotlib.colormaps[DIVERGING].with_extremes(bad="0.45")
    return cmap(np.clip((tiles + 1) / 2, 0, 1))


def diverging_palette(tiles: np.ndarray) -> tuple[np.ndarray, bytes]:
    """The same colours as an 8-bit palette image: indices (H, W) uint8 and the palette's
    256 RGB triples (254 steps from blue to red, NaN grey at 255). A quarter of RGBA's
    bytes: the PNG of a 100-neuron mosaic encodes about 4× faster."""
    steps = np.linspace(0.0, 1.0, 255)
    palette = matplotlib.colormaps[DIVERGING](steps, bytes=True)[:, :3]
    grey = np.full((1, 3), round(0.45 * 255), dtype=np.uint8)
    indices = np.round((np.clip(tiles, -1, 1) + 1) * 127)
    indices[np.isnan(tiles)] = 255
    return indices.astype(np.uint8), np.vstack([palette, grey]).tobytes()


def plot_kernels(w: np.ndarray, path: str | os.PathLike[str], title: str = "") -> Path:
    """`kernels_figure` as a PNG file at `path`."""
    return save_figure(kernels_figure(w, title), path)


def kernels_figure(w: np.ndarray, title: str = "") -> Figure:
    """LeNet-5's C1 kernels (C, 1, k, k) on one shared ±scale, so they compare."""
    w = np.asarray(w)
    if w.ndim != 4 or w.shape[1] != 1:
        raise ValueError(f"expected first-layer kernels of shape (C, 1, k, k), got {w.shape}")
    limit = _symmetric_limit(w)
    fig = Figure(figsize=(1.5 * len(w) + 1.2, 2.2))
    axes = _tile_axes(fig, len(w), len(w))
    image = None
    for i, ax in enumerate(axes):
        image = ax.imshow(w[i, 0], cmap=DIVERGING, vmin=-limit, vmax=limit)
        ax.set_title(f"kernel {i + 1}", fontsize=9)
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.8)
    fig.suptitle(title or f"C1: {len(w)} kernels of {w.shape[2]}×{w.shape[3]}")
    return fig


def plot_feature_maps(
    image: np.ndarray,
    maps: Mapping[str, np.ndarray],
    path: str | os.PathLike[str],
    max_cols: int = 8,
    title: str = "",
) -> Path:
    """`feature_maps_figure` as a PNG file at `path`."""
    return save_figure(feature_maps_figure(image, maps, max_cols, title), path)


def feature_maps_figure(
    image: np.ndarray, maps: Mapping[str, np.ndarray], max_cols: int = 8, title: str = ""
) -> Figure:
    """The input digit, then each layer's maps (C, H, W), one block of rows per layer."""
    blocks = [("input", np.asarray(image).reshape(1, SIDE, SIDE))]
    blocks += [(name, np.asarray(m)) for name, m in maps.items()]
    for name, m in blocks:
        if m.ndim != 3:
            raise ValueError(f"feature maps {name!r} must be (C, H, W), got {m.shape}")
    cols = max(min(len(m), max_cols) for _, m in blocks)
    row_counts = [math.ceil(len(m) / cols) for _, m in blocks]
    fig = Figure(figsize=(1.3 * cols + 0.4, 1.4 * sum(row_counts) + 0.6))
    axes = fig.subplots(sum(row_counts), cols, squeeze=False)
    row = 0
    for (name, m), n_rows in zip(blocks, row_counts, strict=True):
        cells = axes[row : row + n_rows].ravel()
        for i, ax in enumerate(cells):
            if i >= len(m):
                ax.set_axis_off()
                continue
            _blank(ax)
            cmap = "gray_r" if name == "input" else "viridis"
            ax.imshow(m[i], cmap=cmap)
            ax.set_title(name if name == "input" else f"{name} #{i + 1}", fontsize=8)
        row += n_rows
    fig.suptitle(title or "what LeNet-5's convolutional layers see")
    return fig
