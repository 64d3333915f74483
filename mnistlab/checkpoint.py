"""Checkpoints: all a run needs to go on after it stopped, in one safetensors file.

After every epoch `training.py` writes `checkpoint.safetensors` (atomically, so it is
always the last finished epoch whole). A resumed run loads the parameters, the
optimiser's memory and the shuffling generator from it and goes on with the next epoch:
it draws the same batches and makes the same steps, so it ends with the numbers and the
best model of the run that never stopped. Both backends write and read one layout, so a
run may change backend when it resumes. No pickle anywhere.

Layout:

    tensors   params.<name>              the parameters (spec names, PyTorch layouts)
              optimizer.<slot>.<name>    the optimiser's memory (learner.OptimizerState)
    header    format, format_version     "mnistlab-checkpoint", "1"
              architecture               the spec, JSON
              state                      JSON: epoch reached, global step count, backend,
                                         shuffling generator's state, optimiser name and
                                         scalars, and the history so far (config, epochs,
                                         best: the protocol's best-so-far)
              mnistlab                   version and commit that wrote it, JSON
              checksum                   SHA-256 of all of the above (see `checksum`)

The checksum covers every tensor's name, dtype, shape and bytes and every other header
value, so a flipped byte or a truncated file is refused, naming the file, instead of
silently resuming from damaged numbers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mnistlab.config import TrainConfig
from mnistlab.errors import UserError
from mnistlab.fileio import read_safetensors, write_safetensors
from mnistlab.learner import Learner, OptimizerState
from mnistlab.models.spec import ModelSpec, parameter_mismatch, spec_from_json
from mnistlab.protocol import History
from mnistlab.runinfo import now, software

CHECKPOINT = "checkpoint.safetensors"
FORMAT = "mnistlab-checkpoint"
FORMAT_VERSION = 1


class CheckpointError(UserError):
    """A checkpoint that is missing, damaged or not ours."""


@dataclass
class Checkpoint:
    spec: ModelSpec
    params: dict[str, np.ndarray]
    optimizer: OptimizerState
    rng: dict[str, Any]  # the shuffling generator's bit_generator.state
    history: History  # the epochs done, the protocol's best so far, the run's settings
    backend: str  # the backend that wrote it (a resume may use the other)
    step: int  # optimiser steps taken in all (for schedules that count steps)

    @property
    def epoch(self) -> int:
        return len(self.history.epochs)

    def config(self) -> TrainConfig:
        """The recorded training settings (one added since the run read as its default)."""
        recorded = self.history.config.get("train", {})
        names = {f.name for f in dataclasses.fields(TrainConfig)}
        return TrainConfig(**{k: v for k, v in recorded.items() if k in names})


def capture(
    learner: Learner, rng: np.random.Generator, history: History, backend: str
) -> Checkpoint:
    """The run as it stands after its last finished epoch."""
    return Checkpoint(
        spec=learner.spec,
        params=learner.params(),
        optimizer=learner.optimizer_state(),
        rng=rng.bit_generator.state,
        history=history,
        backend=backend,
        step=learner.steps_done,
    )


def restore(learner: Learner, checkpoint: Checkpoint, rng: np.random.Generator) -> None:
    """Put the optimiser and the shuffling generator back where the checkpoint left them.

    The parameters go in when the learner is made (make_learner's `params`)."""
    learner.load_optimizer_state(checkpoint.optimizer, checkpoint.epoch, checkpoint.step)
    rng.bit_generator.state = checkpoint.rng


def checksum(tensors: dict[str, np.ndarray], header: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = np.ascontiguousarray(tensors[name])
        digest.update(f"{name}|{tensor.dtype.str}|{tensor.shape}|".encode())
        digest.update(tensor.data)
    for key in sorted(header):
        if key != "checksum":
            digest.update(f"{key}={header[key]}\n".encode())
    return digest.hexdigest()


def save_checkpoint(path: str | os.PathLike[str], checkpoint: Checkpoint) -> None:
    # Contiguous before the checksum reads their bytes (write_safetensors would too).
    tensors = {f"params.{n}": np.ascontiguousarray(p) for n, p in checkpoint.params.items()}
    for slot, by_name in checkpoint.optimizer.slots.items():
        for name, tensor in by_name.items():
            tensors[f"optimizer.{slot}.{name}"] = np.ascontiguousarray(tensor)
    state = {
        "epoch": checkpoint.epoch,
        "step": checkpoint.step,
        "backend": checkpoint.backend,
        "rng": checkpoint.rng,
        "optimizer": {"name": checkpoint.optimizer.name, **checkpoint.optimizer.scalars},
        "history": checkpoint.history.to_json(),
    }
    header = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "architecture": json.dumps(checkpoint.spec.to_json()),
        "state": json.dumps(state),
        "mnistlab": json.dumps(software()),
    }
    header["checksum"] = checksum(tensors, header)
    write_safetensors(path, tensors, header)


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read and verify a checkpoint; anything wrong with it is one line naming the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        header, tensors = read_safetensors(path)
    except ValueError as exc:
        raise CheckpointError(
            f"{path} is damaged or truncated and cannot be read ({exc})"
        ) from None
    if header.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an mnistlab checkpoint")
    if header.get("checksum") != checksum(tensors, header):
        raise CheckpointError(
            f"{path} is damaged: its contents do not match the checksum in its header"
        )
    if header.get("format_version") != str(FORMAT_VERSION):
        raise CheckpointError(
            f"{path} has checkpoint format {header.get('format_version')}; this mnistlab "
            f"reads {FORMAT_VERSION}"
        )
    try:
        return _parse(header, tensors)
    except (KeyError, TypeError, ValueError, UserError) as exc:
        raise CheckpointError(f"{path} has an unreadable header ({exc})") from None


def _parse(header: dict[str, str], tensors: dict[str, np.ndarray]) -> Checkpoint:
    spec = spec_from_json(header["architecture"])
    state = json.loads(header["state"])
    params = {n.removeprefix("params."): t for n, t in tensors.items() if n.startswith("params.")}
    problem = parameter_mismatch(spec, params)
    if problem:
        raise ValueError(problem)
    scalars = dict(state["optimizer"])
    name = scalars.pop("name")
    slots: dict[str, dict[str, np.ndarray]] = {}
    for key, tensor in tensors.items():
        if key.startswith("optimizer."):
            slot, param = key.removeprefix("optimizer.").split(".", 1)
            slots.setdefault(slot, {})[param] = tensor
    return Checkpoint(
        spec=spec,
        params=params,
        optimizer=OptimizerState(name, slots, scalars),
        rng=state["rng"],
        history=History.from_json(state["history"]),
        backend=state["backend"],
        step=int(state["step"]),
    )


def with_recorded_changes(config: TrainConfig, recorded: dict[str, Any], step: int) -> TrainConfig:
    """The checkpoint's settings `config`, with the learning-rate changes that the run's
    history.json (`recorded`: its config's "train") holds for step `step` on and later.

    A change is written to history.json the moment it is made, so these are the changes
    made in the epoch that a stop cut short after the checkpoint: resuming re-applies them
    at the same steps, exactly as the run that never stopped had them. A record that does
    not agree with the checkpoint before `step` is another run's, and is ignored.
    """
    try:
        changes = TrainConfig(lr_changes=recorded.get("lr_changes", ())).lr_changes
    except (UserError, TypeError, ValueError):
        return config
    before = tuple(c for c in config.lr_changes if c[0] < step)
    if tuple(c for c in changes if c[0] < step) != before:
        return config
    later = tuple(c for c in changes if c[0] >= step) or tuple(
        c for c in config.lr_changes if c[0] >= step
    )
    return dataclasses.replace(config, lr_changes=(*before, *later))


def resumed_history(checkpoint: Checkpoint, config: TrainConfig, backend: str) -> History:
    """The checkpoint's history going on: its settings, the new epoch count, and a note of
    when, from which epoch and on which backend it was resumed."""
    history = checkpoint.history
    history.config["train"] = config.to_json()
    history.config["backend"] = backend
    history.config.setdefault("resumed", []).append(
        {"at": now(), "from_epoch": checkpoint.epoch, "backend": backend, "mnistlab": software()}
    )
    return history
