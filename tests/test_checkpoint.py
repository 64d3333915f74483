"""Checkpoints: a resumed run ends exactly as the run that never stopped, on either backend."""

from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path

import numpy as np
import pytest

from mnistlab.checkpoint import CHECKPOINT, CheckpointError, load_checkpoint
from mnistlab.config import TrainConfig, default_config, get_recipe
from mnistlab.data.splits import Split, Splits
from mnistlab.models.modelfile import load_model
from mnistlab.models.spec import ConvNetSpec, LeNet5Spec, MLPSpec
from mnistlab.training import HISTORY, MODEL, train

TIMES = ("seconds", "started", "at", "machine")  # what may differ between two runs


def synthetic_splits(n_train: int = 400, seed: int = 0) -> Splits:
    """Random images whose label is the argmax of a fixed linear map: learnable, fast."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(784, 10)).astype(np.float32)

    def split(n: int) -> Split:
        x = rng.random((n, 28, 28), dtype=np.float32)
        return Split(x, (x.reshape(n, -1) @ w).argmax(axis=1).astype(np.int64))

    return Splits(split(n_train), split(200), split(200), "mnist", "synthetic")


class Stop(Exception):
    """Stands in for a process killed once an epoch's files are on disk."""


def stop_after(epoch: int):
    def on_saved(done: int) -> None:
        if done == epoch:
            raise Stop

    return on_saved


def without_times(obj):
    if isinstance(obj, dict):
        return {k: without_times(v) for k, v in obj.items() if k not in TIMES}
    if isinstance(obj, list):
        return [without_times(v) for v in obj]
    return obj


def numbers(history) -> list[dict]:
    return [without_times(dataclasses.asdict(e)) for e in history.epochs]


CASES = {
    "mlp-momentum": (MLPSpec(hidden=(16,)), TrainConfig(epochs=3, lr=0.05)),
    "mlp-adam-decay": (
        MLPSpec(hidden=(12, 8)),
        TrainConfig(epochs=3, lr=0.003, optimizer="adam", lr_decay=0.7),
    ),
    "lenet5-recipe": (LeNet5Spec(), dataclasses.replace(default_config("lenet5"), epochs=3)),
    # Adam with its own betas and a per-step one-cycle rate: the checkpoint keeps the step.
    "convnet-onecycle": (
        ConvNetSpec(channels=(4, 6), hidden=16),
        dataclasses.replace(get_recipe("fast").config(), epochs=3, batch_size=32),
    ),
}


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("case", list(CASES))
def test_resumed_run_equals_the_run_that_never_stopped(tmp_path, backend, case) -> None:
    spec, config = CASES[case]
    splits = synthetic_splits(400 if case.startswith("mlp") else 120)
    quiet = functools.partial(train, spec, config, splits, backend, log=None, show_progress=False)
    whole, _ = quiet(tmp_path / "a")
    with pytest.raises(Stop):
        quiet(tmp_path / "b", on_saved=stop_after(1))
    checkpoint = load_checkpoint(tmp_path / "b" / CHECKPOINT)
    assert checkpoint.epoch == 1 and checkpoint.backend == backend
    resumed, _ = quiet(tmp_path / "b", resume=checkpoint)
    assert numbers(resumed) == numbers(whole)
    assert resumed.best == whole.best
    model_a, model_b = load_model(tmp_path / "a" / MODEL), load_model(tmp_path / "b" / MODEL)
    for name, tensor in model_a.params.items():
        np.testing.assert_array_equal(model_b.params[name], tensor, err_msg=name)
    final_a = load_checkpoint(tmp_path / "a" / CHECKPOINT)
    final_b = load_checkpoint(tmp_path / "b" / CHECKPOINT)
    assert final_a.step == final_b.step == 3 * -(-len(splits.train) // config.batch_size)
    for slot, tensors in final_a.optimizer.slots.items():
        for name, tensor in tensors.items():
            np.testing.assert_array_equal(final_b.optimizer.slots[slot][name], tensor)
    assert (tmp_path / "b" / HISTORY).is_file()


@pytest.mark.parametrize(("dtype", "rtol"), [("float64", 1e-9), ("float32", 1e-4)])
@pytest.mark.parametrize(("first", "then"), [("numpy", "torch"), ("torch", "numpy")])
@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_a_checkpoint_resumes_on_the_other_backend(tmp_path, first, then, dtype, rtol, optimizer):
    spec = MLPSpec(hidden=(16,))
    lr = 0.05 if optimizer == "momentum" else 0.003
    config = TrainConfig(epochs=2, lr=lr, dtype=dtype, optimizer=optimizer, lr_decay=0.5)
    splits = synthetic_splits()
    quiet = functools.partial(train, spec, config, splits, out=None, log=None, show_progress=False)
    whole, learner = quiet(then)
    ckpt = tmp_path / CHECKPOINT
    with pytest.raises(Stop):
        quiet(first, checkpoint=ckpt, on_saved=stop_after(1))
    resumed, resumed_learner = quiet(then, resume=load_checkpoint(ckpt))
    for a, b in zip(numbers(whole), numbers(resumed), strict=True):
        assert a["val_acc"] == pytest.approx(b["val_acc"], abs=1 / 200 + 1e-12)
        for key in ("train_loss", "val_loss"):
            assert b[key] == pytest.approx(a[key], rel=rtol), key
    for name, tensor in learner.params().items():
        np.testing.assert_allclose(resumed_learner.params()[name], tensor, rtol=rtol, atol=rtol)


def test_both_backends_write_the_same_layout(tmp_path) -> None:
    spec = MLPSpec(hidden=(16,))
    config = TrainConfig(epochs=1, optimizer="adam", lr=0.003)
    splits = synthetic_splits(100)
    layouts = []
    for backend in ("numpy", "torch"):
        path = tmp_path / f"{backend}.safetensors"
        train(spec, config, splits, backend, None, log=None, show_progress=False, checkpoint=path)
        from safetensors import safe_open

        with safe_open(str(path), framework="numpy") as f:
            keys = sorted(f.keys())
            layout = {k: (f.get_tensor(k).shape, f.get_tensor(k).dtype) for k in keys}
            header = sorted((f.metadata() or {}).keys())
        layouts.append((layout, header))
        checkpoint = load_checkpoint(path)
        assert checkpoint.optimizer.scalars["step"] == 5  # 100 images, batch 20
    assert layouts[0] == layouts[1]
    assert "optimizer.exp_avg.layers.0.weight" in layouts[0][0]


@pytest.fixture
def tiny_run(tmp_path) -> Path:
    """A one-epoch run directory of a tiny MLP."""
    run = tmp_path / "run"
    splits = synthetic_splits(60)
    train(MLPSpec(hidden=(8,)), TrainConfig(epochs=1), splits, "numpy", run, log=None,
          show_progress=False)  # fmt: skip
    return run


@pytest.fixture
def one_checkpoint(tiny_run) -> Path:
    return tiny_run / CHECKPOINT


def test_a_flipped_byte_in_a_tensor_is_refused(one_checkpoint) -> None:
    raw = bytearray(one_checkpoint.read_bytes())
    raw[-100] ^= 0x01  # inside the last tensor's bytes
    one_checkpoint.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="checksum") as exc:
        load_checkpoint(one_checkpoint)
    assert str(one_checkpoint) in str(exc.value)


