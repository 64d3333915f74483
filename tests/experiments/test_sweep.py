"""The sweep: resumable results, refusing another sweep's directory, local and Dask workers.

The real-MNIST tests use tiny cells (300 training images, one epoch): they check the
machinery, not the accuracies.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mnistlab.cli import main
from mnistlab.errors import UserError
from mnistlab.experiments import sweep
from mnistlab.experiments.grid import Cell, cell_seed, parse_grid
from mnistlab.plots.sweep import plot_sweep

REPO = Path(__file__).resolve().parents[2]
TINY = ["--backend", "numpy", "--k", "1", "--m", "4,8,16", "--epochs", "1", "--limit-train", "300"]
TABLE_ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+[\d,]+\s+([\d.]+%)\s+([\d.]+%)\s+(\d+)\s+[\d.]+")


def table(stdout: str) -> dict[tuple[int, int], tuple[str, str, int]]:
    """(k, m) → (val acc, test acc, best epoch) from the printed table; seconds left out."""
    rows = {}
    for line in stdout.splitlines():
        match = TABLE_ROW.match(line)
        if match:
            k, m, val, test, epoch = match.groups()
            rows[int(k), int(m)] = (val, test, int(epoch))
    return rows


def rows_of(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / sweep.RESULTS).read_text().splitlines()]


def snapshot(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


@pytest.fixture(scope="module")
def reference(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One uninterrupted tiny sweep on two local workers: what every resume must reproduce."""
    out = tmp_path_factory.mktemp("reference") / "sweep"
    argv = ["sweep", *TINY, "--data-dir", str(mnist_dir), "--workers", "2", "--out", str(out)]
    with contextlib.redirect_stdout(_Tee()) as tee:
        code = main(argv)
    assert code == 0
    return {"out": out, "stdout": tee.text, "table": table(tee.text)}


