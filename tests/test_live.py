"""The live record: the event log and snapshot a run writes for the page, the control file
that steers it, and steered runs that resume and repeat exactly."""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from mnistlab.api.runs import recorded_config
from mnistlab.checkpoint import load_checkpoint
from mnistlab.cli import main
from mnistlab.config import TrainConfig
from mnistlab.fileio import write_json
from mnistlab.interrupt import StopRequested
from mnistlab.live import CONTROL, EVENTS, LIVE_MODEL, SNAPSHOT, LiveRecord, outcome
from mnistlab.models.modelfile import load_model
from mnistlab.models.spec import ConvNetSpec, LeNet5Spec, MLPSpec
from mnistlab.training import CHECKPOINT, HISTORY, MODEL, train

from .test_checkpoint import numbers, synthetic_splits


@pytest.fixture(autouse=True)
def every_step(monkeypatch) -> None:
    """Progress after every step, a step event and a snapshot at every report: the record
    sees each step, so a steering watcher acts at a known step."""
    monkeypatch.setattr("mnistlab.learner.PROGRESS_SECONDS", 0.0)
    monkeypatch.setattr("mnistlab.live.STEP_SECONDS", 0.0)
    monkeypatch.setattr("mnistlab.live.SNAPSHOT_SECONDS", 0.0)
    monkeypatch.setattr("mnistlab.live.SNAPSHOT_SHARE", float("inf"))


def events(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / EVENTS).read_text().splitlines()]


class Steer:
    """Writes control.json as the page's server does, when the run reaches (epoch, seen).

    Listed before the LiveRecord, so the record reads it in the same call: a request
    lands at a known step."""

    def __init__(self, out: Path, plan: list[tuple[int, int, dict]]) -> None:
        self.out, self.plan = out, list(plan)

    def started(self, learner, history) -> None:
        pass

    def steps(self, epoch: int, seen: int, loss: float, acc: float) -> None:
        if self.plan and (epoch, seen) >= self.plan[0][:2]:
            write_json(self.out / CONTROL, self.plan.pop(0)[2])

    def epoch_saved(self, record, history) -> None:
        pass

    def finished(self, history, error) -> None:
        pass


SPECS = {
    "mlp": MLPSpec(hidden=(40,)),
    "lenet5": LeNet5Spec(activation="tanh"),
    "convnet": ConvNetSpec(channels=(4, 6), hidden=16),
}


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("model", list(SPECS))
def test_every_model_writes_a_log_and_snapshots_and_trains_as_if_unwatched(
    tmp_path, backend, model
) -> None:
    spec = SPECS[model]
    splits = synthetic_splits(60)
    config = TrainConfig(epochs=2, batch_size=20, lr=0.05)
    quiet = functools.partial(train, spec, config, splits, backend, log=None, show_progress=False)
    watched, _ = quiet(tmp_path / "w", watchers=[LiveRecord(tmp_path / "w", splits)])
    unwatched, _ = quiet(tmp_path / "u")
    assert numbers(watched) == numbers(unwatched)

    log = events(tmp_path / "w")
    kinds = [e["event"] for e in log]
    assert kinds[0] == "start" and kinds[-1] == "end" and kinds.count("epoch") == 2
    assert kinds.count("step") == 2 * 3  # one a step here (3 steps an epoch)
    start = log[0]
    assert start["steps_per_epoch"] == 3 and start["epochs"] == 2 and not start["resumed"]
    assert start["config"]["backend"] == backend and start["n_train"] == 60
    steps = [e for e in log if e["event"] == "step"]
    assert [e["step"] for e in steps] == [1, 2, 3, 4, 5, 6]
    assert [e["progress"] for e in steps] == pytest.approx(
        [1 / 3, 2 / 3, 1, 4 / 3, 5 / 3, 2], abs=1e-5
    )
    assert all(e["lr"] == 0.05 and e["loss"] > 0 and 0 <= e["acc"] <= 1 for e in steps)
    assert steps[-1]["images_per_s"] > 0 and steps[-1]["eta_s"] == pytest.approx(0, abs=1e-6)
    epoch2 = [e for e in log if e["event"] == "epoch"][1]
    assert epoch2["record"]["val_acc"] == watched.epochs[1].val_acc
    assert log[-1]["status"] == "finished" and log[-1]["best"] == watched.best

    snap = json.loads((tmp_path / "w" / SNAPSHOT).read_text())
    assert snap["step"] == 6 and snap["progress"] == 2
    weights = snap["weights"]
    expected = {"mlp": [32, 28, 28], "lenet5": [6, 5, 5], "convnet": [4, 5, 5]}[model]
    assert weights["shape"] == expected
    pixels = np.frombuffer(base64.b64decode(weights["data"]), np.uint8)
    assert pixels.size == np.prod(expected) and pixels.min() < 100 < 155 < pixels.max()
    panel = snap["panel"]
    assert panel["labels"] == splits.val.y[:32].tolist()
    assert np.array(panel["probabilities"]).shape == (32, 10)
    np.testing.assert_allclose(np.sum(panel["probabilities"], axis=1), 1, atol=2e-3)
    images = np.frombuffer(base64.b64decode(panel["images"]), np.uint8)
    assert images.size == 32 * 28 * 28
    layers = snap["activations"]["layers"]
    names = {
        "mlp": ["hidden 1", "logits"],
        "lenet5": ["C1", "C3", "C5", "F6", "logits"],
        "convnet": ["conv1", "conv2", "fc1", "logits"],
    }[model]
    assert [layer["name"] for layer in layers] == names
    shapes = {  # the first panel digit's maps, channels first
        "mlp": [[40], [10]],
        "lenet5": [[6, 28, 28], [16, 10, 10], [120], [84], [10]],
        "convnet": [[4, 12, 12], [6, 5, 5], [16], [10]],
    }[model]
    assert [layer["shape"] for layer in layers] == shapes
    for layer in layers:
        size = np.frombuffer(base64.b64decode(layer["data"]), np.uint8).size
        assert size == np.prod(layer["shape"]) and layer["min"] <= layer["max"]
    live = load_model(tmp_path / "w" / LIVE_MODEL)
    final = load_model(tmp_path / "w" / MODEL)  # the last epoch is the best here
    if watched.best["epoch"] == 2:
        for name, tensor in final.params.items():
            np.testing.assert_array_equal(live.params[name], tensor)
    assert live.info["live"]["step"] == 6


