"""`mnistlab evaluate MODEL_FILE`: test accuracy of a saved model, on either backend.

The architecture and the dataset come from the model file; flags only check them. Either
backend runs a model that either one trained.
"""

from __future__ import annotations

import argparse
import json

from mnistlab.commands import common


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="score a saved model on the test set", description=__doc__)
    p.add_argument(
        "model_file",
        metavar="MODEL_FILE",
        help="a model.safetensors written by train, compare or report",
    )
    common.add_backend_flag(
        p,
        what="run the model in numpy or torch; either runs a file that either one trained "
        "(default: numpy)",
    )
    common.add_model_flags(p, defaults=False)
    common.add_data_flags(p, from_model=True)
    p.add_argument(
        "--json",
        action="store_true",
        help='print {"dataset": ..., "test_acc": ..., "per_class": [...]}',
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mnistlab.api.models import evaluate, load_model
    from mnistlab.data.sources import get_dataset
    from mnistlab.runinfo import describe_software

    model = load_model(args.model_file, args.backend)
    result = evaluate(
        model,
        expect=common.model_flags(args),
        dataset=args.dataset,
        data_dir=args.data_dir,
        allow_dataset_mismatch=args.allow_dataset_mismatch,
    )
    if args.json:
        written_by = model.model.software or {}
        summary = {"dataset": result.dataset, "test_acc": result.accuracy}
        print(json.dumps({**summary, "per_class": result.per_class, "mnistlab": written_by}))
        return 0
    print(
        f"{model.spec.describe()} on {args.backend}: {get_dataset(result.dataset).label} test "
        f"accuracy {result.accuracy:.2%} ({result.correct:,} of {len(result.labels):,})"
    )
    for digit, acc in enumerate(result.per_class):
        print(f"  {digit}: {acc:7.2%}")
    print(f"trained with {describe_software(model.model.software)}")
    return 0
