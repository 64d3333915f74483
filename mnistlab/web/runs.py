"""The training view: runs under a run root, each trained by its own `mnistlab train` process.

The server never trains. It starts `python -m mnistlab train --out ROOT/NAME ...` as a
child process (at most `max_trainings` at a time), and everything it shows comes from the
run directory, the single source of truth: the live record that `train` writes
(`live.py`: events.jsonl, live.json, live.safetensors) and history.json. It steers a run
by writing the run's control.json, which the training process reads between steps; a run
started in a terminal is watched and steered the same way.

- `GET /live` — the training view (static/live.html, live.js; nothing from a CDN).
- `GET /api/runs` — every run under the root with its status, and what the start form
  needs (train's defaults per model, the limits, whether this server may start runs).
- `POST /api/runs` — start a run: JSON settings (`StartRequest`) → 201 `{"name"}`.
- `GET /api/runs/{name}` — one run's status, settings and epochs.
- `GET /api/runs/{name}/events` — server-sent events: "log" (a JSON array of event-log
  lines, from the start or from `Last-Event-ID`, a byte offset, then as the log grows),
  "snapshot" (live.json, when it changes; `?snapshots=0` leaves them out), "status" (the
  run's status, when it changes) and "reset" (the log was replaced: start again).
- `POST /api/runs/{name}/control` — `{"action": "pause" | "resume" | "stop" | "lr", "lr"}`.
- `POST /api/runs/{name}/resume` — go on from the run's checkpoint (`{"epochs": N}`).
- `POST /api/runs/{name}/predict` — an image, read with the run's current weights
  (live.safetensors, else its best model), the same answer as `/api/predict` gives.

Every refusal is a 4xx with `{"error": "..."}`. Starting, steering and resuming are
refused (403) when the server listens beyond this machine, unless `serve
--allow-training` says otherwise; watching is always allowed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from mnistlab.checkpoint import CHECKPOINT
from mnistlab.errors import UserError
from mnistlab.fileio import write_json
from mnistlab.inference import Predictor
from mnistlab.live import CONTROL, EVENTS, LIVE_MODEL, SNAPSHOT
from mnistlab.training import HISTORY, MODEL
from mnistlab.web.app import STATIC, BadRequest, answer

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
POLL_SECONDS = 0.2  # how often a stream looks for new events: the page updates at ≤ 5 Hz
CHUNK = 256 * 1024  # the most of the log one "log" message carries
HEARTBEAT_SECONDS = 5.0  # a quiet stream (a paused run) still writes, so a gone page is seen
STOP_WAIT_SECONDS = 30  # on shutdown, how long a training gets to stop at a clean point
PREDICTORS = 4  # runs whose current network is kept loaded for the draw pad
ACTIVE = ("starting", "running", "paused")  # the statuses of a run still at it
# What the start form allows: enough for a real run, little enough to keep a laptop usable.
LIMITS: dict[str, tuple[float, float]] = {
    "lr": (1e-5, 10.0),
    "batch_size": (1, 1024),
    "epochs": (1, 100),
    "l2": (0.0, 1000.0),
    "limit_train": (100, 50_000),
    "seed": (0, 2**31 - 1),
    "width": (1, 2048),
}


class StartRequest(BaseModel):
    """A run's settings, as `mnistlab train`'s flags; left out, train's default."""

    name: str | None = Field(None, description="run directory under the root (default: made)")
    dataset: Literal["mnist", "fashion-mnist"] = "mnist"
    backend: Literal["numpy", "torch"] = "numpy"
    model: Literal["mlp", "lenet5", "convnet"] = "mlp"
    hidden: str | None = Field(None, description="MLP hidden widths, e.g. 100 or 128,64")
    activation: Literal["relu", "tanh", "sigmoid"] = "relu"
    optimizer: Literal["sgd", "momentum", "adam"] | None = None
    lr: float | None = Field(None, ge=LIMITS["lr"][0], le=LIMITS["lr"][1])
    batch_size: int | None = Field(None, ge=1, le=LIMITS["batch_size"][1])
    epochs: int | None = Field(None, ge=1, le=LIMITS["epochs"][1])
    l2: float | None = Field(None, ge=0, le=LIMITS["l2"][1])
    limit_train: int | None = Field(None, ge=LIMITS["limit_train"][0], le=LIMITS["limit_train"][1])
    seed: int = Field(0, ge=0, le=LIMITS["seed"][1])


