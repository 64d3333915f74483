"""evaluate: the model file decides the architecture and the dataset; flags only check them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mnistlab.cli import main
from mnistlab.data.sources import class_names
from mnistlab.errors import ModelFileError
from mnistlab.models.init import init_params
from mnistlab.models.modelfile import check_dataset, check_matches, load_model, save_model
from mnistlab.models.spec import LeNet5Spec, MLPSpec, ModelSpec

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


def saved(tmp_path: Path, spec: ModelSpec, dataset: str | None = "mnist") -> Path:
    path = tmp_path / "model.safetensors"
    info = {} if dataset is None else {"dataset": dataset}
    save_model(path, spec, init_params(spec, np.random.default_rng(0)), info)
    return path


def test_only_the_flags_given_are_checked(tmp_path: Path) -> None:
    path = saved(tmp_path, LeNet5Spec(activation="tanh"))
    model = load_model(path)
    check_matches(model, {}, path)
    check_matches(model, {"model": "lenet5"}, path)  # activation not given: not checked
    check_matches(model, {"model": "lenet5", "activation": "tanh"}, path)
    with pytest.raises(ModelFileError, match="not what --activation relu asks for"):
        check_matches(model, {"activation": "relu"}, path)
    with pytest.raises(ModelFileError, match=r"--hidden 100 asks for \(leave"):
        check_matches(model, {"hidden": "100"}, path)
    with pytest.raises(ModelFileError, match=r"--model mlp asks for \(leave"):
        check_matches(model, {"model": "mlp"}, path)
    mlp = saved(tmp_path, MLPSpec((30, 20)))
    check_matches(load_model(mlp), {"hidden": "30,20"}, mlp)
    with pytest.raises(ModelFileError, match=r"--hidden 30 asks for \(MLP \[784, 30, 10\] relu\)"):
        check_matches(load_model(mlp), {"hidden": "30"}, mlp)


def help_text(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """A command's --help with whitespace collapsed (argparse wraps to the terminal)."""
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0
    return " ".join(capsys.readouterr().out.split())


def test_evaluate_help_says_the_file_decides(capsys) -> None:
    text = help_text(capsys, "evaluate")
    assert "MODEL_FILE a model.safetensors written by train" in text
    assert "(default: read from MODEL_FILE; given, it must match the file)" in text
    assert "the dataset the model was trained on" in text
    assert "--allow-dataset-mismatch" in text
    assert "whichever trained it" not in text


def test_dataset_comes_from_the_file(tmp_path: Path) -> None:
    path = saved(tmp_path, MLPSpec((3,)), "fashion-mnist")
    model = load_model(path)
    assert model.dataset == "fashion-mnist"
    assert check_dataset(model, None, False, path) == "fashion-mnist"
    assert check_dataset(model, "mnist", True, path) == "mnist"
    older = load_model(saved(tmp_path, MLPSpec((3,)), None))
    assert older.dataset is None and check_dataset(older, None, False, path) == "mnist"


def test_a_mismatched_dataset_is_refused(tmp_path: Path, capsys) -> None:
    path = saved(tmp_path, MLPSpec((3,)), "fashion-mnist")
    code = main(["evaluate", str(path), "--dataset", "mnist", "--data-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "was trained on fashion-mnist, not mnist" in err
    assert "--allow-dataset-mismatch" in err


@pytest.mark.mnist
def test_allowed_mismatch_scores_and_names_the_dataset(
    tmp_path: Path, mnist_dir: Path, capsys
) -> None:
    path = saved(tmp_path, MLPSpec((3,)), "fashion-mnist")
    argv = ["evaluate", str(path), "--dataset", "mnist", "--data-dir", str(mnist_dir)]
    assert main([*argv, "--allow-dataset-mismatch", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["dataset"] == "mnist"


@pytest.mark.mnist
@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="apt-get install dataset-fashion-mnist")
def test_evaluate_reads_the_recorded_dataset(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)  # no data/fashion-mnist here: Debian's copy is read
    monkeypatch.delenv("MNISTLAB_DATA", raising=False)
    path = saved(tmp_path, MLPSpec((3,)), "fashion-mnist")
    assert main(["evaluate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "on numpy: Fashion-MNIST test accuracy" in out
    per_class = [line.split(":")[0].strip() for line in out.splitlines() if line.startswith("  ")]
    assert per_class == list(class_names("fashion-mnist"))  # named as predict names them
