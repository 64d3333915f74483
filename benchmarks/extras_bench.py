"""bench.py's sections 9 and 10: what the optional extras cost or save.

9. ONNX Runtime (CPU) against the NumPy backend's forward pass on 1,000 test images, for
   the MLP [784,256,10], LeNet-5 and the convnet, each trained one epoch on 2,000 images
   by the NumPy backend and exported as `mnistlab export` does: ONNX Runtime at least as
   fast (NumPy time / ONNX Runtime time ≥ 1) and the same class for every image.
10. TensorBoard logging (`train --tensorboard`): a 5-epoch run of [784,100,10] at batch
   20 under the lab protocol, in memory, with and without the TensorBoard watcher, both
   backends (PyTorch on 10,000 images): (with) / (without) < 1.03. The once-a-run costs
   (the log file and its writer thread, the starting weights, closing) are in it; so is
   the import of tensorboardX, printed apart because a warm-up run has already paid it.
   On a busy 2-core machine the wall-clock ratio drifts by more than 3% from run to run,
   so the seconds spent inside the watcher's calls are summed as well: the time training
   waits for logging, whatever the load.

Both time the two sides in turn, best of `reps` after a warm-up, so they share the same
stretch of this shared machine's drifting speed.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

Add = Callable[[str, str, str, float, bool], None]
EPOCHS = 5  # of each timed run in section 10


def interleaved(a: Callable[[], object], b: Callable[[], object], reps: int) -> tuple[float, float]:
    """Best seconds of a and of b, timed alternately after one warm-up call of each."""
    a(), b()
    best_a = best_b = float("inf")
    for _ in range(reps):
        for fn, which in ((a, "a"), (b, "b")):
            start = time.perf_counter()
            fn()
            seconds = time.perf_counter() - start
            if which == "a":
                best_a = min(best_a, seconds)
            else:
                best_b = min(best_b, seconds)
    return best_a, best_b


def trained_model(spec: Any, splits: Any) -> Any:
    """A ModelFile of `spec` after one NumPy epoch on 2,000 training images."""
    from mnistlab.backends import make_learner
    from mnistlab.config import TrainConfig
    from mnistlab.models.modelfile import ModelFile

    x, y = splits.train.x[:2000], splits.train.y[:2000]
    learner = make_learner("numpy", spec, TrainConfig(lr=0.05, l2=0.0), len(y))
    learner.train_epoch(x, y, np.random.default_rng(0), None)
    return ModelFile(spec, learner.params(), {"dataset": "mnist"})


def onnx_section(splits: Any, reps: int, add: Add, numbers: dict[str, Any]) -> None:
    """9. ONNX Runtime against the NumPy forward pass, 1,000 test images."""
    from mnistlab.backends import make_learner
    from mnistlab.config import TrainConfig
    from mnistlab.export import onnx_logits, onnx_model, onnx_session
    from mnistlab.models.spec import ConvNetSpec, LeNet5Spec, MLPSpec

    print("\n9. ONNX Runtime (CPU) against the NumPy forward pass, 1,000 test images")
    x, y = splits.test.x[:1000], splits.test.y[:1000]
    numbers["onnx"] = {}
    for spec in (MLPSpec((256,), "relu"), LeNet5Spec(), ConvNetSpec()):
        model = trained_model(spec, splits)
        learner = make_learner("numpy", spec, TrainConfig(), 1, model.params)
        session = onnx_session(onnx_model(model).SerializeToString())
        numpy_s, onnx_s = interleaved(
            lambda learner=learner: learner.logits(x),
            lambda session=session: onnx_logits(session, x),
            max(reps, 5),
        )
        expected, got = learner.logits(x), onnx_logits(session, x)
        same = bool(np.array_equal(expected.argmax(axis=1), got.argmax(axis=1)))
        gap = float(np.max(np.abs(expected - got)))
        ratio = numpy_s / onnx_s
        print(
            f"     {spec.describe():<28}: NumPy {numpy_s * 1000:7.2f} ms, ONNX Runtime "
            f"{onnx_s * 1000:7.2f} ms, {ratio:.2f}× as fast; same classes: {same}, largest "
            f"logit difference {gap:.1e}, accuracy {np.mean(got.argmax(axis=1) == y):.1%}"
        )
        add(
            f"ONNX Runtime speed-up, {spec.name}",
            f"{ratio:.2f}×",
            "≥ 1×",
            ratio,
            ratio >= 1 and same,
        )
        numbers["onnx"][spec.name] = {
            "numpy_s": numpy_s,
            "onnxruntime_s": onnx_s,
            "same_predictions": same,
            "max_abs_diff": gap,
        }


class Timed:
    """A watcher that runs another and adds up the seconds its calls take: the time the
    training loop waits for the watcher it wraps (TensorBoard's, the live record). Work
    the wrapped watcher hands to a thread of its own (TensorBoard's writer serialising
    and writing a few events an epoch) is not in it."""

    def __init__(self, watcher: Any) -> None:
        self.watcher, self.seconds = watcher, 0.0

    def timed(self, name: str, *args: Any) -> None:
        start = time.perf_counter()
        try:
            getattr(self.watcher, name)(*args)
        finally:
            self.seconds += time.perf_counter() - start

    def started(self, *args: Any) -> None:
        self.timed("started", *args)

    def steps(self, *args: Any) -> None:
        self.timed("steps", *args)

    def epoch_saved(self, *args: Any) -> None:
        self.timed("epoch_saved", *args)

    def finished(self, *args: Any) -> None:
        self.timed("finished", *args)


def tensorboard_section(
    splits: Any, reps: int, n_torch: int, add: Add, numbers: dict[str, Any]
) -> None:
    """10. A run with and without TensorBoard logs: the wall-clock ratio (best of `reps`,
    interleaved), and the share of the run spent in the logging calls themselves, which
    a busy machine's drift does not blur."""
    from mnistlab.config import TrainConfig
    from mnistlab.data.splits import Split
    from mnistlab.models.spec import MLPSpec
    from mnistlab.tensorboard import TensorBoardWatcher
    from mnistlab.training import train

    print(f"\n10. TensorBoard logs: a {EPOCHS}-epoch run of [784,100,10], batch 20, with / without")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import tensorboardX"], check=True)
    print(
        f"     importing tensorboardX (which imports torch) in a fresh process: "
        f"{time.perf_counter() - started:.1f} s, once per run"
    )
    numbers["tensorboard"] = {}
    spec, config = MLPSpec((100,), "relu"), TrainConfig(epochs=EPOCHS, batch_size=20)
    with tempfile.TemporaryDirectory(prefix="bench-tb-") as tmp:
        for backend in ("numpy", "torch"):
            n = len(splits.train) if backend == "numpy" else n_torch
            data = replace(splits, train=Split(splits.train.x[:n], splits.train.y[:n]))
            in_calls: list[float] = []

            def run(
                watchers: list[Any],
                backend: str = backend,
                data: Any = data,
                calls: list = in_calls,
            ) -> None:
                train(spec, config, data, backend, None, log=None, show_progress=False,
                      watchers=watchers)  # fmt: skip
                calls.extend(w.seconds for w in watchers)

            logdir = Path(tmp) / backend
            plain_s, logged_s = interleaved(
                lambda: run([]),
                lambda logdir=logdir: run([Timed(TensorBoardWatcher(logdir))]),
                reps,
            )
            ratio, share = logged_s / plain_s, min(in_calls) / plain_s
            note = "" if n == len(splits.train) else f" [{n:,} images]"
            print(
                f"     {backend:<5}: without {plain_s:6.2f} s, with TensorBoard {logged_s:6.2f} s"
                f"{note}: {(ratio - 1) * 100:+.2f}%; in the logging calls "
                f"{min(in_calls) * 1000:.0f} ms = {share:.2%} of the run"
            )
            add(f"TensorBoard calls, {backend}", f"{share:.2%}", "< 3%", 1 + share, share < 0.03)
            add(
                f"TensorBoard wall, {backend}",
                f"{(ratio - 1) * 100:+.2f}%",
                "< 3%",
                ratio,
                ratio < 1.03,
            )
            numbers["tensorboard"][backend] = {
                "plain_s": plain_s,
                "logged_s": logged_s,
                "logging_calls_s": min(in_calls),
                "images": n,
            }
