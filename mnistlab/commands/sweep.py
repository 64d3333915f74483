"""`mnistlab sweep`: train a k × m grid of MLPs in parallel and pick the best by validation.

Each cell (k hidden layers of m neurons) is a full lab-protocol run with its own seed.
DIR/sweep.json records the grid and the settings; finished cells are appended to
DIR/results.jsonl as they arrive, so an interrupted sweep resumes when the same command
is run again, and a finished one grows when run again with more k or m values (same
settings): only the new cells train. The best cell is the one with the highest
VALIDATION accuracy (ties: fewer parameters, then smaller k), written to DIR/best.json;
its test accuracy is reported, never used to choose. Takes the train flags except
--model and --hidden: --k and --m give the architectures.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path
from typing import Any

from mnistlab.commands import common
from mnistlab.data.splits import N_TRAIN
from mnistlab.errors import UserError
from mnistlab.experiments import sweep  # light: joblib, Dask and tqdm load when a sweep runs
from mnistlab.experiments.grid import Grid, parse_grid
from mnistlab.experiments.sweep import (
    DEFAULT_BATCH,
    DEFAULT_EPOCHS,
    DEFAULT_K,
    DEFAULT_M,
    SweepSettings,
)
from mnistlab.models.spec import ACTIVATIONS
from mnistlab.threads import available_cores


def timing() -> str:
    """The defaults and how long they take, from the estimate `report` prints too."""
    from mnistlab.experiments.estimate import duration
    from mnistlab.experiments.report_plan import sweep_seconds

    grid = parse_grid(DEFAULT_K, DEFAULT_M)
    cells = len(grid)
    seconds = sweep_seconds(grid.ks, grid.ms, SweepSettings(), workers=2)
    return (
        f"Defaults: {DEFAULT_EPOCHS} epochs of batch {DEFAULT_BATCH} per cell; the default "
        f"{cells}-cell sweep (numpy, 2 workers) takes about {duration(seconds)[1:]} on 2 idle "
        "cores (a busy machine takes longer; the slowest cell is k=3, m=512). Batch 20 "
        "learns as fast per epoch as batch 10 here at half the cost. Results go to "
        "DIR/results.jsonl as cells finish; Ctrl-C keeps them and the same command resumes."
    )


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep",
        help="train a k × m grid of MLPs in parallel, resumably",
        description=__doc__,
        epilog=timing(),
    )
    common.add_backend_flag(p)
    p.add_argument(
        "--k",
        default=DEFAULT_K,
        help=f"hidden-layer counts, comma-separated, each 1 to 3 (default: {DEFAULT_K})",
    )
    p.add_argument(
        "--m",
        default=DEFAULT_M,
        help="neurons per hidden layer: a comma list and/or inclusive ranges start:stop:step, "
        f"e.g. 16,32,100:300:100 (default: {DEFAULT_M})",
    )
    p.add_argument(
        "--activation",
        default="relu",
        choices=ACTIVATIONS,
        help="hidden-layer activation of every cell (default: relu)",
    )
    common.add_train_flags(p, epochs=DEFAULT_EPOCHS)
    _override_default(p, "batch_size", DEFAULT_BATCH)
    for dest in ("lr", "optimizer", "momentum"):
        _override_default(p, dest, getattr(common.DEFAULTS, dest))
    _override_default(p, "l2", common.DEFAULTS.l2)  # a sweep trains MLPs only
    _override_default(p, "lr_decay", common.DEFAULTS.lr_decay)
    common.add_data_flags(p)
    p.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="sweep directory: results.jsonl, best.json, figures; rerun the same command "
        "with the same DIR to resume",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="local worker processes, each with cores ÷ N BLAS threads; 1 runs the cells in "
        "this process (default: number of cores)",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="run the cells on this Dask scheduler's workers instead of local processes; "
        "they read the data from --data-dir, else from their own $MNISTLAB_DATA",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace the results of a different sweep in DIR instead of refusing "
        "(a larger grid with the same settings extends DIR without it)",
    )
    # The grid decides every cell's architecture: these train flags are refused with a
    # pointer to --k/--m instead of argparse's "unrecognized arguments".
    p.add_argument("--model", default=None, help=argparse.SUPPRESS)
    p.add_argument("--hidden", default=None, help=argparse.SUPPRESS)
    p.add_argument(
        "--connect-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how long to try reaching --scheduler (default: 10)",
    )
    p.set_defaults(run=run)


def _override_default(p: argparse.ArgumentParser, dest: str, value: object) -> None:
    """A shared flag with the sweep's own default, its help text saying so."""
    for action in p._actions:
        if action.dest == dest:
            action.help = re.sub(r"\(default: [^)]*\)", f"(default: {value})", action.help or "")
    p.set_defaults(**{dest: value})


