"""One file format for both backends, and refusals for files that are not ours."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mnistlab.errors import ModelFileError
from mnistlab.models.init import init_params
from mnistlab.models.modelfile import FORMAT_VERSION, check_matches, load_model, save_model
from mnistlab.models.spec import LeNet5Spec, MLPSpec


@pytest.mark.parametrize("spec", [MLPSpec((7,)), MLPSpec((5, 4, 3), "tanh"), LeNet5Spec()])
def test_round_trip_rebuilds_architecture_and_values(tmp_path, spec) -> None:
    params = init_params(spec, np.random.default_rng(0))
    save_model(tmp_path / "m.safetensors", spec, params, {"note": "x"})
    model = load_model(tmp_path / "m.safetensors")
    assert model.spec == spec
    assert model.info == {"note": "x"}
    for name, value in params.items():
        np.testing.assert_array_equal(model.params[name], value)


def test_non_contiguous_arrays_are_saved_correctly(tmp_path) -> None:
    """safetensors 0.8 corrupts strided arrays unless we make them contiguous first."""
    spec = MLPSpec((3,))
    params = init_params(spec, np.random.default_rng(1))
    w = np.asfortranarray(params["layers.0.weight"])
    params["layers.0.weight"] = w
    params["layers.1.weight"] = np.ascontiguousarray(params["layers.1.weight"].T).T
    save_model(tmp_path / "m.safetensors", spec, params)
    loaded = load_model(tmp_path / "m.safetensors").params
    np.testing.assert_array_equal(loaded["layers.0.weight"], w)
    np.testing.assert_array_equal(loaded["layers.1.weight"], params["layers.1.weight"])


def test_garbage_is_refused(tmp_path) -> None:
    path = tmp_path / "junk.safetensors"
    path.write_bytes(b"\x00" * 7 + b"not a model at all")
    with pytest.raises(ModelFileError, match="not a model file"):
        load_model(path)


def test_truncated_file_is_refused(tmp_path) -> None:
    spec = MLPSpec((3,))
    save_model(tmp_path / "m.safetensors", spec, init_params(spec, np.random.default_rng(0)))
    data = (tmp_path / "m.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError):
        load_model(tmp_path / "cut.safetensors")


def test_foreign_safetensors_file_is_refused(tmp_path) -> None:
    from safetensors.numpy import save_file

    save_file({"w": np.zeros(3, np.float32)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ModelFileError, match="not an mnistlab model"):
        load_model(tmp_path / "other.safetensors")


def test_newer_format_version_asks_for_upgrade(tmp_path) -> None:
    from safetensors.numpy import save_file

    spec = MLPSpec((3,))
    params = init_params(spec, np.random.default_rng(0))
    meta = {
        "format": "mnistlab-model",
        "format_version": str(FORMAT_VERSION + 1),
        "architecture": json.dumps(spec.to_json()),
        "info": "{}",
    }
    save_file(params, str(tmp_path / "new.safetensors"), metadata=meta)
    with pytest.raises(ModelFileError, match="upgrade mnistlab"):
        load_model(tmp_path / "new.safetensors")


def test_shapes_must_match_the_header(tmp_path) -> None:
    from safetensors.numpy import save_file

    spec = MLPSpec((3,))
    params = init_params(spec, np.random.default_rng(0))
    params["layers.0.weight"] = np.zeros((4, 784), np.float32)
    meta = {
        "format": "mnistlab-model",
        "format_version": "1",
        "architecture": json.dumps(spec.to_json()),
        "info": "{}",
    }
    save_file(params, str(tmp_path / "bad.safetensors"), metadata=meta)
    with pytest.raises(ModelFileError, match="shape"):
        load_model(tmp_path / "bad.safetensors")


def test_wrong_architecture_for_the_flags(tmp_path) -> None:
    spec = MLPSpec((3,))
    save_model(tmp_path / "m.safetensors", spec, init_params(spec, np.random.default_rng(0)))
    model = load_model(tmp_path / "m.safetensors")
    with pytest.raises(ModelFileError, match="not what --model lenet5 asks for"):
        check_matches(model, {"model": "lenet5"}, tmp_path / "m.safetensors")


def test_failed_save_keeps_the_previous_file(tmp_path) -> None:
    spec = MLPSpec((3,))
    good = init_params(spec, np.random.default_rng(0))
    save_model(tmp_path / "m.safetensors", spec, good)
    before = (tmp_path / "m.safetensors").read_bytes()
    bad = dict(good)
    bad["layers.0.weight"] = np.full((3, 784), np.nan, np.float32)
    with pytest.raises(ModelFileError):
        save_model(tmp_path / "m.safetensors", spec, bad)
    assert (tmp_path / "m.safetensors").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]
