"""Scores beyond one accuracy number: per class, and which digit is taken for which."""

from __future__ import annotations

import numpy as np

from mnistlab.models.spec import N_CLASSES


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Counts (10, 10): row = true class, column = predicted class."""
    flat = y_true.astype(np.int64) * N_CLASSES + y_pred.astype(np.int64)
    return np.bincount(flat, minlength=N_CLASSES * N_CLASSES).reshape(N_CLASSES, N_CLASSES)


def per_class_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> list[float]:
    cm = confusion_matrix(y_true, y_pred)
    totals = cm.sum(axis=1)
    return [float(cm[c, c] / totals[c]) if totals[c] else float("nan") for c in range(N_CLASSES)]
