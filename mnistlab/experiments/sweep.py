"""Run a k × m grid of MLPs, each cell a full lab-protocol run, resumably and in parallel.

The sweep directory holds:

- `sweep.json`: the grid and the settings. A later command with a different grid or
  settings is refused before anything is touched, so results of two sweeps never mix.
- `results.jsonl`: one JSON line per finished cell, appended by the parent process as
  each result arrives (flushed and fsync'd), so a killed sweep keeps every finished cell
  and the same command resumes with the missing ones. Workers never write: two of them
  can never interleave a line.
- `best.json`: the cell with the best VALIDATION accuracy (the test set chooses nothing),
  and three figures.
- `checkpoints/k{k}-m{m}.safetensors`: the checkpoint of each cell in progress (local
  runs), written by the worker training it after every epoch and deleted once the cell's
  row is in `results.jsonl`. A cell cut off resumes from it instead of from epoch 1.

One sweep at a time may write a directory: a second command on it is refused (a lock
file, released by the OS when its process dies).

Cells run in local processes (joblib's loky backend) or, with `scheduler`, on a Dask
cluster through the very same `joblib.Parallel` code. Workers receive a data path, never
arrays, and load the data once per process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import socket
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import MISSING, dataclass
from pathlib import Path
from typing import Any

from mnistlab.config import TrainConfig
from mnistlab.data.splits import Splits
from mnistlab.errors import UserError, flag
from mnistlab.experiments.grid import Cell, Grid, cell_seed
from mnistlab.fileio import write_error, write_json, write_text
from mnistlab.models.spec import MLPSpec
from mnistlab.rundir import locked

SWEEP = "sweep.json"
RESULTS = "results.jsonl"
BEST = "best.json"
CHECKPOINTS = "checkpoints"
ROW_KEYS = ("k", "m", "val_acc", "test_acc", "best_epoch", "seconds", "seed", "epochs")

# The default 18-cell sweep (numpy, lr 0.01, momentum 0.9, 2 workers) must end within
# 30 minutes on a 2-core machine with a best cell at ≥ 98% test accuracy. Measured with
# one BLAS thread, one epoch of all 18 cells costs ≈ 150 core-seconds at batch 10 but
# ≈ 55-75 at batch 20 (k=3, m=512 alone ≈ 23 s), and per epoch batch 20 learns as fast
# as batch 10 here (784-512-512-10: 98.3% validation by epoch 10, 98.44% / 98.36% test at
# epoch 16). 20 epochs of batch 20 ≈ 1,100-1,500 core-seconds ≈ 10-13 minutes on 2 idle
# cores: half the budget, so a busy machine still finishes in time. Measured once in
# full on the 2-core machine while others used it too (load 4-5): 14 min 25 s; best by
# validation k=3, m=256 (98.50%, tied with k=2, m=512, fewer parameters), test 98.48%.
DEFAULT_EPOCHS = 20
DEFAULT_BATCH = 20
DEFAULT_K = "1,2,3"  # the lab's grid: k hidden layers of m neurons
DEFAULT_M = "16,32,64,128,256,512"

CLUSTER_BACKEND = "mnistlab-dask"
CHOSEN_BY = "highest validation accuracy; ties: fewer parameters, then smaller k"


@dataclass(frozen=True)
class SweepSettings:
    """Everything but k and m that decides a cell's numbers (plus where the data lives)."""

    backend: str = "numpy"
    epochs: int = DEFAULT_EPOCHS
    batch_size: int = DEFAULT_BATCH
    lr: float = 0.01
    l2: float = 5.0
    optimizer: str = "momentum"
    momentum: float = 0.9
    activation: str = "relu"
    limit_train: int | None = None
    dataset: str = "mnist"
    data_dir: str | None = None
    seed: int = 0
    dtype: str = "float32"
    lr_decay: float = 1.0  # the lab's sweep keeps the learning rate fixed

    def train_config(self, cell: Cell) -> TrainConfig:
        return TrainConfig(
            lr=self.lr,
            lr_decay=self.lr_decay,
            l2=self.l2,
            optimizer=self.optimizer,
            momentum=self.momentum,
            batch_size=self.batch_size,
            epochs=self.epochs,
            seed=cell_seed(self.seed, cell),
            dtype=self.dtype,
        )

    def spec(self, cell: Cell) -> MLPSpec:
        return MLPSpec(hidden=cell.hidden, activation=self.activation)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def identity(self) -> dict[str, Any]:
        """What must match for two commands to be the same sweep.

        The data directory is left out: the same files reached by another path (or via
        $MNISTLAB_DATA) give the same numbers, and a resume should not depend on spelling.
        """
        data = self.to_json()
        del data["data_dir"]
        return data


