"""One model file for both backends: safetensors, never a pickle.

The header carries the format name and version and the architecture as JSON, so the file
alone rebuilds the network. Tensors use the spec's names and PyTorch's (out, in) layout.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mnistlab.errors import ModelFileError, UserError
from mnistlab.fileio import read_safetensors, write_safetensors
from mnistlab.models.spec import ModelSpec, parameter_mismatch, parse_hidden, spec_from_json
from mnistlab.runinfo import software

FORMAT = "mnistlab-model"
FORMAT_VERSION = 1


@dataclass
class ModelFile:
    spec: ModelSpec
    params: dict[str, np.ndarray]
    info: dict[str, Any]  # training config, backend, accuracy: whatever the writer recorded
    software: dict[str, Any] | None = None  # the mnistlab version and commit that wrote it

    @property
    def dataset(self) -> str | None:
        """The dataset the network was trained on; None in files that predate the record."""
        name = self.info.get("dataset")
        return name if isinstance(name, str) else None


def save_model(
    path: str | os.PathLike[str],
    spec: ModelSpec,
    params: dict[str, np.ndarray],
    info: dict[str, Any] | None = None,
) -> None:
    _check_params(spec, params, where="model to save")
    tensors = {name: params[name] for name in spec.parameter_shapes()}
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "architecture": json.dumps(spec.to_json()),
        "info": json.dumps(info or {}),
        "mnistlab": json.dumps(software()),
    }
    write_safetensors(path, tensors, metadata)


def load_model(path: str | os.PathLike[str]) -> ModelFile:
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    try:
        metadata, params = read_safetensors(path)
    except ValueError as exc:
        raise ModelFileError(f"{path} is not a model file mnistlab can read ({exc})") from None
    if metadata.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not an mnistlab model file")
    try:
        version = int(metadata.get("format_version", ""))
    except ValueError:
        raise ModelFileError(f"{path} has an unreadable format version") from None
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has format version {version}; this mnistlab reads up to "
            f"{FORMAT_VERSION}: upgrade mnistlab"
        )
    try:
        spec = spec_from_json(metadata.get("architecture", ""))
        info = json.loads(metadata.get("info", "{}"))
        written_by = json.loads(metadata["mnistlab"]) if "mnistlab" in metadata else None
    except (UserError, ValueError) as exc:
        raise ModelFileError(f"{path} has a broken architecture header ({exc})") from None
    _check_params(spec, params, where=str(path))
    return ModelFile(spec=spec, params=params, info=info, software=written_by)


def check_matches(model: ModelFile, flags: dict[str, str], path: str | os.PathLike[str]) -> None:
    """Refuse a file that contradicts a flag the user gave, e.g. {"model": "lenet5"}.

    Only the flags given are compared: the architecture comes from the file, so a flag
    left out asks for nothing (a tanh LeNet-5 passes `--model lenet5` alone).
    """
    recorded = model.spec.to_json()
    wanted: dict[str, Any] = dict(flags)
    if "hidden" in wanted:
        wanted["hidden"] = list(parse_hidden(wanted["hidden"]))
    clashes = [
        f"--{key} {flags[key]}" for key, value in wanted.items() if recorded.get(key) != value
    ]
    if clashes:
        raise ModelFileError(
            f"{path} holds {model.spec.describe()}, not what {' '.join(clashes)} asks for"
            f"{_asked_for(model.spec, wanted)} (leave the flag out: the architecture comes "
            "from the file)"
        )


def _asked_for(spec: ModelSpec, wanted: dict[str, Any]) -> str:
    """' (MLP [784, 50, 10] relu)': the file's architecture with the given flags applied."""
    try:
        asked = spec_from_json({**spec.to_json(), **wanted})
    except UserError:  # e.g. --model mlp on a LeNet-5 file: no widths to show
        return ""
    # --hidden on a LeNet-5 file changes nothing a spec can show: say nothing then.
    return f" ({asked.describe()})" if asked != spec else ""


def check_dataset(
    model: ModelFile, dataset: str | None, allow_mismatch: bool, path: str | os.PathLike[str]
) -> str:
    """The dataset to score `model` on: the one it was trained on unless --dataset says
    otherwise, and a different one only when the user allows it (scores on the wrong
    images look like a broken model: a Fashion-MNIST network scores ~6% on MNIST)."""
    recorded = model.dataset
    if dataset is None:
        return recorded or "mnist"  # files without the record were all trained on MNIST
    if recorded is not None and dataset != recorded and not allow_mismatch:
        raise ModelFileError(
            f"{path} was trained on {recorded}, not {dataset}: leave out --dataset, or pass "
            "--allow-dataset-mismatch to score it on the other images anyway"
        )
    return dataset


def _check_params(spec: ModelSpec, params: dict[str, np.ndarray], where: str) -> None:
    problem = parameter_mismatch(spec, params)
    if problem:
        raise ModelFileError(f"{where}: {problem}")
    for name in spec.parameter_shapes():
        if not np.issubdtype(params[name].dtype, np.floating):
            raise ModelFileError(f"{where}: {name} is not a floating-point tensor")
        if not np.all(np.isfinite(params[name])):
            raise ModelFileError(f"{where}: {name} holds NaN or infinite values")
