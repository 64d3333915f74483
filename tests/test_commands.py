"""What the commands print and save, checked against numbers computed here.

The trained-run tests share one short real-MNIST run (3,000 training images, 4 epochs,
seeded). Its saved model is scored by a forward pass written out below in plain NumPy,
from the weights in the file: no mnistlab code between the file and the accuracy.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from mnistlab.cli import main
from mnistlab.data.idx import read_images, read_labels
from mnistlab.models.init import init_params
from mnistlab.models.modelfile import save_model
from mnistlab.models.spec import MLPSpec

N_VAL = 10_000  # the last 10,000 of the 60,000 training images
# A run whose best validation epoch is not its last (epoch 3 of 4 with this seed), so a
# model file that kept the last epoch instead of the best one is told apart.
RUN = ["--hidden", "32", "--epochs", "4", "--limit-train", "3000", "--seed", "1"]
FLOOR = 0.85  # 3,000 images, 4 epochs reach about 89%; a broken network stays far below


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_refused(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err, err


def mnist_arrays(mnist_dir: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Validation and test images as floats in [0, 1], read straight from the IDX files."""
    x = read_images(mnist_dir / "train-images-idx3-ubyte.gz")[-N_VAL:]
    y = read_labels(mnist_dir / "train-labels-idx1-ubyte.gz")[-N_VAL:]
    tx = read_images(mnist_dir / "t10k-images-idx3-ubyte.gz")
    ty = read_labels(mnist_dir / "t10k-labels-idx1-ubyte.gz")
    flat = lambda images: images.reshape(len(images), -1).astype(np.float64) / 255  # noqa: E731
    return {"val": (flat(x), y.astype(np.int64)), "test": (flat(tx), ty.astype(np.int64))}


