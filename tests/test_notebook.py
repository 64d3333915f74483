"""notebooks/lab.ipynb runs end to end in a Jupyter kernel (small sizes set by its
parameters cell), shows its figures, and is committed without outputs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "lab.ipynb"
# What the test trains: about a minute on two idle cores, instead of the lab's full sizes.
SMALL = """\
LIMIT_TRAIN = 1_000
EPOCHS = 2
SWEEP_K = [1, 2]
SWEEP_M = [16, 32]
SWEEP_EPOCHS = 1
LENET_EPOCHS = 1
"""
FIGURES = 11  # the notebook draws this many figures

nbformat = pytest.importorskip("nbformat")


def test_committed_without_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)
    (parameters,) = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    for line in SMALL.splitlines():  # every override names a real parameter
        assert line.split(" = ")[0] + " = " in parameters.source


@pytest.mark.mnist
def test_the_lab_runs_end_to_end(tmp_path: Path, mnist_dir: Path, monkeypatch) -> None:
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("MNISTLAB_DATA", str(mnist_dir))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    index = next(
        i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", [])
    )
    notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(SMALL))
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    start = time.perf_counter()
    client.execute()  # any cell that raises fails the test (CellExecutionError)
    seconds = time.perf_counter() - start
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    pngs = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(pngs) == FIGURES, [o.get("data", {}).keys() for o in outputs]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "best cell by validation: k=" in text and "LeNet-5 reads a " in text
    assert (tmp_path / "my_digit.png").is_file()
    print(f"notebook executed in {seconds:.0f} s")
