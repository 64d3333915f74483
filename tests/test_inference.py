"""`inference.Predictor`, what `predict` and `serve` share, against independent oracles:
the network's equations written out in NumPy, and PyTorch's convolution."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnistlab.data.images import preprocess
from mnistlab.data.sources import FASHION_CLASSES
from mnistlab.inference import Predictor, softmax
from mnistlab.models.init import init_params
from mnistlab.models.modelfile import save_model
from mnistlab.models.spec import LeNet5Spec, MLPSpec

BEST = {"epoch": 3, "val_acc": 0.9512, "test_acc": 0.9477}


def digit_png() -> bytes:
    image = Image.new("L", (120, 160), 255)
    ImageDraw.Draw(image).ellipse((30, 30, 90, 130), outline=0, width=10)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def saved(tmp_path: Path, spec, dataset: str = "mnist", seed: int = 0) -> tuple[Path, dict]:
    params = init_params(spec, np.random.default_rng(seed))
    for name in params:  # large enough weights that the classes differ clearly
        params[name] = params[name] * 4
    path = tmp_path / "model.safetensors"
    info = {"best": BEST, "backend": "torch", "dataset": dataset}
    save_model(path, spec, params, info)
    return path, params


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_an_mlp_reads_an_image_as_its_equations_say(tmp_path, backend) -> None:
    path, p = saved(tmp_path, MLPSpec((16,)))
    read = Predictor.from_file(path, backend).predict_bytes(digit_png(), "ring.png")
    x = preprocess(digit_png()).x.reshape(784).astype(np.float64)
    hidden = np.maximum(p["layers.0.weight"] @ x + p["layers.0.bias"], 0)
    z = p["layers.1.weight"] @ hidden + p["layers.1.bias"]
    expected = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    np.testing.assert_allclose(read.probabilities, expected, atol=1e-5)
    order = np.argsort(expected)
    assert (read.digit, read.label, read.runner_up) == (order[-1], str(order[-1]), order[-2])
    assert read.feature_maps is None
    np.testing.assert_array_equal(read.prepared.x, preprocess(digit_png()).x)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_lenet5_shows_what_its_first_layer_made_of_the_digit(tmp_path, backend) -> None:
    import torch

    path, p = saved(tmp_path, LeNet5Spec())
    read = Predictor.from_file(path, backend).predict_bytes(digit_png(), maps=True)
    x = torch.from_numpy(read.prepared.x[None, None].astype(np.float32))
    c1 = torch.relu(
        torch.nn.functional.conv2d(
            x, torch.from_numpy(p["conv1.weight"]), torch.from_numpy(p["conv1.bias"]), padding=2
        )
    )[0].numpy()
    assert read.feature_maps is not None and read.feature_maps.shape == (6, 28, 28)
    np.testing.assert_allclose(read.feature_maps, c1, atol=1e-5)
    assert Predictor.from_file(path, backend).predict_bytes(digit_png()).feature_maps is None


def test_the_description_is_what_the_file_records(tmp_path) -> None:
    path, _ = saved(tmp_path, MLPSpec((16,)))
    about = Predictor.from_file(path, "numpy").describe()
    assert (about["test_acc"], about["val_acc"], about["best_epoch"]) == (0.9477, 0.9512, 3)
    assert about["parameters"] == 784 * 16 + 16 + 16 * 10 + 10
    assert about["description"] == "MLP [784, 16, 10] relu"
    assert (about["trained_on"], about["backend"], about["dataset"]) == ("torch", "numpy", "mnist")
    assert about["classes"] == [str(d) for d in range(10)] and about["feature_maps"] is False
    lenet, _ = saved(tmp_path / "lenet", LeNet5Spec())
    assert Predictor.from_file(lenet).describe()["feature_maps"] is True


def test_a_fashion_model_names_its_classes(tmp_path) -> None:
    path, _ = saved(tmp_path, MLPSpec((16,)), dataset="fashion-mnist")
    predictor = Predictor.from_file(path)
    read = predictor.predict_bytes(digit_png())
    assert predictor.classes == list(FASHION_CLASSES)
    assert read.label == FASHION_CLASSES[read.digit]
    assert predictor.describe()["dataset"] == "fashion-mnist"


def test_softmax_is_exact_and_never_overflows() -> None:
    z = np.array([[1000.0, 1001.0, 999.0], [0.0, 0.0, np.log(2.0)]])
    e = np.exp(np.array([[-1.0, 0.0, -2.0], [0.0, 0.0, np.log(2.0)]]))
    np.testing.assert_allclose(softmax(z), e / e.sum(axis=1, keepdims=True), rtol=1e-12)


def test_probabilities_are_float64_and_sum_to_one(tmp_path) -> None:
    path, _ = saved(tmp_path, MLPSpec((16,)))
    read = Predictor.from_file(path).predict_bytes(digit_png())
    assert read.probabilities.dtype == np.float64
    assert abs(read.probabilities.sum() - 1) < 1e-12  # float32 would be off by ~1e-7
    np.testing.assert_allclose(softmax(np.array([0.0, np.log(3.0)])), [0.25, 0.75], rtol=1e-12)


def test_maps_only_when_asked_and_errors_name_the_image(tmp_path) -> None:
    from mnistlab.data.images import ImageError

    path, _ = saved(tmp_path, LeNet5Spec())
    predictor = Predictor.from_file(path)
    assert predictor.predict_prepared(preprocess(digit_png())).feature_maps is None
    with pytest.raises(ImageError, match=r"^photo\.png: not an image"):
        predictor.predict_bytes(b"junk", "photo.png")
    with pytest.raises(ImageError, match=r"^image: not an image"):
        predictor.predict_bytes(b"junk")
    assert predictor.describe()["architecture"] == {"model": "lenet5", "activation": "relu"}


def test_the_defaults_numpy_and_mnist_and_the_backend_asked_for(tmp_path) -> None:
    from mnistlab.models.modelfile import load_model

    spec = MLPSpec((16,))
    older = tmp_path / "older.safetensors"  # written before files recorded their dataset
    save_model(older, spec, init_params(spec, np.random.default_rng(0)), {"best": BEST})
    plain = Predictor(load_model(older))
    assert (plain.backend, plain.dataset, plain.classes) == ("numpy", "mnist", list("0123456789"))
    assert Predictor.from_file(older, "torch").describe()["backend"] == "torch"
