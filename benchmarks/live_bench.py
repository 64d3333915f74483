"""Section 11 of bench.py: what watching a run live costs, and the server while a run trains.

- Watching costs little: the same run (1 to 6 epochs, about 3 s), trained with nothing
  watching and with its live record on (snapshots every second) and a page attached (a
  real `mnistlab serve` streaming the run's events to a client process that connected
  before the run began), in back-to-back pairs whose order alternates; the cost is the
  median of 7 pairs' ratios (1 pair with --quick), and the share of the watched run spent
  inside the live record's calls (steady, where the wall-clock ratio carries the machine's
  ±5-15% run-to-run drift); both backends,
  [784,100,10] at batch 20 and LeNet-5 (its recipe, batch 20). Target: ≤ 5%.
- The page updates at ≥ 2 Hz while a run trains: messages the attached client received a
  second over the watched runs.
- While a training started from the page runs (LeNet-5, NumPy), `/api/predict` p95 < 150 ms
  and every `/healthz` within 200 ms, on the same cores.
- Memory stays flat: the server's resident memory at the end of a 15-epoch LeNet-5 run
  watched from start to end (on the first 2,000 training images, every validation image:
  the server's work per second is that of a full run) is within 20 MB of what it was once
  the first epoch was in.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
from extras_bench import Timed

# A page, as far as the server can tell: it streams a run's events and notes when each came.
CLIENT = """
import sys, time, httpx
url = sys.argv[1]
while True:
    try:
        with httpx.stream("GET", url, timeout=None) as r:
            if r.status_code == 404:
                time.sleep(0.05)
                continue
            print("connected", flush=True)
            for line in r.iter_lines():
                if line.startswith("event: "):
                    print(f"{time.time():.3f} {line[7:]}", flush=True)
    except httpx.HTTPError:
        time.sleep(0.05)
