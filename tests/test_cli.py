"""Bad input: one line naming the problem, exit code 2, no traceback, nothing lost."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mnistlab.cli import main
from mnistlab.models.init import init_params
from mnistlab.models.modelfile import save_model
from mnistlab.models.spec import MLPSpec

FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exc:
        raise SystemExit(main(list(argv)))
    err = capsys.readouterr().err.strip()
    return int(exc.value.code), err


def assert_one_line_error(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    for word in words:
        assert word.lower() in err.lower(), err


@pytest.fixture
def data_copy(tmp_path, mnist_dir) -> Path:
    """A private copy of MNIST that a test may damage."""
    copy = tmp_path / "data"
    copy.mkdir()
    for name in FILES:
        shutil.copy(mnist_dir / name, copy / name)
    return copy


def rewrite_labels(path: Path, edit) -> None:
    raw = bytearray(gzip.decompress(path.read_bytes()))
    path.write_bytes(gzip.compress(bytes(edit(raw))))


def train_args(data_dir: Path, out: Path, *extra: str) -> list[str]:
    return [
        "train",
        "--data-dir",
        str(data_dir),
        "--out",
        str(out),
        "--epochs",
        "1",
        "--limit-train",
        "200",
        *extra,
    ]


def test_missing_data_directory(capsys, tmp_path) -> None:
    code, err = run_cli(capsys, *train_args(tmp_path / "nowhere", tmp_path / "run"))
    assert_one_line_error(code, err, "nowhere")
    assert not (tmp_path / "run").exists()


def test_truncated_gzip(capsys, tmp_path, data_copy) -> None:
    path = data_copy / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100_000])
    code, err = run_cli(capsys, *train_args(data_copy, tmp_path / "run"))
    assert_one_line_error(code, err, "t10k-images", "truncated")


def test_wrong_magic_number(capsys, tmp_path, data_copy) -> None:
    def edit(raw: bytearray) -> bytearray:
        raw[2:4] = b"\x08\x03"  # an images magic on a labels file
        return raw

    rewrite_labels(data_copy / "t10k-labels-idx1-ubyte.gz", edit)
    code, err = run_cli(capsys, *train_args(data_copy, tmp_path / "run"))
    assert_one_line_error(code, err, "magic")


def test_image_and_label_counts_disagree(capsys, tmp_path, data_copy) -> None:
    def edit(raw: bytearray) -> bytearray:
        raw[4:8] = (9_999).to_bytes(4, "big")
        return raw[:-1]

    rewrite_labels(data_copy / "t10k-labels-idx1-ubyte.gz", edit)
    code, err = run_cli(capsys, *train_args(data_copy, tmp_path / "run"))
    assert_one_line_error(code, err, "10000 images", "9999 labels")


def test_checksum_mismatch(capsys, tmp_path, data_copy) -> None:
    def edit(raw: bytearray) -> bytearray:
        raw[100] = (raw[100] + 1) % 10  # still a valid label, but not MNIST's
        return raw

    rewrite_labels(data_copy / "t10k-labels-idx1-ubyte.gz", edit)
    code, err = run_cli(capsys, *train_args(data_copy, tmp_path / "run"))
    assert_one_line_error(code, err, "checksum")


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--hidden", "100,100,100,100"], ["k=4"]),
        (["--hidden", ""], ["--hidden"]),
        (["--hidden", "0"], ["m=0"]),
        (["--hidden", "64,0"], ["m=0"]),
        (["--lr", "0"], ["learning rate"]),
        (["--lr", "-0.5"], ["learning rate"]),
        (["--lr-decay", "0"], ["decay"]),
        (["--lr-decay", "1.5"], ["decay"]),
        (["--activation", "softplus"], ["activation"]),
        (["--epochs", "0"], ["epochs"]),
        (["--model", "lenet5", "--hidden", "100"], ["--hidden"]),
        (["--limit-train", "0"], ["limit"]),
        (["--device", "cuda"], ["--device cuda", "--backend torch"]),
        (["--recipe", "fast", "--model", "lenet5"], ["--recipe fast", "convnet"]),
        (["--beta1", "1"], ["beta1"]),
        (["--model", "lenet5", "--schedule", "onecycle", "--lr-decay", "0.5"], ["one-cycle"]),
        (["--warmup", "0"], ["warm-up"]),
    ],
)
def test_bad_flags(capsys, tmp_path, mnist_dir, flags, words) -> None:
    code, err = run_cli(capsys, *train_args(mnist_dir, tmp_path / "run"), *flags)
    assert_one_line_error(code, err, *words)
    assert not (tmp_path / "run").exists()


def test_cuda_without_a_gpu_is_one_line_before_any_work(
    capsys, tmp_path, mnist_dir, monkeypatch
) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    argv = [*train_args(mnist_dir, tmp_path / "run"), "--backend", "torch", "--device", "cuda"]
    code, err = run_cli(capsys, *argv)
    assert_one_line_error(code, err, "no CUDA GPU")
    assert not (tmp_path / "run").exists()


def test_existing_run_is_kept_without_force(capsys, tmp_path, mnist_dir) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "history.json").write_text('{"keep": "me"}')
    code, err = run_cli(capsys, *train_args(mnist_dir, out))
    assert_one_line_error(code, err, "already holds another run", "--force")
    assert (out / "history.json").read_text() == '{"keep": "me"}'
    assert [p.name for p in out.iterdir()] == ["history.json"]


@pytest.mark.parametrize("content", [b"", b"garbage" * 10, b"\xff" * 200])
def test_corrupt_model_file(capsys, tmp_path, mnist_dir, content) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(content)
    code, err = run_cli(capsys, "evaluate", str(path), "--data-dir", str(mnist_dir))
    assert_one_line_error(code, err, "model.safetensors")


def test_model_file_not_ours(capsys, tmp_path, mnist_dir) -> None:
    np.savez(tmp_path / "weights.npz", w=np.zeros(3))
    code, err = run_cli(capsys, "evaluate", str(tmp_path / "weights.npz"))
    assert_one_line_error(code, err, "weights.npz")


def test_model_file_of_another_architecture(capsys, tmp_path) -> None:
    spec = MLPSpec((30,))
    save_model(tmp_path / "m.safetensors", spec, init_params(spec, np.random.default_rng(0)))
    code, err = run_cli(capsys, "summary", str(tmp_path / "m.safetensors"), "--model", "lenet5")
    assert_one_line_error(code, err, "--model lenet5", "[784, 30, 10]")


def test_unknown_flag_is_one_line(capsys) -> None:
    code, err = run_cli(capsys, "train", "--colour", "blue")
    assert_one_line_error(code, err, "--colour")


def test_real_process_exits_2_without_traceback(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mnistlab", "train", "--data-dir", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], {"l2": 5.0, "lr_decay": 1.0, "epochs": 30}),
        (["--model", "lenet5"], {"l2": 25.0, "lr_decay": 0.8, "epochs": 15}),
        (
            ["--model", "lenet5", "--l2", "3", "--lr-decay", "1", "--epochs", "2"],
            {"l2": 3.0, "lr_decay": 1.0, "epochs": 2},
        ),
        (["--l2", "0"], {"l2": 0.0, "lr_decay": 1.0, "epochs": 30}),
    ],
)
def test_each_model_gets_its_own_defaults_unless_flags_say_otherwise(argv, expected) -> None:
    import argparse

    from mnistlab.commands import common

    parser = argparse.ArgumentParser()
    common.add_model_flags(parser)
    common.add_train_flags(parser)
    config = common.config_from_args(parser.parse_args(argv))
    assert {key: getattr(config, key) for key in expected} == expected
