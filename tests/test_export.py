"""ONNX export: every architecture, trained on either backend, runs in ONNX Runtime with the
same logits as both backends, any batch size, and says in its metadata what it expects."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mnistlab.backends import make_learner
from mnistlab.cli import main
from mnistlab.config import TrainConfig
from mnistlab.errors import UserError
from mnistlab.export import (
    BATCH,
    OPSET,
    PREPROCESSING,
    export_onnx,
    onnx_logits,
    onnx_model,
    onnx_session,
)
from mnistlab.models.init import init_params
from mnistlab.models.modelfile import ModelFile, load_model, save_model
from mnistlab.models.spec import ConvNetSpec, LeNet5Spec, MLPSpec

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

SPECS = {
    "mlp-relu": MLPSpec(hidden=(32, 16), activation="relu"),
    "mlp-sigmoid": MLPSpec(hidden=(20,), activation="sigmoid"),
    "mlp-tanh-3": MLPSpec(hidden=(12, 10, 8), activation="tanh"),
    "lenet5-relu": LeNet5Spec(),
    "lenet5-tanh": LeNet5Spec(activation="tanh"),
    "convnet": ConvNetSpec(channels=(4, 6), hidden=16),
}


def random_model(spec, seed: int = 0) -> ModelFile:
    """Seeded weights with non-zero biases (a bias wired wrongly must show)."""
    rng = np.random.default_rng(seed)
    params = init_params(spec, rng)
    for name, p in params.items():
        if name.endswith(".bias"):
            params[name] = rng.normal(0, 0.2, p.shape).astype(np.float32)
    return ModelFile(spec, params, {"dataset": "mnist", "backend": "numpy"})


@pytest.mark.parametrize("name", SPECS)
def test_the_graph_computes_both_backends_logits(tmp_path: Path, name: str) -> None:
    model = random_model(SPECS[name])
    path = export_onnx(model, tmp_path / "m.onnx")
    onnx.checker.check_model(onnx.load(path), full_check=True)
    x = np.random.default_rng(1).random((37, 28, 28), dtype=np.float32)
    got = onnx_logits(onnx_session(path), x)
    for backend in ("numpy", "torch"):
        expected = make_learner(backend, model.spec, TrainConfig(), 1, model.params).logits(x)
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0, err_msg=backend)


def test_the_batch_dimension_is_free_and_probabilities_sum_to_one(tmp_path: Path) -> None:
    path = export_onnx(random_model(SPECS["lenet5-relu"]), tmp_path / "m.onnx")
    session = onnx_session(path)
    (image,) = session.get_inputs()
    assert image.name == "images" and image.shape == [BATCH, 1, 28, 28]
    assert [o.name for o in session.get_outputs()] == ["logits", "probabilities"]
    for n in (1, 3, 250):
        x = np.random.default_rng(n).random((n, 1, 28, 28), dtype=np.float32)
        logits, probs = session.run(None, {"images": x})
        assert logits.shape == probs.shape == (n, 10)
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
        np.testing.assert_array_equal(probs.argmax(axis=1), logits.argmax(axis=1))


def test_the_file_says_what_it_expects(tmp_path: Path) -> None:
    model = random_model(SPECS["mlp-relu"])
    model.info["dataset"] = "fashion-mnist"
    proto = onnx.load(export_onnx(model, tmp_path / "m.onnx"))
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", OPSET)]
    assert proto.ir_version == 8 and proto.producer_name == "mnistlab"
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["mnistlab.preprocessing"] == PREPROCESSING
    assert "divided by 255" in PREPROCESSING and "light ink" in PREPROCESSING
    assert json.loads(props["mnistlab.classes"])[7] == "Sneaker"
    assert props["mnistlab.dataset"] == "fashion-mnist"
    assert json.loads(props["mnistlab.architecture"]) == model.spec.to_json()
    assert proto.graph.input[0].doc_string == PREPROCESSING


def test_nothing_is_written_when_onnx_runtime_disagrees(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("mnistlab.export.TOLERANCE", 0.0)
    with pytest.raises(UserError, match="ONNX Runtime differs from the NumPy network"):
        export_onnx(random_model(SPECS["mlp-relu"]), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_float64_models_export_as_float32(tmp_path: Path) -> None:
    model = random_model(SPECS["mlp-tanh-3"])
    model.params = {k: v.astype(np.float64) for k, v in model.params.items()}
    proto = onnx_model(model)
    assert {t.data_type for t in proto.graph.initializer} == {onnx.TensorProto.FLOAT}


def test_export_command_errors_are_one_line(tmp_path: Path, capsys) -> None:
    assert main(["export", str(tmp_path / "none.safetensors"), "--onnx", "x.onnx"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mnistlab export: error: model file not found") and "\n" not in err
    with pytest.raises(SystemExit) as exc:
        main(["export", str(tmp_path / "none.safetensors")])
    assert exc.value.code == 2
    assert "the following arguments are required: --onnx" in capsys.readouterr().err


@pytest.fixture(scope="module")
def mnist_test(mnist_dir: Path):
    from mnistlab.data.mnist import load_splits

    return load_splits("mnist", mnist_dir, limit_train=600)


@pytest.mark.mnist
@pytest.mark.parametrize("trained_on", ["numpy", "torch"])
@pytest.mark.parametrize("spec", [MLPSpec(hidden=(64,)), LeNet5Spec(), ConvNetSpec()])
def test_trained_models_agree_on_1000_mnist_test_images(
    tmp_path: Path, capsys, mnist_test, spec, trained_on: str
) -> None:
    """A model file trained on either backend, exported by the command, read by ONNX Runtime:
    within 1e-4 of both backends' logits on 1,000 test images, the same predictions."""
    config = TrainConfig(batch_size=20, lr=0.05, l2=0.0)
    learner = make_learner(trained_on, spec, config, len(mnist_test.train))
    learner.train_epoch(
        mnist_test.train.x, mnist_test.train.y, np.random.default_rng(0), progress=None
    )
    save_model(tmp_path / "m.safetensors", spec, learner.params(), {"backend": trained_on})
    assert (
        main(["export", str(tmp_path / "m.safetensors"), "--onnx", str(tmp_path / "m.onnx")]) == 0
    )
    assert "ONNX opset 17" in capsys.readouterr().out
    x, y = mnist_test.test.x[:1000], mnist_test.test.y[:1000]
    got = onnx_logits(onnx_session(tmp_path / "m.onnx"), x)
    model = load_model(tmp_path / "m.safetensors")
    for backend in ("numpy", "torch"):
        expected = make_learner(backend, spec, TrainConfig(), 1, model.params).logits(x)
        assert float(np.max(np.abs(got - expected))) < 1e-4, backend
        np.testing.assert_array_equal(got.argmax(axis=1), expected.argmax(axis=1))
    assert np.mean(got.argmax(axis=1) == y) > 0.5  # it learnt something: a real check
