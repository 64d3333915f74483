"""Thread sizing: a process's cores, its workers' shares, and BLAS pools limited in a block."""

from __future__ import annotations

import os

import numpy as np
import pytest

from mnistlab import threads


@pytest.mark.parametrize("threadpoolctl", [True, False], ids=["threadpoolctl", "ctypes"])
def test_blas_threads_are_limited_only_inside_the_block(monkeypatch, threadpoolctl: bool) -> None:
    """With threadpoolctl, or through OpenBLAS's own setter where it is missing."""
    api = threads.openblas_thread_api()
    if api is None:
        pytest.skip("NumPy does not use OpenBLAS here")
    if not threadpoolctl:
        monkeypatch.setattr(threads, "threadpool_controller", lambda: None)
    get, _ = api
    before = get()
    with threads.blas_threads(1):
        assert get() == 1
    assert get() == before


def test_cores_follow_the_affinity_and_the_environments_limit(monkeypatch) -> None:
    for name in threads.THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))
    assert threads.available_cores() == 16
    assert threads.threads_per_worker(2) == 8
    assert threads.threads_per_worker(3) == 5
    assert threads.threads_per_worker(40) == 1
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")
    assert threads.available_cores() == 4
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads.available_cores() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "junk")
    assert threads.available_cores() == 4
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})  # taskset -c 0,1
    assert threads.available_cores() == 2
    assert threads.thread_env(3)["OMP_NUM_THREADS"] == "3"


def test_blas_thread_counts_report_the_limit() -> None:
    pytest.importorskip("threadpoolctl")
    np.ones(4) @ np.ones(4)  # BLAS loaded
    with threads.blas_threads(1):
        assert set(threads.blas_thread_counts()) == {1}
