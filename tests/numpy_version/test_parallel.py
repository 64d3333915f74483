"""A batch split between threads gives the whole batch's loss, gradient and logits."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from mnistlab.config import TrainConfig
from mnistlab.models.spec import ConvNetSpec, LeNet5Spec
from mnistlab.numpy_version.learner import SPLIT_FROM, make_learner, make_model
from mnistlab.numpy_version.parallel import MIN_PART_ROWS, BatchSplit, part_edges

CONFIG = TrainConfig(dtype="float64", seed=3)


def split_of(spec, parts: int, min_rows: int = 1) -> BatchSplit:
    model = make_model(spec, CONFIG)
    twin = lambda: make_model(spec, TrainConfig(dtype="float64", seed=9))  # noqa: E731
    return BatchSplit(model, twin, parts, min_rows=min_rows)


@pytest.mark.parametrize("spec", [ConvNetSpec((3, 4), 8), LeNet5Spec()], ids=["convnet", "lenet5"])
@pytest.mark.parametrize(("n", "parts"), [(1, 2), (7, 2), (12, 2), (13, 5), (3, 5), (16, 4)])
def test_parts_equal_the_whole_batch(spec, n: int, parts: int) -> None:
    split = split_of(spec, parts)
    model = split.models[0]
    rng = np.random.default_rng(n)
    x, y = rng.random((n, 28, 28)), rng.integers(0, 10, n)
    loss, whole = model.loss_and_grads(x, y, scale=0.3)
    correct = model.correct
    out = model.theta.zeros_like()
    assert split.loss_and_grads(x, y, scale=0.3, out=out) == pytest.approx(loss, rel=1e-13)
    assert split.used == min(parts, n) and split.correct == correct
    for name, g in whole.items():
        np.testing.assert_allclose(out.views[name], g, rtol=1e-11, atol=1e-15, err_msg=name)
    np.testing.assert_allclose(split.forward(x), model.forward(x), rtol=1e-13, atol=1e-15)
    assert all(twin.theta is model.theta for twin in split.models)
    assert len({id(twin.conv1) for twin in split.models}) == parts


def test_parts_are_near_equal_and_never_too_small() -> None:
    assert part_edges(256, 2) == [0, 128, 256]
    assert part_edges(256, 16) == [0, 32, 64, 96, 128, 160, 192, 224, 256]  # ≥ 32 rows each
    assert part_edges(80, 16) == [0, 40, 80]
    assert part_edges(31, 16) == [0, 31]
    assert part_edges(10, 3, min_rows=1) == [0, 3, 6, 10]
    assert part_edges(0, 4) == [0, 0]
    for n in range(0, 300, 7):
        edges = part_edges(n, 6)
        sizes = np.diff(edges)
        assert edges[0] == 0 and edges[-1] == n
        assert len(sizes) == 1 or sizes.min() >= MIN_PART_ROWS
        assert sizes.max() - sizes.min() <= 1


@pytest.mark.parametrize("cores", [2, 4])
def test_the_learner_splits_big_batches_and_trains_the_same_network(cores: int) -> None:
    """From SPLIT_FROM the learner splits each batch, one part per core (at most); the
    result matches one thread's."""
    spec = ConvNetSpec((3, 4), 8)
    config = TrainConfig(batch_size=SPLIT_FROM, optimizer="adam", dtype="float64", lr=1e-3)
    n = SPLIT_FROM + 30
    rng = np.random.default_rng(0)
    x, y = rng.random((n, 28, 28)), rng.integers(0, 10, n)
    split = make_learner(spec, config, n, cores=cores)
    serial = make_learner(spec, config, n, cores=1)
    assert split.split_train and split.split.parts == cores and serial.split is None
    for learner in (split, serial):
        learner.train_epoch(x, y, np.random.default_rng(1), None)
    assert split.train_acc == serial.train_acc
    for name, p in serial.params().items():
        np.testing.assert_allclose(split.params()[name], p, rtol=1e-9, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(split.logits(x), serial.logits(x), rtol=1e-12, atol=1e-14)


def test_float32_split_matches_one_thread_within_float32_tolerance() -> None:
    spec = ConvNetSpec((3, 4), 8)
    config = TrainConfig(batch_size=SPLIT_FROM, optimizer="adam", lr=1e-3)
    rng = np.random.default_rng(2)
    x, y = rng.random((SPLIT_FROM, 28, 28), dtype=np.float32), rng.integers(0, 10, SPLIT_FROM)
    split, serial = (
        make_learner(spec, config, SPLIT_FROM, cores=4),
        make_learner(spec, config, SPLIT_FROM, cores=1),
    )
    losses = [le.train_epoch(x, y, np.random.default_rng(1), None) for le in (split, serial)]
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    for name, p in serial.params().items():
        np.testing.assert_allclose(split.params()[name], p, rtol=1e-4, atol=1e-6, err_msg=name)


def test_each_part_runs_on_its_own_thread_with_one_blas_thread() -> None:
    """N cores are used once: every part's thread sees a one-thread BLAS pool, not one
    sized for the whole machine (what threadpoolctl reports inside each thread)."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    spec = ConvNetSpec((3, 4), 8)
    config = TrainConfig(batch_size=SPLIT_FROM, optimizer="adam", lr=1e-3)
    learner = make_learner(spec, config, SPLIT_FROM, cores=4)
    seen: dict[str, list[int]] = {}
    for model in learner.split.models:
        original = model.loss_and_grads

        def recording(*args, original=original, **kwargs):
            blas = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
            ours = [i for i in blas if "numpy" in i["filepath"]] or blas  # not torch's
            seen.setdefault(threading.current_thread().name, []).append(
                max(i["num_threads"] for i in ours)
            )
            return original(*args, **kwargs)

        model.loss_and_grads = recording
    rng = np.random.default_rng(0)
    x, y = rng.random((SPLIT_FROM, 28, 28), dtype=np.float32), rng.integers(0, 10, SPLIT_FROM)
    learner.train_epoch(x, y, np.random.default_rng(1), None)
    assert sum(len(counts) for counts in seen.values()) == 4  # four parts
    assert "MainThread" in seen and len(seen) >= 2  # helpers (a pool may reuse one)
    assert all(counts and set(counts) == {1} for counts in seen.values()), seen