# ---------------------------------------------------------------- in the worker process

_SPLITS_LOCK = threading.Lock()  # Dask workers may run several cells in threads
_SPLITS: tuple[tuple[str, str | None, int | None], Splits] | None = None


def cached_splits(dataset: str, data_dir: str | None, limit_train: int | None) -> Splits:
    """Load the data once per worker process; later cells of the sweep reuse it."""
    global _SPLITS
    key = (dataset, data_dir, limit_train)
    with _SPLITS_LOCK:
        if _SPLITS is None or _SPLITS[0] != key:
            from mnistlab.data.mnist import load_splits

            _SPLITS = (key, load_splits(dataset, data_dir, limit_train))
        return _SPLITS[1]


def cell_checkpoint(out: Path, cell: Cell) -> Path:
    return out / CHECKPOINTS / f"k{cell.k}-m{cell.m}.safetensors"


def run_cell(cell: Cell, settings: SweepSettings, checkpoint: Path | None = None) -> dict[str, Any]:
    """Train one cell under the lab protocol and return its result row; with `checkpoint`,
    checkpoint it there after every epoch, resuming from what is already there."""
    from mnistlab.runinfo import now, software
    from mnistlab.training import train

    splits = cached_splits(settings.dataset, settings.data_dir, settings.limit_train)
    config = settings.train_config(cell)
    try:
        history, _ = train(
            settings.spec(cell),
            config,
            splits,
            settings.backend,
            None,
            limit_train=settings.limit_train,
            log=None,
            show_progress=False,
            resume=cell_resume(checkpoint, settings.spec(cell), config),
            checkpoint=checkpoint,
        )
    except UserError as exc:  # e.g. divergence: say which cell, the sweep stops there
        raise UserError(f"cell k={cell.k}, m={cell.m}: {exc}") from None
    # The epochs' own time (training + scoring): leaves out the one-off import of the
    # backend (torch: seconds) that would otherwise be charged to a worker's first cell.
    seconds = sum(e.seconds for e in history.epochs)
    best = history.best
    assert best is not None  # the first epoch always improves on -inf
    return {
        "k": cell.k,
        "m": cell.m,
        "params": cell.n_params,
        "val_acc": best["val_acc"],
        "test_acc": best["test_acc"],
        "best_epoch": best["epoch"],
        "seconds": round(seconds, 3),
        "seed": config.seed,
        "epochs": settings.epochs,
        "val_accs": [e.val_acc for e in history.epochs],
        "backend": settings.backend,
        "n_train": len(splits.train),
        "worker": f"{socket.gethostname()}:{os.getpid()}",
        "finished": now(),
        "mnistlab": software(),
    }


def cell_resume(path: Path | None, spec: MLPSpec, config: TrainConfig) -> Any:
    """The cell's own checkpoint, if a cut-off run of it left one; a damaged one is refused."""
    from mnistlab.checkpoint import load_checkpoint

    if path is None or not path.exists():
        return None
    checkpoint = load_checkpoint(path)
    if checkpoint.spec != spec or checkpoint.config() != config:
        raise UserError(
            f"{path} is the checkpoint of another run; delete it to start the cell over"
        )
    return checkpoint


# ---------------------------------------------------------------- the sweep directory


