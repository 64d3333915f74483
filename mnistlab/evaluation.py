"""Scores beyond one accuracy number: per class, and which digit is taken for which."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mnistlab.data.sources import DIGITS
from mnistlab.models.spec import N_CLASSES

if TYPE_CHECKING:
    from mnistlab.plots import Figure


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Counts (10, 10): row = true class, column = predicted class."""
    flat = y_true.astype(np.int64) * N_CLASSES + y_pred.astype(np.int64)
    return np.bincount(flat, minlength=N_CLASSES * N_CLASSES).reshape(N_CLASSES, N_CLASSES)


def per_class_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> list[float]:
    cm = confusion_matrix(y_true, y_pred)
    totals = cm.sum(axis=1)
    return [float(cm[c, c] / totals[c]) if totals[c] else float("nan") for c in range(N_CLASSES)]


@dataclass(frozen=True)
class Evaluation:
    """A network's answers on a set of images, beside the right ones."""

    labels: np.ndarray  # (N,) the true classes
    predictions: np.ndarray  # (N,) the network's classes
    classes: tuple[str, ...] = DIGITS  # class i's name: "7", or "Sneaker"
    dataset: str = "mnist"  # where the images came from

    @property
    def accuracy(self) -> float:
        """The fraction of images classified right."""
        return self.correct / max(len(self.labels), 1)

    @property
    def correct(self) -> int:
        return int(np.sum(self.labels == self.predictions))

    @property
    def confusion(self) -> np.ndarray:
        """Counts (10, 10): row = true class, column = predicted class."""
        return confusion_matrix(self.labels, self.predictions)

    @property
    def per_class(self) -> list[float]:
        """The accuracy on each true class (NaN for a class with no image)."""
        return per_class_accuracy(self.labels, self.predictions)

    @property
    def mistakes(self) -> np.ndarray:
        """Indices of the images classified wrong."""
        return np.flatnonzero(self.labels != self.predictions)

    def figure(self, title: str = "") -> Figure:
        """The confusion matrix, counts in the cells, colour by share of the true class."""
        from mnistlab.plots.digits import confusion_matrix_figure

        return confusion_matrix_figure(self.confusion, title, self.classes)
