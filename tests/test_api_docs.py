"""docs/api.md runs: its Python blocks, top to bottom in one namespace, on MNIST, and together
they use every public name of `mnistlab`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import mnistlab

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_every_public_name_is_shown() -> None:
    code = "\n".join(python_blocks(DOC.read_text()))
    used = set(re.findall(r"\bml\.(\w+)", code))
    assert set(mnistlab.__all__) - {"__version__"} <= used


@pytest.mark.mnist
def test_the_examples_run(tmp_path: Path, mnist_dir: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)  # the examples write runs/ and PNGs where they run
    monkeypatch.setenv("MNISTLAB_DATA", str(mnist_dir))
    session: dict = {}
    for number, block in enumerate(python_blocks(DOC.read_text()), 1):
        try:
            exec(compile(block, f"docs/api.md block {number}", "exec"), session)
        except Exception as exc:
            pytest.fail(f"docs/api.md block {number} failed: {exc!r}\n{block}")
    out = capsys.readouterr().out
    assert "--lr: the learning rate must be a positive number" in out
    assert (tmp_path / "runs" / "lenet5" / "history.json").is_file()
    assert (tmp_path / "runs" / "lenet5.onnx").is_file() and (tmp_path / "curves.png").is_file()
    assert list((tmp_path / "runs" / "tb" / "mlp32").glob("events.out.tfevents.*"))