class ControlRequest(BaseModel):
    action: Literal["pause", "resume", "stop", "lr"]
    lr: float | None = Field(None, ge=LIMITS["lr"][0], le=LIMITS["lr"][1])


class ResumeRequest(BaseModel):
    epochs: int | None = Field(None, ge=1, le=LIMITS["epochs"][1])


@dataclass
class Launch:
    """A training process this server started, and where its output goes."""

    process: subprocess.Popen[bytes]
    output: Any  # a temporary file: stdout and stderr together
    started: float = field(default_factory=time.time)
    reason: str | None = None  # once it ended: its last line, or how it ended

    def alive(self) -> bool:
        if self.process.poll() is None:
            return True
        if self.reason is None:
            self.reason = last_words(self.output, self.process.returncode)
            self.output.close()
        return False


def last_words(output: Any, code: int) -> str:
    """Why a process ended: the last line it wrote when it failed, else its exit."""
    output.seek(max(0, output.seek(0, os.SEEK_END) - 4096))
    lines = [line.strip() for line in output.read().decode(errors="replace").splitlines()]
    lines = [line for line in lines if line]
    if code < 0:
        return f"killed by {signal.Signals(-code).name}" + (
            " (out of memory?)" if -code == signal.SIGKILL else ""
        )
    if code != 0 and lines:
        return lines[-1]
    return f"exit code {code}"


@dataclass
class Log:
    """What the server knows of one run's event log, read incrementally."""

    key: tuple[int, int] = (0, 0)  # inode, bytes read
    start: dict[str, Any] | None = None  # the last "start" event
    last: dict[str, Any] | None = None  # the last event
    paused: bool = False  # a "pause" without its "resume" yet


