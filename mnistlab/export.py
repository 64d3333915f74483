"""A trained network as an ONNX file: ONNX Runtime, and anything else that reads ONNX, runs it.

The graph is written node by node with `onnx.helper` from the model file's tensors, not
traced from a PyTorch module: the model file is the same whichever backend trained it,
so this needs no torch, exports NumPy-trained networks as they are, and the graph holds
exactly the layers of `numpy_version` and `pytorch_version` (Gemm with transB=1 reads the
(out, in) weights as stored). `torch.onnx.export` would need a torch module and, on its
current (dynamo) path, the onnxscript package as well.

Opset 17 (ONNX 1.12, 2022) with the IR version that opset needs (8): every operator used
(Flatten, Gemm, Conv, MaxPool, Relu, Tanh, Sigmoid, Softmax) has had its float semantics
since opset 13 or 14, so a newer opset would change nothing in the graph and only shut
out older runtimes.

One input, `images` (N, 1, 28, 28) float32, N free (a dynamic batch); two outputs,
`logits` (N, 10) and `probabilities` (their softmax). What the input must hold is written
into the file's metadata (`metadata_props`, see `metadata`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mnistlab.data.sources import class_names
from mnistlab.errors import UserError
from mnistlab.fileio import write_bytes
from mnistlab.models.modelfile import ModelFile
from mnistlab.models.spec import IMAGE_SIDE, N_CLASSES, ConvNetSpec, LeNet5Spec, MLPSpec
from mnistlab.runinfo import software

if TYPE_CHECKING:
    import onnx

OPSET = 17
INPUT, LOGITS, PROBABILITIES = "images", "logits", "probabilities"
BATCH = "N"  # the name of the free batch dimension
CHECK_IMAGES = 256  # random images ONNX Runtime and the NumPy network must agree on
TOLERANCE = 1e-4  # the largest |logit difference| allowed, float32 against float32
ACTIVATION_OPS = {"relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid"}
PREPROCESSING = (
    "images: float32 (N, 1, 28, 28), pixel values divided by 255 into [0, 1], light ink "
    "(1.0) on a black background (0.0), as in the dataset's IDX files; no mean or standard "
    "deviation is subtracted. A photo or drawing of a digit must first be made MNIST-style: "
    "greyscale, inverted if the ink is darker than the paper, cropped to the ink, the longer "
    "side scaled to 20 pixels keeping the aspect ratio, pasted into 28×28 with its centre of "
    "mass at the centre (mnistlab.data.images.preprocess, what `mnistlab predict` does)."
)


def require_onnx() -> Any:
    """The onnx module, or one line saying how to install it."""
    try:
        import onnx
    except ImportError:
        raise UserError(
            "ONNX export needs the onnx package: pip install 'mnistlab[export]'"
        ) from None
    return onnx


def metadata(model: ModelFile) -> dict[str, str]:
    """What the file says about itself: input, preprocessing, classes, origin."""
    dataset = model.dataset or "mnist"
    return {
        "mnistlab.input": f"{INPUT}: float32 ({BATCH}, 1, {IMAGE_SIDE}, {IMAGE_SIDE})",
        "mnistlab.preprocessing": PREPROCESSING,
        "mnistlab.outputs": f"{LOGITS}: ({BATCH}, 10) pre-softmax scores; "
        f"{PROBABILITIES}: ({BATCH}, 10) their softmax; class i is classes[i]",
        "mnistlab.classes": json.dumps(list(class_names(dataset))),
        "mnistlab.dataset": dataset,
        "mnistlab.architecture": json.dumps(model.spec.to_json()),
        "mnistlab.description": model.spec.describe(),
        "mnistlab.trained": json.dumps(model.info),
        "mnistlab.software": json.dumps(model.software or {}),
    }


class GraphBuilder:
    """Nodes and initializers in order; each `add` returns the name of its output."""

    def __init__(self, onnx: Any, params: dict[str, np.ndarray]) -> None:
        self.onnx, self.helper = onnx, onnx.helper
        self.params = params
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.count = 0

    def add(self, op: str, inputs: list[str], output: str | None = None, **attrs: Any) -> str:
        self.count += 1
        output = output or f"{op.lower()}_{self.count}"
        self.nodes.append(self.helper.make_node(op, inputs, [output], **attrs))
        return output

    def weight(self, name: str) -> str:
        """The parameter `name` as a float32 initializer of that name."""
        array = np.ascontiguousarray(self.params[name], dtype=np.float32)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def dense(self, x: str, layer: str, output: str | None = None) -> str:
        """x Wᵀ + b, with W stored (out, in) as both backends keep it."""
        w, b = self.weight(f"{layer}.weight"), self.weight(f"{layer}.bias")
        return self.add("Gemm", [x, w, b], output, transB=1)

    def conv(self, x: str, layer: str, pad: int = 0) -> str:
        w, b = self.weight(f"{layer}.weight"), self.weight(f"{layer}.bias")
        k = list(self.params[f"{layer}.weight"].shape[2:])
        return self.add("Conv", [x, w, b], kernel_shape=k, pads=[pad] * 4, strides=[1, 1])

    def pool(self, x: str) -> str:
        return self.add("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])


def network_nodes(g: GraphBuilder, spec: Any) -> None:
    """The layers of `spec` from INPUT to LOGITS, as `numpy_version` computes them."""
    if isinstance(spec, MLPSpec):
        act = ACTIVATION_OPS[spec.activation]
        x = g.add("Flatten", [INPUT], axis=1)
        last = len(spec.hidden)
        for i in range(last):
            x = g.add(act, [g.dense(x, f"layers.{i}")])
        g.dense(x, f"layers.{last}", LOGITS)
    elif isinstance(spec, LeNet5Spec):
        act = ACTIVATION_OPS[spec.activation]
        x = g.pool(g.add(act, [g.conv(INPUT, "conv1", pad=2)]))
        x = g.pool(g.add(act, [g.conv(x, "conv2")]))
        x = g.add("Flatten", [g.add(act, [g.conv(x, "conv3")])], axis=1)
        g.dense(g.add(act, [g.dense(x, "fc1")]), "fc2", LOGITS)
    elif isinstance(spec, ConvNetSpec):  # pooling before ReLU, as ConvNetSpec says
        x = g.add("Relu", [g.pool(g.conv(INPUT, "conv1"))])
        x = g.add("Relu", [g.pool(g.conv(x, "conv2"))])
        x = g.add("Relu", [g.dense(g.add("Flatten", [x], axis=1), "fc1")])
        g.dense(x, "fc2", LOGITS)
    else:
        raise TypeError(f"no ONNX graph for {spec!r}")


def onnx_model(model: ModelFile) -> onnx.ModelProto:
    """The network in `model` as a checked ONNX model (opset OPSET, dynamic batch)."""
    onnx = require_onnx()
    helper = onnx.helper
    g = GraphBuilder(onnx, model.params)
    network_nodes(g, model.spec)
    g.add("Softmax", [LOGITS], PROBABILITIES, axis=1)
    float32 = onnx.TensorProto.FLOAT
    image = helper.make_tensor_value_info(INPUT, float32, [BATCH, 1, IMAGE_SIDE, IMAGE_SIDE])
    image.doc_string = PREPROCESSING
    outputs = [
        helper.make_tensor_value_info(name, float32, [BATCH, N_CLASSES])
        for name in (LOGITS, PROBABILITIES)
    ]
    graph = helper.make_graph(
        g.nodes, model.spec.name, [image], outputs, initializer=g.initializers
    )
    opsets = [helper.make_opsetid("", OPSET)]
    proto = helper.make_model(
        graph,
        opset_imports=opsets,
        ir_version=helper.find_min_ir_version_for(opsets),
        producer_name="mnistlab",
        producer_version=str(software()["version"]),
        doc_string=f"{model.spec.describe()} trained by mnistlab. {PREPROCESSING}",
    )
    helper.set_model_props(proto, metadata(model))
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export_onnx(model: ModelFile, path: str | os.PathLike[str], *, check: bool = True) -> Path:
    """Write `model` as an ONNX file at `path` (atomically) and return the path.

    With `check`, ONNX Runtime first runs the graph on CHECK_IMAGES random images and must
    agree with the NumPy network to TOLERANCE, or nothing is written (UserError)."""
    data = onnx_model(model).SerializeToString()
    if check:
        agreement(model, data)
    path = Path(path)
    write_bytes(path, data)
    return path


def agreement(model: ModelFile, onnx_file: bytes | str | os.PathLike[str]) -> float:
    """The largest |logit difference| between ONNX Runtime running `onnx_file` and the NumPy
    network of `model` on CHECK_IMAGES random images; UserError beyond TOLERANCE."""
    from mnistlab.backends import make_learner
    from mnistlab.config import TrainConfig

    x = np.random.default_rng(0).random((CHECK_IMAGES, IMAGE_SIDE, IMAGE_SIDE), np.float32)
    expected = make_learner("numpy", model.spec, TrainConfig(), 1, model.params).logits(x)
    worst = float(np.max(np.abs(onnx_logits(onnx_session(onnx_file), x) - expected)))
    if not worst < TOLERANCE:
        raise UserError(
            f"ONNX Runtime differs from the NumPy network by {worst:.2e} (more than "
            f"{TOLERANCE:g}): the ONNX file was not written"
        )
    return worst


def onnx_session(onnx_file: bytes | str | os.PathLike[str], threads: int = 0) -> Any:
    """An ONNX Runtime CPU session for an ONNX file's path or bytes (`threads` 0: ONNX
    Runtime's default, one per core)."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise UserError(
            "running ONNX files needs onnxruntime: pip install 'mnistlab[export]'"
        ) from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    source = onnx_file if isinstance(onnx_file, bytes) else str(onnx_file)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def onnx_logits(session: Any, x: np.ndarray) -> np.ndarray:
    """Logits (N, 10) from an ONNX Runtime session for images (N, 28, 28) or similar."""
    images = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, 1, IMAGE_SIDE, IMAGE_SIDE)
    return session.run([LOGITS], {INPUT: images})[0]
