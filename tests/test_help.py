"""What a newcomer reads first: bare `mnistlab`, --help, usage errors, the lab's main.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mnistlab.cli import COMMANDS, lab_main, main

REPO = Path(__file__).resolve().parents[1]


def help_text(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """A command's --help with whitespace collapsed (argparse wraps to the terminal)."""
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0
    return " ".join(capsys.readouterr().out.split())


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """The one stderr line of a refused command line (exit code 2)."""
    with pytest.raises(SystemExit) as exc:
        raise SystemExit(main(list(argv)))
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1, err
    return err.strip()


def test_bare_mnistlab_lists_every_command(capsys) -> None:
    assert main([]) == 2
    err = capsys.readouterr().err
    lines = [line.split(maxsplit=1) for line in err.splitlines() if line.startswith("  ")]
    assert [name for name, _ in lines] == list(COMMANDS)
    assert dict(lines)["train"] == "train one network under the lab protocol"
    assert "mnistlab COMMAND --help" in err


def test_an_unknown_flag_names_the_command(capsys) -> None:
    err = usage_error(capsys, "train", "--colour", "blue")
    assert err == "mnistlab train: error: unrecognized arguments: --colour blue"
    assert usage_error(capsys, "sweep", "--out", "x", "--bogus").startswith("mnistlab sweep: error")


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--limit-train", "0"], "--limit-train must be between 1 and 50000, not 0"),
        (["--epochs", "0"], "--epochs must be at least 1, got 0"),
        (["--batch-size", "0"], "--batch-size must be at least 1, got 0"),
        (["--lr", "0"], "--lr: the learning rate must be a positive number, got 0.0"),
        (["--momentum", "1"], "--momentum must be in [0, 1), got 1.0"),
        (["--hidden", "64,0"], "--hidden 64,0: every hidden layer needs at least one neuron"),
    ],
)
def test_errors_name_flags_as_typed(capsys, tmp_path: Path, flags, expected) -> None:
    argv = ["train", "--data-dir", str(tmp_path), "--out", str(tmp_path / "run"), *flags]
    err = usage_error(capsys, *argv)
    assert err.startswith("mnistlab train: error: ") and expected in err


def test_help_shows_defaults_and_explains_every_flag(capsys) -> None:
    train = help_text(capsys, "train")
    assert "same seed, same numbers (default: 0)" in train
    assert "--dtype {float32,float64} floating-point type of the weights" in train
    assert "(default: float32)" in train
    assert "hidden-layer activation of every cell (default: relu)" in help_text(capsys, "sweep")
    gradcheck = help_text(capsys, "gradcheck")
    assert "--seed SEED seeds the small random networks and inputs that are checked" in gradcheck
    assert "MODEL_FILE a model.safetensors" in help_text(capsys, "evaluate")


def test_help_says_what_limit_train_does_to_lambda(capsys) -> None:
    train = help_text(capsys, "train")
    assert "n = the number of training images, so with --limit-train the same λ weighs" in train
    assert "the same --l2 regularises 50,000/N times more strongly" in train


def test_a_versions_main_trains_that_version_only(capsys) -> None:
    assert lab_main("numpy", ["--backend", "torch"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mnistlab/numpy_version/main.py: error: this main.py trains the numpy")
    assert "run mnistlab/pytorch_version/main.py" in err
    assert lab_main("torch", ["--backend=numpy"]) == 2
    assert "run mnistlab/numpy_version/main.py" in capsys.readouterr().err
    assert lab_main("numpy", ["--back", "torch"]) == 2  # an abbreviated flag is the flag
    assert "trains the numpy version only" in capsys.readouterr().err


def run_main_py(*python: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*python, "mnistlab/numpy_version/main.py", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_main_py_without_mnistlab_says_what_to_run() -> None:
    """-S hides the venv's packages: what the system Python sees on a clean clone."""
    result = run_main_py(sys.executable, "-S")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert "cannot import mnistlab; run `make setup`, then " in result.stderr
    assert "`.venv/bin/python mnistlab/numpy_version/main.py`" in result.stderr


def test_main_py_with_the_venvs_python() -> None:
    result = run_main_py(sys.executable)
    assert result.returncode == 0 and result.stdout.startswith("usage: mnistlab train")


def test_quick_report_banner_says_lambda_is_stronger() -> None:
    from types import SimpleNamespace

    from mnistlab.experiments.report import quick_banner

    history = SimpleNamespace(config={"n_train": 5_000, "train": {"l2": 5.0}})
    inputs = SimpleNamespace(
        best_mlp=SimpleNamespace(history=history), plan=SimpleNamespace(epochs=2)
    )
    banner = quick_banner(inputs)  # type: ignore[arg-type]
    assert "λ/(2n) with n = 5,000 here, so λ = 5 regularises 10× as strongly" in banner


def test_report_help_and_the_printed_plan_give_one_estimate(tmp_path, monkeypatch, capsys) -> None:
    """--help and the line `report` prints before it starts come from one estimate
    (experiments/estimate.py; `make bench` sets it beside measured times)."""
    from mnistlab.experiments import report, report_plan
    from mnistlab.experiments.estimate import duration

    text = help_text(capsys, "report")
    sweep, full = (duration(s)[1:] for s in report_plan.report_seconds(report_plan.full_plan(), 2))
    quick = duration(report_plan.report_seconds(report_plan.quick_plan(), 2)[1])[1:]
    assert (
        f"the full report takes about {full} (its k × m sweep {sweep}), --quick about {quick}"
        in text
    )
    assert "Open DIR/report.html in a browser" in text
    monkeypatch.setattr(report, "build_report", lambda *args, **kwargs: None)
    assert main(["report", "--quick", "--workers", "2", "--out", str(tmp_path / "r")]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(f"report: quick plan, about {quick} on an idle machine with 2 cores")
    assert f"takes about {sweep} on 2 idle cores" in help_text(capsys, "sweep")


def test_report_ends_with_the_page_to_open(tmp_path: Path, monkeypatch, capsys) -> None:
    from mnistlab.experiments import report

    monkeypatch.setattr(report, "build_report", lambda *args, **kwargs: None)
    assert main(["report", "--quick", "--out", str(tmp_path / "r")]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last == f"open it in a browser: {(tmp_path / 'r' / 'report.html').as_uri()}"
