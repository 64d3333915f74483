"""The sweep grid: what --k and --m accept, and the one-line errors for what they refuse."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnistlab.cli import main
from mnistlab.errors import UserError
from mnistlab.experiments.grid import Cell, Grid, cell_seed, parse_grid, parse_k, parse_m


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,2,3", [1, 2, 3]),
        ("3,1", [1, 3]),
        ("2, 2 ,1", [1, 2]),
        ("1", [1]),
    ],
)
def test_parse_k(text: str, expected: list[int]) -> None:
    assert parse_k(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("16,32,64", [16, 32, 64]),
        ("10:300:10", list(range(10, 301, 10))),
        ("10:35:10", [10, 20, 30]),  # the stop is included only when a step lands on it
        ("16,32,100:300:100", [16, 32, 100, 200, 300]),
        ("64,16,32,16", [16, 32, 64]),
        ("8:8:1", [8]),
        ("20:30:10,25,10:20:5", [10, 15, 20, 25, 30]),
    ],
)
def test_parse_m(text: str, expected: list[int]) -> None:
    assert parse_m(text) == expected


def test_grid_cells_are_the_product_in_k_m_order() -> None:
    grid = parse_grid("2,1", "32,16")
    assert grid == Grid(ks=(1, 2), ms=(16, 32))
    assert grid.cells == [Cell(1, 16), Cell(1, 32), Cell(2, 16), Cell(2, 32)]
    assert len(grid) == 4
    assert grid.to_json() == {"k": [1, 2], "m": [16, 32]}


def test_cell_parameters_count_weights_and_biases() -> None:
    assert Cell(1, 100).n_params == 784 * 100 + 100 + 100 * 10 + 10
    assert Cell(2, 16).n_params == 784 * 16 + 16 + 16 * 16 + 16 + 16 * 10 + 10
    assert Cell(1, 16).hidden == (16,)
    assert Cell(3, 8).hidden == (8, 8, 8)


def test_cell_seeds_are_deterministic_and_distinct() -> None:
    grid = parse_grid("1,2,3", "1:999:1")
    seeds = [cell_seed(7, cell) for cell in grid.cells]
    assert len(set(seeds)) == len(seeds)
    assert cell_seed(7, Cell(2, 64)) == 7 * 1_000_003 + 2064
    assert cell_seed(0, Cell(1, 16)) != cell_seed(1, Cell(1, 16))


@pytest.mark.parametrize(
    ("k", "m", "message"),
    [
        ("0", "16", "must be 1 to 3, got 0"),
        ("5", "16", "must be 1 to 3, got 5"),
        ("-1", "16", "must be 1 to 3, got -1"),
        ("1,two", "16", "'two' is not a whole number"),
        ("", "16", "--k is empty"),
        ("1", "", "--m is empty"),
        ("1", " , ", "--m is empty"),
        ("1", "16,,32", "empty item"),
        ("1", "0", "at least one neuron, got 0"),
        ("1", "16,-4", "at least one neuron, got -4"),
        ("1", "10:5:1", "stops (5) before it starts"),
        ("1", "10:20:0", "step of '10:20:0' must be positive"),
        ("1", "10:20:-5", "must be positive, got -5"),
        ("1", "10:20", "a range is start:stop:step"),
        ("1", "16.5", "'16.5' is not a whole number"),
        ("1", "a:b:c", "'a' is not a whole number"),
        ("1", "1:1000000:1", "use a larger step"),
    ],
)
def test_bad_grids_are_one_line_errors(
    k: str, m: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sweep"
    code = main(["sweep", f"--k={k}", f"--m={m}", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.count("\n") == 1, captured.err
    assert captured.err.startswith("mnistlab sweep: error: ")
    assert message in captured.err
    assert "Traceback" not in captured.err
    assert not out.exists()  # refused before anything was touched


def test_bad_grid_raises_user_error_in_the_api() -> None:
    with pytest.raises(UserError, match="1 to 3"):
        parse_grid("4", "16")


@pytest.mark.parametrize(
    "flags",
    [
        ["--workers", "0"],
        ["--epochs", "0"],
        ["--lr", "-1"],
        ["--limit-train", "0"],
        ["--limit-train", "50001"],
        ["--connect-timeout", "0"],
        ["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"],
    ],
)
def test_bad_run_settings_are_one_line_errors(
    flags: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sweep"
    code = main(["sweep", "--k", "1", "--m", "4", "--out", str(out), *flags])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    assert not out.exists()
