"""mnistlab: train, compare and understand networks that read handwritten digits.

The Python API (docs/api.md): every name below loads its module on first use, so
`import mnistlab` and `mnistlab --help` stay instant and torch-free.

    import mnistlab as ml
    data = ml.load_data()                                # 50k / 10k / 10k, float32 in [0, 1]
    run = ml.train(data=data, hidden=100, epochs=3)      # the lab protocol, as `mnistlab train`
    ml.plot_curves(run)                                  # a Figure, inline in a notebook
    run.model.evaluate(data).accuracy                    # the best model on the test set
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name → the module that defines it (and its name there, when it differs)
_EXPORTS: dict[str, tuple[str, str]] = {
    "load_data": ("mnistlab.data.mnist", "load_splits"),
    "Splits": ("mnistlab.data.splits", "Splits"),
    "Split": ("mnistlab.data.splits", "Split"),
    "train": ("mnistlab.api.runs", "train"),
    "Run": ("mnistlab.api.runs", "Run"),
    "TrainSettings": ("mnistlab.api.settings", "TrainSettings"),
    "TrainConfig": ("mnistlab.config", "TrainConfig"),
    "History": ("mnistlab.protocol", "History"),
    "EpochRecord": ("mnistlab.protocol", "EpochRecord"),
    "Watcher": ("mnistlab.watch", "Watcher"),
    "TensorBoardWatcher": ("mnistlab.tensorboard", "TensorBoardWatcher"),
    "load_model": ("mnistlab.api.models", "load_model"),
    "Model": ("mnistlab.api.models", "Model"),
    "Prediction": ("mnistlab.inference", "Prediction"),
    "evaluate": ("mnistlab.api.models", "evaluate"),
    "Evaluation": ("mnistlab.evaluation", "Evaluation"),
    "export_onnx": ("mnistlab.api.models", "export_onnx"),
    "summarize": ("mnistlab.models.summary", "summarize"),
    "MLPSpec": ("mnistlab.models.spec", "MLPSpec"),
    "LeNet5Spec": ("mnistlab.models.spec", "LeNet5Spec"),
    "ConvNetSpec": ("mnistlab.models.spec", "ConvNetSpec"),
    "Network": ("mnistlab.numpy_version.network", "Network"),
    "check_gradients": ("mnistlab.numpy_version.gradcheck", "check_gradients"),
    "check_model_gradients": ("mnistlab.numpy_version.gradcheck", "check_model_gradients"),
    "Figure": ("mnistlab.plots", "Figure"),
    "plot_curves": ("mnistlab.api.figures", "plot_curves"),
    "plot_confusion": ("mnistlab.api.figures", "plot_confusion"),
    "plot_predictions": ("mnistlab.api.figures", "plot_predictions"),
    "plot_samples": ("mnistlab.api.figures", "plot_samples"),
    "plot_weights": ("mnistlab.api.figures", "plot_weights"),
    "plot_feature_maps": ("mnistlab.api.figures", "plot_feature_maps"),
    "plot_files": ("mnistlab.api.figures", "plot_files"),
    "plot_sweep": ("mnistlab.api.figures", "plot_sweep"),
    "UserError": ("mnistlab.errors", "UserError"),
}
__all__ = [
    "ConvNetSpec",
    "EpochRecord",
    "Evaluation",
    "Figure",
    "History",
    "LeNet5Spec",
    "MLPSpec",
    "Model",
    "Network",
    "Prediction",
    "Run",
    "Split",
    "Splits",
    "TensorBoardWatcher",
    "TrainConfig",
    "TrainSettings",
    "UserError",
    "Watcher",
    "__version__",
    "check_gradients",
    "check_model_gradients",
    "evaluate",
    "export_onnx",
    "load_data",
    "load_model",
    "plot_confusion",
    "plot_curves",
    "plot_feature_maps",
    "plot_files",
    "plot_predictions",
    "plot_samples",
    "plot_sweep",
    "plot_weights",
    "summarize",
    "train",
]


def __getattr__(name: str) -> Any:
    """Load a public name's module the first time the name is used."""
    try:
        module, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'mnistlab' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


if TYPE_CHECKING:  # what type checkers and editors see
    from mnistlab.api.figures import (
        plot_confusion,
        plot_curves,
        plot_feature_maps,
        plot_files,
        plot_predictions,
        plot_samples,
        plot_sweep,
        plot_weights,
    )
    from mnistlab.api.models import Model, evaluate, export_onnx, load_model
    from mnistlab.api.runs import Run, train
    from mnistlab.api.settings import TrainSettings
    from mnistlab.config import TrainConfig
    from mnistlab.data.mnist import load_splits as load_data
    from mnistlab.data.splits import Split, Splits
    from mnistlab.errors import UserError
    from mnistlab.evaluation import Evaluation
    from mnistlab.inference import Prediction
    from mnistlab.models.spec import ConvNetSpec, LeNet5Spec, MLPSpec
    from mnistlab.models.summary import summarize
    from mnistlab.numpy_version.gradcheck import check_gradients, check_model_gradients
    from mnistlab.numpy_version.network import Network
    from mnistlab.plots import Figure
    from mnistlab.protocol import EpochRecord, History
    from mnistlab.tensorboard import TensorBoardWatcher
    from mnistlab.watch import Watcher