def read_results(path: Path) -> tuple[list[dict[str, Any]], bool]:
    """The complete rows of `path`, and whether a partial last line was dropped.

    A process killed mid-append can leave an unfinished last line; it is not a result. A
    broken line anywhere else means someone edited the file, which is the user's to fix.
    """
    if not path.exists():
        return [], False
    lines = path.read_text(encoding="utf-8").split("\n")
    tail = lines.pop()  # "" when the file ends with a newline
    rows = [_parse_row(path, i, line) for i, line in enumerate(lines, 1) if line.strip()]
    if not tail.strip():
        return rows, False
    try:
        row = json.loads(tail)
    except json.JSONDecodeError:
        return rows, True
    if not (isinstance(row, dict) and all(key in row for key in ROW_KEYS)):
        return rows, True
    return [*rows, row], True  # complete, only its newline was lost


def _parse_row(path: Path, number: int, line: str) -> dict[str, Any]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        raise UserError(f"{path} line {number} is not JSON; fix or delete that line") from None
    if not isinstance(row, dict) or any(key not in row for key in ROW_KEYS):
        raise UserError(f"{path} line {number} is not a sweep result; fix or delete that line")
    return row


def append_row(path: Path, row: dict[str, Any]) -> None:
    """One line, written in one call and forced to disk before the next cell is reported.

    A full disk may leave part of the line: the next run drops it (read_results)."""
    try:
        with path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise write_error(path, exc) from None


def sweep_record(grid: Grid, settings: SweepSettings) -> dict[str, Any]:
    return {"grid": grid.to_json(), "settings": settings.to_json()}


def stored_grid(record: dict[str, Any]) -> Grid:
    return Grid(tuple(record["grid"]["k"]), tuple(record["grid"]["m"]))


def extends(grid: Grid, old: Grid) -> bool:
    """Whether `grid` holds every cell of `old`: the same sweep with cells added."""
    return set(old.ks) <= set(grid.ks) and set(old.ms) <= set(grid.ms)


def _differences(old: dict[str, Any], grid: Grid, settings: SweepSettings) -> str:
    """'--epochs 2 there, 3 here; grid …': what makes the stored sweep another one.

    A larger grid that keeps every stored k and m is the same sweep, extended."""
    diffs = []
    there = stored_grid(old)
    if not extends(grid, there):
        diffs.append(
            f"grid {there.describe()} there, {grid.describe()} here: a sweep can be extended "
            "by adding k or m values, not by dropping them"
        )
    # A setting the stored sweep does not mention was added after it ran, with its default.
    defaults = {
        f.name: f.default for f in dataclasses.fields(SweepSettings) if f.default is not MISSING
    }
    old_settings = {**defaults, **(old.get("settings") or {})}
    for key, value in settings.identity().items():
        if old_settings.get(key) != value:
            diffs.append(f"{flag(key)} {old_settings.get(key)} there, {value} here")
    return "; ".join(diffs)


def _read_record(out: Path) -> dict[str, Any] | None:
    path = out / SWEEP
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        stored_grid(record)
        dict(record["settings"])
    except (ValueError, KeyError, TypeError):
        raise UserError(f"{path} is not a sweep record; use another --out") from None
    return record


def check_out_dir(
    out: Path, grid: Grid, settings: SweepSettings, replace: bool = False
) -> list[dict[str, Any]]:
    """Refuse a directory that holds another sweep; return the rows this one can keep.

    Only reads: a refused command leaves every byte as it was. With `replace` (--force,
    and `out` holds another sweep), nothing is kept (prepare_out_dir removes it).
    """
    if replace:
        return []
    record = _read_record(out)
    if record is not None:
        diff = _differences(record, grid, settings)
        if diff:
            raise UserError(
                f"{out} holds results of a different sweep ({diff}); use another --out, "
                "or --force to replace it"
            )
    rows, _ = read_results(out / RESULTS)
    cells = set(grid.cells)
    for row in rows:
        cell = Cell(row["k"], row["m"])
        if (
            cell not in cells
            or row["seed"] != cell_seed(settings.seed, cell)
            or row["epochs"] != settings.epochs
            or row.get("backend", settings.backend) != settings.backend
        ):
            raise UserError(
                f"{out} holds results of a different sweep (a row for k={cell.k}, m={cell.m} "
                f"that this command would not produce); use another --out"
            )
    return _first_per_cell(rows)


