"""Side-by-side runs: one configuration on both backends, and an MLP against LeNet-5.

Every run gets its own run directory (history.json, model, curves, written by
`training.train`), and a directory that already holds the same run, finished, is reused
instead of trained again: a comparison can be re-run, extended or re-tabulated for the
cost of reading a few JSON files. A directory holding a *different* run is refused
(unless forced), so no result is ever silently overwritten.

Runs train in worker processes, each with its share of the cores (threads ÷ workers,
see `_train_all`), so their seconds are measured the way the sweep measures its cells.
"""

from __future__ import annotations

import json
import os
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mnistlab.config import LENET5_RECIPE, TrainConfig
from mnistlab.data.splits import N_TRAIN, Split, Splits
from mnistlab.errors import UserError, flag
from mnistlab.experiments.estimate import duration, plan_seconds, side_by_side
from mnistlab.experiments.runplan import RunPlan, lenet_plan
from mnistlab.fileio import write_json, write_text
from mnistlab.models.spec import MLPSpec, ModelSpec
from mnistlab.models.summary import summarize
from mnistlab.plots import Figure, epoch_axis, save_figure
from mnistlab.protocol import History
from mnistlab.threads import thread_env, threads_per_worker
from mnistlab.training import CURVES, HISTORY, MODEL

COMPARE_JSON = "compare.json"
COMPARE_MD = "compare.md"
CURVES_FIGURE = "val_acc_curves.png"
BACKEND_LABELS = {"numpy": "NumPy", "torch": "PyTorch"}

Log = Callable[[str], None]


@dataclass
class RunResult:
    plan: RunPlan
    run_dir: Path
    history: History
    reused: bool


class DataCache:
    """Reads the data at most once, and only when something needs it (a run to train).

    Smaller training sets are the first N images of the full one (as `load_splits` cuts
    them), taken as views, so a report's runs of different sizes share one read.
    """

    def __init__(self, dataset: str = "mnist", data_dir: str | None = None) -> None:
        self.dataset = dataset
        self.data_dir = data_dir
        self._full: Splits | None = None

    def directory(self) -> Path:
        """Where the files are (downloading them once, here, if need be): workers only read."""
        if self._full is not None:
            return Path(self._full.source)
        from mnistlab.data.sources import locate

        return Path(locate(self.dataset, self.data_dir)).resolve()

    def get(self, limit_train: int | None = None) -> Splits:
        if self._full is None:
            from mnistlab.data.mnist import load_splits

            self._full = load_splits(self.dataset, self.data_dir)
        full = self._full
        if limit_train is None or limit_train == len(full.train):
            return full
        if not 1 <= limit_train <= len(full.train):
            raise UserError(
                f"--limit-train must be between 1 and {len(full.train)}, not {limit_train}"
            )
        train = Split(full.train.x[:limit_train], full.train.y[:limit_train])
        return replace(full, train=train)


# ---------------------------------------------------------------- finding or training a run


def read_history(run_dir: Path) -> History | None:
    """The run recorded in `run_dir`, or None when there is none (or only a broken one)."""
    path = run_dir / HISTORY
    if not path.is_file():
        return None
    try:
        return History.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError):
        return None


# A training setting that a recorded run does not mention was added after that run, which
# therefore trained with the setting's default: read it as that default.
RECORDED_DEFAULTS: dict[str, dict[str, Any]] = {"train": TrainConfig().to_json()}


