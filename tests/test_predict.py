"""`mnistlab predict`: one line per image, --json, --show, both backends, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnistlab.cli import main
from mnistlab.data.mnist import load_splits
from mnistlab.data.sources import class_names
from mnistlab.models.init import init_params
from mnistlab.models.modelfile import save_model
from mnistlab.models.spec import LeNet5Spec, MLPSpec


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def digit_files(tmp_path_factory, mnist_dir) -> tuple[Path, np.ndarray]:
    """Twelve MNIST test digits as dark-on-white 112×112 PNGs, and their labels."""
    out = tmp_path_factory.mktemp("digits")
    test = load_splits("mnist", mnist_dir).test
    for i in range(12):
        ink = (255 - test.x[i] * 255).astype(np.uint8)
        Image.fromarray(ink).resize((112, 112), Image.Resampling.BICUBIC).save(out / f"{i:02d}.png")
    return out, test.y[:12]


@pytest.fixture
def random_mlp(tmp_path) -> Path:
    spec = MLPSpec((16,))
    path = tmp_path / "mlp.safetensors"
    save_model(path, spec, init_params(spec, np.random.default_rng(0)))
    return path


def test_one_line_per_image_with_digit_probability_and_runner_up(
    capsys, quick_lenet5, digit_files
) -> None:
    folder, labels = digit_files
    code, out, err = run_cli(capsys, "predict", str(quick_lenet5), str(folder))
    assert code == 0 and err == ""
    lines = out.strip().splitlines()
    assert len(lines) == 12
    digits = []
    for line, path in zip(lines, sorted(folder.iterdir()), strict=True):
        name, rest = line.split(": ", 1)
        assert name == str(path)
        digit, probability, *runner = rest.split()
        if runner:  # shown only when it is more than 0.0%
            _, runner_up, runner_p = runner
            assert probability.startswith("(") and probability.endswith("%),")
            assert runner_up != digit and runner_p.endswith("%)") and runner_p != "(0.0%)"
        digits.append(int(digit))
    assert np.mean(np.array(digits) == labels) >= 11 / 12


@pytest.mark.parametrize(
    ("second", "line"),
    [
        (0.0004, "seven.png: 7 (99.9%)"),
        (0.003, "seven.png: 7 (99.7%), runner-up 2 (0.3%)"),
        (0.0006, "seven.png: 7 (99.9%), runner-up 2 (0.1%)"),
    ],
)
def test_no_runner_up_when_the_network_is_certain(second: float, line: str) -> None:
    from mnistlab.commands.predict import format_line
    from mnistlab.data.images import Prepared
    from mnistlab.inference import Prediction

    p = np.zeros(10)
    p[2], p[7] = second, 0.9994 if second < 0.001 else 1 - second
    prepared = Prepared(Image.new("L", (28, 28)), np.zeros((28, 28), np.float32))
    prediction = Prediction(7, "7", p, prepared, None)
    assert format_line(Path("seven.png"), prediction, list("0123456789")) == line


def test_json_and_backends_agree(capsys, quick_lenet5, digit_files) -> None:
    folder, labels = digit_files
    results = {}
    for backend in ("numpy", "torch"):
        code, out, _ = run_cli(
            capsys, "predict", str(quick_lenet5), str(folder), "--json", "--backend", backend
        )
        assert code == 0
        results[backend] = json.loads(out)
    numpy_, torch_ = results["numpy"], results["torch"]
    assert [r["file"] for r in numpy_] == [str(p) for p in sorted(folder.iterdir())]
    for a, b in zip(numpy_, torch_, strict=True):
        assert set(a) == {"file", "digit", "label", "probabilities"}
        assert len(a["probabilities"]) == 10 and sum(a["probabilities"]) == pytest.approx(1, 1e-4)
        assert a["digit"] == int(np.argmax(a["probabilities"])) == b["digit"]
        np.testing.assert_allclose(a["probabilities"], b["probabilities"], atol=1e-4)
    assert np.mean([r["digit"] for r in numpy_] == labels) >= 11 / 12


def test_show_draws_a_figure(capsys, random_mlp, digit_files, tmp_path) -> None:
    folder, _ = digit_files
    figure = tmp_path / "out.png"
    code, out, _ = run_cli(
        capsys, "predict", str(random_mlp), str(folder / "00.png"), "--show", str(figure)
    )
    assert code == 0 and f"figure saved in {figure}" in out
    with Image.open(figure) as image:
        assert image.width > 400 and image.height > 100


def test_bad_images_are_one_line_each_and_the_rest_still_predicted(
    capsys, random_mlp, digit_files, tmp_path, bomb_png
) -> None:
    folder, _ = digit_files
    bad = {
        "notes.txt": (b"shopping list", "not an image"),
        "empty.png": (b"", "empty"),
        "bomb.png": (bomb_png, "decompression bomb"),
    }
    for name, (data, _) in bad.items():
        (tmp_path / name).write_bytes(data)
    Image.new("L", (40, 40), 255).save(tmp_path / "blank.png")
    bad["blank.png"] = (b"", "blank")
    (tmp_path / "no-images").mkdir()
    bad["no-images"] = (b"", "no images")
    good = [str(folder / "00.png"), str(folder / "01.png")]
    argv = [good[0], *(str(tmp_path / name) for name in bad), good[1]]
    code, out, err = run_cli(capsys, "predict", str(random_mlp), *argv)
    assert code == 2
    assert [line.split(": ")[0] for line in out.splitlines()] == good
    errors = err.strip().splitlines()
    assert len(errors) == len(bad) and "Traceback" not in err
    for line, (name, (_, words)) in zip(errors, bad.items(), strict=True):
        assert line.startswith("mnistlab predict: error: ") and name in line and words in line


@pytest.mark.parametrize("content", [b"", b"garbage" * 10])
def test_model_file_corrupt_or_not_ours(capsys, tmp_path, digit_files, content) -> None:
    folder, _ = digit_files
    path = tmp_path / "model.safetensors"
    path.write_bytes(content)
    code, out, err = run_cli(capsys, "predict", str(path), str(folder))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "model.safetensors" in err


def test_a_fashion_model_names_its_classes(capsys, tmp_path, digit_files) -> None:
    folder, _ = digit_files
    spec = LeNet5Spec()
    path = tmp_path / "fashion.safetensors"
    save_model(
        path, spec, init_params(spec, np.random.default_rng(1)), {"dataset": "fashion-mnist"}
    )
    code, out, _ = run_cli(capsys, "predict", str(path), str(folder / "00.png"), "--json")
    (result,) = json.loads(out)
    assert code == 0 and result["label"] == class_names("fashion-mnist")[result["digit"]]


def test_numpy_backend_never_imports_torch(random_mlp, digit_files) -> None:
    folder, _ = digit_files
    script = (
        "import sys; from mnistlab.cli import main; "
        f"code = main(['predict', {str(random_mlp)!r}, {str(folder / '00.png')!r}]); "
        "assert 'torch' not in sys.modules, 'torch was imported'; sys.exit(code)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(str(folder / "00.png"))
