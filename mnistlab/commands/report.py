"""`mnistlab report`: run every experiment of the lab that DIR lacks, and write it up.

Writes DIR/report.md with its figures in DIR/figures/, and DIR/report.html, the same
report as one self-contained file. Finished work is reused: the k × m sweep resumes from
DIR/sweep/results.jsonl, and every other run directory is kept once finished, so running
the command again only redraws the figures and rewrites the text. --quick is a small
version whose numbers are not the lab's results. Open DIR/report.html in a browser: it
is one file, figures included.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from mnistlab.commands import common
from mnistlab.errors import UserError
from mnistlab.fileio import check_writable_dir
from mnistlab.threads import available_cores

if TYPE_CHECKING:  # the report machinery (matplotlib, joblib) loads only when it runs
    from mnistlab.experiments.report_plan import ReportPlan


def timing() -> str:
    """How long a report takes, from the same estimate the command prints before it runs."""
    from mnistlab.experiments import report_plan
    from mnistlab.experiments.estimate import duration

    sweep, full = report_plan.report_seconds(report_plan.full_plan(), 2)
    _, quick = report_plan.report_seconds(report_plan.quick_plan(), 2)
    return (
        f"On 2 idle cores the full report takes about {duration(full)[1:]} (its k × m sweep "
        f"{duration(sweep)[1:]}), --quick about {duration(quick)[1:]}; a busy machine takes "
        "longer. The command prints its own estimate before it starts."
    )


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="run the lab's experiments and write the report",
        description=f"{__doc__}\n{timing()}",
    )
    p.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="report directory: runs, report.md, figures/, report.html",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="a small version (4 cells, 5,000 images, 2 epochs; LeNet-5 1 epoch); its "
        "numbers are not the lab's",
    )
    common.add_data_flags(p)
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="sweep worker processes (default: number of cores)",
    )
    # Knobs for tests and experiments, left out of --help: they make a report that is
    # neither the lab's nor the standard quick one.
    hidden = argparse.SUPPRESS
    p.add_argument("--k", default=None, help=hidden)
    p.add_argument("--m", default=None, help=hidden)
    p.add_argument("--epochs", type=int, default=None, help=hidden)
    p.add_argument("--limit-train", type=int, default=None, help=hidden)
    p.add_argument("--lenet-epochs", type=int, default=None, help=hidden)
    p.set_defaults(run=run)


def plan_from_args(args: argparse.Namespace) -> ReportPlan:
    from mnistlab.experiments import report_plan
    from mnistlab.experiments.grid import parse_k, parse_m

    plan = report_plan.quick_plan() if args.quick else report_plan.full_plan()
    return report_plan.override(
        plan,
        ks=tuple(parse_k(args.k)) if args.k is not None else None,
        ms=tuple(parse_m(args.m)) if args.m is not None else None,
        epochs=args.epochs,
        limit_train=args.limit_train,
        lenet_epochs=args.lenet_epochs,
    )


def estimate_line(plan: ReportPlan, workers: int) -> str:
    from mnistlab.experiments import report_plan
    from mnistlab.experiments.estimate import duration

    sweep, total = report_plan.report_seconds(plan, workers)
    return (
        f"report: {'quick' if plan.quick else 'full'} plan, about {duration(total)[1:]} on an idle "
        f"machine with {workers} cores (the sweep {duration(sweep)[1:]}); finished runs are reused"
    )


def run(args: argparse.Namespace) -> int:
    from mnistlab.experiments import report

    out = Path(args.out)
    check_writable_dir(out)
    workers = args.workers if args.workers is not None else available_cores()
    if workers < 1:
        raise UserError(f"--workers must be at least 1, got {workers}")
    plan = plan_from_args(args)
    print(estimate_line(plan, workers), flush=True)
    start = time.perf_counter()
    report.build_report(out, plan, dataset=args.dataset, data_dir=args.data_dir, workers=workers)
    print(
        f"wrote {out / report.REPORT_MD}, {out / report.REPORT_HTML} and "
        f"{out / report.FIGURES}/ in {time.perf_counter() - start:.0f} s"
    )
    print(f"open it in a browser: {(out / report.REPORT_HTML).resolve().as_uri()}")
    return 0
