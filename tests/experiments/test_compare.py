"""`mnistlab compare`: runs are reused when finished, refused when different, tabulated."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnistlab.cli import main
from mnistlab.config import TrainConfig, default_config
from mnistlab.errors import UserError
from mnistlab.experiments import compare
from mnistlab.models.init import init_params
from mnistlab.models.modelfile import save_model
from mnistlab.models.spec import LeNet5Spec, MLPSpec
from mnistlab.protocol import EpochRecord, History
from mnistlab.runinfo import machine_info, now

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def fake_run(plan: compare.RunPlan, run_dir: Path, epochs: int | None = None) -> History:
    """A finished-looking run directory, written without training anything."""
    epochs = plan.config.epochs if epochs is None else epochs
    config = {
        **plan.identity(),
        "data_dir": "/nowhere",
        "n_train": plan.limit_train or 50_000,
        "started": now(),
        "machine": machine_info(),
    }
    history = History(config=config)
    for e in range(1, epochs + 1):
        val = 0.5 + e / 100
        history.epochs.append(EpochRecord(e, 1.0 / e, 0.9 / e, val, val - 0.01, 2.0 * e))
        history.best = {"epoch": e, "val_acc": val, "test_acc": val - 0.01}
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "history.json").write_text(json.dumps(history.to_json()))
    params = init_params(plan.spec, np.random.default_rng(0))
    save_model(run_dir / "model.safetensors", plan.spec, params)
    return history


def plan(name: str = "numpy-mlp", backend: str = "numpy", epochs: int = 2) -> compare.RunPlan:
    return compare.RunPlan(name, backend, MLPSpec((16,)), TrainConfig(epochs=epochs), 500)


class NoData(compare.DataCache):
    """Fails the test if anything tries to train (and so to read the data)."""

    def get(self, limit_train: int | None = None):  # type: ignore[override]
        raise AssertionError("a finished run was trained again")

    def directory(self) -> Path:
        raise AssertionError("a finished run was trained again")


def test_finished_run_is_reused(tmp_path: Path) -> None:
    p = plan()
    fake_run(p, tmp_path / p.name)
    result = compare.ensure_run(p, tmp_path / p.name, NoData(), log=None)
    assert result.reused and len(result.history.epochs) == 2
    assert (tmp_path / p.name / "learning_curves.png").read_bytes()[:8] == PNG_SIGNATURE


def test_unfinished_run_is_trained_again(tmp_path: Path) -> None:
    p = plan(epochs=3)
    fake_run(p, tmp_path / p.name, epochs=2)
    assert compare.reusable(p, tmp_path / p.name, force=False) is None


def test_different_run_is_refused_unless_forced(tmp_path: Path) -> None:
    fake_run(plan(epochs=2), tmp_path / "run")
    with pytest.raises(UserError, match="--epochs 2 there, 3 here"):
        compare.reusable(plan(epochs=3), tmp_path / "run", force=False)
    assert compare.reusable(plan(epochs=3), tmp_path / "run", force=True) is None


def test_a_run_recorded_before_lr_decay_existed_is_the_same_run(tmp_path: Path) -> None:
    p = plan()
    fake_run(p, tmp_path / "run")
    path = tmp_path / "run" / "history.json"
    recorded = json.loads(path.read_text())
    del recorded["config"]["train"]["lr_decay"]  # as written before --lr-decay existed
    path.write_text(json.dumps(recorded))
    assert compare.reusable(p, tmp_path / "run", force=False) is not None
    decaying = dataclasses.replace(p, config=dataclasses.replace(p.config, lr_decay=0.5))
    with pytest.raises(UserError, match=r"--lr-decay 1\.0 there, 0\.5 here"):
        compare.reusable(decaying, tmp_path / "run", force=False)


def test_data_dir_does_not_make_another_run(tmp_path: Path) -> None:
    p = plan()
    fake_run(p, tmp_path / "run")
    assert compare.reusable(p, tmp_path / "run", force=False) is not None


def test_summary_row_reads_the_history(tmp_path: Path) -> None:
    p = plan(epochs=3)
    history = fake_run(p, tmp_path / "run")
    row = compare.summarize_run(compare.RunResult(p, tmp_path / "run", history, reused=True))
    assert row["test_acc"] == history.best["test_acc"] and row["best_epoch"] == 3
    assert row["seconds_per_epoch"] == pytest.approx(4.0)  # 2, 4, 6
    assert row["seconds_total"] == pytest.approx(12.0)
    assert row["params"] == 784 * 16 + 16 + 16 * 10 + 10


def test_markdown_tables_have_one_row_per_run(tmp_path: Path) -> None:
    rows = []
    for p in (plan("numpy-mlp", "numpy"), plan("torch-mlp", "torch")):
        history = fake_run(p, tmp_path / p.name)
        rows.append(compare.summarize_run(compare.RunResult(p, tmp_path / p.name, history, True)))
    table = compare.backend_table(rows, tmp_path)
    lines = table.splitlines()
    assert len(lines) == 4 and "| NumPy |" in lines[2] and "| PyTorch |" in lines[3]
    assert "`torch-mlp/`" in lines[3] and "51.00%" in lines[3]
    assert "12,730" in compare.model_table(rows, tmp_path)


def fake_comparison(out: Path) -> list[compare.RunPlan]:
    """The runs `mnistlab compare --hidden 16 --epochs 2 --limit-train 500` would make."""
    config = TrainConfig(epochs=2)
    plans = compare.backend_plans(MLPSpec((16,)), config, 500)
    plans.append(compare.lenet_plan("torch", config, 1, 500))
    for p in plans:
        fake_run(p, out / p.name)
    return plans


COMPARE_ARGS = ["compare", "--hidden", "16", "--epochs", "2", "--limit-train", "500"]


def test_compare_command_tabulates_finished_runs(tmp_path: Path, capsys) -> None:
    out = tmp_path / "cmp"
    plans = fake_comparison(out)
    assert main([*COMPARE_ARGS, "--lenet-epochs", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "## NumPy vs PyTorch" in printed and "## MLP vs LeNet-5" in printed
    data = json.loads((out / "compare.json").read_text())
    assert [r["run"] for r in data["backends"]] == ["numpy-mlp", "torch-mlp"]
    assert [r["run"] for r in data["models"]] == ["torch-mlp", "torch-lenet5"]
    assert data["models"][1]["flops"] == 2 * 416_520
    assert set(data["runs"]) == {p.name for p in plans}
    assert "| LeNet-5 relu | PyTorch | 61,706 |" in (out / "compare.md").read_text()
    with Image.open(out / compare.CURVES_FIGURE) as im:
        assert im.size[0] > 300


def test_compare_refuses_a_directory_with_another_run(tmp_path: Path, capsys) -> None:
    out = tmp_path / "cmp"
    fake_comparison(out)
    assert main([*COMPARE_ARGS, "--lr", "0.02", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds a different run" in err and "--lr 0.01 there" in err


def test_compare_out_is_a_file(tmp_path: Path, capsys) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    assert main(["compare", "--out", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a file" in err


@pytest.mark.parametrize("flag", [["--lenet-epochs", "0"], ["--limit-train", "0"]])
def test_compare_bad_flags(tmp_path: Path, capsys, flag: list[str]) -> None:
    assert main(["compare", "--out", str(tmp_path / "x"), *flag]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert not (tmp_path / "x").exists()


def test_lenet_model_skips_the_model_table(tmp_path: Path, capsys) -> None:
    out = tmp_path / "cmp"
    config = dataclasses.replace(default_config("lenet5"), epochs=1)  # what the flags give
    for p in compare.backend_plans(LeNet5Spec(), config, 500):
        fake_run(p, out / p.name)
    args = ["compare", "--model", "lenet5", "--epochs", "1", "--limit-train", "500"]
    assert main([*args, "--out", str(out)]) == 0
    assert "left out" in capsys.readouterr().out
    assert json.loads((out / "compare.json").read_text())["models"] == []


@pytest.mark.mnist
def test_compare_end_to_end_on_mnist(tmp_path: Path, mnist_dir: Path, capsys) -> None:
    """Three short real runs; the second command trains nothing and changes no run."""
    out = tmp_path / "cmp"
    args = [
        *["compare", "--hidden", "16", "--epochs", "1", "--limit-train", "300"],
        *["--lenet-epochs", "1", "--data-dir", str(mnist_dir), "--out", str(out)],
    ]
    assert main(args) == 0
    trained = [line for line in capsys.readouterr().out.splitlines() if line.startswith("training")]
    assert len(trained) == 3
    histories = sorted(out.glob("*/history.json"))
    assert [h.parent.name for h in histories] == ["numpy-mlp", "torch-lenet5", "torch-mlp"]
    stamps = {h: h.stat().st_mtime_ns for h in histories}
    data = json.loads((out / "compare.json").read_text())
    for row in data["backends"] + data["models"]:
        recorded = json.loads((out / row["run"] / "history.json").read_text())
        assert row["test_acc"] == recorded["best"]["test_acc"]
    # Same seed, same initial weights, same batches: the backends agree closely.
    accs = [r["test_acc"] for r in data["backends"]]
    assert abs(accs[0] - accs[1]) < 0.02

    assert main(args) == 0
    assert "\ntraining " not in capsys.readouterr().out
    assert {h: h.stat().st_mtime_ns for h in histories} == stamps
