"""The training view's API on a real `mnistlab serve`: runs started in their own process,
streamed, steered and refused, with the server answering all along."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from mnistlab.cli import main
from mnistlab.web.runs import StartRequest, Trainings, train_flags

from .conftest import TrainingServer, serve_until_healthy

pytestmark = pytest.mark.xdist_group("trainings")  # one worker: one training at a time

JSON = {"content-type": "application/json"}
SMALL = {"hidden": "32", "limit_train": 2000, "epochs": 2}


def read_stream(server: TrainingServer, name: str, until: str, timeout: float = 180) -> list:
    """(event, data) pairs of the run's server-sent events until an event named `until`
    whose data says the run ended (or, for "snapshot", the first snapshot)."""
    got = []
    with httpx.stream("GET", f"{server.url}/api/runs/{name}/events", timeout=timeout) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        kind, data = None, []
        deadline = time.monotonic() + timeout
        for line in r.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
            elif line == "" and kind:
                got.append((kind, json.loads("\n".join(data))))
                if kind == until and (
                    until != "status" or got[-1][1]["status"] not in ("starting", "running")
                ):
                    return got
                kind, data = None, []
            assert time.monotonic() < deadline, got
    return got


@pytest.fixture(scope="module")
def first(training_server) -> list:
    """A small run started from the page, and the stream that watched it to its end."""
    started = training_server.post("/api/runs", json={"name": "first", **SMALL})
    assert started.status_code == 201 and started.json()["name"] == "first"
    return read_stream(training_server, "first", until="status")


def test_a_run_started_from_the_page_streams_to_its_end(training_server, first, mnist_pngs):
    server, got = training_server, first
    log = [e for kind, batch in got if kind == "log" for e in batch]
    kinds = [e["event"] for e in log]
    assert kinds[0] == "start" and kinds.count("epoch") == 2 and kinds[-1] == "end"
    assert got[-1][1]["status"] == "finished"
    listed = {r["name"]: r for r in server.get("/api/runs").json()["runs"]}
    assert listed["first"]["status"] == "finished" and listed["first"]["best"]["epoch"] >= 1
    run = server.run("first")
    assert len(run["history"]["epochs"]) == 2
    snap = server.get("/api/runs/first/snapshot").json()
    assert snap["progress"] == 2 and len(snap["panel"]["probabilities"]) == 32
    answer = server.post("/api/runs/first/predict", content=mnist_pngs[0].read_bytes())
    assert answer.status_code == 200 and len(answer.json()["probabilities"]) == 10
    # a second look replays the same log, and Last-Event-ID resumes where a page left off
    again = read_stream(server, "first", until="status")
    assert [e for k, b in again if k == "log" for e in b] == log


def test_pause_lr_change_and_stop_leave_a_model_evaluate_reads(
    training_server, capsys, mnist_dir
) -> None:
    server = training_server
    name = "steered"
    assert server.post("/api/runs", json={"name": name, **SMALL, "epochs": 60}).status_code == 201
    server.wait_for(name, "running")
    while not any(e["event"] == "epoch" for e in server.events(name)):
        time.sleep(0.2)  # an epoch saved: a stop will leave a model
    assert server.post(f"/api/runs/{name}/control", json={"action": "pause"}).status_code == 200
    server.wait_for(name, "paused")
    step = server.run(name)["step"]
    time.sleep(1.5)
    assert server.run(name)["step"] == step  # no step while paused
    changed = server.post(f"/api/runs/{name}/control", json={"action": "lr", "lr": 0.003})
    assert changed.status_code == 200
    deadline = time.monotonic() + 60
    while not any(e["event"] == "lr" for e in server.events(name)):
        assert time.monotonic() < deadline
        time.sleep(0.1)  # the paused run reads the control file too
    change = next(e for e in server.events(name) if e["event"] == "lr")
    assert change["lr"] == 0.003 and change["step"] == step
    history = json.loads((server.root / name / "history.json").read_text())
    assert history["config"]["train"]["lr_changes"] == [[step, 0.003]]
    assert server.post(f"/api/runs/{name}/control", json={"action": "resume"}).status_code == 200
    server.wait_for(name, "running")
    assert server.post(f"/api/runs/{name}/control", json={"action": "stop"}).status_code == 200
    run = server.wait_for(name, "stopped")
    assert "stop request" in run["reason"]
    model = server.root / name / "model.safetensors"
    assert main(["evaluate", str(model), "--data-dir", str(mnist_dir)]) == 0
    assert "test accuracy" in capsys.readouterr().out
    # and the page's resume goes on from the checkpoint with the change re-applied
    done = int(run["progress"])
    resumed = server.post(f"/api/runs/{name}/resume", json={"epochs": done + 1})
    assert resumed.status_code == 200
    server.wait_for(name, "finished")
    starts = [e for e in server.events(name) if e["event"] == "start"]
    assert len(starts) == 2 and starts[1]["config"]["train"]["lr_changes"] == [[step, 0.003]]


def test_a_run_started_in_a_terminal_is_listed_and_streams(training_server, mnist_dir) -> None:
    server = training_server
    out = server.root / "from-terminal"
    argv = ["train", "--out", str(out), "--hidden", "32", "--limit-train", "2000"]
    argv += ["--epochs", "8", "--data-dir", str(mnist_dir)]
    process = subprocess.Popen([sys.executable, "-m", "mnistlab", *argv])
    try:
        deadline = time.monotonic() + 120
        while server.get("/api/runs/from-terminal").status_code == 404:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.1)
        assert server.run("from-terminal")["status"] == "running"
        got = read_stream(server, "from-terminal", until="status")
        assert got[-1][1]["status"] == "finished"
        assert any(k == "snapshot" for k, _ in got)
        names = [r["name"] for r in server.get("/api/runs").json()["runs"]]
        assert "from-terminal" in names
    finally:
        process.wait(timeout=120)


def test_a_training_that_dies_says_why_in_one_line(training_server) -> None:
    server = training_server
    assert (
        server.post("/api/runs", json={"name": "killed", **SMALL, "epochs": 60}).status_code == 201
    )
    server.wait_for("killed", "running")
    pid = server.events("killed")[0]["pid"]
    os.kill(pid, signal.SIGKILL)  # as the kernel's out-of-memory killer would
    run = server.wait_for("killed", "died")
    assert run["reason"] == "killed by SIGKILL (out of memory?)"
    assert server.alive()


BAD_STARTS = {
    "lr zero": ({"lr": 0}, 422, "lr"),
    "lr huge": ({"lr": 50}, 422, "lr"),
    "no epochs": ({"epochs": 0}, 422, "epochs"),
    "too many epochs": ({"epochs": 1000}, 422, "epochs"),
    "batch zero": ({"batch_size": 0}, 422, "batch_size"),
    "tiny limit": ({"limit_train": 5}, 422, "limit_train"),
    "negative seed": ({"seed": -1}, 422, "seed"),
    "unknown model": ({"model": "resnet"}, 422, "model"),
    "zero width": ({"hidden": "0"}, 422, "hidden"),
    "huge width": ({"hidden": "99999"}, 422, "at most 2048"),
    "hidden for lenet": ({"model": "lenet5", "hidden": "10"}, 422, "--hidden"),
    "bad name": ({"name": "../outside"}, 400, "not a run name"),
    "dotted name": ({"name": "a..b"}, 400, "not a run name"),
    "not an object": ([1, 2], 422, ""),
}


@pytest.mark.parametrize("case", list(BAD_STARTS))
def test_bad_settings_are_refused_with_a_json_error(training_server, case) -> None:
    server = training_server
    body, status, words = BAD_STARTS[case]
    response = server.post("/api/runs", json=body)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error"} and words in response.json()["error"]
    assert not (server.root.parent / "outside").exists()
    assert server.alive()


def test_every_endpoint_refuses_bad_input_and_the_server_keeps_serving(training_server, first):
    server = training_server
    refusals = [
        (server.post("/api/runs", content=b"{not json", headers=JSON), 400),
        (server.get("/api/runs/nobody"), 404),
        (server.get("/api/runs/nobody/events"), 404),
        (server.get("/api/runs/nobody/snapshot"), 404),
        (server.post("/api/runs/nobody/control", json={"action": "pause"}), 404),
        (server.post("/api/runs/nobody/resume", json={}), 404),
        (server.post("/api/runs/nobody/predict", content=b"x"), 404),
        (server.get("/api/runs/a..b"), 400),
        (server.get("/api/runs/%2E%2E"), 400),
        (server.get("/api/runs/-x/events"), 400),
        (server.post("/api/runs/first/control", json={"action": "explode"}), 422),
        (server.post("/api/runs/first/control", json={"action": "lr", "lr": -1}), 422),
        (server.post("/api/runs/first/control", content=b"[", headers=JSON), 400),
        (server.post("/api/runs/first/control", json={"action": "pause"}), 409),  # finished
        (server.post("/api/runs/first/resume", json={}), 409),  # trained all its epochs
        (server.post("/api/runs/first/resume", json={"epochs": 1}), 409),
        (server.post("/api/runs/first/resume", json={"epochs": 0}), 422),
        (server.post("/api/runs/first/resume", content=b"{", headers=JSON), 400),
        (server.post("/api/runs/first/predict", content=b"not an image"), 400),
    ]  # fmt: skip
    for response, status in refusals:
        assert response.status_code == status, (response.request.url, response.text)
        assert "error" in response.json(), response.text
    assert server.post("/api/runs", json={"name": "first"}).status_code == 409  # exists
    assert server.alive()


def test_a_second_concurrent_start_is_refused(training_server) -> None:
    server = training_server
    assert server.post("/api/runs", json={"name": "long", **SMALL, "epochs": 60}).status_code == 201
    second = server.post("/api/runs", json={"name": "another", **SMALL})
    assert second.status_code == 409 and "at most 1 at a time" in second.json()["error"]
    assert server.get("/healthz").json() == {"status": "ok"}
    server.wait_for("long", "running")
    server.post("/api/runs/long/control", json={"action": "stop"})
    server.wait_for("long", "stopped", "failed")


def test_beyond_localhost_the_page_only_watches(quick_lenet5, tmp_path) -> None:
    argv = [str(quick_lenet5), "--host", "0.0.0.0", "--port", "0", "--runs", str(tmp_path)]
    process, url = serve_until_healthy(argv)
    try:
        url = url.replace("0.0.0.0", "127.0.0.1")
        refused = httpx.post(f"{url}/api/runs", json=SMALL, timeout=30)
        assert refused.status_code == 403 and "--allow-training" in refused.json()["error"]
        assert httpx.get(f"{url}/api/runs", timeout=30).json()["steering"] is False
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert list(tmp_path.iterdir()) == []


def test_the_server_stops_its_training_at_a_clean_point(quick_lenet5, mnist_dir, tmp_path):
    argv = [str(quick_lenet5), "--port", "0", "--runs", str(tmp_path), "--data-dir", str(mnist_dir)]
    process, url = serve_until_healthy(argv)
    server = TrainingServer(url, process, tmp_path)
    try:
        assert (
            server.post("/api/runs", json={"name": "r", **SMALL, "epochs": 60}).status_code == 201
        )
        while not any(e["event"] == "epoch" for e in server.events("r")):
            time.sleep(0.2)
    finally:
        process.terminate()  # SIGTERM, as a service manager stops it
        process.wait(timeout=90)
    end = server.events("r")[-1]
    assert end["event"] == "end" and end["status"] == "interrupted" and "SIGTERM" in end["reason"]
    assert (tmp_path / "r" / "checkpoint.safetensors").is_file()  # resumable


def test_train_flags_are_trains_own() -> None:
    flags = train_flags(StartRequest(model="mlp", hidden="64, 32", lr=0.1, limit_train=500))
    assert flags == [
        "--dataset", "mnist", "--backend", "numpy", "--model", "mlp", "--seed", "0",
        "--activation", "relu", "--hidden", "64,32", "--lr", "0.1", "--limit-train", "500",
    ]  # fmt: skip
    assert "--activation" not in train_flags(StartRequest(model="convnet"))


def test_run_names_never_leave_the_root(tmp_path) -> None:
    from mnistlab.web.app import BadRequest

    trainings = Trainings(tmp_path / "runs")
    for name in ["..", "../x", "a/b", "/etc", ".hidden", "a..b", "x" * 81, ""]:
        with pytest.raises(BadRequest) as refused:
            trainings.run_dir(name, must_exist=False)
        assert refused.value.status == 400
    assert trainings.run_dir("ok-1.2_x", must_exist=False) == tmp_path / "runs" / "ok-1.2_x"
