"""`mnistlab evaluate MODEL_FILE`: test accuracy of a saved model, on either backend.

The architecture and the dataset come from the model file; flags only check them. Either
backend runs a model that either one trained.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

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
    from mnistlab.backends import make_learner
    from mnistlab.config import TrainConfig
    from mnistlab.data.mnist import load_splits
    from mnistlab.data.sources import class_names, get_dataset
    from mnistlab.evaluation import per_class_accuracy
    from mnistlab.models.modelfile import check_dataset, check_matches, load_model
    from mnistlab.runinfo import describe_software

    model = load_model(args.model_file)
    check_matches(model, common.model_flags(args), args.model_file)
    dataset = check_dataset(model, args.dataset, args.allow_dataset_mismatch, args.model_file)
    splits = load_splits(dataset, args.data_dir)
    learner = make_learner(args.backend, model.spec, TrainConfig(), len(splits.train), model.params)
    pred = learner.logits(splits.test.x).argmax(axis=1)
    test_acc = float(np.mean(pred == splits.test.y))
    per_class = per_class_accuracy(splits.test.y, pred)
    if args.json:
        written_by = model.software or {}
        result = {"dataset": dataset, "test_acc": test_acc, "per_class": per_class}
        print(json.dumps({**result, "mnistlab": written_by}))
        return 0
    print(
        f"{model.spec.describe()} on {args.backend}: {get_dataset(dataset).label} test accuracy "
        f"{test_acc:.2%} ({int(np.sum(pred == splits.test.y)):,} of {len(pred):,})"
    )
    names = class_names(dataset)  # "7", or "Ankle boot" for Fashion-MNIST
    width = max(len(name) for name in names)
    for name, acc in zip(names, per_class, strict=True):
        print(f"  {name:>{width}}: {acc:7.2%}")
    print(f"trained with {describe_software(model.software)}")
    return 0