def settings_from_args(args: argparse.Namespace) -> SweepSettings:
    return SweepSettings(
        backend=args.backend,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        lr_decay=args.lr_decay,
        l2=args.l2,
        optimizer=args.optimizer,
        momentum=args.momentum,
        activation=args.activation,
        limit_train=args.limit_train,
        dataset=args.dataset,
        data_dir=args.data_dir,
        seed=args.seed,
        dtype=args.dtype,
    )


def _workers(args: argparse.Namespace) -> int:
    workers = args.workers if args.workers is not None else available_cores()
    if workers < 1:
        raise UserError(f"--workers must be at least 1, got {workers}")
    if args.scheduler is not None and args.workers is not None:
        raise UserError("--workers is for local runs; with --scheduler the cluster decides")
    return workers


def check_architecture_flags(args: argparse.Namespace) -> None:
    if args.model not in (None, "mlp"):
        raise UserError(
            f"--model {args.model}: a sweep trains MLPs of k hidden layers of m neurons; "
            "for LeNet-5 use train or compare"
        )
    if args.hidden is not None:
        raise UserError(
            f"--hidden {args.hidden}: a sweep's widths come from --k and --m "
            "(k hidden layers of m neurons each)"
        )


def run(args: argparse.Namespace) -> int:
    check_architecture_flags(args)
    grid = parse_grid(args.k, args.m)  # bad flags fail here, before anything is touched
    workers = _workers(args)
    if args.limit_train is not None and not 1 <= args.limit_train <= N_TRAIN:
        raise UserError(f"--limit-train must be 1 to {N_TRAIN:,}, got {args.limit_train}")
    if not args.connect_timeout > 0:
        raise UserError(f"--connect-timeout must be positive, got {args.connect_timeout}")
    settings = settings_from_args(args)
    out = Path(args.out)
    start = time.perf_counter()
    outcome = sweep.run_sweep(
        grid,
        settings,
        out,
        workers=workers,
        scheduler=args.scheduler,
        connect_timeout=args.connect_timeout,
        force=args.force,
    )
    elapsed = time.perf_counter() - start
    if outcome.interrupted:
        print(
            f"mnistlab sweep: interrupted; {len(outcome.rows)} of {outcome.total} cells "
            f"finished and kept in {out / sweep.RESULTS}. Re-run the same command to "
            "resume with the missing cells.",
            file=sys.stderr,
        )
        return 130
    report(outcome.rows, grid, settings, out, outcome.ran, elapsed)
    return 0


def report(
    rows: list[dict[str, Any]],
    grid: Grid,
    settings: SweepSettings,
    out: Path,
    ran: int,
    elapsed: float,
) -> None:
    """Table, best cell (by validation) to best.json, and the three figures."""
    from mnistlab.plots.sweep import plot_sweep  # matplotlib: only when there is a table

    best = sweep.choose_best(rows)
    print(sweep.format_table(rows, best))
    sweep.write_best(out, best, grid, settings)
    figures = plot_sweep(rows, out)
    print(
        f"best (by validation accuracy): k={best['k']}, m={best['m']} "
        f"({sweep.n_params(best):,} parameters): validation {best['val_acc']:.2%}, "
        f"test {best['test_acc']:.2%} at epoch {best['best_epoch']}"
    )
    print(
        f"ran {ran} of {len(rows)} cells in {elapsed:.0f} s; wrote {out}/"
        f"{{{sweep.RESULTS}, {sweep.BEST}, {', '.join(f.name for f in figures)}}}"
    )