def mlp_predictions(weights: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """argmax of W_L·relu(…relu(W_1·x + b_1)…) + b_L, weights stored (out, in)."""
    k = len(weights) // 2
    a = x
    for i in range(k):
        z = a @ weights[f"layers.{i}.weight"].astype(np.float64).T + weights[f"layers.{i}.bias"]
        a = np.maximum(z, 0) if i < k - 1 else z
    return a.argmax(axis=1)


@pytest.fixture(scope="module")
def trained(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("train") / "run"
    assert main(["train", "--data-dir", str(mnist_dir), "--out", str(out), *RUN]) == 0
    history = json.loads((out / "history.json").read_text())
    return {"out": out, "history": history, "data": mnist_arrays(mnist_dir)}


@pytest.mark.mnist
def test_saved_model_is_the_best_validation_network(trained: dict) -> None:
    best, epochs = trained["history"]["best"], trained["history"]["epochs"]
    assert epochs[-1]["val_acc"] < best["val_acc"], "premise: the last epoch is not the best"
    weights = load_file(str(trained["out"] / "model.safetensors"))
    scores = {
        name: float(np.mean(mlp_predictions(weights, x) == y))
        for name, (x, y) in trained["data"].items()
    }
    assert scores["val"] == pytest.approx(best["val_acc"], abs=1.5e-4)  # ≤ 1 image in 10,000
    assert scores["test"] == pytest.approx(best["test_acc"], abs=1.5e-4)
    assert best["test_acc"] > FLOOR
    assert best["val_acc"] == max(e["val_acc"] for e in epochs)


@pytest.mark.mnist
def test_evaluate_reports_what_the_file_scores(trained: dict, capsys, mnist_dir: Path) -> None:
    model = str(trained["out"] / "model.safetensors")
    x, y = trained["data"]["test"]
    pred = mlp_predictions(load_file(model), x)
    right = int(np.sum(pred == y))
    per_class = [float(np.mean(pred[y == c] == c)) for c in range(10)]

    code, out, _ = run_cli(capsys, "evaluate", model, "--data-dir", str(mnist_dir), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["test_acc"] == pytest.approx(right / 10_000, abs=1.5e-4)
    assert report["test_acc"] == pytest.approx(trained["history"]["best"]["test_acc"], abs=1e-12)
    np.testing.assert_allclose(report["per_class"], per_class, atol=2e-3)

    code, out, _ = run_cli(capsys, "evaluate", model, "--data-dir", str(mnist_dir))
    assert code == 0
    lines = out.splitlines()
    acc = report["test_acc"]
    assert f"test accuracy {acc:.2%} ({round(acc * 10_000):,} of 10,000)" in lines[0]
    assert "[784, 32, 10]" in lines[0]
    class_lines = [line for line in lines if line[:4].strip().rstrip(":").isdigit()]
    assert len(class_lines) == 10  # other lines (e.g. the mnistlab that trained it) aside
    for digit, value in enumerate(report["per_class"]):
        assert f"{digit}: {value:7.2%}" in class_lines[digit]


@pytest.mark.mnist
def test_train_force_clears_the_previous_run(trained: dict, mnist_dir: Path, tmp_path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    for name in ("history.json", "model.safetensors", "learning_curves.png"):
        (out / name).write_bytes((trained["out"] / name).read_bytes())
    (out / "figures").mkdir()
    (out / "figures" / "old.png").write_bytes(b"stale")
    argv = ["train", "--data-dir", str(mnist_dir), "--out", str(out), "--force"]
    assert main([*argv, "--hidden", "8", "--epochs", "1", "--limit-train", "200"]) == 0
    history = json.loads((out / "history.json").read_text())
    assert len(history["epochs"]) == 1 and history["config"]["n_train"] == 200
    assert load_file(str(out / "model.safetensors"))["layers.0.weight"].shape == (8, 784)
    assert not (out / "figures").exists()


@pytest.mark.mnist
@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--hidden", "50"], ["[784, 32, 10]", "--hidden 50"]),
        (["--hidden", "32,32"], ["[784, 32, 10]", "--hidden 32,32"]),
        (["--activation", "tanh"], ["[784, 32, 10] relu", "--activation tanh"]),
        (["--model", "lenet5"], ["[784, 32, 10]", "--model lenet5"]),
    ],
)
def test_evaluate_refuses_flags_that_disagree_with_the_file(
    trained: dict, capsys, flags: list[str], words: list[str]
) -> None:
    model = str(trained["out"] / "model.safetensors")
    code, out, err = run_cli(capsys, "evaluate", model, *flags)
    assert_refused(code, err, "model.safetensors", *words)
    assert out == ""


@pytest.mark.mnist
def test_evaluate_accepts_flags_that_agree(trained: dict, capsys, mnist_dir: Path) -> None:
    model = str(trained["out"] / "model.safetensors")
    argv = ["evaluate", model, "--hidden", "32", "--activation", "relu", "--json"]
    code, out, _ = run_cli(capsys, *argv, "--data-dir", str(mnist_dir))
    assert code == 0 and json.loads(out)["test_acc"] > FLOOR


def test_summary_json_and_table(capsys, tmp_path: Path) -> None:
    """784 → 30 → 10: 784·30 + 30·10 = 23,820 multiply-adds, plus 40 biases."""
    spec = MLPSpec((30,), "sigmoid")
    path = tmp_path / "m.safetensors"
    save_model(path, spec, init_params(spec, np.random.default_rng(0)))
    code, out, _ = run_cli(capsys, "summary", str(path), "--json")
    assert code == 0
    s = json.loads(out)
    assert set(s) == {"model", "input_shape", "params", "macs", "flops", "layers"}
    assert s["model"] == {"model": "mlp", "hidden": [30], "activation": "sigmoid"}  # as saved
    assert s["input_shape"] == [784]
    assert (s["params"], s["macs"], s["flops"]) == (23_860, 23_820, 47_640)
    keys = {"name", "kind", "output_shape", "params", "macs", "flops"}
    assert all(set(r) == keys for r in s["layers"])
    assert [r["output_shape"] for r in s["layers"]] == [[30], [10]]
    assert [(r["name"], r["params"], r["macs"]) for r in s["layers"]] == [
        ("layers.0", 23_550, 23_520),
        ("layers.1", 310, 300),
    ]
    code, out, _ = run_cli(capsys, "summary", str(path))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "MLP [784, 30, 10] sigmoid"
    (total,) = [line for line in lines if line.startswith("total")]
    assert total.split()[1:] == ["23,860", "23,820", "47,640"]
    assert [line.split()[3] for line in lines if line.startswith("layers.")] == ["23,550", "310"]


def test_summary_of_flags_without_a_file(capsys) -> None:
    code, out, _ = run_cli(capsys, "summary", "--hidden", "10,10", "--json")
    assert code == 0
    # 784·10 + 10·10 + 10·10 = 8,040 multiply-adds; 30 biases
    assert (json.loads(out)["params"], json.loads(out)["macs"]) == (8_070, 8_040)


def test_gradcheck_passes_with_exit_0_and_json(capsys) -> None:
    code, out, _ = run_cli(capsys, "gradcheck", "--json")
    assert code == 0
    report = json.loads(out)
    assert 0 < report["max_rel_error"] < 1e-6
    assert len(report["cases"]) == 9
    assert report["max_rel_error"] == max(c["max_rel_error"] for c in report["cases"])
    code, out, _ = run_cli(capsys, "gradcheck")
    assert code == 0
    assert out.splitlines()[-1].endswith(": ok") and len(out.splitlines()) == 10


def test_gradcheck_fails_with_exit_1_when_backprop_is_wrong(capsys, monkeypatch) -> None:
    """The L2 gradient dropped from training: the command must say so, in its exit code too."""
    from mnistlab.numpy_version.learner import NumpyLearner

    monkeypatch.setattr(NumpyLearner, "add_l2_grad", lambda self, grad: None)
    code, out, _ = run_cli(capsys, "gradcheck")
    assert code == 1
    assert "FAILED (above 1e-06)" in out.splitlines()[-1]
    code, out, _ = run_cli(capsys, "gradcheck", "--json")
    assert code == 1 and json.loads(out)["max_rel_error"] > 1e-3


def test_sweep_workers_with_scheduler_is_refused(capsys, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    argv = ["sweep", "--k", "1", "--m", "4", "--epochs", "1", "--out", str(out)]
    code, _, err = run_cli(capsys, *argv, "--workers", "2", "--scheduler", "tcp://127.0.0.1:1")
    assert_refused(code, err, "--workers", "--scheduler")
    assert not out.exists()
