"""Trained networks from Python: load one, read arrays or image files with it, score it.

`Model` is the `Predictor` that `mnistlab predict` and `serve` use, with what a notebook
wants on top: logits, classes and probabilities for whole arrays, an `Evaluation`, its
figures, saving and ONNX export. `evaluate` is what `mnistlab evaluate` computes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mnistlab.data.splits import Split, Splits
from mnistlab.errors import UserError
from mnistlab.evaluation import Evaluation
from mnistlab.inference import Prediction, Predictor
from mnistlab.models.modelfile import check_dataset, check_matches
from mnistlab.models.modelfile import load_model as load_model_file
from mnistlab.models.spec import ModelSpec, first_weights

if TYPE_CHECKING:
    from mnistlab.plots import Figure

PathLike = str | os.PathLike[str]


class Model(Predictor):
    """A trained network, run on `backend` ("numpy" needs no torch, or "torch").

    Its parameters are NumPy arrays under PyTorch's names (`model.params`), its training
    record is `model.info`, and `model.classes` names its ten outputs.
    """

    path: Path | None = None  # the file it was read from, if any

    @property
    def spec(self) -> ModelSpec:
        """The architecture (MLPSpec, LeNet5Spec or ConvNetSpec)."""
        return self.model.spec

    @property
    def params(self) -> dict[str, np.ndarray]:
        """The parameter arrays by name, weights (out, in[, kh, kw]) as PyTorch keeps them."""
        return self.model.params

    @property
    def info(self) -> dict[str, Any]:
        """What training recorded: backend, settings, best epoch and its accuracies."""
        return self.model.info

    def __repr__(self) -> str:
        best = self.info.get("best") or {}
        test = f", test accuracy {best['test_acc']:.2%}" if best.get("test_acc") else ""
        return f"<Model {self.spec.describe()} on {self.backend}{test}>"

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Pre-softmax scores (N, 10) for images (N, 28, 28), (N, 784) or one (28, 28)."""
        with self._lock:
            return np.array(self.learner.logits(as_batch(x)), dtype=np.float32)

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Softmax probabilities (N, 10), float64, each row summing to 1."""
        return super().probabilities(as_batch(x))

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The class (N,) int64 of each image (float32 in [0, 1], light ink on black)."""
        return self.logits(x).argmax(axis=1)

    def predict_files(self, paths: PathLike | Iterable[PathLike]) -> list[Prediction]:
        """Read image files (or every image in a folder) as `mnistlab predict` does: each
        made MNIST-style first; a Prediction per file (class, label, probabilities, the
        28×28 the network saw). An unreadable file raises UserError naming it."""
        from mnistlab.data.images import image_files, preprocess_file

        given = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
        files = [file for item in given for file in image_files(item)]
        return [self.predict_prepared(preprocess_file(file)) for file in files]

    def evaluate(self, data: Splits | Split) -> Evaluation:
        """Accuracy, confusion matrix and per-class accuracy on a split (of Splits: the
        test set)."""
        split = data.test if isinstance(data, Splits) else data
        dataset = data.dataset if isinstance(data, Splits) else self.dataset
        labels = np.asarray(split.y)
        return Evaluation(labels, self.predict(split.x), tuple(self.classes), dataset)

    def feature_maps(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """LeNet-5's convolutional activations for images x, by layer (N, C, H, W)."""
        if not self.is_lenet5:
            raise UserError(f"feature maps are drawn for LeNet-5, not {self.spec.describe()}")
        network: Any = self.learner.model  # type: ignore[attr-defined]
        if self.backend == "torch":
            from mnistlab.pytorch_version.network import feature_maps
        else:
            feature_maps = type(network).feature_maps
        with self._lock:
            maps: Mapping[str, np.ndarray] = feature_maps(network, as_batch(x))
            return {name: np.array(m, dtype=np.float32) for name, m in maps.items()}

    def summary(self) -> dict[str, Any]:
        """Parameters, multiply-adds and FLOPs per layer (what `mnistlab summary` prints)."""
        from mnistlab.models.summary import summarize

        return summarize(self.spec)

    def save(self, path: PathLike) -> Path:
        """Write the model file (safetensors) that `load_model` and every command read."""
        from mnistlab.models.modelfile import save_model

        save_model(path, self.spec, self.params, self.info)
        return Path(path)

    def export_onnx(self, path: PathLike) -> Path:
        """Write the network as an ONNX file (mnistlab.export; needs mnistlab[export])."""
        from mnistlab.export import export_onnx

        return export_onnx(self.model, path)

    def weights_figure(self, title: str = "") -> Figure:
        """The first layer's weights: an MLP's neurons as 28×28 images, else the kernels."""
        from mnistlab.plots.digits import kernels_figure, weight_images_figure

        first = first_weights(self.spec, self.params)
        if first.ndim == 2:
            return weight_images_figure(first, title=title)
        return kernels_figure(first, title)


def as_batch(x: np.ndarray) -> np.ndarray:
    """One image (28, 28) as a batch of one; a batch as it is."""
    x = np.asarray(x)
    return x[None] if x.shape == (28, 28) else x


def load_model(path: PathLike, backend: str = "numpy") -> Model:
    """The model file at `path` (written by train, compare or report), ready to run on
    `backend`. A missing or damaged file raises UserError with the reason."""
    model = Model(load_model_file(path), backend)
    model.path = Path(path)
    return model


def evaluate(
    model: Model | PathLike,
    data: Splits | Split | None = None,
    *,
    backend: str = "numpy",
    dataset: str | None = None,
    data_dir: PathLike | None = None,
    allow_dataset_mismatch: bool = False,
    expect: Mapping[str, str] | None = None,
) -> Evaluation:
    """Score a model (or a model file) on the test set and return an Evaluation (accuracy,
    confusion matrix, per-class accuracy): what `mnistlab evaluate` reports.

    Without `data` the test set of the dataset the model was trained on is read (or of
    `dataset`, which must match unless `allow_dataset_mismatch`). `expect` holds
    architecture flags the file must match, e.g. {"model": "lenet5"}.
    """
    if not isinstance(model, Model):
        model = load_model(model, backend)
    where = str(model.path or "the model")
    if expect:
        check_matches(model.model, dict(expect), where)
    if data is None:
        from mnistlab.data.mnist import load_splits

        name = check_dataset(model.model, dataset, allow_dataset_mismatch, where)
        data = load_splits(name, data_dir)
    return model.evaluate(data)


def export_onnx(model: Model | PathLike, path: PathLike) -> Path:
    """Write a model (or the model file at that path) as an ONNX file at `path`, after
    ONNX Runtime has agreed with the NumPy network on it; returns the path (needs
    mnistlab[export]; see mnistlab.export for the graph, opset and metadata)."""
    if not isinstance(model, Model):
        from mnistlab.export import require_onnx

        require_onnx()  # one line before any work when the extra is missing
        model = load_model(model)
    return model.export_onnx(path)
