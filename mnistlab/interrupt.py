"""Ctrl-C and SIGTERM as one exception, held back while a run writes its files.

`stop_on_signals()` turns both signals into `Interrupted`, which the command catches to
print how to resume and exit 130 (SIGINT) or 143 (SIGTERM), as a shell expects. Inside
`signals_deferred()` (the end of an epoch: model, history, checkpoint) a signal waits
until the block is done, so the files on disk always describe one finished epoch. A
signal that lands mid-epoch cuts that epoch short: it was not saved and a resume does it
again from the last checkpoint, whose shuffling state gives it the same batches.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM: stop, keep what is saved, exit 128 + the signal's number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = 128 + signum
        self.name = signal.Signals(signum).name
        self.run_dir: Path | None = None  # the run directory it stopped, if any
        self.resumable = False  # whether that directory holds an epoch to resume from
        self.again: list[str] = []  # the flags its resume command must repeat


class StopRequested(Interrupted):
    """A stop asked for between steps (the page's Stop button, through the run's
    control.json): handled exactly as Ctrl-C, so the finished epochs and the best model stay
    saved and the run can be resumed."""

    def __init__(self, by: str = "a stop request") -> None:
        super().__init__(signal.SIGINT)
        self.name = by


_held = 0  # depth of signals_deferred() blocks in the main thread
_pending: int | None = None


def _handler(signum: int, frame: FrameType | None) -> None:
    global _pending
    if _held:
        _pending = signum
        return
    raise Interrupted(signum)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Raise `Interrupted` for SIGINT and SIGTERM inside the block (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {s: signal.signal(s, _handler) for s in SIGNALS}
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Let the block finish before a signal that arrives during it takes effect."""
    global _held, _pending
    _held += 1
    try:
        yield
    finally:
        _held -= 1
    if not _held and _pending is not None:
        signum, _pending = _pending, None
        raise Interrupted(signum)
