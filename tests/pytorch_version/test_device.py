"""--device: auto's policy with what torch reports faked, the run's first line, and the
settings that make CUDA runs reproducible (checkable without a GPU)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mnistlab.errors import UserError
from mnistlab.pytorch_version import device as device_module
from mnistlab.pytorch_version.device import (
    AUTO_CUDA_FROM_SECONDS,
    choose_device,
    reproducible_cuda,
    resolve_device,
)


@pytest.fixture
def fake_gpu(monkeypatch: pytest.MonkeyPatch) -> str:
    """torch reports one CUDA GPU (nothing runs on it)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "Fake H200")
    return "Fake H200"


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_auto_picks_cuda_for_runs_long_enough_to_repay_the_gpus_start_up(fake_gpu) -> None:
    long = choose_device("auto", cpu_seconds=AUTO_CUDA_FROM_SECONDS * 20)
    assert long.device == "cuda" and fake_gpu in long.reason
    assert choose_device("auto", cpu_seconds=AUTO_CUDA_FROM_SECONDS).device == "cuda"
    assert choose_device("auto").device == "cuda"  # nothing known: a real run, not a test
    assert resolve_device("auto") == "cuda"


def test_auto_keeps_short_runs_on_the_cpu_and_says_why(fake_gpu) -> None:
    short = choose_device("auto", cpu_seconds=0.4)
    assert short.device == "cpu"
    assert "short run" in short.reason and "0.4 s" in short.reason


def test_an_explicit_device_is_obeyed_whatever_the_run(fake_gpu) -> None:
    assert choose_device("cuda", cpu_seconds=0.01).device == "cuda"
    assert choose_device("cpu", cpu_seconds=1e6).device == "cpu"
    assert choose_device("cpu").reason.startswith("--device cpu")


def test_resolving_the_cpu_never_asks_torch_about_gpus(monkeypatch) -> None:
    def asked(*args, **kwargs):
        raise AssertionError("torch.cuda was asked")

    monkeypatch.setattr(torch.cuda, "is_available", asked)
    monkeypatch.setattr(torch.cuda, "get_device_name", asked)
    assert resolve_device("cpu") == "cpu"


def test_without_a_gpu_auto_is_the_cpu_and_cuda_is_one_clear_error(no_gpu) -> None:
    assert choose_device("auto", cpu_seconds=1e6) == device_module.DeviceChoice(
        "cpu", "auto: PyTorch sees no CUDA GPU"
    )
    with pytest.raises(UserError, match="--device cuda: this PyTorch sees no CUDA GPU"):
        choose_device("cuda")
    with pytest.raises(UserError, match="unknown device 'tpu'"):
        choose_device("tpu")


@pytest.mark.parametrize(
    ("flags", "device", "reason"),
    [
        (["--recipe", "fast"], "cuda", "auto: Fake H200"),  # ~4 s on the CPU
        (["--recipe", "fast", "--limit-train", "2000"], "cpu", "a short run"),
        (["--recipe", "fast", "--device", "cpu"], "cpu", "--device cpu"),
        (["--model", "lenet5", "--limit-train", "2000"], "cuda", "auto: Fake H200"),  # 15 epochs
    ],
)
def test_the_first_line_names_the_device_and_why_and_training_gets_it(
    fake_gpu, monkeypatch, capsys, tmp_path: Path, mnist_dir: Path, flags, device, reason
) -> None:
    """Fails if auto never picks CUDA where the policy says it should (and the reverse)."""
    import mnistlab.training
    from mnistlab.cli import main
    from mnistlab.protocol import History

    given: dict[str, str] = {}

    def fake_train(*args, device: str, **kwargs):
        given["device"] = device
        history = History({})
        history.best = {"epoch": 1, "val_acc": 0.5, "test_acc": 0.5}
        return history, None

    monkeypatch.setattr(mnistlab.training, "train", fake_train)
    argv = ["train", "--backend", "torch", *flags, "--data-dir", str(mnist_dir)]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert given["device"] == device
    assert f", on {device} (" in first and reason in first, first


def test_reproducible_cuda_sets_deterministic_kernels_and_puts_the_settings_back() -> None:
    import torch.utils.deterministic as deterministic

    cudnn = torch.backends.cudnn
    before = (torch.are_deterministic_algorithms_enabled(), cudnn.benchmark, cudnn.allow_tf32)
    with reproducible_cuda():
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.is_deterministic_algorithms_warn_only_enabled()
        assert cudnn.deterministic and not cudnn.benchmark
        assert not cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
        assert not deterministic.fill_uninitialized_memory
    after = (torch.are_deterministic_algorithms_enabled(), cudnn.benchmark, cudnn.allow_tf32)
    assert after == before


def test_cublas_gets_its_deterministic_workspace_before_cuda_can_start() -> None:
    """Set on importing the backend, unless the environment already chose one."""
    code = "import os, mnistlab.pytorch_version; print(os.environ['CUBLAS_WORKSPACE_CONFIG'])"
    env = {k: v for k, v in os.environ.items() if k != "CUBLAS_WORKSPACE_CONFIG"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == ":4096:8"
    env["CUBLAS_WORKSPACE_CONFIG"] = ":16:8"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == ":16:8"