def another_sweep(out: Path, grid: Grid, settings: SweepSettings) -> bool:
    """Whether `out` holds files of a sweep this command would refuse to continue."""
    try:
        check_out_dir(out, grid, settings)
    except UserError:
        return True
    return False


def _first_per_cell(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[Cell, dict[str, Any]] = {}
    for row in rows:
        seen.setdefault(Cell(row["k"], row["m"]), row)
    return list(seen.values())


def prepare_out_dir(
    out: Path, grid: Grid, settings: SweepSettings, replace: bool = False
) -> list[str]:
    """Record the sweep, drop a partial last line left by a killed run (atomically) and
    the checkpoints of finished cells.

    A larger grid is recorded over the stored one (the settings stay as stored); with
    `replace`, another sweep's files are removed first. Returns a note on each of these.
    """
    notes = []
    if replace:
        from mnistlab.plots.sweep import HEATMAP, SECONDS_VS_M, VAL_ACC_VS_M

        for name in (SWEEP, RESULTS, BEST, VAL_ACC_VS_M, HEATMAP, SECONDS_VS_M):
            (out / name).unlink(missing_ok=True)
        shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)
        notes.append(f"--force: removed the results of a different sweep from {out}")
    record = _read_record(out)
    if record is None:
        write_json(out / SWEEP, sweep_record(grid, settings))
    elif (stored := stored_grid(record)) != grid:
        notes.append(f"extending the sweep in {out} from {stored.describe()}")
        write_json(out / SWEEP, {**record, "grid": grid.to_json()})
    rows, dropped = read_results(out / RESULTS)
    if dropped:
        write_text(out / RESULTS, "".join(json.dumps(row) + "\n" for row in rows))
        notes.append(
            f"dropped the unfinished last line of {out / RESULTS} (a sweep stopped while "
            "writing it); that cell is taken up again"
        )
    for row in rows:
        cell_checkpoint(out, Cell(row["k"], row["m"])).unlink(missing_ok=True)
    return notes


# ---------------------------------------------------------------- where the cells run


@contextlib.contextmanager
def local_backend(workers: int) -> Iterator[str]:
    """joblib's loky processes, each with its share of the cores (1 worker: this process).

    `inner_max_num_threads` sets OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS …
    in the workers to this process's cores ÷ workers (threads.threads_per_worker: the
    affinity mask, so `taskset` counts, not the machine's cores), so the workers together
    use every core once: 1 thread each for 2 workers on 2 cores, 8 each on 16. A learner
    reads its share back (threads.available_cores) for its BLAS and its batch split;
    batches under 100 train on one thread whatever the share. Checked by tests/
    experiments/test_sweep.py::test_local_workers_share_the_cores (the variables are set
    before the worker imports numpy or torch, which read them once at start-up). With one
    worker joblib starts no pool and runs the cells here, one after another, with this
    process's own thread settings.
    """
    from joblib import parallel_config

    from mnistlab.threads import threads_per_worker

    threads = threads_per_worker(workers)
    with parallel_config(backend="loky", n_jobs=workers, inner_max_num_threads=threads):
        yield f"{workers} local worker{'s' if workers != 1 else ''}"


@contextlib.contextmanager
def dask_backend(address: str, timeout: float) -> Iterator[str]:
    """The same joblib code on a Dask cluster; an unreachable scheduler is a UserError.

    Dask's nannies start workers with OMP/MKL/OPENBLAS_NUM_THREADS=1 by default
    (distributed.nanny.pre-spawn-environ), and a learner sizes its BLAS and batch split
    from that (threads.available_cores); give them `--nthreads 1` for one cell per core.
    """
    from distributed import Client
    from joblib import parallel_config

    try:
        client = Client(address, timeout=f"{timeout}s", set_as_default=True)
    except (OSError, TimeoutError, ValueError) as exc:
        raise UserError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    try:
        n = len(client.scheduler_info().get("workers", {}))
        backend = _cluster_backend()
        with parallel_config(backend=backend, n_jobs=-1, wait_for_workers_timeout=timeout):
            yield f"Dask scheduler {address} ({n} worker{'s' if n != 1 else ''} now)"
    finally:
        client.close()


