"""`mnistlab export MODEL_FILE --onnx OUT.onnx`: a saved network for ONNX Runtime and others.

Any model file (MLP, LeNet-5 or the convnet, trained on either backend) becomes an ONNX
file, opset 17, input `images` float32 (N, 1, 28, 28) with a free batch size N, outputs
`logits` and `probabilities` (N, 10). The preprocessing the network expects, its classes
and where it came from are in the file's metadata. Before it is written, the graph is
checked with onnx.checker and run in ONNX Runtime on 256 random images against the NumPy
network. Needs `pip install 'mnistlab[export]'`.
"""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="write a saved model as an ONNX file",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model_file", metavar="MODEL_FILE", help="a model.safetensors from train")
    p.add_argument("--onnx", metavar="OUT.onnx", required=True, help="where to write the ONNX file")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mnistlab.api.models import export_onnx, load_model
    from mnistlab.export import CHECK_IMAGES, OPSET, require_onnx

    require_onnx()  # before reading anything: one line if the extra is missing
    model = load_model(args.model_file)
    path = export_onnx(model, args.onnx)
    print(
        f"wrote {path}: {model.spec.describe()}, ONNX opset {OPSET}, input images float32 "
        "(N, 1, 28, 28) in [0, 1], outputs logits and probabilities (N, 10); ONNX Runtime "
        f"agreed with the NumPy network on {CHECK_IMAGES} random images"
    )
    return 0
