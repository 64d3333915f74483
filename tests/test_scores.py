"""The numbers a user reads, checked against oracles that share no code with mnistlab.

Accuracy and loss are scored in chunks of `EVAL_BATCH`; every set here is longer than one
chunk and not a multiple of it, so a chunk that overwrites instead of adding, or a last
chunk dropped, shows. The oracles are `numpy.mean(argmax == y)`, a log-sum-exp written out
here, and confusion matrices counted by hand.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from mnistlab.backends import make_learner
from mnistlab.config import TrainConfig
from mnistlab.evaluation import confusion_matrix, per_class_accuracy
from mnistlab.learner import EVAL_BATCH, accuracy_and_loss
from mnistlab.models.spec import MLPSpec

N = 2 * EVAL_BATCH + 777  # three chunks, the last one short


def oracle_scores(z: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of logits z in one go, in float64."""
    z = z.astype(np.float64)
    log_sum = np.log(np.exp(z - z.max(axis=1, keepdims=True)).sum(axis=1)) + z.max(axis=1)
    return float(np.mean(log_sum - z[np.arange(len(y)), y])), float(np.mean(z.argmax(1) == y))


def test_accuracy_and_loss_over_several_chunks() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, size=N)
    z = rng.normal(size=(N, 10))
    z[np.arange(N), y] += rng.random(N) * 3  # about two thirds right: not 0, not 1
    score = accuracy_and_loss(lambda rows: rows, z, y)
    loss, acc = oracle_scores(z, y)
    assert 0.4 < acc < 0.9
    assert score.acc == pytest.approx(acc, abs=1e-12)
    assert score.loss == pytest.approx(loss, rel=1e-9)


def test_accuracy_of_a_hand_counted_set() -> None:
    """4,777 rows, of which exactly the rows whose index is divisible by 3 are wrong."""
    y = np.arange(N) % 10
    z = np.eye(10)[y] * 5.0
    wrong = np.arange(N) % 3 == 0
    z[wrong] = np.eye(10)[(y[wrong] + 1) % 10] * 5.0
    n_wrong = math.ceil(N / 3)
    score = accuracy_and_loss(lambda rows: rows, z, y)
    assert score.acc == (N - n_wrong) / N


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_a_learners_evaluate_is_argmax_of_its_logits(backend: str) -> None:
    spec = MLPSpec(hidden=(12,), activation="tanh")
    learner = make_learner(backend, spec, TrainConfig(seed=3), n_train=N)
    rng = np.random.default_rng(1)
    x = rng.random((N, 784), dtype=np.float32)
    z = learner.logits(x)
    y = z.argmax(axis=1)
    y[::4] = (y[::4] + 1) % 10  # a quarter wrong on purpose
    score = learner.evaluate(x, y)
    loss, acc = oracle_scores(z, y)
    assert acc == pytest.approx(0.75, abs=1e-3)
    assert score.acc == pytest.approx(acc, abs=1e-12)
    assert score.loss == pytest.approx(loss, rel=1e-6)


def test_an_empty_set_scores_zero() -> None:
    score = accuracy_and_loss(lambda rows: rows, np.zeros((0, 10)), np.zeros(0, dtype=np.int64))
    assert (score.acc, score.loss) == (0.0, 0.0)


# Hand-counted: true 0 ×4 (3 right, 1 taken for 1), true 1 ×2 (both taken for 2),
# true 2 ×3 (all right), no 3 at all; predicted 9 once for a true 9.
Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 9])
Y_PRED = np.array([0, 0, 0, 1, 2, 2, 2, 2, 2, 9])


def test_confusion_matrix_by_hand() -> None:
    cm = confusion_matrix(Y_TRUE, Y_PRED)
    expected = np.zeros((10, 10), dtype=np.int64)
    expected[0, 0], expected[0, 1], expected[1, 2], expected[2, 2], expected[9, 9] = 3, 1, 2, 3, 1
    np.testing.assert_array_equal(cm, expected)


def test_per_class_accuracy_is_recall_not_precision() -> None:
    """Of the true 0s, 3 of 4 are right; precision would give 3 of 3 (and 3 of 5 for 2)."""
    acc = per_class_accuracy(Y_TRUE, Y_PRED)
    assert acc[:3] == [0.75, 0.0, 1.0]
    assert acc[9] == 1.0
    assert all(math.isnan(a) for a in acc[3:9])  # no true example: undefined, not 0


def test_confusion_matrix_is_10_by_10_even_without_high_labels() -> None:
    cm = confusion_matrix(np.array([0, 1, 1]), np.array([0, 1, 0]))
    assert cm.shape == (10, 10) and cm.sum() == 3 and (cm[0, 0], cm[1, 1], cm[1, 0]) == (1, 1, 1)


def test_a_class_without_examples_is_nan_without_a_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        acc = per_class_accuracy(np.array([0, 0, 1]), np.array([0, 1, 1]))
    assert acc[:2] == [0.5, 1.0] and all(math.isnan(a) for a in acc[2:])


def test_a_single_row_is_scored_as_one_row() -> None:
    score = accuracy_and_loss(lambda rows: rows, np.array([[0.0, 2.0] + [0.0] * 8]), np.array([1]))
    assert score.acc == 1.0
    assert score.loss == pytest.approx(np.log(9 + np.exp(2.0)) - 2.0, rel=1e-12)


def test_loss_is_computed_in_float64_from_float32_logits() -> None:
    """Right by a margin of 20: loss 9·e⁻²⁰ ≈ 1.9e-8 per row, below float32's resolution of 1."""
    y = np.arange(N) % 10
    z = (np.eye(10)[y] * 20).astype(np.float32)
    score = accuracy_and_loss(lambda rows: rows, z, y)
    assert score.loss == pytest.approx(9 * np.exp(-20.0), rel=1e-6)


def test_rows_of_very_different_scale_are_each_stable() -> None:
    """Each row's log-sum-exp is shifted by its own maximum: a global one would underflow."""
    z = np.zeros((2, 10))
    z[0, 3] = 1000.0  # confidently right
    z[1, 5] = 1.0
    score = accuracy_and_loss(lambda rows: rows, z, np.array([3, 5]))
    expected = (9 * np.exp(-1000.0) + np.log(9 + np.e) - 1.0) / 2
    assert score.acc == 1.0 and score.loss == pytest.approx(expected, rel=1e-12)