def differences(recorded: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """'--epochs 2 there, 3 here'-style notes on what makes a recorded run another run."""
    notes = []
    for key, value in wanted.items():
        there = recorded.get(key)
        if isinstance(value, dict) and isinstance(there, dict):
            there = {**RECORDED_DEFAULTS.get(key, {}), **there}
            notes += [
                f"{flag(sub)} {there.get(sub)} there, {v} here"
                for sub, v in value.items()
                if there.get(sub) != v
            ]
        elif there != value:
            notes.append(f"{flag(key)} {there} there, {value} here")
    return notes


def is_complete(history: History, plan: RunPlan, run_dir: Path) -> bool:
    return len(history.epochs) >= plan.config.epochs and (run_dir / MODEL).is_file()


def reusable(plan: RunPlan, run_dir: Path, force: bool) -> History | None:
    """The finished same run in `run_dir`; None if it must be trained; refuse another run."""
    history = read_history(run_dir)
    if history is None:
        if run_dir.exists() and not run_dir.is_dir():
            raise UserError(f"{run_dir} is a file, not a run directory")
        return None
    diff = differences(history.config, plan.identity())
    if diff and not force:
        raise UserError(
            f"{run_dir} holds a different run ({'; '.join(diff)}); "
            "use another --out, or --force to train it again"
        )
    if diff or not is_complete(history, plan, run_dir):
        return None
    return history


def train_in_worker(plan: RunPlan, run_dir: Path, data_dir: str) -> History:
    """Train `plan` into `run_dir`; runs in a worker process started with its thread share."""
    from mnistlab.training import train

    data = DataCache(plan.dataset, data_dir)
    history, _ = train(
        plan.spec,
        plan.config,
        data.get(plan.limit_train),
        plan.backend,
        run_dir,
        limit_train=plan.limit_train,
        show_progress=False,
    )
    return history


def _reuse(plan: RunPlan, run_dir: Path, history: History, log: Log | None) -> RunResult:
    if not (run_dir / CURVES).exists():  # a run stopped just before its figure
        from mnistlab.plots.curves import plot_learning_curves

        plot_learning_curves(history, run_dir / CURVES, title=describe_run(plan))
    if log:
        log(f"reusing {run_dir} (finished, {describe_run(plan)})")
    return RunResult(plan, run_dir, history, reused=True)


def _train_all(
    jobs: Sequence[tuple[RunPlan, Path]], data: DataCache, workers: int, log: Log | None
) -> list[History]:
    """Train each job in a fresh process, at most `workers` at a time.

    Each process gets cores ÷ workers threads (threads.thread_env), so the runs together
    use every core once: one thread each on 2 cores with 2 workers, 8 each on 16 cores.
    Batches under 100 train on one thread whatever the share (learner.SINGLE_THREAD_BELOW),
    so the lab's batch-20 runs keep their one-thread "seconds" on any machine. The
    variables must be set before the worker imports numpy or torch, hence a fresh process
    rather than a setting in this one.

    A fresh process per run, not a pool that reuses workers: loky retires a worker whose
    memory grew (importing torch after a NumPy run is enough) and warns when work was
    waiting for it. Starting one costs about as much as reading the data, once per run.
    """
    from concurrent.futures import FIRST_COMPLETED, Future, wait

    from joblib.externals.loky import ProcessPoolExecutor

    data_dir = str(data.directory())
    workers = max(1, workers)
    env = thread_env(threads_per_worker(workers))
    histories: dict[int, History] = {}
    running: dict[Future, tuple[int, ProcessPoolExecutor]] = {}

    def collect(done: set[Future]) -> None:
        for future in done:
            i, pool = running.pop(future)
            histories[i] = future.result()
            pool.shutdown(wait=True)

    try:
        for i, (plan, run_dir) in enumerate(jobs):
            if len(running) == workers:
                collect(wait(running, return_when=FIRST_COMPLETED).done)
            if log:
                epochs = plural(plan.config.epochs, "epoch")
                log(f"training {describe_run(plan)} for {epochs} in {run_dir}")
            pool = ProcessPoolExecutor(max_workers=1, env=env)
            running[pool.submit(train_in_worker, plan, run_dir, data_dir)] = (i, pool)
        while running:
            collect(wait(running, return_when=FIRST_COMPLETED).done)
    finally:
        for _, pool in running.values():  # an error or Ctrl-C: stop the other runs too
            pool.shutdown(wait=False, kill_workers=True)
    return [histories[i] for i in range(len(jobs))]


def ensure_runs(
    jobs: Sequence[tuple[RunPlan, Path]],
    data: DataCache,
    *,
    force: bool = False,
    workers: int = 1,
    log: Log | None = print,
) -> list[RunResult]:
    """Reuse each finished run; train the others, up to `workers` at a time.

    Every directory is checked before anything trains, so a refused one stops the whole
    batch with nothing half done.
    """
    histories = [reusable(plan, run_dir, force) for plan, run_dir in jobs]
    todo = [i for i, h in enumerate(histories) if h is None]
    results: dict[int, RunResult] = {
        i: _reuse(*jobs[i], h, log) for i, h in enumerate(histories) if h is not None
    }
    if todo and log:
        data.directory()  # a missing data folder is reported before the plan, not after
        for line in plan_lines([jobs[i][0] for i in todo], workers):
            log(line)
    if todo:
        trained = _train_all([jobs[i] for i in todo], data, workers, log)
        for i, history in zip(todo, trained, strict=True):
            results[i] = RunResult(*jobs[i], history, reused=False)
    return [results[i] for i in range(len(jobs))]


def plan_lines(plans: Sequence[RunPlan], workers: int = 1) -> list[str]:
    """What is about to train and roughly for how long, said before it starts."""
    lines = [f"to train: {plural(len(plans), 'run')}"]
    seconds = [plan_seconds(plan) for plan in plans]
    for plan, plan_s in zip(plans, seconds, strict=True):
        n = plan.limit_train or N_TRAIN
        epochs = plural(plan.config.epochs, "epoch")
        lines.append(
            f"  {plan.name:<13} {describe_run(plan)}, {epochs} on {n:,} images  {duration(plan_s)}"
        )
    at_once = min(max(1, workers), len(plans))
    how = "one after another" if at_once == 1 else f"{at_once} at a time, if cores are free"
    total = side_by_side(seconds, at_once)
    lines.append(
        f"in all {duration(total)} ({how}; a rough estimate for an idle 2-core "
        "machine, a busy one takes longer)"
    )
    return lines


def ensure_run(
    plan: RunPlan, run_dir: Path, data: DataCache, *, force: bool = False, log: Log | None = print
) -> RunResult:
    """Reuse the finished run in `run_dir`, or train it there under the lab protocol."""
    return ensure_runs([(plan, run_dir)], data, force=force, log=log)[0]


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def describe_run(plan: RunPlan) -> str:
    return f"{plan.spec.describe()} on {BACKEND_LABELS.get(plan.backend, plan.backend)}"


# ---------------------------------------------------------------- the comparison's plans


def backend_plans(
    spec: ModelSpec, config: TrainConfig, limit_train: int | None, dataset: str = "mnist"
) -> list[RunPlan]:
    """The same network, configuration and seed on NumPy and on PyTorch."""
    return [
        RunPlan(f"{backend}-{spec.name}", backend, spec, config, limit_train, dataset)
        for backend in ("numpy", "torch")
    ]


# ---------------------------------------------------------------- tabulating


def summarize_run(result: RunResult) -> dict[str, Any]:
    """One table row: the protocol's result, its cost, and where it was recorded."""
    history, plan = result.history, result.plan
    best = history.best or {}
    seconds = [e.seconds for e in history.epochs]
    cost = summarize(plan.spec)
    return {
        "run": plan.name,
        "run_dir": str(result.run_dir),
        "backend": plan.backend,
        "model": plan.spec.name,
        "architecture": plan.spec.describe(),
        "test_acc": best.get("test_acc"),
        "val_acc": best.get("val_acc"),
        "best_epoch": best.get("epoch"),
        "epochs": len(history.epochs),
        "seconds_per_epoch": statistics.fmean(seconds) if seconds else None,
        "seconds_total": sum(seconds),
        "params": cost["params"],
        "flops": cost["flops"],
        "n_train": history.config.get("n_train"),
        "seed": plan.config.seed,
        "started": history.config.get("started"),
    }


@dataclass
class Comparison:
    backend_runs: list[RunResult]  # the same configuration on each backend
    model_runs: list[RunResult] = field(default_factory=list)  # MLP against LeNet-5

    @property
    def backends(self) -> list[dict[str, Any]]:
        return [summarize_run(r) for r in self.backend_runs]

    @property
    def models(self) -> list[dict[str, Any]]:
        return [summarize_run(r) for r in self.model_runs]

    @property
    def results(self) -> list[RunResult]:
        """Every run once, in table order (a run may sit in both tables)."""
        unique = {r.plan.name: r for r in [*self.backend_runs, *self.model_runs]}
        return list(unique.values())

    def to_json(self) -> dict[str, Any]:
        runs = {r.plan.name: {"run_dir": str(r.run_dir), **r.history.config} for r in self.results}
        return {"backends": self.backends, "models": self.models, "runs": runs}


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.2%}"


