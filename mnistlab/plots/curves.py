"""Learning curves: what one run did, epoch by epoch."""

from __future__ import annotations

import os
from pathlib import Path

from mnistlab.plots import Figure, epoch_axis, save_figure
from mnistlab.protocol import History


def plot_learning_curves(history: History, path: str | os.PathLike[str], title: str = "") -> Path:
    """`learning_curves_figure` as a PNG file at `path`."""
    return save_figure(learning_curves_figure(history, title), path)


def learning_curves_figure(history: History, title: str = "") -> Figure:
    """Loss (train and validation) and accuracy (validation, test where scored)."""
    epochs = [e.epoch for e in history.epochs]
    fig = Figure(figsize=(10, 4))
    ax_loss, ax_acc = fig.subplots(1, 2)
    ax_loss.plot(epochs, [e.train_loss for e in history.epochs], "o-", label="train cost (with L2)")
    ax_loss.plot(
        epochs, [e.val_loss for e in history.epochs], "s-", label="validation cross-entropy"
    )
    ax_loss.set(ylabel="loss", title="loss")
    ax_loss.legend()
    ax_acc.plot(epochs, [100 * e.val_acc for e in history.epochs], "o-", label="validation")
    scored = [e for e in history.epochs if e.test_acc is not None]
    ax_acc.plot(
        [e.epoch for e in scored],
        [100 * e.test_acc for e in scored],
        "s",
        label="test (scored when validation improved)",
    )
    if history.best:
        ax_acc.axvline(history.best["epoch"], color="grey", linestyle=":", label="best validation")
    ax_acc.set(ylabel="accuracy (%)", title="accuracy")
    ax_acc.legend()
    for ax in (ax_loss, ax_acc):
        epoch_axis(ax)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return fig