def test_a_truncated_checkpoint_is_refused(one_checkpoint) -> None:
    raw = one_checkpoint.read_bytes()
    one_checkpoint.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match="damaged or truncated") as exc:
        load_checkpoint(one_checkpoint)
    assert str(one_checkpoint) in str(exc.value)


def test_a_model_file_is_not_a_checkpoint(tiny_run) -> None:
    with pytest.raises(CheckpointError, match="not an mnistlab checkpoint"):
        load_checkpoint(tiny_run / MODEL)


def test_files_get_the_users_normal_permissions(tiny_run) -> None:
    mask = os.umask(0)
    os.umask(mask)
    for name in (MODEL, CHECKPOINT, HISTORY):
        assert (tiny_run / name).stat().st_mode & 0o777 == 0o666 & ~mask, name


@pytest.mark.parametrize(
    ("key", "edit"),
    [
        ("state", lambda v: v.replace('"lr": 0.01', '"lr": 0.1')),  # the recorded settings
        ("architecture", lambda v: v.replace("[8]", "[8 ]")),  # same meaning, other bytes
        ("mnistlab", lambda v: v.replace('"version": "', '"version": "9')),
    ],
)
def test_a_changed_header_value_is_refused(one_checkpoint, key, edit) -> None:
    """The checksum covers each header value, not only its key: a checkpoint whose
    recorded settings were edited would resume a run other than the one it claims."""
    from safetensors.numpy import save

    from mnistlab.fileio import read_safetensors

    header, tensors = read_safetensors(one_checkpoint)
    changed = edit(header[key])
    assert changed != header[key]
    one_checkpoint.write_bytes(save(tensors, metadata={**header, key: changed}))
    with pytest.raises(CheckpointError, match="checksum"):
        load_checkpoint(one_checkpoint)


# A resume's settings and history, function by function


CHANGED = ((10, 0.02),)  # the checkpoint's own: a change before its step