def test_a_change_pause_and_stop_through_the_control_file(tmp_path) -> None:
    splits = synthetic_splits(200)  # 10 steps an epoch at batch 20
    out = tmp_path / "run"
    config = TrainConfig(epochs=3, batch_size=20, lr=0.05)
    steer = Steer(out, [(2, 60, {"lr": [1, 0.01]}), (2, 100, {"lr": [1, 0.01], "stop": True})])
    with pytest.raises(StopRequested):
        train(
            MLPSpec(hidden=(16,)), config, splits, "numpy", out, log=None, show_progress=False,
            watchers=[steer, LiveRecord(out, splits)],
        )  # fmt: skip
    log = events(out)
    change = next(e for e in log if e["event"] == "lr")
    assert (change["step"], change["lr"], change["epoch"]) == (13, 0.01, 2)
    later = [e for e in log if e["event"] == "step" and e["step"] > 13]
    assert later and all(e["lr"] == 0.01 for e in later)
    assert log[-1]["event"] == "end" and log[-1]["status"] == "stopped"
    assert "stop request" in log[-1]["reason"]
    recorded = json.loads((out / HISTORY).read_text())  # rewritten at the change
    assert recorded["config"]["train"]["lr_changes"] == [[13, 0.01]]
    assert len(recorded["epochs"]) == 1  # epoch 2 was cut short


def test_pause_waits_between_steps_until_resumed(tmp_path) -> None:
    splits = synthetic_splits(200)
    out = tmp_path / "run"
    config = TrainConfig(epochs=1, batch_size=20, lr=0.05)

    def resume_when_paused() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if (out / EVENTS).exists() and '"pause"' in (out / EVENTS).read_text():
                time.sleep(0.3)  # paused for a while: no step may come meanwhile
                write_json(out / CONTROL, {"pause": False})
                return
            time.sleep(0.02)

    helper = threading.Thread(target=resume_when_paused)
    helper.start()
    watched, _ = train(
        MLPSpec(hidden=(16,)), config, splits, "numpy", out, log=None, show_progress=False,
        watchers=[Steer(out, [(1, 40, {"pause": True})]), LiveRecord(out, splits)],
    )  # fmt: skip
    helper.join()
    log = events(out)
    kinds = [e["event"] for e in log]
    pause, resume = kinds.index("pause"), kinds.index("resume")
    assert pause < resume and log[pause]["step"] == log[resume]["step"] == 2
    assert log[resume]["time"] - log[pause]["time"] >= 0.3
    assert kinds[pause + 1 : resume] == []  # nothing trained while paused
    unwatched, _ = train(
        MLPSpec(hidden=(16,)), config, splits, "numpy", None, log=None, show_progress=False
    )
    assert numbers(watched) == numbers(unwatched)


