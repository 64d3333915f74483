"""compare says what it will train, and roughly for how long, before it starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnistlab.cli import main
from mnistlab.config import TrainConfig
from mnistlab.experiments import compare, estimate
from mnistlab.models.spec import LeNet5Spec, MLPSpec


def test_estimates_grow_with_the_work() -> None:
    small = estimate.epoch_seconds(MLPSpec((64,)), "numpy", 20, 50_000)
    big = estimate.epoch_seconds(MLPSpec((512, 512)), "numpy", 20, 50_000)
    assert small < big
    assert estimate.epoch_seconds(MLPSpec((64,)), "numpy", 10, 50_000) > small
    assert estimate.epoch_seconds(MLPSpec((64,)), "torch", 20, 50_000) > small
    assert estimate.epoch_seconds(MLPSpec((64,)), "numpy", 20, 5_000) < small
    # The calibration point: `make run` (30 epochs) measured 47 s on the idle machine.
    default_run = estimate.run_seconds(MLPSpec((256,)), "numpy", 20, 50_000, 30)
    assert 47 / 2 < default_run < 47 * 2
    assert [estimate.duration(s) for s in (3, 42, 300, 9000)] == [
        "~5 s",
        "~40 s",
        "~5 min",
        "~2.5 h",
    ]


def test_plan_lines_name_every_run_and_a_total() -> None:
    plans = [
        compare.RunPlan("numpy-mlp", "numpy", MLPSpec((16,)), TrainConfig(epochs=1), 500),
        compare.RunPlan("torch-lenet5", "torch", LeNet5Spec(), TrainConfig(epochs=15), None),
    ]
    lines = compare.plan_lines(plans, workers=1)
    assert lines[0] == "to train: 2 runs"
    assert "numpy-mlp" in lines[1] and "1 epoch on 500 images" in lines[1]
    assert "LeNet-5 relu on PyTorch, 15 epochs on 50,000 images" in lines[2]
    assert lines[-1].startswith("in all ~") and "one after another" in lines[-1]
    assert "2 at a time" in compare.plan_lines(plans, workers=4)[-1]


def test_compare_prints_the_plan_before_training(
    tmp_path: Path, mnist_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    def stop(*args: object) -> None:
        raise KeyboardInterrupt  # nothing trains: the plan must already be out

    monkeypatch.setattr(compare, "_train_all", stop)
    argv = ["compare", "--epochs", "1", "--limit-train", "500", "--data-dir", str(mnist_dir)]
    assert main([*argv, "--out", str(tmp_path / "c")]) == 130
    out = capsys.readouterr().out
    assert "on NumPy and PyTorch, 1 epoch; LeNet-5 on torch, --lenet-epochs 15" in out
    assert "to train: 3 runs" in out and "in all ~" in out


def test_compare_help_documents_lenet_flags_and_files(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert (
        "--lenet-epochs LENET_EPOCHS epochs of the LeNet-5 run; --epochs sets the MLP's only"
        in text
    )
    assert "--lenet-backend {numpy,torch}" in text
    for name in ("compare.json", "compare.md", "val_acc_curves.png"):
        assert name in text


def test_each_run_process_gets_its_share_of_the_cores(monkeypatch, tmp_path: Path) -> None:
    """Workers × threads = cores: on 16 cores, 2 runs at a time get 8 threads each."""
    from concurrent.futures import Future

    import joblib.externals.loky as loky

    from mnistlab import threads

    made: list[dict[str, str]] = []

    class Pool:
        def __init__(self, max_workers: int, env: dict[str, str]) -> None:
            made.append(env)

        def submit(self, fn, *args) -> Future:
            future: Future = Future()
            future.set_result("history")
            return future

        def shutdown(self, **kwargs) -> None:
            pass

    for name in threads.THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(threads, "affinity_cores", lambda: 16)
    monkeypatch.setattr(loky, "ProcessPoolExecutor", Pool)
    monkeypatch.setattr(compare.DataCache, "directory", lambda self: tmp_path)
    plan = compare.RunPlan("numpy-mlp", "numpy", MLPSpec((16,)), TrainConfig(epochs=1), 500)
    jobs = [(plan, tmp_path / "a"), (plan, tmp_path / "b"), (plan, tmp_path / "c")]
    data = compare.DataCache("mnist", None)
    assert compare._train_all(jobs, data, 2, None) == ["history"] * 3
    assert [env["OMP_NUM_THREADS"] for env in made] == ["8", "8", "8"]
    assert made[0]["OPENBLAS_NUM_THREADS"] == "8"
