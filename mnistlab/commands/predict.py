"""`mnistlab predict MODEL_FILE IMAGE...`: what a saved network reads in your own images.

Each image (PNG, JPEG, BMP, GIF, WebP; a directory means every image in it) is made
MNIST-style — greyscale, light ink on black, cropped, longer side 20 pixels, centred by
centre of mass in 28×28 — and classified. One line per image: the file, the digit, its
probability and the runner-up. An image that cannot be read is one line on stderr; the
others are still predicted, and the exit code is 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from mnistlab.commands import common
from mnistlab.errors import UserError

if TYPE_CHECKING:
    from mnistlab.inference import Prediction, Predictor


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="read digits in your own image files with a saved model",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model_file", metavar="MODEL_FILE", help="a model.safetensors from train")
    p.add_argument("images", metavar="IMAGE", nargs="+", help="image files, or directories of them")
    common.add_backend_flag(p)
    p.add_argument(
        "--json",
        action="store_true",
        help='print a list of {"file", "digit", "label", "probabilities": [10 floats]}',
    )
    p.add_argument(
        "--show",
        metavar="OUT.png",
        default=None,
        help="draw each image, the 28×28 the network saw and its probabilities",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mnistlab.inference import Predictor

    predictor = Predictor.from_file(args.model_file, args.backend)  # a bad model file stops here
    results: list[tuple[Path, Prediction]] = []
    failed = False
    for path in each_image(args.images):
        try:
            prediction = predict_file(predictor, path)
        except UserError as exc:
            print(f"mnistlab predict: error: {exc}", file=sys.stderr, flush=True)
            failed = True
            continue
        results.append((path, prediction))
        if not args.json:
            print(format_line(path, prediction, predictor.classes), flush=True)
    if args.json:
        rows = (json.dumps(as_json(path, p)) for path, p in results)  # one image a line
        print("[\n " + ",\n ".join(rows) + "\n]" if results else "[]")
    if args.show and results:
        from mnistlab.plots.predictions import plot_predictions

        plot_predictions([(path.name, p) for path, p in results], predictor.classes, args.show)
        if not args.json:
            print(f"figure saved in {args.show}")
    return 2 if failed else 0


def each_image(given: list[str]) -> Iterator[Path | UserError]:
    """Every file to read; a directory with no images yields its error in its place."""
    from mnistlab.data.images import image_files

    for item in given:
        try:
            yield from image_files(item)
        except UserError as exc:
            yield exc


def predict_file(predictor: Predictor, path: Path | UserError) -> Prediction:
    from mnistlab.data.images import preprocess_file

    if isinstance(path, UserError):
        raise path
    return predictor.predict_prepared(preprocess_file(path))


def format_line(path: Path, p: Prediction, classes: list[str]) -> str:
    """`path: 7 (98.1%), runner-up 9 (1.2%)`; no runner-up when it would show as 0.0%."""
    second = p.runner_up
    line = f"{path}: {p.label} ({p.probabilities[p.digit]:.1%})"
    shown = f"{p.probabilities[second]:.1%}"
    return line if shown == "0.0%" else f"{line}, runner-up {classes[second]} ({shown})"


def as_json(path: Path, p: Prediction) -> dict[str, object]:
    return {
        "file": str(path),
        "digit": p.digit,
        "label": p.label,
        "probabilities": [round(float(v), 6) for v in p.probabilities],
    }