@pytest.mark.parametrize(
    ("recorded", "expected"),
    [
        ({"lr_changes": [[10, 0.02], [60, 0.005]]}, ((10, 0.02), (60, 0.005))),
        ({"lr_changes": [[10, 0.02], [50, 0.005]]}, ((10, 0.02), (50, 0.005))),  # at the step
        ({"lr_changes": [[20, 0.02], [60, 0.005]]}, CHANGED),  # another run's: ignored
        ({"lr_changes": [[60, 0.005]]}, CHANGED),  # lacks the checkpoint's change: another's
        ({"lr_changes": [[10, 0.02], [5, 0.1]]}, CHANGED),  # not increasing: unreadable
        ({"lr_changes": "fast"}, CHANGED),
        ({}, CHANGED),
    ],
    ids=["after", "at-the-step", "other-run", "other-run-2", "invalid", "garbage", "none"],
)
def test_a_resume_takes_the_changes_history_recorded_after_the_checkpoint(recorded, expected):
    from mnistlab.checkpoint import with_recorded_changes

    config = TrainConfig(lr_changes=CHANGED)
    assert with_recorded_changes(config, recorded, step=50).lr_changes == expected


def test_a_record_with_nothing_after_the_step_keeps_the_checkpoints_own_later_changes():
    """A checkpoint written after its change at step 50 already holds it; a history.json
    that stops before it (written earlier) does not drop it."""
    from mnistlab.checkpoint import with_recorded_changes

    config = TrainConfig(lr_changes=((10, 0.02), (50, 0.001), (70, 0.0005)))
    resumed = with_recorded_changes(config, {"lr_changes": [[10, 0.02]]}, step=50)
    assert resumed.lr_changes == config.lr_changes
    assert resumed.lr_changes == ((10, 0.02), (50, 0.001), (70, 0.0005))
    assert with_recorded_changes(config, {"lr_changes": [[10, 0.02]]}, step=51) == config


def test_a_later_record_replaces_the_checkpoints_own_changes_from_its_step_on():
    """history.json is written after the checkpoint: from the checkpoint's step on, its
    changes are the ones that were made (a change at step 50 made again, another at 60)."""
    from mnistlab.checkpoint import with_recorded_changes

    config = TrainConfig(lr_changes=((10, 0.02), (50, 0.001), (70, 0.0005)))
    recorded = {"lr_changes": [[10, 0.02], [50, 0.003], [60, 0.005]]}
    resumed = with_recorded_changes(config, recorded, step=50)
    assert resumed.lr_changes == ((10, 0.02), (50, 0.003), (60, 0.005))


def test_a_resumed_history_records_its_settings_backend_and_when(one_checkpoint) -> None:
    from mnistlab import __version__
    from mnistlab.checkpoint import resumed_history

    checkpoint = load_checkpoint(one_checkpoint)
    config = TrainConfig(epochs=3, lr=0.05)
    history = resumed_history(checkpoint, config, "torch")
    assert history.config["train"] == config.to_json()
    assert history.config["backend"] == "torch"
    (note,) = history.config["resumed"]
    assert set(note) == {"at", "from_epoch", "backend", "mnistlab"}
    assert note["from_epoch"] == 1 and note["backend"] == "torch"
    assert note["mnistlab"]["version"] == __version__ and note["at"].startswith("20")


def test_a_checkpoint_without_recorded_settings_reads_as_the_defaults(one_checkpoint) -> None:
    checkpoint = load_checkpoint(one_checkpoint)
    del checkpoint.history.config["train"]
    assert checkpoint.config() == TrainConfig()


def rewritten(path: Path, header: dict, tensors: dict) -> None:
    """`path` saved again with this header and these tensors, under a matching checksum."""
    from safetensors.numpy import save

    from mnistlab.checkpoint import checksum

    header = {**header, "checksum": checksum(tensors, header)}
    path.write_bytes(save(tensors, metadata=header))


def test_each_refusal_is_one_line_naming_the_file(one_checkpoint) -> None:
    from mnistlab.checkpoint import FORMAT_VERSION
    from mnistlab.fileio import read_safetensors

    missing = one_checkpoint.parent / "nothing.safetensors"
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(missing)
    assert str(caught.value) == f"no checkpoint at {missing}"

    header, tensors = read_safetensors(one_checkpoint)
    rewritten(one_checkpoint, {**header, "format_version": "99"}, tensors)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(one_checkpoint)
    assert str(caught.value) == (
        f"{one_checkpoint} has checkpoint format 99; this mnistlab reads {FORMAT_VERSION}"
    )

    fewer = {k: v for k, v in tensors.items() if k != "params.layers.1.bias"}
    rewritten(one_checkpoint, header, fewer)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(one_checkpoint)
    assert str(caught.value).startswith(f"{one_checkpoint} has an unreadable header (")
    assert "missing ['layers.1.bias']" in str(caught.value)


def test_a_loaded_checkpoint_holds_its_optimiser_by_name(one_checkpoint) -> None:
    import json

    from mnistlab.fileio import read_safetensors

    checkpoint = load_checkpoint(one_checkpoint)
    assert checkpoint.optimizer.name == "momentum"
    assert checkpoint.backend == "numpy" and checkpoint.epoch == 1
    state = json.loads(read_safetensors(one_checkpoint)[0]["state"])
    assert state["epoch"] == 1  # for a person or a tool reading the header
