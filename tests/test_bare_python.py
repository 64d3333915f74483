"""Training, and benchmarks/gpu.py, under a bare Python: NumPy and PyTorch, nothing else.

A GPU machine's own interpreter may lack what the rest of mnistlab uses (tqdm,
threadpoolctl, safetensors, matplotlib, the web server's libraries); the training path
must not need them, and the GPU benchmark must say what it skipped instead of failing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCKED = (
    "tqdm", "threadpoolctl", "safetensors", "matplotlib", "fastapi", "uvicorn", "starlette",
    "pydantic", "httpx", "PIL", "joblib", "distributed", "dask", "markdown_it", "filelock",
)  # fmt: skip
# None in sys.modules: `import tqdm` fails as if it were not installed, and
# importlib.util.find_spec("tqdm") says None, as torch's own probes expect.
BLOCKER = f"""
import sys
for name in {BLOCKED!r}:
    sys.modules[name] = None
"""


def bare_python(code: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", BLOCKER + code, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_training_needs_only_numpy_and_torch() -> None:
    code = """
import numpy as np
from mnistlab.config import TrainConfig
from mnistlab.data.splits import Split, Splits
from mnistlab.models.spec import ConvNetSpec, MLPSpec
from mnistlab.training import train
rng = np.random.default_rng(0)
def split(n):
    return Split(rng.random((n, 28, 28), dtype=np.float32), rng.integers(0, 10, n))
splits = Splits(split(300), split(100), split(100), "synthetic", "memory")
for backend, spec in (("numpy", MLPSpec((8,))), ("torch", ConvNetSpec((2, 3), 8))):
    config = TrainConfig(epochs=2, batch_size=256 if backend == "numpy" else 20)
    history, _ = train(spec, config, splits, backend, None, log=None, show_progress=True)
    assert len(history.epochs) == 2, history
blocked = [m for m, v in sys.modules.items() if v and m.partition(".")[0] in BLOCKED_NAMES]
print("loaded blocked modules:", blocked)
"""
    done = bare_python(code.replace("BLOCKED_NAMES", repr(BLOCKED)))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "loaded blocked modules: []" in done.stdout


def test_the_gpu_benchmark_runs_its_cpu_parts_and_names_what_it_skipped() -> None:
    """The smoke run: tiny synthetic data; sections 1-4 run on the CPU device only to show
    that they run; every CUDA figure is listed as not measured."""
    code = "import runpy; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
    script = str(ROOT / "benchmarks" / "gpu.py")
    done = bare_python(code, script, "--smoke", "--device", "cpu", "--seeds", "2")
    out = done.stdout
    assert done.returncode == 0, done.stderr[-2000:] + out[-2000:]
    assert "optional packages missing: tqdm, threadpoolctl, safetensors" in out
    for section in ("\n1. First runs", "\n2. Fast recipe", "\n3. The lab's", "\n4. Reproducible",
                    "\n5. This machine's CPU", "\n6. --device auto"):  # fmt: skip
        assert section in out, out
    assert "histories identical" in out
    assert "resume on CUDA: safetensors is not installed" in out
    assert "every CUDA figure (sections 1-4): PyTorch sees no CUDA GPU here" in out
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "\nSummary" in out