def _cluster_backend() -> str:
    """joblib's Dask backend, except that it never runs the cells in this process.

    joblib treats an effective n_jobs of 1 as "run sequentially here", and the Dask
    backend reports the cluster's thread count: on a one-thread cluster every cell would
    silently run on the client. Reporting at least 2 keeps them on the cluster (the
    scheduler queues what it cannot start yet).
    """
    from joblib import register_parallel_backend
    from joblib._dask import DaskDistributedBackend

    class ClusterBackend(DaskDistributedBackend):
        def effective_n_jobs(self, n_jobs: int | None) -> int:
            return max(super().effective_n_jobs(n_jobs), 2)

    register_parallel_backend(CLUSTER_BACKEND, ClusterBackend)
    return CLUSTER_BACKEND


def execute(
    cells: list[Cell], settings: SweepSettings, checkpoints: Path | None = None
) -> Iterator[dict[str, Any]]:
    """Result rows in the order cells finish, in whatever backend is configured; with
    `checkpoints` (the sweep directory, local runs) each cell checkpoints there."""
    from joblib import Parallel, delayed

    parallel = Parallel(return_as="generator_unordered", batch_size=1)
    parent = os.getpid()
    yield from parallel(
        delayed(run_cell_in_worker)(
            cell, settings, parent, cell_checkpoint(checkpoints, cell) if checkpoints else None
        )
        for cell in cells
    )


def run_cell_in_worker(
    cell: Cell, settings: SweepSettings, parent_pid: int, checkpoint: Path | None = None
) -> dict[str, Any]:
    """Ctrl-C is the parent's to handle: a worker process ignores SIGINT instead of dying
    with a traceback, and is shut down by the parent (which keeps the finished cells)."""
    if os.getpid() != parent_pid and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    return run_cell(cell, settings, checkpoint)


# ---------------------------------------------------------------- the whole sweep


@dataclass
class SweepOutcome:
    rows: list[dict[str, Any]]  # every finished cell, earlier runs' included
    ran: int  # cells this command ran
    total: int  # cells in the grid
    interrupted: bool = False
    where: str = ""


def run_sweep(
    grid: Grid,
    settings: SweepSettings,
    out: Path,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    connect_timeout: float = 10.0,
    force: bool = False,
    echo: Callable[[str], None] = print,
) -> SweepOutcome:
    """Run the cells `out` lacks; Ctrl-C stops early and keeps every finished cell.

    With `force`, a directory holding another sweep is emptied of it and started afresh.
    """
    for cell in grid.cells:  # every cell's model and config must be valid before any work
        settings.spec(cell)
        settings.train_config(cell)
    with locked(out):
        replace = force and another_sweep(out, grid, settings)
        return _run_locked(grid, settings, out, workers, scheduler, connect_timeout, echo, replace)


def _run_locked(
    grid: Grid,
    settings: SweepSettings,
    out: Path,
    workers: int,
    scheduler: str | None,
    connect_timeout: float,
    echo: Callable[[str], None],
    replace: bool,
) -> SweepOutcome:
    rows = check_out_dir(out, grid, settings, replace)
    done = {Cell(r["k"], r["m"]) for r in rows}
    # Largest first: a big cell started last would leave the other workers idle at the end.
    todo = sorted((c for c in grid.cells if c not in done), key=lambda c: -c.n_params)
    outcome = SweepOutcome(rows=rows, ran=0, total=len(grid))
    if scheduler is None and todo:
        settings = dataclasses.replace(settings, data_dir=_data_dir_for_workers(settings))
    backend = (
        local_backend(workers) if scheduler is None else dask_backend(scheduler, connect_timeout)
    )
    with backend as where:
        outcome.where = where
        for note in prepare_out_dir(out, grid, settings, replace):
            echo(note)
        if not todo:
            echo(f"all {len(grid)} cells of {grid.describe()} already finished in {out}")
            return outcome
        echo(
            f"sweep {grid.describe()}: {len(todo)} of {len(grid)} cells to run "
            f"({len(rows)} already finished) on {settings.backend}, {where}"
        )
        cut_off = [c for c in todo if cell_checkpoint(out, c).exists()]
        if cut_off and scheduler is None:
            echo(
                f"{len(cut_off)} cut-off cell{'s' if len(cut_off) != 1 else ''} "
                f"({', '.join(f'k={c.k} m={c.m}' for c in cut_off)}) resume from "
                f"{out / CHECKPOINTS}/"
            )
        try:
            _collect(todo, settings, out, outcome, len(rows), local=scheduler is None)
        except KeyboardInterrupt:
            outcome.interrupted = True
            # Ctrl-C may land between the append and the bookkeeping: the file is the truth.
            outcome.rows = _first_per_cell(read_results(out / RESULTS)[0])
    return outcome