class _Tee:
    """stdout catcher for a module-scoped fixture (capsys is per test)."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    @property
    def text(self) -> str:
        return "".join(self.parts)


@pytest.fixture
def count_cells(monkeypatch: pytest.MonkeyPatch) -> list[Cell]:
    """Record every cell run in this process (workers=1 runs them here, not in a pool)."""
    ran: list[Cell] = []
    real = sweep.run_cell

    def counting(cell: Cell, settings: sweep.SweepSettings, *rest: Any) -> dict[str, Any]:
        ran.append(cell)
        return real(cell, settings, *rest)

    monkeypatch.setattr(sweep, "run_cell", counting)
    return ran


# ---------------------------------------------------------------- without MNIST


def test_local_workers_share_the_cores() -> None:
    """Workers × threads = this process's cores: each worker's BLAS pool (as threadpoolctl
    sees it inside the worker) and its learners get cores ÷ workers threads."""
    from joblib import Parallel, delayed

    from mnistlab.threads import threads_per_worker, usage

    names = ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"]
    share = threads_per_worker(2)
    with sweep.local_backend(2):
        seen = Parallel()(delayed(os.getenv)(name) for name in names * 2)
        pids = set(Parallel()(delayed(os.getpid)() for _ in range(8)))
        blas = Parallel()(delayed(usage)() for _ in range(2))
    assert seen == [str(share)] * 6
    assert os.getpid() not in pids  # the cells run in worker processes
    assert all(cores == share and set(counts) <= {share} for cores, counts in blas), blas


def test_sixteen_cores_give_two_workers_eight_threads_each(monkeypatch) -> None:
    from joblib import Parallel, delayed

    from mnistlab import threads

    for name in threads.THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(threads, "affinity_cores", lambda: 16)
    with sweep.local_backend(2):
        seen = Parallel()(delayed(os.getenv)("OMP_NUM_THREADS") for _ in range(2))
    assert seen == ["8", "8"]


def _row(k: int, m: int, val: float, test: float = 0.9, seconds: float = 1.0) -> dict[str, Any]:
    return {
        "k": k,
        "m": m,
        "val_acc": val,
        "test_acc": test,
        "best_epoch": 1,
        "seconds": seconds,
        "seed": cell_seed(0, Cell(k, m)),
        "epochs": 1,
        "backend": "numpy",
    }


def test_best_is_chosen_by_validation_never_by_test() -> None:
    rows = [_row(1, 16, 0.95, test=0.99), _row(1, 32, 0.96, test=0.90)]
    assert sweep.choose_best(rows)["m"] == 32


def test_ties_go_to_fewer_parameters_then_smaller_k() -> None:
    rows = [_row(2, 64, 0.97), _row(1, 64, 0.97), _row(1, 128, 0.97), _row(3, 16, 0.96)]
    assert (sweep.choose_best(rows)["k"], sweep.choose_best(rows)["m"]) == (1, 64)
    assert sweep.choose_best([_row(2, 8, 0.5), _row(1, 8, 0.5)])["k"] == 1


def test_read_results_drops_only_a_partial_last_line(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    whole = json.dumps(_row(1, 4, 0.5)) + "\n"
    path.write_text(whole + '{"k": 1, "m": 8, "val_')
    rows, dropped = sweep.read_results(path)
    assert dropped and [r["m"] for r in rows] == [4]
    path.write_text(whole + json.dumps(_row(1, 8, 0.5)))  # complete, only "\n" lost
    rows, dropped = sweep.read_results(path)
    assert dropped and [r["m"] for r in rows] == [4, 8]
    path.write_text("garbage\n" + whole)
    with pytest.raises(UserError, match="line 1 is not JSON"):
        sweep.read_results(path)


def test_the_three_figures_are_written(tmp_path: Path) -> None:
    rows = [_row(k, m, 0.9 + k / 100 + m / 1e4, seconds=m / 10) for k in (1, 2) for m in (16, 64)]
    rows.pop()  # a missing cell leaves a blank in the heatmap, not an error
    paths = plot_sweep(rows, tmp_path)
    assert [p.name for p in paths] == ["val_acc_vs_m.png", "heatmap.png", "seconds_vs_m.png"]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- on real MNIST


@pytest.mark.mnist
def test_sweep_writes_results_best_and_figures(reference: dict[str, Any]) -> None:
    out = reference["out"]
    rows = rows_of(out)
    assert sorted((r["k"], r["m"]) for r in rows) == [(1, 4), (1, 8), (1, 16)]
    for row in rows:
        assert {"k", "m", "val_acc", "test_acc", "best_epoch", "seconds", "seed"} <= set(row)
        assert {"epochs", "val_accs", "backend", "finished"} <= set(row)
        assert row["seed"] == cell_seed(0, Cell(row["k"], row["m"]))
        assert row["val_accs"][row["best_epoch"] - 1] == row["val_acc"]
    best = json.loads((out / sweep.BEST).read_text())
    top = max(rows, key=lambda r: r["val_acc"])
    assert (best["k"], best["m"], best["test_acc"]) == (top["k"], top["m"], top["test_acc"])
    record = json.loads((out / sweep.SWEEP).read_text())
    assert record["grid"] == {"k": [1], "m": [4, 8, 16]}
    assert {"val_acc_vs_m.png", "heatmap.png", "seconds_vs_m.png"} <= set(os.listdir(out))
    assert len(reference["table"]) == 3
    assert "best (by validation accuracy): k=" in reference["stdout"]


@pytest.mark.mnist
def test_resume_after_a_kill_mid_write(
    reference: dict[str, Any],
    mnist_dir: Path,
    tmp_path: Path,
    count_cells: list[Cell],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One finished row plus half a line, as a kill during an append leaves them."""
    out = tmp_path / "sweep"
    out.mkdir()
    shutil.copy(reference["out"] / sweep.SWEEP, out)
    first = (reference["out"] / sweep.RESULTS).read_text().splitlines(keepends=True)[0]
    (out / sweep.RESULTS).write_text(first + '{"k": 1, "m": 8, "val_acc": 0.4')
    kept = rows_of_text(first)[0]

    argv = ["sweep", *TINY, "--data-dir", str(mnist_dir), "--workers", "1", "--out", str(out)]
    assert main(argv) == 0
    stdout = capsys.readouterr().out

    assert table(stdout) == reference["table"]  # same numbers as never interrupted
    assert "2 of 3 cells to run (1 already finished)" in stdout
    assert sorted(count_cells) == sorted({Cell(1, 4), Cell(1, 8), Cell(1, 16)} - {cell(kept)})
    rows = rows_of(out)  # the partial line is gone, the kept row untouched
    assert len(rows) == 3 and rows[0] == kept
    assert (out / sweep.RESULTS).read_text().startswith(first)

    assert main(argv) == 0  # a finished sweep runs nothing
    assert "already finished" in capsys.readouterr().out
    assert len(count_cells) == 2


