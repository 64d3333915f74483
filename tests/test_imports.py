"""What each entry point imports: the optional extras only when asked for, torch only where
a path needs it. Each check runs in a fresh interpreter, where sys.modules starts empty."""

from __future__ import annotations

import json
import subprocess
import sys

EXTRAS = ("onnx", "onnxruntime", "tensorboardX", "tensorboard", "nbclient", "nbformat")
EXTRAS += ("ipykernel", "ipywidgets", "build")


def imported_after(code: str) -> set[str]:
    """The top-level packages loaded in a fresh interpreter by `code`."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return {name.split(".")[0] for name in json.loads(done.stdout.splitlines()[-1])}


TRAIN = """
from mnistlab.config import TrainConfig
from mnistlab.models.spec import MLPSpec
from mnistlab.training import train
from tests.test_checkpoint import synthetic_splits
import tempfile
for backend in ("numpy", "torch"):
    train(MLPSpec(hidden=(8,)), TrainConfig(epochs=1), synthetic_splits(40), backend,
          __import__("pathlib").Path(tempfile.mkdtemp()), log=None, show_progress=False)
"""


def test_training_never_imports_the_extras() -> None:
    assert not imported_after("import mnistlab.training") & set(EXTRAS)
    assert not imported_after(TRAIN) & set(EXTRAS)


def test_the_command_line_and_the_package_stay_light() -> None:
    heavy = {"torch", "matplotlib", *EXTRAS}
    assert not imported_after("import mnistlab") & {"numpy", *heavy}  # names load when used
    assert not imported_after("from mnistlab.cli import build_parser; build_parser()") & heavy