def _secs(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f}"


def _where(row: dict[str, Any], base: Path | None) -> str:
    path = Path(row["run_dir"])
    shown = os.path.relpath(path, base) if base is not None else str(path)
    return f"`{shown}/`"


# A cell that is a number: "1,234", "98.50%", "12 of 20", "98.50% ← best", "–" (none).
NUMBER = re.compile(r"(–|[-+]?[\d,]*\.?\d+%?( of \d+)?( ← .*)?)")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table whose columns of numbers are right-aligned (`---:`)."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(header)
    numeric = [bool(col) and all(NUMBER.fullmatch(c) for c in col) for col in columns]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "".join("---:|" if right else "---|" for right in numeric),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def backend_table(rows: list[dict[str, Any]], base: Path | None = None) -> str:
    """Per backend: test accuracy at the best validation epoch, that epoch, and time."""
    header = [
        "backend",
        "test accuracy (at best val. epoch)",
        "best epoch",
        "s / epoch (mean)",
        "total s",
        "run",
    ]
    body = [
        [
            BACKEND_LABELS.get(r["backend"], r["backend"]),
            _pct(r["test_acc"]),
            f"{r['best_epoch']} of {r['epochs']}",
            _secs(r["seconds_per_epoch"]),
            _secs(r["seconds_total"]),
            _where(r, base),
        ]
        for r in rows
    ]
    return markdown_table(header, body)


