"""Progress bars: tqdm's, or silent ones where tqdm is not installed.

Training must run under a bare Python with only NumPy and PyTorch (a GPU machine's own
interpreter, benchmarks/gpu.py): there the bars are simply not drawn.
"""

from __future__ import annotations

from typing import Any

try:
    from tqdm.auto import tqdm as progress_bar
except ImportError:  # pragma: no cover - exercised by tests/test_bare_python.py

    class progress_bar:  # type: ignore[no-redef]
        """tqdm's calls that mnistlab makes, drawing nothing."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        def __enter__(self) -> progress_bar:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def update(self, n: int = 1) -> None:
            pass


__all__ = ["progress_bar"]
