"""The lab's figures from Python: each call returns a `Figure` that a notebook shows inline
and `fig.save("name.png")` writes as the commands write theirs (the same drawing code)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from mnistlab.api.models import Model
from mnistlab.api.runs import Run
from mnistlab.data.splits import Split, Splits
from mnistlab.evaluation import Evaluation
from mnistlab.plots import Figure
from mnistlab.protocol import History


def plot_curves(run: Run | History, title: str = "") -> Figure:
    """Loss and accuracy epoch by epoch: train cost, validation cross-entropy, validation
    and test accuracy, the best epoch marked (a run directory's learning_curves.png)."""
    from mnistlab.plots.curves import learning_curves_figure

    history = run.history if isinstance(run, Run) else run
    return learning_curves_figure(history, title)


def plot_confusion(evaluation: Evaluation, title: str = "") -> Figure:
    """Which class is taken for which: counts, coloured by share of the true class."""
    return evaluation.figure(title)


def plot_predictions(model: Model, data: Splits | Split, n: int = 40, title: str = "") -> Figure:
    """The first test images with the model's answers, a quarter of them mistakes (a
    mistake reads "answer (truth)" in red): how good it is and how it fails."""
    from mnistlab.plots.digits import pick_for_grid, prediction_grid_figure

    split = data.test if isinstance(data, Splits) else data
    predictions = model.predict(split.x)
    picked = pick_for_grid(split.y, predictions, n=n)
    return prediction_grid_figure(
        split.x[picked], split.y[picked], predictions[picked], n, title=title,
        classes=model.classes,
    )  # fmt: skip


def plot_samples(data: Splits | Split, n: int = 32, title: str = "") -> Figure:
    """The first `n` training images with their labels: what the network learns from."""
    from mnistlab.plots.digits import prediction_grid_figure

    split = data.train if isinstance(data, Splits) else data
    classes = data.classes if isinstance(data, Splits) else None
    return prediction_grid_figure(split.x, split.y, None, n, title=title, classes=classes)


def plot_weights(model: Model, title: str = "") -> Figure:
    """The first layer: each hidden neuron's 784 weights as a 28×28 image (red +, blue −),
    or a convolutional network's first kernels."""
    return model.weights_figure(title)


def plot_feature_maps(model: Model, image: np.ndarray, title: str = "") -> Figure:
    """What LeNet-5's convolutions make of one image (28, 28): each layer's maps."""
    from mnistlab.plots.digits import feature_maps_figure

    maps = model.feature_maps(np.asarray(image).reshape(1, 28, 28))
    return feature_maps_figure(image, {name: m[0] for name, m in maps.items()}, title=title)


def plot_files(
    model: Model, paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]
) -> Figure:
    """Read image files as `mnistlab predict --show` does and draw, for each, the image,
    the 28×28 the network saw and its ten probabilities."""
    from mnistlab.data.images import image_files
    from mnistlab.plots.predictions import predictions_figure

    given = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    files = [file for item in given for file in image_files(item)]
    predictions = model.predict_files(files)
    return predictions_figure(
        [(f.name, p) for f, p in zip(files, predictions, strict=True)], model.classes
    )


def plot_sweep(rows: Sequence[dict[str, Any]]) -> Figure:
    """A k × m sweep's validation accuracy as a heatmap; each row needs "k", "m" and
    "val_acc" (a fraction), as `mnistlab sweep` records them."""
    from mnistlab.plots.sweep import heatmap_figure

    return heatmap_figure(list(rows))
