"""The wheel works outside the clone: `python -m build`, a fresh virtual environment, and the
installed `mnistlab` trains and serves its page with nothing from the repository.

The environment gets only what the wheel declares (no --system-site-packages, which would
hide a missing dependency). Two things keep it quick: `pip --python` installs into a venv
made without pip of its own, and --no-compile skips byte-compiling torch's thousands of
files (Python compiles what it imports). pip's cache is shared as usual.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.wheel, pytest.mark.xdist_group("wheel")]


def run(*argv: str | Path, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv outside the repository with only the built wheel installed in it."""
    pytest.importorskip("build")
    root = tmp_path_factory.mktemp("wheel")
    source = copy_of_the_tree(root / "source")
    build = [sys.executable, "-m", "build", "--no-isolation", "--outdir", root / "dist"]
    ok(run(*build, source, cwd=root))
    (wheel,) = (root / "dist").glob("mnistlab-*.whl")
    venv = root / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    ok(run(base, "-m", "venv", "--without-pip", venv, cwd=root))
    pip = [sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q"]
    ok(run(*pip, "--no-compile", "-c", REPO / "constraints.txt", wheel, cwd=root))
    return venv


def copy_of_the_tree(dest: Path) -> Path:
    """The files git tracks or would track (nothing it ignores), copied to `dest`: the
    build sees what a clone holds, and writes its egg-info there, not in the working tree
    (two builds in one tree at once would clash)."""
    listed = run("git", "ls-files", "-co", "--exclude-standard", "-z", cwd=REPO)
    for name in ok(listed).split("\0"):
        if name and (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    return dest


def test_the_wheel_holds_the_page_and_the_type_marker(installed: Path) -> None:
    where = ok(run(installed / "bin" / "python", "-c", PROBE, cwd=installed.parent))
    files = json.loads(where)
    assert files["mnistlab"].startswith(str(installed)), files  # not the clone's copy
    assert files["page"] and files["typed"], files


PROBE = """
import json, pathlib, mnistlab, mnistlab.web.app as app
root = pathlib.Path(mnistlab.__file__).parent
print(json.dumps({"mnistlab": str(root), "page": (app.STATIC / "index.html").is_file(),
                  "typed": (root / "py.typed").is_file()}))
"""


def test_installed_mnistlab_trains_and_serves(
    installed: Path, mnist_dir: Path, tmp_path: Path
) -> None:
    mnistlab = installed / "bin" / "mnistlab"
    assert "train one network under the lab protocol" in run(mnistlab, cwd=tmp_path).stderr
    assert ok(run(mnistlab, "--help", cwd=tmp_path)).startswith("usage: mnistlab")
    trained = run(
        mnistlab, "train", "--epochs", "1", "--limit-train", "500", "--hidden", "32",
        "--data-dir", mnist_dir, "--out", "run", cwd=tmp_path,
    )  # fmt: skip
    assert "best validation" in ok(trained)
    model = tmp_path / "run" / "model.safetensors"
    assert model.is_file() and (tmp_path / "run" / "history.json").is_file()
    api = run(
        installed / "bin" / "python", "-c", API.format(model=model, data=mnist_dir), cwd=tmp_path
    )
    assert float(ok(api)) > 0.5  # the Python API, from the installed package
    # the optional extras are not installed: one line each, never a traceback
    export = run(mnistlab, "export", model, "--onnx", "m.onnx", cwd=tmp_path)
    assert export.returncode == 2 and export.stderr.strip().endswith("'mnistlab[export]'")
    serve_page(mnistlab, model, tmp_path, mnist_dir)


API = """
import mnistlab as ml
model = ml.load_model("{model}")
print(model.evaluate(ml.load_data(data_dir="{data}", limit_train=10)).accuracy)
"""


def serve_page(mnistlab: Path, model: Path, cwd: Path, mnist_dir: Path) -> None:
    """`mnistlab serve` on a free port: the page, and a digit read through the API."""
    server = subprocess.Popen(
        [str(mnistlab), "serve", str(model), "--port", "0"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = server.stdout.readline() if server.stdout else ""
        url = re.search(r"at (http://\S+/)", line)
        assert url, line
        html = fetch(url[1]).decode()
        assert "<canvas" in html
        reply = json.loads(fetch(url[1] + "api/predict", digit_png(mnist_dir)))
        assert reply["digit"] == 7 and len(reply["probabilities"]) == 10
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)


def fetch(url: str, body: bytes | None = None) -> bytes:
    """GET (or POST `body` to) a local URL, waiting up to 30 s for the server to listen:
    it prints its address once the port is bound, a moment before uvicorn accepts."""
    local = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + 30
    while True:
        try:
            with local.open(urllib.request.Request(url, data=body), timeout=30) as reply:
                assert reply.status == 200
                return reply.read()
        except urllib.error.URLError as exc:
            if not isinstance(exc.reason, ConnectionRefusedError) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def digit_png(mnist_dir: Path) -> bytes:
    """MNIST's first test image (a 7) as a PNG file."""
    from PIL import Image

    from mnistlab.data.idx import read_images

    pixels = np.asarray(read_images(mnist_dir / "t10k-images-idx3-ubyte.gz")[0])
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()
