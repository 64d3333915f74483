"""Where the PyTorch backend runs (`--device`), and what keeps a GPU run reproducible.

`--device auto` picks CUDA only for runs the GPU is expected to finish sooner. On a GPU
every step is one CUDA-graph replay (resident.py): a few dozen kernels of microseconds,
expected well under the ~300 µs that PyTorch spends on any step on the CPU before it
computes anything (dispatch, autograd, the optimiser; experiments/estimate.py's
TORCH_STEP_US, measured). What a GPU adds is a fixed start-up: the CUDA context,
cuBLAS/cuDNN, copying the data, capturing the graph. The issue that asked for this
measured 0.5-1.5 s of it on an H200 (first run against warm); auto allows twice the
larger figure, so it picks CUDA when the run's estimated CPU time is at least
AUTO_CUDA_FROM_SECONDS, and the CPU for shorter runs (`--limit-train 1000 --epochs 1`),
which end before a GPU would have started. These GPU costs are expectations, not yet
measured on this code: `benchmarks/gpu.py` measures them.

Reproducible on CUDA: the same seed gives the same history, and `--resume` the same
numbers as a run never stopped, as on the CPU. Kernels that add in a varying order
(cuDNN's fast convolution algorithms, cuBLAS's split reductions, atomics) are switched to
deterministic ones while a CUDA learner works (`reproducible_cuda`), cuBLAS gets the fixed
workspace that its deterministic mode needs (CUBLAS_WORKSPACE_CONFIG, set where this
package is imported, before CUDA starts), and TF32 is off, so float32 means float32 as on
the CPU. What determinism costs in speed is measured by benchmarks/gpu.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from mnistlab.config import DEVICES
from mnistlab.errors import UserError

# Runs estimated at least this long on the CPU go to the GPU under --device auto: twice the
# GPU's start-up measured on an H200 (1.5 s: the peer's first run 2.01 s, warm 0.55 s).
AUTO_CUDA_FROM_SECONDS = 3.0


@dataclass(frozen=True)
class DeviceChoice:
    device: str  # "cpu" or "cuda"
    reason: str  # why, in a few words, for the run's first line


def cuda_name() -> str | None:
    """The GPU torch would use, or None without one."""
    if not torch.cuda.is_available():
        return None
    try:
        return str(torch.cuda.get_device_name(0))
    except (RuntimeError, AssertionError):
        return "a CUDA GPU"


def choose_device(requested: str, cpu_seconds: float | None = None) -> DeviceChoice:
    """Where to run: --device as asked, or auto's pick for a run estimated at `cpu_seconds`
    on the CPU (None: unknown, taken as long). --device cuda without a GPU is refused."""
    if requested not in DEVICES:
        raise UserError(f"unknown device {requested!r}: choose one of {', '.join(DEVICES)}")
    gpu = cuda_name()
    if requested == "cuda" and gpu is None:
        raise UserError("--device cuda: this PyTorch sees no CUDA GPU (use --device cpu or auto)")
    if requested != "auto":
        return DeviceChoice(requested, f"--device {requested}" + (f", {gpu}" if gpu else ""))
    if gpu is None:
        return DeviceChoice("cpu", "auto: PyTorch sees no CUDA GPU")
    if cpu_seconds is not None and cpu_seconds < AUTO_CUDA_FROM_SECONDS:
        return DeviceChoice(
            "cpu",
            f"auto: a short run, ~{cpu_seconds:.1f} s on the CPU, ends before {gpu} would "
            f"have started (CUDA from {AUTO_CUDA_FROM_SECONDS:g} s)",
        )
    estimate = "" if cpu_seconds is None else f", the run ~{cpu_seconds:.0f} s on the CPU"
    return DeviceChoice("cuda", f"auto: {gpu}{estimate}")


def resolve_device(device: str) -> str:
    """ "auto" → "cuda" when torch sees a CUDA GPU, else "cpu"; "cuda" without one is refused.
    "cpu" is "cpu" without asking torch about GPUs (that would start CUDA on a GPU host)."""
    if device == "cpu":
        return "cpu"
    return choose_device(device).device


@contextmanager
def reproducible_cuda() -> Iterator[None]:
    """Deterministic kernels and no TF32 inside the block, then the settings as they were.

    fill_uninitialized_memory stays off: it would add a fill kernel to every allocation
    (inside the graph too) and only matters to code that reads memory it never wrote.
    warn_only: an operation without a deterministic kernel in some PyTorch build warns
    (naming itself) instead of stopping the run; benchmarks/gpu.py's same-seed check
    shows whether a history still repeats.
    """
    import torch.utils.deterministic as deterministic

    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        cudnn.deterministic,
        cudnn.benchmark,
        cudnn.allow_tf32,
        matmul.allow_tf32,
        deterministic.fill_uninitialized_memory,
    )
    torch.use_deterministic_algorithms(True, warn_only=True)
    cudnn.deterministic, cudnn.benchmark, cudnn.allow_tf32 = True, False, False
    matmul.allow_tf32 = False
    deterministic.fill_uninitialized_memory = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
        cudnn.deterministic, cudnn.benchmark, cudnn.allow_tf32 = before[2:5]
        matmul.allow_tf32 = before[5]
        deterministic.fill_uninitialized_memory = before[6]
