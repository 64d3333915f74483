"""The tables and sentences that carry a run's numbers, written out by hand for tiny inputs.

Fast (no training, no data): these are what `make mutate` runs against the table-writing
functions of experiments/. Numbers are chosen so that every column differs from every
other (validation ≠ test, best epoch ≠ epochs), so a swapped column shows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mnistlab.config import TrainConfig
from mnistlab.experiments import compare, report, sweep
from mnistlab.models.spec import LeNet5Spec, MLPSpec
from mnistlab.protocol import EpochRecord, History


def cell(k: int, m: int, val: float, test: float, epoch: int, seconds: float) -> dict:
    n = 784 * m + m + (k - 1) * (m * m + m) + m * 10 + 10
    return {"k": k, "m": m, "params": n, "val_acc": val, "test_acc": test}, {
        "best_epoch": epoch,
        "seconds": seconds,
        "seed": 100 + k * 10 + m,
    }


ROWS = [
    a | b
    for a, b in (cell(1, 16, 0.9512, 0.9488, 3, 12.34), cell(2, 32, 0.9634, 0.9601, 5, 1234.5))
]


def test_sweep_table_by_hand() -> None:
    table = report.sweep_table(ROWS, ROWS[1])
    assert table.splitlines() == [
        "| k | m | parameters | val. accuracy | test accuracy | best epoch | s | seed |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        "| 1 | 16 | 12,730 | 95.12% | 94.88% | 3 | 12.3 | 126 |",
        "| 2 | 32 | 26,506 | 96.34% ← best | 96.01% | 5 | 1,234.5 | 152 |",
    ]


def test_best_pair_sentence_by_hand() -> None:
    best = ROWS[1]
    assert report.best_pair_sentence(best) == (
        f"{report.BEST_PAIR}, chosen by validation accuracy, is **k = 2, m = 32** "
        "(26,506 parameters): validation accuracy 96.34% at epoch 5, and test accuracy "
        "at that epoch 96.01%."
    )


def test_sweep_printout_by_hand() -> None:
    best = sweep.choose_best(ROWS)
    assert best is ROWS[1]
    assert sweep.format_table(ROWS[::-1], best).splitlines() == [
        " k     m     params  val acc test acc best epoch  seconds",
        " 1    16     12,730   95.12%   94.88%          3     12.3",
        " 2    32     26,506   96.34%   96.01%          5   1234.5  ← best (by validation)",
    ]
    assert sweep._cell_line(ROWS[0]) == (
        "k=1 m=16: validation 95.12%, test 94.88% (epoch 3), 12.3 s"
    )


def test_choose_best_never_looks_at_test() -> None:
    a = ROWS[0] | {"val_acc": 0.97, "test_acc": 0.90}
    b = ROWS[1] | {"val_acc": 0.96, "test_acc": 0.99}
    assert sweep.choose_best([b, a]) is a
    tie = ROWS[1] | {"val_acc": 0.97}  # same validation, more parameters: loses the tie
    assert sweep.choose_best([tie, a]) is a
    with pytest.raises(ValueError, match=r"^no finished cells to choose from$"):
        sweep.choose_best([])


DIGITS = tuple(str(d) for d in range(10))


def hand_confusions() -> np.ndarray:
    cm = np.diag(np.full(10, 50))
    cm[4, 9], cm[7, 1], cm[3, 5], cm[2, 8] = 9, 6, 4, 1
    cm[6] = 0  # a class with no test image
    return cm


def test_top_confusions_by_hand() -> None:
    cm = hand_confusions()
    top = report.top_confusions(cm, DIGITS)
    assert top == "4 taken for 9 (9×), 7 taken for 1 (6×), 3 taken for 5 (4×)"
    assert report.top_confusions(cm, DIGITS, n=1) == "4 taken for 9 (9×)"
    assert report.top_confusions(cm, DIGITS, n=5).endswith(", 2 taken for 8 (1×)")
    names = tuple("abcdefghij")
    assert report.top_confusions(cm, names, n=2) == "e taken for j (9×), h taken for b (6×)"
    assert report.top_confusions(np.diag(np.full(10, 5)), DIGITS) == "none"


def test_per_class_table_by_hand() -> None:
    lines = report.per_class_table(hand_confusions(), DIGITS).splitlines()
    assert lines[0] == (
        "| label | class | test images | correct | accuracy | most often taken for |"
    )
    assert lines[2 + 0] == "| 0 | 0 | 50 | 50 | 100.00% | – |"
    assert lines[2 + 4] == "| 4 | 4 | 59 | 50 | 84.75% | 9 (9×) |"  # 50 of 59
    assert lines[2 + 2] == "| 2 | 2 | 51 | 50 | 98.04% | 8 (1×) |"
    assert lines[2 + 6] == "| 6 | 6 | 0 | 0 | – | – |"
    assert len(lines) == 12


def result(name: str, backend: str, spec, run_dir: Path) -> compare.RunResult:
    """A 4-epoch run whose best validation epoch is the 3rd: 2, 3, 4, 5 s per epoch."""
    history = History(config={"n_train": 500})
    for e, (val, test) in enumerate([(0.81, 0.8), (0.83, 0.82), (0.8734, 0.8691), (0.85, None)], 1):
        history.epochs.append(EpochRecord(e, 1.0 / e, 0.9 / e, val, test, 1.0 + e))
        if test is not None:
            history.best = {"epoch": e, "val_acc": val, "test_acc": test}
    plan = compare.RunPlan(name, backend, spec, TrainConfig(epochs=4), 500)
    return compare.RunResult(plan, run_dir / name, history, reused=True)


def test_backend_and_model_tables_by_hand(tmp_path: Path) -> None:
    results = [
        result("numpy-mlp", "numpy", MLPSpec((16,)), tmp_path),
        result("torch-lenet5", "torch", LeNet5Spec(), tmp_path),
    ]
    rows = [compare.summarize_run(r) for r in results]
    assert rows[0]["val_acc"] == 0.8734 and rows[0]["seconds_per_epoch"] == 3.5
    assert compare.backend_table(rows, tmp_path).splitlines() == [
        "| backend | test accuracy (at best val. epoch) | best epoch | s / epoch (mean) "
        "| total s | run |",
        "|---|---:|---:|---:|---:|---|",
        "| NumPy | 86.91% | 3 of 4 | 3.5 | 14.0 | `numpy-mlp/` |",
        "| PyTorch | 86.91% | 3 of 4 | 3.5 | 14.0 | `torch-lenet5/` |",
    ]
    assert compare.model_table(rows, tmp_path).splitlines()[0] == (
        "| network | backend | parameters | FLOPs / image | test accuracy | epochs | s / epoch "
        "| total s | run |"
    )
    assert compare.model_table(rows, tmp_path).splitlines()[2:] == [
        "| MLP [784, 16, 10] relu | NumPy | 12,730 | 25,408 | 86.91% | 4 | 3.5 | 14.0 "
        "| `numpy-mlp/` |",
        "| LeNet-5 relu | PyTorch | 61,706 | 833,040 | 86.91% | 4 | 3.5 | 14.0 | `torch-lenet5/` |",
    ]


def test_a_run_without_a_best_shows_a_dash(tmp_path: Path) -> None:
    row = compare.summarize_run(result("numpy-mlp", "numpy", MLPSpec((16,)), tmp_path))
    row |= {"test_acc": None, "seconds_per_epoch": None}
    line = compare.backend_table([row]).splitlines()[2]
    assert line.startswith("| NumPy | – | 3 of 4 | – | 14.0 | `")
    assert line.endswith(f" | `{tmp_path / 'numpy-mlp'}/` |")  # absolute without a base


def test_a_backend_without_a_display_name_shows_its_own(tmp_path: Path) -> None:
    row = compare.summarize_run(result("numpy-mlp", "numpy", MLPSpec((16,)), tmp_path))
    row["backend"] = "jax"
    assert compare.backend_table([row]).splitlines()[2].startswith("| jax | 86.91% |")
    assert compare.model_table([row]).splitlines()[2].startswith("| MLP [784, 16, 10] relu | jax |")


def test_a_sweep_row_recorded_without_parameters_shows_zero() -> None:
    old = {k: v for k, v in ROWS[0].items() if k != "params"}
    assert report.sweep_table([old], ROWS[1]).splitlines()[2].startswith("| 1 | 16 | 0 | 95.12% |")


def test_summary_row_records_everything_compare_json_keeps(tmp_path: Path) -> None:
    r = result("numpy-mlp", "numpy", MLPSpec((16,)), tmp_path)
    r.history.config["started"] = "2026-12-01T10:00:00Z"
    row = compare.summarize_run(r)
    assert row == {
        "run": "numpy-mlp",
        "run_dir": str(tmp_path / "numpy-mlp"),
        "backend": "numpy",
        "model": "mlp",
        "architecture": "MLP [784, 16, 10] relu",
        "test_acc": 0.8691,
        "val_acc": 0.8734,
        "best_epoch": 3,
        "epochs": 4,
        "seconds_per_epoch": 3.5,
        "seconds_total": 14.0,
        "params": 12_730,
        "flops": 25_408,
        "n_train": 500,
        "seed": TrainConfig().seed,
        "started": "2026-12-01T10:00:00Z",
    }


def test_a_run_with_no_epoch_yet_has_no_numbers(tmp_path: Path) -> None:
    plan = compare.RunPlan("numpy-mlp", "numpy", MLPSpec((16,)), TrainConfig(epochs=4), 500)
    row = compare.summarize_run(compare.RunResult(plan, tmp_path, History(config={}), False))
    assert (row["test_acc"], row["best_epoch"], row["seconds_per_epoch"]) == (None, None, None)
    assert row["seconds_total"] == 0


def test_markdown_table_without_rows_and_with_a_ragged_row() -> None:
    assert compare.markdown_table(["a", "b"], []) == "| a | b |\n|---|---|"
    with pytest.raises(ValueError):
        compare.markdown_table(["a", "b"], [["1", "2"], ["3"]])