def model_table(rows: list[dict[str, Any]], base: Path | None = None) -> str:
    """Per network: size, arithmetic per image, accuracy and time."""
    header = [
        "network",
        "backend",
        "parameters",
        "FLOPs / image",
        "test accuracy",
        "epochs",
        "s / epoch",
        "total s",
        "run",
    ]
    body = [
        [
            r["architecture"],
            BACKEND_LABELS.get(r["backend"], r["backend"]),
            f"{r['params']:,}",
            f"{r['flops']:,}",
            _pct(r["test_acc"]),
            str(r["epochs"]),
            _secs(r["seconds_per_epoch"]),
            _secs(r["seconds_total"]),
            _where(r, base),
        ]
        for r in rows
    ]
    return markdown_table(header, body)


def config_line(config: TrainConfig, n_train: int | None) -> str:
    """The settings every row of a table shares, in one line."""
    data = f"{n_train:,} training images" if n_train else "all training images"
    epochs = plural(config.epochs, "epoch")
    decay = f" × {config.lr_decay:g} per epoch" if config.lr_decay != 1 else ""
    if config.schedule == "onecycle":
        decay = f" one-cycle ({config.warmup:.0%} warm-up)"
    optimizer = {
        "momentum": f"momentum {config.momentum:g}",
        "adam": f"adam (β {config.beta1:g}, {config.beta2:g})",
    }.get(config.optimizer, config.optimizer)
    return (
        f"{epochs}, batch {config.batch_size}, lr {config.lr:g}{decay}, "
        f"λ = {config.l2:g}, {optimizer}, {config.dtype}, seed {config.seed}, {data}"
    )


# ---------------------------------------------------------------- writing it down


def plot_val_curves(results: Sequence[RunResult], path: str | os.PathLike[str]) -> Path:
    """Validation accuracy per epoch of every run: how fast each one learns."""
    fig = Figure(figsize=(7.5, 4.5))
    ax = fig.subplots()
    for result in results:
        epochs = result.history.epochs
        ax.plot(
            [e.epoch for e in epochs],
            [100 * e.val_acc for e in epochs],
            "o-",
            markersize=3,
            label=f"{describe_run(result.plan)} ({result.plan.name})",
        )
    ax.set(ylabel="validation accuracy (%)", title="validation accuracy per epoch")
    epoch_axis(ax)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def comparison_markdown(comparison: Comparison, base: Path | None) -> str:
    """The two tables, each with the settings its rows share; run dirs relative to `base`."""
    parts = []
    if comparison.backend_runs:
        plan = comparison.backend_runs[0].plan
        n_train = comparison.backend_runs[0].history.config.get("n_train")
        parts += [
            "## NumPy vs PyTorch",
            f"{plan.spec.describe()}; {config_line(plan.config, n_train)}. Seconds include "
            "scoring validation (and test, when validation improved) after each epoch.",
            backend_table(comparison.backends, base),
        ]
    if comparison.model_runs:
        parts += ["## MLP vs LeNet-5", model_table(comparison.models, base)]
    return "\n\n".join(parts) + "\n"


def write_comparison(out: Path, comparison: Comparison) -> list[Path]:
    """compare.json, compare.md and the learning-curve figure in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / COMPARE_JSON, comparison.to_json())
    write_text(out / COMPARE_MD, "# Comparison\n\n" + comparison_markdown(comparison, out))
    figure = plot_val_curves(comparison.results, out / CURVES_FIGURE)
    return [out / COMPARE_JSON, out / COMPARE_MD, figure]


def run_compare(
    spec: ModelSpec,
    config: TrainConfig,
    out: Path,
    data: DataCache,
    *,
    limit_train: int | None = None,
    lenet_epochs: int = LENET5_RECIPE["epochs"],
    lenet_backend: str = "torch",
    force: bool = False,
    workers: int = 1,
    log: Log | None = print,
) -> Comparison:
    """Both backends on `spec`; then, for an MLP, that MLP against LeNet-5."""
    plans = backend_plans(spec, config, limit_train, data.dataset)
    if isinstance(spec, MLPSpec):
        activation = spec.activation
        plans.append(
            lenet_plan(lenet_backend, config, lenet_epochs, limit_train, activation, data.dataset)
        )
    results = ensure_runs(
        [(p, out / p.name) for p in plans], data, force=force, workers=workers, log=log
    )
    backend_runs, model_runs = results[:2], []
    if len(results) > 2:
        mlp_run = next(r for r in backend_runs if r.plan.backend == lenet_backend)
        model_runs = [mlp_run, results[2]]
    comparison = Comparison(backend_runs, model_runs)
    write_comparison(out, comparison)
    return comparison