def test_an_old_control_file_does_not_stop_a_new_run(tmp_path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    write_json(out / CONTROL, {"stop": True, "pause": True})
    splits = synthetic_splits(60)
    train(
        MLPSpec(hidden=(8,)), TrainConfig(epochs=1), splits, "numpy", out, log=None,
        show_progress=False, watchers=[LiveRecord(out, splits)],
    )  # fmt: skip
    assert events(out)[-1]["status"] == "finished"


# Where the stop falls: in the epoch after the change (the checkpoint holds the change),
# or in the epoch of the change itself (dropped: only history.json holds it).
STOPS = {"boundary": (3, 20), "dropped": (2, 160)}


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("stop", list(STOPS))
def test_a_resumed_steered_run_equals_the_run_that_never_stopped(tmp_path, backend, stop):
    spec = MLPSpec(hidden=(16,))
    splits = synthetic_splits(200)
    config = TrainConfig(epochs=3, batch_size=20, lr=0.05)
    change = (2, 100, {"lr": [7, 0.005]})
    quiet = functools.partial(train, spec, config, splits, backend, log=None, show_progress=False)

    def watched(out: Path, *plan: tuple) -> list:
        return [Steer(out, list(plan)), LiveRecord(out, splits)]

    whole, whole_learner = quiet(tmp_path / "a", watchers=watched(tmp_path / "a", change))
    assert whole_learner.config.lr_changes == ((15, 0.005),)

    run = tmp_path / "b"
    stop_at = (*STOPS[stop], {"lr": [7, 0.005], "stop": True})
    with pytest.raises(StopRequested):
        quiet(run, watchers=watched(run, change, stop_at))
    checkpoint = load_checkpoint(run / CHECKPOINT)
    assert checkpoint.epoch == (2 if stop == "boundary" else 1)
    assert bool(checkpoint.config().lr_changes) == (stop == "boundary")
    config_b = recorded_config(run, checkpoint)  # what `train --resume` trains with
    assert config_b.lr_changes == ((15, 0.005),)
    resumed, resumed_learner = train(
        spec, config_b, splits, backend, run, resume=checkpoint, log=None, show_progress=False,
        watchers=[LiveRecord(run, splits)],
    )  # fmt: skip
    assert numbers(resumed) == numbers(whole)
    for name, tensor in whole_learner.params().items():
        np.testing.assert_array_equal(resumed_learner.params()[name], tensor, err_msg=name)
    log = events(run)
    starts = [e for e in log if e["event"] == "start"]
    assert len(starts) == 2 and starts[1]["resumed"] and starts[1]["step"] == checkpoint.step
    assert log[-1]["status"] == "finished"

    # a rerun from the recorded settings (train --lr-changes 15:0.005) gives the same numbers
    replayed = dataclasses.replace(config, lr_changes=((15, 0.005),))
    rerun, _ = train(spec, replayed, splits, backend, None, log=None, show_progress=False)
    assert numbers(rerun) == numbers(whole)


def test_lr_changes_flag_is_checked_in_one_line(capsys, tmp_path) -> None:
    for bad, words in [
        ("400", "is not STEP:LR"),
        ("x:0.1", "is not STEP:LR"),
        ("400:-1", "positive learning rate"),
        ("500:0.1,400:0.2", "increasing steps"),
        (",", "at least one"),
    ]:
        assert main(["train", "--lr-changes", bad, "--out", str(tmp_path / "x")]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and words in err, err
    assert not (tmp_path / "x").exists()


def test_outcome_names_why_a_run_ended() -> None:
    from mnistlab.errors import DivergedError
    from mnistlab.interrupt import Interrupted

    assert outcome(None)[0] == "finished"
    assert outcome(StopRequested())[0] == "stopped"
    assert outcome(Interrupted(15)) == ("interrupted", "stopped by SIGTERM")
    assert outcome(DivergedError("the training loss became nan")) == (
        "failed",
        "the training loss became nan",
    )
    assert outcome(RuntimeError("boom")) == ("failed", "RuntimeError: boom")
