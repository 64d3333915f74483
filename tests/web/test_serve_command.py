"""`mnistlab serve` without a model file: it trains the default model first, then serves it."""

from __future__ import annotations

import socket
from pathlib import Path

import uvicorn

from mnistlab.cli import main
from mnistlab.commands import serve
from mnistlab.config import TrainConfig, get_recipe
from mnistlab.models.modelfile import load_model
from mnistlab.models.spec import ConvNetSpec, MLPSpec


def test_the_default_recipe_is_the_fast_recipe() -> None:
    spec, config, backend = serve.quickest_99_recipe()
    assert spec == ConvNetSpec() and backend == "numpy"
    assert config == get_recipe("fast").config()


def test_fresh_clone_trains_the_default_model_then_serves_it(
    capsys, monkeypatch, tmp_path, mnist_dir: Path
) -> None:
    served = []
    monkeypatch.chdir(tmp_path)
    # A one-epoch small MLP stands in for the 15-epoch recipe; the path through is the same.
    monkeypatch.setattr(
        serve, "quickest_99_recipe", lambda: (MLPSpec((16,)), TrainConfig(epochs=1), "numpy")
    )
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets: served.append(sockets))
    assert main(["serve", "--port", "0", "--data-dir", str(mnist_dir)]) == 0
    out = capsys.readouterr().out
    assert "no model at runs/default-model/model.safetensors: training MLP" in out
    assert "serving MLP [784, 16, 10] relu from runs/default-model/model.safetensors" in out
    assert len(served) == 1
    model = load_model(tmp_path / serve.DEFAULT_MODEL)
    assert model.spec == MLPSpec((16,))
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["default-model"]

    # Next time the model is there: nothing is trained again.
    assert main(["serve", "--port", "0"]) == 0
    again = capsys.readouterr().out
    assert "no model at" not in again and "training MLP" not in again


def test_bad_port_and_host_are_one_line(capsys) -> None:
    assert main(["serve", "--port", "70000"]) == 2
    assert "--port must be 0 to 65535" in capsys.readouterr().err
    assert main(["serve", "--host", "no-such-host.invalid", "--port", "0"]) == 2
    assert "--host no-such-host.invalid" in capsys.readouterr().err


def test_a_corrupt_model_file_is_one_line(capsys, tmp_path) -> None:
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(b"not a model")
    assert main(["serve", str(bad), "--port", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(bad) in err


def test_the_model_file_is_checked_before_the_port(capsys, tmp_path) -> None:
    """A missing or broken MODEL_FILE is the error, even when the port is busy too."""
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"not a model")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        assert main(["serve", str(tmp_path / "missing.safetensors"), "--port", port]) == 2
        assert capsys.readouterr().err == (
            f"mnistlab serve: error: model file not found: {tmp_path / 'missing.safetensors'}\n"
        )
        assert main(["serve", str(bad), "--port", port]) == 2
        err = capsys.readouterr().err
        assert str(bad) in err and "port" not in err


def test_a_busy_port_is_found_before_the_default_model_is_trained(
    capsys, monkeypatch, tmp_path
) -> None:
    monkeypatch.chdir(tmp_path)  # no runs/default-model here
    trained = []
    monkeypatch.setattr(serve, "train_default_model", lambda *args: trained.append(args))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    assert f"port {port} on 127.0.0.1 is already in use" in capsys.readouterr().err
    assert trained == []
