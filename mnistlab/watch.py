"""Watching a run while it trains: the one hook through which anything beyond the run's
own files sees it (the live record the page reads, TensorBoard, a notebook).

`training.train` calls every watcher at four moments; the protocol never knows they are
there. A watcher is called between training steps, so anything it does there (a snapshot,
reading a control file, `learner.change_lr`) happens at a well-defined step, and what it
costs is time the run waits: it should do its work a few times a second at most.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from mnistlab.learner import Learner
from mnistlab.protocol import EpochRecord, History


class Watcher(Protocol):
    def started(self, learner: Learner, history: History) -> None:
        """Before the first step: the learner that will train (also when resuming)."""
        ...

    def steps(self, epoch: int, seen: int, loss: float, acc: float) -> None:
        """Between steps, a few times a second: the epoch, the examples trained on in it so
        far, and its running cross-entropy and accuracy."""
        ...

    def epoch_saved(self, record: EpochRecord, history: History) -> None:
        """An epoch has ended and its files are on disk."""
        ...

    def finished(self, history: History, error: BaseException | None) -> None:
        """The run ended: `error` is None when it trained all its epochs, else what stopped
        it (KeyboardInterrupt for Ctrl-C, SIGTERM or the page's stop; a DivergedError...)."""
        ...


class Watchers:
    """Several watchers called as one, in order."""

    def __init__(self, watchers: Sequence[Watcher]) -> None:
        self.watchers = tuple(watchers)

    def started(self, learner: Learner, history: History) -> None:
        for w in self.watchers:
            w.started(learner, history)

    def steps(self, epoch: int, seen: int, loss: float, acc: float) -> None:
        for w in self.watchers:
            w.steps(epoch, seen, loss, acc)

    def epoch_saved(self, record: EpochRecord, history: History) -> None:
        for w in self.watchers:
            w.epoch_saved(record, history)

    def finished(self, history: History, error: BaseException | None) -> None:
        for w in self.watchers:
            w.finished(history, error)
