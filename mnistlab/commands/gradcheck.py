"""`mnistlab gradcheck`: backpropagation against centred differences, in float64."""

from __future__ import annotations

import argparse
import json

TOLERANCE = 1e-6


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "gradcheck", help="check backprop against numerical gradients", description=__doc__
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seeds the small random networks and inputs that are checked (default: 0)",
    )
    p.add_argument("--json", action="store_true", help='print {"max_rel_error": ...}')
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mnistlab.numpy_version.gradcheck import check_gradients

    result = check_gradients(seed=args.seed)
    worst = result["max_rel_error"]
    if args.json:
        print(json.dumps({"max_rel_error": worst, "cases": result["cases"]}))
    else:
        for case in result["cases"]:
            print(
                f"  {case['activation']:8s} hidden {case['hidden']!s:12s} "
                f"max relative error {case['max_rel_error']:.2e}"
            )
        verdict = "ok" if worst <= TOLERANCE else f"FAILED (above {TOLERANCE:g})"
        print(f"worst relative error {worst:.2e}: {verdict}")
    return 0 if worst <= TOLERANCE else 1