"""


def attach(url: str, name: str, wait: bool = True) -> subprocess.Popen:
    """A page's stream of run `name`, connected (with `wait`) before this returns."""
    client = subprocess.Popen(
        [sys.executable, "-c", CLIENT, f"{url}/api/runs/{name}/events"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert client.stdout is not None
    if wait:
        assert client.stdout.readline().strip() == "connected"
    return client


def detach(client: subprocess.Popen) -> list[tuple[float, str]]:
    client.terminate()
    out, _ = client.communicate(timeout=30)
    lines = (line.split() for line in out.splitlines() if line != "connected")
    return [(float(t), kind) for t, kind in lines]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def overhead(splits: Any, reps: int, url: str, root: Path, n: dict[str, int], add: Callable,
             numbers: dict) -> list[float]:  # fmt: skip
    """Watched / unwatched epoch time for each backend and model; the page's update rates."""
    from dataclasses import replace

    from mnistlab.config import default_config
    from mnistlab.data.splits import Split, Splits
    from mnistlab.live import EVENTS, LiveRecord
    from mnistlab.models.spec import LeNet5Spec, MLPSpec
    from mnistlab.training import train

    rates = []
    for backend in ("numpy", "torch"):
        for spec in (MLPSpec((100,), "relu"), LeNet5Spec()):
            count = n[f"{spec.name}-{backend}"]
            part = Splits(
                Split(splits.train.x[:count], splits.train.y[:count]),
                Split(splits.val.x[:1000], splits.val.y[:1000]),
                Split(splits.test.x[:1000], splits.test.y[:1000]),
                splits.dataset,
                splits.source,
            )
            epochs = n.get(f"{spec.name}-{backend}-epochs", 1)
            config = replace(default_config(spec.name), batch_size=20, epochs=epochs)
            quiet = dict(log=None, show_progress=False)
            pairs: list[tuple[float, float]] = []
            inside: list[float] = []  # share of each watched run spent in the live record
            for rep in range(reps + 1):  # the first pair warms up
                seconds: dict[str, float] = {}
                # the order alternates, so a machine that slows down or speeds up during the
                # benchmark does not favour one side
                for kind in ("plain", "watched") if rep % 2 else ("watched", "plain"):
                    if kind == "plain":
                        with tempfile.TemporaryDirectory(dir=root) as tmp:
                            t = time.perf_counter()
                            train(spec, config, part, backend, Path(tmp) / "run", **quiet)
                            seconds["plain"] = time.perf_counter() - t
                        continue
                    name = f"watched-{spec.name}-{backend}-{rep}"
                    (root / name).mkdir()
                    (root / name / EVENTS).touch()  # the page is open on the run before it starts
                    client = attach(url, name)
                    record = Timed(LiveRecord(root / name, part))
                    t = time.perf_counter()
                    train(spec, config, part, backend, root / name, watchers=[record], **quiet)
                    seconds["watched"] = time.perf_counter() - t
                    if rep:
                        inside.append(record.seconds / seconds["watched"])
                    got = detach(client)
                    times = [t for t, kind in got if kind in ("log", "snapshot")]
                    if rep and len(times) > 1:
                        rates.append((len(times) - 1) / (times[-1] - times[0]))
                if rep:
                    pairs.append((seconds["plain"], seconds["watched"]))
            # the median of the pairs' ratios: each pair ran back to back, so it compares
            # like with like on a machine whose speed drifts from minute to minute
            ratio = float(np.median([w / p for p, w in pairs]))
            plain = float(np.median([p for p, _ in pairs]))
            watched = float(np.median([w for _, w in pairs]))
            print(
                f"     {spec.describe():<24} {backend:<5}: nothing watching {plain:6.2f} s, "
                f"watched {watched:6.2f} s (medians of {len(pairs)} back-to-back pairs; "
                f"{count:,} images × {epochs} epochs, with scoring)"
            )
            share = float(np.median(inside))
            print(f"     time inside the live record: {share:.1%} of the watched run (median)")
            add(f"live record's share, {spec.name} {backend}", f"{share:.1%}", "≤ 5%",
                share / 0.05, share <= 0.05)  # fmt: skip
            add(f"watching cost, {spec.name} {backend}", f"{(ratio - 1) * 100:+.1f}%", "≤ 5%",
                ratio, ratio <= 1.05)  # fmt: skip
            numbers[f"{spec.name}-{backend}"] = {"plain_s": plain, "watched_s": watched,
                                                 "images": count}  # fmt: skip
    return rates


def while_training(splits: Any, url: str, root: Path, add: Callable, numbers: dict) -> None:
    """/api/predict and /healthz latency while a LeNet-5 training runs; then its end, and the
    server's memory over the whole watched run."""
    from serve_load import canvas_pngs

    server_rss = psutil.Process(numbers["_server_pid"])
    body = {"name": "fifteen", "model": "lenet5", "epochs": 15, "limit_train": 2000}
    assert httpx.post(url + "/api/runs", json=body, timeout=30).status_code == 201
    client = attach(url, "fifteen", wait=False)
    pngs = canvas_pngs(20)
    predict_ms, health_ms = [], []
    baseline = None
    with httpx.Client(base_url=url, timeout=30) as http:
        while True:
            run = http.get("/api/runs/fifteen").json()
            if run["status"] not in ("starting", "running"):
                break
            if baseline is None and (run.get("progress") or 0) >= 1:
                baseline = server_rss.memory_info().rss
            if run["status"] == "running" and len(predict_ms) < 300:
                for i in range(10):
                    t = time.perf_counter()
                    http.post("/api/predict", content=pngs[i % 20])
                    predict_ms.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                http.get("/healthz")
                health_ms.append((time.perf_counter() - t) * 1000)
                http.post("/api/runs/fifteen/predict", content=pngs[0])  # the live pad
            time.sleep(0.2)
    end_rss = server_rss.memory_info().rss
    got = detach(client)
    p95, worst = percentile(predict_ms, 95), max(health_ms)
    print(f"     while LeNet-5 trains: /api/predict p50 {percentile(predict_ms, 50):.0f} ms, "
          f"p95 {p95:.0f} ms over {len(predict_ms)} requests; /healthz p50 "
          f"{percentile(health_ms, 50):.0f} ms, p95 {percentile(health_ms, 95):.0f} ms, "
          f"slowest {worst:.0f} ms of {len(health_ms)}")  # fmt: skip
    add("/api/predict p95 while training", f"{p95:.0f} ms", "< 150 ms", p95 / 150, p95 < 150)
    add("/healthz while training", f"{worst:.0f} ms", "≤ 200 ms", worst / 200, worst <= 200)
    growth = (end_rss - (baseline or end_rss)) / 2**20
    print(f"     server RSS {(baseline or 0) / 2**20:.0f} MB after epoch 1, "
          f"{end_rss / 2**20:.0f} MB at the end of 15 ({run['status']}); "
          f"{len(got)} messages streamed")  # fmt: skip
    add("server RSS growth, 15-epoch LeNet-5 watched", f"{growth:+.1f} MB", "< 20 MB",
        max(growth, 0) / 20, growth < 20)  # fmt: skip
    numbers["while_training"] = {"predict_p95_ms": p95, "healthz_max_ms": worst,
                                 "rss_growth_mb": growth, "status": run["status"]}  # fmt: skip


def live_section(splits: Any, reps: int, quick: bool, data_dir: str | None, add: Callable,
                 numbers: dict) -> None:  # fmt: skip
    """11. Watching a run live: its cost, the page's update rate, the server while it trains."""
    from serve_load import model_file, start_server

    from mnistlab.models.spec import LeNet5Spec

    print("\n11. Watching a run live (the training view): cost, update rate, server under load")
    live: dict[str, Any] = {}
    numbers["live"] = live
    # about 5 to 15 s a run on 2 cores: long enough that the start (a NumPy twin of the
    # network, the first snapshot) weighs as little as it does in a real run, and best of
    # 5, as this machine's speed varies 2× from minute to minute
    n = {"mlp-numpy": 50_000, "mlp-numpy-epochs": 6, "mlp-torch": 50_000, "mlp-torch-epochs": 2,
         "lenet5-numpy": 20_000, "lenet5-torch": 16_000}  # fmt: skip
    if quick:
        n = {key: max(value // 4, 1) for key, value in n.items()}
    with tempfile.TemporaryDirectory(dir=Path.cwd(), prefix=".bench-live-") as tmp:
        root = Path(tmp)
        flags = ["--runs", str(root / "runs")] + (["--data-dir", data_dir] if data_dir else [])
        server, url = start_server(model_file(LeNet5Spec(), None, root), *flags)
        live["_server_pid"] = server.pid
        (root / "runs").mkdir(exist_ok=True)
        try:
            rates = overhead(splits, 1 if quick else 7, url, root / "runs", n, add, live)
            rate = min(rates) if rates else 0.0
            print(
                f"     page updates while training: {min(rates):.1f} to {max(rates):.1f} a second"
            )
            add("page updates while training (slowest run)", f"{rate:.1f} Hz", "≥ 2 Hz",
                2 / max(rate, 1e-9), rate >= 2)  # fmt: skip
            live["update_hz"] = rates
            while_training(splits, url, root / "runs", add, live)
        finally:
            server.terminate()
            server.wait(timeout=120)
        live.pop("_server_pid")
    json.dumps(live)  # plain numbers only
