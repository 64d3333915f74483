"""`mnistlab summary`: parameters, multiply-adds and FLOPs per layer of a model."""

from __future__ import annotations

import argparse
import json

from mnistlab.commands import common


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("summary", help="parameters and FLOPs per layer", description=__doc__)
    p.add_argument(
        "model_file",
        nargs="?",
        metavar="MODEL_FILE",
        help="a saved model (else the architecture the flags describe)",
    )
    common.add_model_flags(p, defaults=False, file_optional=True)
    p.add_argument(
        "--json",
        action="store_true",
        help='print {"params": ..., "macs": ..., "flops": ..., "layers": [...]}',
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mnistlab.models.modelfile import check_matches, load_model
    from mnistlab.models.summary import format_summary, summarize

    if args.model_file:
        model = load_model(args.model_file)
        check_matches(model, common.model_flags(args), args.model_file)
        spec = model.spec
    else:
        spec = common.spec_from_args(args)
    summary = summarize(spec)
    if args.json:
        print(json.dumps(summary))
    else:
        print(spec.describe())
        print(format_summary(summary))
    return 0
