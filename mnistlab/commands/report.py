"""`mnistlab report`: run every experiment of the lab that DIR lacks, and write it up.

Writes DIR/report.md with its figures in DIR/figures/, and DIR/report.html, the same
report as one self-contained file. Finished work is reused: the k × m sweep resumes from
DIR/sweep/results.jsonl, and every other run directory is kept once finished, so running
the command again only redraws the figures and rewrites the text. The full report took
about 25 minutes on this project's 2-core machine (the 18-cell sweep alone 14.5). --quick
is a small version whose numbers are not the lab's results: measured 37 s on 2 cores
(71 s while the machine ran other work at load 12), 8-12 s when run again. Open
DIR/report.html in a browser: it is one file, figures included.
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


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="run the lab's experiments and write the report", description=__doc__
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
        help="a small version (4 cells, 5,000 images, 2 epochs; LeNet-5 1 epoch): about 40 s "
        "on 2 free cores, ~10 s when run again; its numbers are not the lab's",
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


def run(args: argparse.Namespace) -> int:
    from mnistlab.experiments import report

    out = Path(args.out)
    check_writable_dir(out)
    workers = args.workers if args.workers is not None else available_cores()
    if workers < 1:
        raise UserError(f"--workers must be at least 1, got {workers}")
    plan = plan_from_args(args)
    start = time.perf_counter()
    report.build_report(out, plan, dataset=args.dataset, data_dir=args.data_dir, workers=workers)
    print(
        f"wrote {out / report.REPORT_MD}, {out / report.REPORT_HTML} and "
        f"{out / report.FIGURES}/ in {time.perf_counter() - start:.0f} s"
    )
    print(f"open it in a browser: {(out / report.REPORT_HTML).resolve().as_uri()}")
    return 0