class Trainings:
    """The run root, the training processes started here, and what is known of each run."""

    def __init__(
        self,
        root: Path,
        *,
        max_trainings: int = 1,
        steering: bool = True,
        data_dir: str | None = None,
    ) -> None:
        self.root = Path(root)
        self.max_trainings = max_trainings
        self.steering = steering
        self.data_dir = data_dir
        self.launches: dict[str, Launch] = {}
        self.logs: dict[str, Log] = {}
        self.predictors: dict[str, tuple[tuple[str, int, int], Predictor]] = {}
        self.stopping = False  # set on shutdown: streams end, no new run starts

    # --- names and status -------------------------------------------------------------

    def run_dir(self, name: str, must_exist: bool = True) -> Path:
        """ROOT/name, for a name that is one plain path component; 404 if not a run."""
        if not NAME.fullmatch(name) or ".." in name:
            raise BadRequest(
                400,
                f"{name!r} is not a run name: use letters, digits, '.', '_' and '-' "
                "(at most 80), starting with a letter or digit",
            )
        path = self.root / name
        if path.resolve().parent != self.root.resolve():
            raise BadRequest(400, f"{name!r} is not a run under {self.root}")
        if must_exist and not self.is_run(name):
            raise BadRequest(404, f"no run named {name!r} under {self.root}")
        return path

    def is_run(self, name: str) -> bool:
        path = self.root / name
        return name in self.launches or (path / EVENTS).is_file() or (path / HISTORY).is_file()

    def names(self) -> list[str]:
        """The runs under the root, newest first, and runs started here that left no dir."""
        found = []
        with contextlib.suppress(OSError):
            for path in self.root.iterdir():
                if NAME.fullmatch(path.name) and self.is_run(path.name):
                    found.append((path.stat().st_mtime, path.name))
        names = [name for _, name in sorted(found, reverse=True)]
        return [*(n for n in self.launches if n not in names), *names]

    def read_log(self, name: str) -> Log:
        """The run's Log, brought up to date with what the file gained since last time."""
        log = self.logs.setdefault(name, Log())
        path = self.root / name / EVENTS
        try:
            with path.open("rb") as f:
                stat = os.fstat(f.fileno())
                if stat.st_ino != log.key[0] or stat.st_size < log.key[1]:
                    log = self.logs[name] = Log(key=(stat.st_ino, 0))
                f.seek(log.key[1])
                data = f.read()
        except FileNotFoundError:
            self.logs[name] = Log()
            return self.logs[name]
        complete = data[: data.rfind(b"\n") + 1]
        for line in complete.splitlines():
            event = parse(line)
            if event is None:
                continue
            log.last = event
            kind = event.get("event")
            if kind in ("pause", "resume", "start", "end"):
                log.paused = kind == "pause"
            if kind == "start":
                log.start = event
        log.key = (log.key[0], log.key[1] + len(complete))
        return log

    def status(self, name: str) -> dict[str, Any]:
        """What the page lists: status ("starting", "running", "paused", "finished",
        "stopped", "interrupted", "failed", "died", "saved"), why, and where the run is."""
        log = self.read_log(name)
        launch = self.launches.get(name)
        start, last = log.start, log.last
        stale = launch is not None and (start is None or start["time"] < launch.started)
        status, reason = "saved", None
        ended = last is not None and last.get("event") == "end"
        if ended and not stale:  # said before its process has quite exited
            status, reason = last.get("status", "finished"), last.get("reason")
        elif launch is not None and launch.alive():
            status = "starting" if stale else running(log)
        elif launch is not None and stale:
            status, reason = "failed", launch.reason
        elif last is not None:
            if pid_alive(start.get("pid") if start else None):
                status = running(log)
            else:
                status = "died"
                reason = (launch.reason if launch else None) or (
                    "the training process ended without saying why (killed?)"
                )
        info: dict[str, Any] = {"name": name, "status": status, "reason": reason}
        if start is not None:
            config = start.get("config", {})
            info |= {
                "description": start.get("description"),
                "backend": config.get("backend"),
                "dataset": config.get("dataset"),
                "epochs": start.get("epochs"),
                "started": config.get("started"),
            }
        elif (self.root / name / HISTORY).is_file():
            info |= history_summary(self.root / name / HISTORY)
        if last is not None:
            info |= {k: last.get(k) for k in ("step", "progress", "time")}
            info["best"] = last.get("best") or info.get("best")
        return info

    def active(self, statuses: dict[str, dict[str, Any]] | None = None) -> list[str]:
        """The trainings started here that are still at it (one that has written its end
        is done, even if its process takes a moment more to exit). `statuses`: ones just
        computed, by name; the others are computed here."""
        statuses = statuses or {}
        return [
            name
            for name, launch in self.launches.items()
            if launch.alive() and (statuses.get(name) or self.status(name))["status"] in ACTIVE
        ]

    # --- starting and steering ------------------------------------------------------------

    def check_steering(self, what: str) -> None:
        if not self.steering:
            raise BadRequest(
                403,
                f"{what} is off: this server listens beyond this machine; restart it with "
                "`mnistlab serve --allow-training` to allow it",
            )

    def check_capacity(self) -> None:
        running = self.active()
        if self.stopping:
            raise BadRequest(503, "the server is stopping")
        if len(running) >= self.max_trainings:
            raise BadRequest(
                409,
                f"{len(running)} training{'s' if len(running) != 1 else ''} already running "
                f"({', '.join(running)}); this server trains at most {self.max_trainings} at "
                "a time (serve --max-trainings): wait, or stop one",
            )

    def start(self, settings: StartRequest) -> str:
        self.check_steering("starting a training")
        name = settings.name or default_name(settings)
        path = self.run_dir(name, must_exist=False)
        if path.exists() or (name in self.launches and self.launches[name].alive()):
            raise BadRequest(409, f"a run named {name!r} already exists: choose another name")
        flags = train_flags(settings)
        check_settings(flags)
        self.check_capacity()
        self.root.mkdir(parents=True, exist_ok=True)
        mnist = settings.dataset == "mnist" and self.data_dir is not None
        self.launch(
            name, ["--out", str(path), *flags], ["--data-dir", self.data_dir] if mnist else []
        )
        return name

    def resume(self, name: str, request: ResumeRequest) -> None:
        self.check_steering("resuming a training")
        path = self.run_dir(name)
        status = self.status(name)
        if status["status"] in ACTIVE:
            raise BadRequest(409, f"{name} is {status['status']}: nothing to resume")
        if not (path / CHECKPOINT).is_file():
            raise BadRequest(409, f"{name} has no checkpoint to resume from")
        done, epochs = epochs_of(path)
        if request.epochs is not None and request.epochs <= done:
            raise BadRequest(409, f"{name} has trained {done} epochs: give more than that to go on")
        if request.epochs is None and done >= epochs:
            raise BadRequest(
                409, f"{name} trained all its {epochs} epochs: give more epochs to go on"
            )
        self.check_capacity()
        more = [] if request.epochs is None else ["--epochs", str(request.epochs)]
        self.launch(name, ["--resume", str(path), *more])

    def launch(self, name: str, flags: list[str], data: list[str] | None = None) -> None:
        """`python -m mnistlab train FLAGS` in its own session (a Ctrl-C in the server's
        terminal reaches only the server, which stops it at a clean point)."""
        output = tempfile.TemporaryFile()  # noqa: SIM115 (closed by Launch.alive)
        process = subprocess.Popen(
            [sys.executable, "-m", "mnistlab", "train", *flags, *(data or [])],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        previous = self.launches.pop(name, None)
        if previous is not None:
            previous.alive()
        self.launches[name] = Launch(process, output)

    def control(self, name: str, request: ControlRequest) -> dict[str, Any]:
        """Write the run's control.json; the training reads it between steps."""
        self.check_steering("steering a training")
        path = self.run_dir(name)
        status = self.status(name)["status"]
        if status not in ("running", "paused"):
            raise BadRequest(409, f"{name} is {status}, not training: nothing to {request.action}")
        if request.action == "lr" and request.lr is None:
            raise BadRequest(422, "lr: a learning rate is needed to change it")
        try:
            control = json.loads((path / CONTROL).read_text())
        except (OSError, ValueError):
            control = {}
        if request.action in ("pause", "resume"):
            control["pause"] = request.action == "pause"
        elif request.action == "stop":
            control["stop"] = True
        else:
            number = (control.get("lr") or [0])[0] + 1
            control["lr"] = [number, request.lr]
        write_json(path / CONTROL, control)
        return {"name": name, "control": control}

    def stop_all(self) -> None:
        """SIGTERM every training started here: each stops at once, its finished epochs
        saved (the Ctrl-C path), resumable. Safe inside a signal handler."""
        self.stopping = True
        for launch in self.launches.values():
            if launch.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    launch.process.send_signal(signal.SIGTERM)

    def wait_all(self, timeout: float = STOP_WAIT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        for launch in self.launches.values():
            try:
                launch.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                launch.process.kill()
                launch.process.wait()

    # --- the draw pad ---------------------------------------------------------------------

    def predictor(self, name: str) -> Predictor:
        """The run's network as it is now (live.safetensors), else its best model;
        loaded again only when the file changed."""
        path = self.run_dir(name)
        for file in (path / LIVE_MODEL, path / MODEL):
            try:
                stat = file.stat()
            except FileNotFoundError:
                continue
            key = (str(file), stat.st_ino, stat.st_mtime_ns)
            cached = self.predictors.get(name)
            if cached is not None and cached[0] == key:
                return cached[1]
            try:
                predictor = Predictor.from_file(file)
            except UserError:
                continue  # replaced while being read: the next call reads the new one
            self.predictors.pop(name, None)
            self.predictors[name] = (key, predictor)
            while len(self.predictors) > PREDICTORS:
                self.predictors.pop(next(iter(self.predictors)))
            return predictor
        raise BadRequest(409, f"{name} has no network to read with yet")


def running(log: Log) -> str:
    return "paused" if log.paused else "running"


def pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def parse(line: bytes) -> dict[str, Any] | None:
    try:
        event = json.loads(line)
    except ValueError:
        return None  # a line cut short by a killed process
    return event if isinstance(event, dict) else None


def history_summary(path: Path) -> dict[str, Any]:
    """A run without a live record (trained with --no-live, or before it existed)."""
    try:
        history = json.loads(path.read_text())
        config = history["config"]
        return {
            "backend": config.get("backend"),
            "dataset": config.get("dataset"),
            "epochs": config.get("train", {}).get("epochs"),
            "started": config.get("started"),
            "best": history.get("best"),
            "progress": len(history.get("epochs", [])),
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def epochs_of(path: Path) -> tuple[int, int]:
    """(epochs trained, epochs planned) from the run's history.json."""
    summary = history_summary(path / HISTORY)
    return int(summary.get("progress") or 0), int(summary.get("epochs") or 0)


def default_name(settings: StartRequest) -> str:
    """As `train` names a run without --out: backend-model-time."""
    return f"{settings.backend}-{settings.model}-{dt.datetime.now():%Y%m%d-%H%M%S}"


def train_flags(settings: StartRequest) -> list[str]:
    """`mnistlab train`'s flags for these settings (the ones given, and the architecture)."""
    flags = ["--dataset", settings.dataset, "--backend", settings.backend]
    flags += ["--model", settings.model, "--seed", str(settings.seed)]
    if settings.model != "convnet":
        flags += ["--activation", settings.activation]
    if settings.hidden:  # train refuses it for LeNet-5 and the convnet, in its words
        flags += ["--hidden", settings.hidden.replace(" ", "")]
    for key in ("optimizer", "lr", "batch_size", "epochs", "l2", "limit_train"):
        value = getattr(settings, key)
        if value is not None:
            flags += [f"--{key.replace('_', '-')}", str(value)]
    return flags


def check_settings(flags: list[str]) -> None:
    """The settings as `train` would check them, before any process starts: 422 with
    train's own one-line message."""
    from mnistlab.commands import common, train
    from mnistlab.models.spec import MLPSpec

    parser = argparse.ArgumentParser()
    train.add_parser(parser.add_subparsers())
    try:
        args = parser.parse_args(["train", *flags])
        train.take_given(args)
        spec = common.spec_from_args(args)
        common.config_from_args(args)
    except UserError as exc:
        raise BadRequest(422, str(exc)) from None
    except SystemExit:
        raise BadRequest(422, f"settings train does not accept: {' '.join(flags)}") from None
    if isinstance(spec, MLPSpec) and max(spec.hidden) > LIMITS["width"][1]:
        raise BadRequest(422, f"hidden: at most {int(LIMITS['width'][1])} units a layer")


def form_defaults() -> dict[str, Any]:
    """train's defaults for each model, for the start form."""
    from mnistlab.config import default_config
    from mnistlab.models.spec import DEFAULT_HIDDEN

    keys = ("optimizer", "lr", "batch_size", "epochs", "l2")
    models = {}
    for model in ("mlp", "lenet5", "convnet"):
        config = default_config(model).to_json()
        models[model] = {key: config[key] for key in keys}
    models["mlp"]["hidden"] = DEFAULT_HIDDEN
    return {"models": models, "limits": LIMITS, "seed": 0}


def sse(event: str, data: str, event_id: int | None = None) -> str:
    """One server-sent event; `data` may span lines."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    body = "".join(f"data: {line}\n" for line in data.split("\n"))
    return f"{head}event: {event}\n{body}\n"


async def stream(
    trainings: Trainings, name: str, offset: int, snapshots: bool
) -> AsyncIterator[str]:
    """The run's log from `offset` on, then whatever it gains, its snapshots and status."""
    path = trainings.root / name
    inode = None
    snapshot_key = None
    last_status = None
    quiet_since = time.monotonic()
    yield "retry: 2000\n\n"
    while not trainings.stopping:
        try:
            with (path / EVENTS).open("rb") as f:
                stat = os.fstat(f.fileno())
                if inode is not None and (stat.st_ino != inode or stat.st_size < offset):
                    offset = 0
                    yield sse("reset", "{}")
                inode = stat.st_ino
                f.seek(offset)
                data = f.read(CHUNK)
        except FileNotFoundError:
            data = b""
        complete = data[: data.rfind(b"\n") + 1]
        if complete:
            offset += len(complete)
            lines = b",".join(complete.rstrip(b"\n").split(b"\n")).decode(errors="replace")
            yield sse("log", f"[{lines}]", offset)
            if len(data) == CHUNK:
                continue  # more to replay: no pause
        if snapshots:
            key, body = read_if_changed(path / SNAPSHOT, snapshot_key)
            if body is not None:
                snapshot_key = key
                yield sse("snapshot", body)
        status = trainings.status(name)
        if (status["status"], status["reason"]) != last_status:
            last_status = (status["status"], status["reason"])
            yield sse("status", json.dumps(status))
            quiet_since = time.monotonic()
        elif complete:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > HEARTBEAT_SECONDS:
            quiet_since = time.monotonic()
            yield ": still here\n\n"
        await asyncio.sleep(POLL_SECONDS)


def read_if_changed(path: Path, seen: Any) -> tuple[Any, str | None]:
    try:
        stat = path.stat()
        key = (stat.st_ino, stat.st_mtime_ns)
        if key == seen:
            return seen, None
        return key, path.read_text(encoding="utf-8")
    except OSError:
        return seen, None


def add_training(app: FastAPI, trainings: Trainings) -> None:
    """The training view's routes and its JSON errors (the server's command stops the
    trainings when it stops: `stop_all`, `wait_all`)."""
    router = APIRouter()
    form = form_defaults()  # train's defaults: fixed while the server runs

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        if first.get("type") == "json_invalid":
            return JSONResponse({"error": "the body is not valid JSON"}, status_code=400)
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = first.get("msg", "invalid request")
        return JSONResponse({"error": f"{where}: {message}" if where else message}, 422)

    @router.get("/live", include_in_schema=False)
    async def live_page() -> FileResponse:
        return FileResponse(STATIC / "live.html")

    @router.get("/api/runs")
    async def list_runs() -> dict[str, Any]:
        """Every run under the run root, newest first, and what the start form needs."""
        runs = [trainings.status(name) for name in trainings.names()]
        return {
            "root": str(trainings.root),
            "runs": runs,
            "active": trainings.active({run["name"]: run for run in runs}),
            "max_trainings": trainings.max_trainings,
            "steering": trainings.steering,
            "form": form,
        }

    @router.post("/api/runs", status_code=201)
    async def start_run(settings: StartRequest) -> dict[str, Any]:
        """Start `mnistlab train` with these settings in its own process."""
        name = trainings.start(settings)
        return trainings.status(name)

    @router.get("/api/runs/{name}")
    async def get_run(name: str) -> dict[str, Any]:
        path = trainings.run_dir(name)
        info = trainings.status(name)
        try:
            history = json.loads((path / HISTORY).read_text())
        except (OSError, ValueError):
            history = {}
        return {**info, "history": history}

    @router.get("/api/runs/{name}/events")
    async def run_events(name: str, request: Request, snapshots: int = 1) -> Response:
        """Server-sent events: the run's log from the start (or Last-Event-ID) and as it
        grows, its snapshots and its status."""
        trainings.run_dir(name)
        last = request.headers.get("last-event-id", "0")
        offset = int(last) if last.isdigit() else 0
        return StreamingResponse(
            stream(trainings, name, offset, bool(snapshots)),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @router.get("/api/runs/{name}/snapshot")
    async def run_snapshot(name: str) -> Response:
        path = trainings.run_dir(name) / SNAPSHOT
        if not path.is_file():
            raise BadRequest(404, f"{name} has no snapshot (trained with --no-live?)")
        return Response(path.read_bytes(), media_type="application/json")

    @router.post("/api/runs/{name}/control")
    async def control_run(name: str, request: ControlRequest) -> dict[str, Any]:
        """Pause, resume, stop, or change the learning rate from the next step."""
        return trainings.control(name, request)

    @router.post("/api/runs/{name}/resume")
    async def resume_run(name: str, request: ResumeRequest) -> dict[str, Any]:
        """Go on from the run's checkpoint, as `mnistlab train --resume` does."""
        trainings.resume(name, request)
        return trainings.status(name)

    @router.post("/api/runs/{name}/predict")
    async def predict_run(name: str, request: Request) -> Response:
        """Read an image with the run's current network."""
        trainings.run_dir(name)  # an unknown run is 404 before its body is read
        return await answer(request, lambda: trainings.predictor(name), app.state.workers)

    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