def _data_dir_for_workers(settings: SweepSettings) -> str:
    """Find (or download, once) the data here, so local workers only read, never race."""
    from mnistlab.data.sources import locate

    return str(Path(locate(settings.dataset, settings.data_dir)).resolve())


def _collect(
    todo: list[Cell],
    settings: SweepSettings,
    out: Path,
    outcome: SweepOutcome,
    done: int,
    local: bool = True,
) -> None:
    from tqdm import tqdm

    results = out / RESULTS
    with (
        warnings.catch_warnings(),
        tqdm(total=outcome.total, initial=done, unit="cell", desc="sweep", disable=None) as bar,
    ):
        # After Ctrl-C the user is told what was kept; joblib's note on cancelled tasks is noise.
        warnings.filterwarnings("ignore", ".*tasks which were still being processed", UserWarning)
        # Cluster workers may not see this disk: only local cells checkpoint.
        for row in execute(todo, settings, out if local else None):
            append_row(results, row)
            cell_checkpoint(out, Cell(row["k"], row["m"])).unlink(missing_ok=True)
            outcome.rows.append(row)
            outcome.ran += 1
            bar.update(1)
            tqdm.write(_cell_line(row), file=sys.stdout)
    with contextlib.suppress(OSError):  # every cell done: no checkpoints left
        (out / CHECKPOINTS).rmdir()


def _cell_line(row: dict[str, Any]) -> str:
    return (
        f"k={row['k']} m={row['m']}: validation {row['val_acc']:.2%}, "
        f"test {row['test_acc']:.2%} (epoch {row['best_epoch']}), {row['seconds']:.1f} s"
    )


# ---------------------------------------------------------------- choosing and reporting


def n_params(row: dict[str, Any]) -> int:
    return Cell(row["k"], row["m"]).n_params


def choose_best(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Highest validation accuracy; ties → fewer parameters, then smaller k. Never test."""
    if not rows:
        raise ValueError("no finished cells to choose from")
    return min(rows, key=lambda r: (-r["val_acc"], n_params(r), r["k"]))


def sorted_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (r["k"], r["m"]))


def format_table(rows: list[dict[str, Any]], best: dict[str, Any] | None = None) -> str:
    """One line per cell; the test accuracy is the one at the best validation epoch."""
    lines = [
        f"{'k':>2} {'m':>5} {'params':>10} {'val acc':>8} {'test acc':>8} "
        f"{'best epoch':>10} {'seconds':>8}"
    ]
    for row in sorted_rows(rows):
        mark = "  ← best (by validation)" if best is not None and row is best else ""
        lines.append(
            f"{row['k']:>2} {row['m']:>5} {n_params(row):>10,} {row['val_acc']:>8.2%} "
            f"{row['test_acc']:>8.2%} {row['best_epoch']:>10} {row['seconds']:>8.1f}{mark}"
        )
    return "\n".join(lines)


def write_best(out: Path, best: dict[str, Any], grid: Grid, settings: SweepSettings) -> Path:
    """best.json: the chosen cell, how it was chosen, and the sweep it was chosen from."""
    data = {
        "k": best["k"],
        "m": best["m"],
        "params": n_params(best),
        "val_acc": best["val_acc"],
        "test_acc": best["test_acc"],
        "best_epoch": best["best_epoch"],
        "seconds": best["seconds"],
        "seed": best["seed"],
        "chosen_by": CHOSEN_BY,
        # As sweep.json records it: the data directory the cells actually read, say.
        "sweep": _read_record(out) or sweep_record(grid, settings),
    }
    write_json(out / BEST, data)
    return out / BEST