def rows_of_text(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def cell(row: dict[str, Any]) -> Cell:
    return Cell(row["k"], row["m"])


@pytest.mark.mnist
@pytest.mark.parametrize(
    "change",
    [
        ["--m", "4,8"],
        ["--k", "2"],
        ["--epochs", "2"],
        ["--lr", "0.1"],
        ["--seed", "1"],
        ["--backend", "torch"],
    ],
)
def test_another_sweeps_directory_is_refused_untouched(
    reference: dict[str, Any],
    mnist_dir: Path,
    tmp_path: Path,
    change: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "sweep"
    shutil.copytree(reference["out"], out)
    before = snapshot(out)
    argv = ["sweep", *TINY, *change, "--data-dir", str(mnist_dir), "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "holds results of a different sweep" in err and "use another --out" in err
    assert snapshot(out) == before


@pytest.mark.mnist
def test_a_finished_sweep_grows_with_a_larger_grid(
    reference: dict[str, Any],
    mnist_dir: Path,
    tmp_path: Path,
    count_cells: list[Cell],
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "sweep"
    shutil.copytree(reference["out"], out)
    tiny = [a if a != "4,8,16" else "4,8,16,32" for a in TINY]
    argv = ["sweep", *tiny, "--data-dir", str(mnist_dir), "--workers", "1", "--out", str(out)]
    assert main(argv) == 0
    stdout = capsys.readouterr().out
    assert count_cells == [Cell(1, 32)]  # only the new cell trains
    assert "extending the sweep in" in stdout and "1 of 4 cells to run" in stdout
    grown = table(stdout)
    assert {key: grown[key] for key in reference["table"]} == reference["table"]
    assert json.loads((out / sweep.SWEEP).read_text())["grid"] == {"k": [1], "m": [4, 8, 16, 32]}
    assert len(rows_of(out)) == 4


def test_best_json_records_the_data_dir_sweep_json_has(reference: dict[str, Any]) -> None:
    record = json.loads((reference["out"] / sweep.SWEEP).read_text())
    best = json.loads((reference["out"] / sweep.BEST).read_text())
    assert record["settings"]["data_dir"] is not None
    assert best["sweep"] == record


@pytest.mark.mnist
def test_force_replaces_a_different_sweep(
    reference: dict[str, Any], mnist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sweep"
    shutil.copytree(reference["out"], out)
    argv = ["sweep", *TINY, "--seed", "1", "--data-dir", str(mnist_dir), "--out", str(out)]
    assert main([*argv, "--workers", "1", "--force"]) == 0
    assert "--force: removed the results of a different sweep" in capsys.readouterr().out
    assert sorted(r["seed"] for r in rows_of(out)) == [cell_seed(1, Cell(1, m)) for m in (4, 8, 16)]
    assert json.loads((out / sweep.SWEEP).read_text())["settings"]["seed"] == 1


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--hidden", "100"], "--hidden 100: a sweep's widths come from --k and --m"),
        (["--model", "lenet5"], "--model lenet5: a sweep trains MLPs"),
    ],
)
def test_architecture_flags_point_to_k_and_m(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], words: str
) -> None:
    assert main(["sweep", *TINY, "--out", str(tmp_path / "s"), *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mnistlab sweep: error: ") and words in err
    assert not (tmp_path / "s").exists()


def test_sweep_help_gives_its_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"--epochs EPOCHS default: {sweep.DEFAULT_EPOCHS}" in text
    assert "DIR/sweep.json records the grid and the settings" in text
    assert "--force replace the results of a different sweep" in text


@pytest.mark.mnist
def test_foreign_rows_without_a_sweep_record_are_refused(
    reference: dict[str, Any], mnist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sweep"
    out.mkdir()
    shutil.copy(reference["out"] / sweep.RESULTS, out)
    before = snapshot(out)
    argv = ["sweep", *TINY, "--seed", "3", "--data-dir", str(mnist_dir), "--out", str(out)]
    assert main(argv) == 2
    assert "different sweep" in capsys.readouterr().err
    assert snapshot(out) == before


def test_unreachable_scheduler_is_one_line_and_touches_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sweep"
    out.mkdir()
    grid, settings = parse_grid("1", "4,8"), sweep.SweepSettings(epochs=1, limit_train=300)
    (out / sweep.SWEEP).write_text(json.dumps(sweep.sweep_record(grid, settings)))
    (out / sweep.RESULTS).write_text(json.dumps(_row(1, 4, 0.5)) + "\n" + '{"k": 1, "m"')
    before = snapshot(out)
    address = f"tcp://127.0.0.1:{free_port()}"
    argv = [*TINY[:4], "--m", "4,8", "--epochs", "1", "--limit-train", "300"]
    argv = ["sweep", *argv, "--out", str(out), "--scheduler", address, "--connect-timeout", "1"]
    start = time.monotonic()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert time.monotonic() - start < 15
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"cannot reach the Dask scheduler at {address}" in err
    assert snapshot(out) == before  # not even the partial line was cleaned up


# ---------------------------------------------------------------- Ctrl-C, for real


CHILD = (
    "import signal, sys\n"
    "signal.signal(signal.SIGINT, signal.default_int_handler)\n"  # even if started ignoring it
    "from mnistlab.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


@pytest.mark.mnist
def test_ctrl_c_keeps_finished_cells_and_the_same_command_resumes(
    mnist_dir: Path, tmp_path: Path, count_cells: list[Cell], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sweep"
    grid = ["--backend", "numpy", "--k", "1,2", "--m", "8,16,32,64", "--epochs", "1"]
    argv = ["sweep", *grid, "--limit-train", "2000", "--data-dir", str(mnist_dir)]
    argv += ["--out", str(out)]
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, *argv, "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        start_new_session=True,  # its own process group: Ctrl-C reaches it and its workers
    )
    try:
        results = out / sweep.RESULTS
        deadline = time.monotonic() + 120
        while not (results.exists() and results.stat().st_size) and child.poll() is None:
            assert time.monotonic() < deadline, "no cell finished in 120 s"
            time.sleep(0.02)
        os.killpg(child.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        _, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    assert child.returncode == 130, err
    kept, _ = sweep.read_results(out / sweep.RESULTS)  # a kill mid-append may leave half a line
    assert 1 <= len(kept) < 8
    assert f"interrupted; {len(kept)} of 8 cells finished" in err
    assert "Re-run the same command to resume" in err
    assert "Traceback" not in err
    before = "".join(json.dumps(row) + "\n" for row in kept)

    assert main([*argv, "--workers", "1"]) == 0
    stdout = capsys.readouterr().out
    assert f"{8 - len(kept)} of 8 cells to run ({len(kept)} already finished)" in stdout
    assert len(table(stdout)) == 8
    assert sorted(count_cells) == sorted(
        set(parse_grid("1,2", "8,16,32,64").cells) - {cell(r) for r in kept}
    )
    assert (out / sweep.RESULTS).read_text().startswith(before)
    assert len(rows_of(out)) == 8


# ---------------------------------------------------------------- a real Dask cluster


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as f:
        return subprocess.Popen(
            [sys.executable, "-m", *args],
            stdout=f,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            start_new_session=True,
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_for_address(path: Path, process: subprocess.Popen[bytes], log: Path) -> str:
    """The scheduler's address from its scheduler file, once the file is complete."""
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the scheduler did not start in 60 s"
        with contextlib.suppress(OSError, ValueError, KeyError):
            return json.loads(path.read_text())["address"]
        time.sleep(0.1)


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[str]:
    """A scheduler and one single-threaded worker, all on 127.0.0.1; stopped afterwards."""
    from distributed import Client

    local = ["--host", "127.0.0.1", "--no-dashboard", "--dashboard-address", "127.0.0.1:0"]
    scheduler_file = tmp_path / "scheduler.json"
    processes = []
    try:
        scheduler = ["distributed.cli.dask_scheduler", "--port", "0", *local]
        scheduler += ["--scheduler-file", str(scheduler_file)]
        processes.append(_start(scheduler, tmp_path / "scheduler.log"))
        address = _wait_for_address(scheduler_file, processes[0], tmp_path / "scheduler.log")
        assert address.startswith("tcp://127.0.0.1:")
        worker = ["distributed.cli.dask_worker", address, "--nthreads", "1", "--nworkers", "1"]
        processes.append(_start([*worker, *local], tmp_path / "worker.log"))
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(1, timeout=60)
        yield address
    finally:
        for process in reversed(processes):
            _stop(process)


@pytest.mark.mnist
def test_sweep_on_a_real_dask_cluster(
    dask_cluster: str,
    reference: dict[str, Any],
    mnist_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "sweep"
    argv = ["sweep", *TINY, "--data-dir", str(mnist_dir), "--out", str(out)]
    assert main([*argv, "--scheduler", dask_cluster]) == 0
    stdout = capsys.readouterr().out
    assert f"Dask scheduler {dask_cluster} (1 worker now)" in stdout
    assert table(stdout) == reference["table"]  # same seeds, same numbers, anywhere
    rows = rows_of(out)
    assert len(rows) == 3
    assert all(row["worker"].split(":")[1] != str(os.getpid()) for row in rows)
