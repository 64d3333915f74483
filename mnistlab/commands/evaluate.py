"""`mnistlab evaluate MODEL_FILE`: test accuracy of a saved model, on either backend."""

from __future__ import annotations

import argparse
import json

import numpy as np

from mnistlab.commands import common


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="score a saved model on the test set", description=__doc__)
    p.add_argument("model_file", metavar="MODEL_FILE")
    common.add_backend_flag(p)
    common.add_model_flags(p, defaults=False)
    common.add_data_flags(p)
    p.add_argument(
        "--json", action="store_true", help='print {"test_acc": ..., "per_class": [...]}'
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mnistlab.backends import make_learner
    from mnistlab.config import TrainConfig
    from mnistlab.data.mnist import load_splits
    from mnistlab.evaluation import per_class_accuracy
    from mnistlab.models.modelfile import check_matches, load_model

    model = load_model(args.model_file)
    if common.model_flags_given(args):
        check_matches(model, common.spec_from_args(args), args.model_file)
    splits = load_splits(args.dataset, args.data_dir)
    learner = make_learner(args.backend, model.spec, TrainConfig(), len(splits.train), model.params)
    pred = learner.logits(splits.test.x).argmax(axis=1)
    test_acc = float(np.mean(pred == splits.test.y))
    per_class = per_class_accuracy(splits.test.y, pred)
    if args.json:
        print(json.dumps({"test_acc": test_acc, "per_class": per_class}))
        return 0
    print(
        f"{model.spec.describe()} on {args.backend}: test accuracy {test_acc:.2%} "
        f"({int(np.sum(pred == splits.test.y)):,} of {len(pred):,})"
    )
    for digit, acc in enumerate(per_class):
        print(f"  {digit}: {acc:7.2%}")
    return 0
