"""A saved network reading people's images: what `predict` and `serve` share.

`Predictor` loads a model file once (either backend, MLP or LeNet-5), and turns an image
file's bytes into a `Prediction`: the class, the ten softmax probabilities, the 28×28 the
network saw (`data.images`' MNIST-style preprocessing) and, for LeNet-5, C1's six
feature maps. The command line and the web page call exactly this, so they always agree.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from mnistlab.backends import make_learner
from mnistlab.config import TrainConfig
from mnistlab.data.images import Prepared, preprocess
from mnistlab.data.sources import class_names
from mnistlab.learner import Learner, softmax
from mnistlab.models.modelfile import ModelFile, load_model
from mnistlab.models.spec import LeNet5Spec
from mnistlab.models.summary import summarize


@dataclass(frozen=True)
class Prediction:
    digit: int  # the class index (a digit for MNIST)
    label: str  # its name: "7", or "Sneaker" for a Fashion-MNIST model
    probabilities: np.ndarray  # (10,) softmax of the logits
    prepared: Prepared  # the decoded image and the (28, 28) input the network saw
    feature_maps: np.ndarray | None  # LeNet-5: C1's (6, 28, 28) activations; else None

    @property
    def runner_up(self) -> int:
        return int(np.argsort(self.probabilities)[-2])


class Predictor:
    """One loaded model, ready to read images on `backend` ("numpy" needs no torch)."""

    def __init__(self, model: ModelFile, backend: str = "numpy") -> None:
        self.model = model
        self.backend = backend
        self.learner: Learner = make_learner(backend, model.spec, TrainConfig(), 1, model.params)
        self.dataset = model.dataset or "mnist"  # files before the record are MNIST
        self.classes = list(class_names(self.dataset))  # "7", or "Sneaker"
        # The NumPy layers reuse scratch arrays between calls, so one forward pass runs at
        # a time; decoding and preprocessing (most of the work) need no lock.
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], backend: str = "numpy") -> Predictor:
        return cls(load_model(path), backend)

    @property
    def is_lenet5(self) -> bool:
        return isinstance(self.model.spec, LeNet5Spec)

    def predict_bytes(self, data: bytes, name: str = "image", maps: bool = False) -> Prediction:
        """Decode, preprocess and classify one image file; `maps` adds LeNet-5's C1 maps."""
        return self.predict_prepared(preprocess(data, name), maps)

    def predict_prepared(self, prepared: Prepared, maps: bool = False) -> Prediction:
        x = prepared.x[None]
        p = self.probabilities(x)[0]
        digit = int(p.argmax())
        fmaps = self.c1_maps(x)[0] if maps and self.is_lenet5 else None
        return Prediction(digit, self.classes[digit], p, prepared, fmaps)

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Softmax outputs (N, 10) for prepared inputs (N, 28, 28)."""
        with self._lock:
            z = np.array(self.learner.logits(x), dtype=np.float64)  # a copy, never scratch
        return softmax(z)

    def c1_maps(self, x: np.ndarray) -> np.ndarray:
        """LeNet-5's C1 activations (N, 6, 28, 28): what its first layer made of x."""
        network: Any = self.learner.model  # type: ignore[attr-defined]
        if self.backend == "torch":
            from mnistlab.pytorch_version.network import feature_maps
        else:
            feature_maps = type(network).feature_maps
        with self._lock:
            return np.array(feature_maps(network, x)["conv1"], dtype=np.float32)

    def describe(self) -> dict[str, Any]:
        """What the page shows about the model: architecture, test accuracy, training."""
        best = self.model.info.get("best") or {}
        spec = self.model.spec
        return {
            "architecture": spec.to_json(),
            "description": spec.describe(),
            "parameters": summarize(spec)["params"],
            "test_acc": best.get("test_acc"),
            "val_acc": best.get("val_acc"),
            "best_epoch": best.get("epoch"),
            "trained_on": self.model.info.get("backend"),
            "backend": self.backend,
            "dataset": self.dataset,
            "classes": self.classes,
            "feature_maps": self.is_lenet5,
        }
