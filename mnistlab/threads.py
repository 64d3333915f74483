"""How many CPU cores a process may use, and BLAS thread pools sized to them.

A process's cores are its affinity mask (what `taskset` or a container's cpuset allows,
not the machine's count), capped by a thread limit its parent set in the environment:
joblib's loky workers and Dask's nannies receive OMP_NUM_THREADS and friends, and a
user may set them too. Everything that starts threads (the NumPy backend's batch split,
the BLAS inside it, the sweep's and compare's worker processes) sizes itself from
`available_cores()`, so N cores are used once, never N × workers times.

BLAS pools are set with threadpoolctl, which knows OpenBLAS (pthreads and OpenMP builds),
MKL and BLIS. In an OpenMP build the limit belongs to the calling thread, so each thread
that runs NumPy products sets its own (`parallel.BatchSplit` does, for its workers).
Without threadpoolctl (a bare Python on a GPU machine, say) OpenBLAS's own setter is
called through ctypes; for another BLAS nothing is limited.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

# Thread limits a parent process or a user may set; the smallest one given applies.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def affinity_cores() -> int:
    """The cores this process may run on (taskset, cpusets), else the machine's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def available_cores() -> int:
    """Cores this process should keep busy: its affinity, capped by a thread limit in the
    environment (a worker's share, or the user's own limit)."""
    cores = affinity_cores()
    for name in THREAD_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            cores = min(cores, int(value))
    return cores


def threads_per_worker(workers: int) -> int:
    """Each of `workers` processes' share of this process's cores (at least one)."""
    return max(1, available_cores() // max(1, workers))


def thread_env(threads: int) -> dict[str, str]:
    """Environment variables giving a new process `threads` threads for OpenMP and BLAS
    (read once, when the process loads them: set them before it imports numpy or torch)."""
    return {name: str(threads) for name in THREAD_VARIABLES}


@contextmanager
def blas_threads(n: int) -> Iterator[None]:
    """Run the block with this thread's BLAS pool limited to `n` threads, then restore it.

    At small batches every matrix product is tiny and OpenBLAS's extra threads cost more in
    hand-offs than they save: on 2 cores an epoch of [784,100,10] at batch 10 takes about
    2.0 s with 2 threads and 0.9 s with one (at batch 128, 2 threads win: 0.23 s vs 0.29 s).
    No environment variable is touched.
    """
    controller = threadpool_controller()
    if controller is not None:
        with controller.limit(limits=n, user_api="blas"):
            yield
        return
    api = openblas_thread_api()
    if api is None:
        yield
        return
    get, set_ = api
    before = get()
    set_(n)
    try:
        yield
    finally:
        set_(before)


def set_blas_threads(n: int) -> None:
    """Limit the calling thread's BLAS pool to `n` threads for good (a worker thread's
    setting at start-up; OpenMP builds keep one limit per thread)."""
    controller = threadpool_controller()
    if controller is not None:
        controller.limit(limits=n, user_api="blas")
        return
    api = openblas_thread_api()
    if api is not None:
        api[1](n)


def blas_thread_counts() -> list[int]:
    """The thread counts of the BLAS libraries loaded in this process, as this thread
    sees them (empty without threadpoolctl)."""
    controller = threadpool_controller()
    if controller is None:
        return []
    return [lib.num_threads for lib in controller.select(user_api="blas").lib_controllers]


def usage() -> tuple[int, list[int]]:
    """(available cores, the BLAS pools' thread counts as this thread sees them), NumPy's
    BLAS loaded first: what a worker process reports of its share."""
    import numpy  # noqa: F401  (its BLAS is what is counted)

    return available_cores(), blas_thread_counts()


@cache
def threadpool_controller() -> Any:
    """threadpoolctl's view of the libraries loaded now, made once: scanning them costs
    milliseconds. First called after NumPy is imported, so its BLAS is among them."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


@cache
def openblas_thread_api() -> tuple[Callable[[], int], Callable[[int], None]] | None:
    """(get, set) for the thread count of NumPy's OpenBLAS, if that is what this process has.

    NumPy's wheels bundle it as scipy_openblas (64-bit ints), so that name is tried first.
    """
    libraries = []
    for path in loaded_openblas_paths():
        try:
            libraries.append(ctypes.CDLL(path))
        except OSError:
            continue
    for prefix, suffix in (("scipy_openblas", "64_"), ("openblas", "64_"), ("openblas", "")):
        for lib in libraries:
            get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
            set_ = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
            if get is not None and set_ is not None:
                get.restype, set_.argtypes = ctypes.c_int, [ctypes.c_int]
                return get, set_
    return None


def loaded_openblas_paths() -> list[str]:
    """Shared libraries with "openblas" in their name that this process has mapped (Linux)."""
    maps = Path("/proc/self/maps")
    if not maps.exists():
        return []
    paths = {line.split()[-1] for line in maps.read_text().splitlines() if "openblas" in line}
    return sorted(p for p in paths if p.startswith("/"))
