"""Load on `mnistlab serve`: requests per second, latency, memory, and the web layer's cost.

    python benchmarks/serve_load.py [--requests 2000] [--clients 20] [--mlp FILE] [--lenet5 FILE]

For the MLP and for LeNet-5 in turn, a real `mnistlab serve` process is started on a free
port and sent `--requests` POST /api/predict from `--clients` concurrent httpx clients
(one asyncio task and one `httpx.AsyncClient` each, in this process: the load generator
shares the machine's cores with the server, as the target says). The bodies are 20
MNIST test digits drawn 10× larger, dark on white, as 280×280 PNGs: what the page's
canvas sends. Printed side by side:

- requests per second and the p50 / p95 / p99 latency seen by the clients;
- failed requests (not 200) and wrong answers (a digit other than what an in-process
  `Predictor` reads from the same bytes);
- the time one prediction takes inside the server (decode + preprocess + forward +
  JSON, the `ms` each answer carries), its median under load, and the same work timed
  alone in this process (best of 200): the rest of the latency is the web layer and
  queueing;
- the CPU time per request of the server process and of the load generator: unlike
  the wall-clock numbers, these hardly change when other work shares the cores, so
  2 cores ÷ (server + client CPU per request) estimates the rate an idle machine gives;
- the server's resident memory after the first 100 requests and at the end.

Targets (LeNet-5, this 2-core machine, load generator included): ≥ 200 requests/s,
p95 < 100 ms, no failed request, memory at the end within 50 MB of where it was after
the first 100 requests. Nothing asserts; each target is printed with PASS or MISS.
Without --mlp/--lenet5 the models get seeded random weights: the work per request is the
same as for trained ones, and the answers are still checked against `Predictor`.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import psutil
from PIL import Image

from mnistlab.inference import Predictor
from mnistlab.models.init import init_params
from mnistlab.models.modelfile import save_model
from mnistlab.models.spec import LeNet5Spec, MLPSpec, ModelSpec
from mnistlab.web.app import predict_json

WARMUP = 100  # requests before memory's baseline is taken (imports, caches, arenas settle)


def canvas_pngs(n: int = 20) -> list[bytes]:
    """MNIST test digits as the page's canvas sends them: 280×280, dark ink on white."""
    from mnistlab.data.mnist import load_splits

    test = load_splits("mnist").test
    out = []
    for x in test.x[:n]:
        ink = Image.fromarray((255 - x * 255).astype(np.uint8))
        buf = io.BytesIO()
        ink.resize((280, 280), Image.Resampling.BICUBIC).save(buf, "PNG")
        out.append(buf.getvalue())
    return out


def model_file(spec: ModelSpec, given: str | None, folder: Path) -> Path:
    if given:
        return Path(given)
    path = folder / f"{spec.name}.safetensors"
    save_model(path, spec, init_params(spec, np.random.default_rng(0)))
    return path


def start_server(path: Path, *flags: str) -> tuple[subprocess.Popen[str], str]:
    """`mnistlab serve PATH --port 0 FLAGS`; the process and its URL once /healthz answers."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mnistlab", "serve", str(path), "--port", "0", *flags],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if "http://" not in line:
        process.kill()
        raise SystemExit(f"mnistlab serve did not start: {line!r}")
    url = line.split("at ", 1)[1].split()[0].rstrip("/")
    for _ in range(300):
        try:
            if httpx.get(url + "/healthz", timeout=5).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("mnistlab serve never answered /healthz")


async def load(
    url: str, bodies: list[bytes], expected: list[int], n: int, clients: int
) -> dict[str, object]:
    """n requests shared by `clients` concurrent clients; latencies and what went wrong."""
    latencies: list[float] = []
    server_ms: list[float] = []
    failed = wrong = 0
    counter = iter(range(n))

    async def client() -> None:
        nonlocal failed, wrong
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            for i in counter:
                j = i % len(bodies)
                start = time.perf_counter()
                try:
                    r = await http.post(
                        "/api/predict", content=bodies[j], headers={"content-type": "image/png"}
                    )
                except httpx.HTTPError:
                    failed += 1
                    continue
                latencies.append(time.perf_counter() - start)
                if r.status_code != 200:
                    failed += 1
                    continue
                answer = r.json()
                wrong += answer["digit"] != expected[j]
                server_ms.append(answer["ms"])

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    wall = time.perf_counter() - start
    return {
        "wall": wall,
        "latencies": latencies,
        "server_ms": server_ms,
        "failed": failed,
        "wrong": wrong,
    }


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def alone_ms(predictor: Predictor, bodies: list[bytes], repeats: int = 200) -> float:
    """decode + preprocess + forward + JSON for one request, in this process, no server."""
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        predict_json(predictor, bodies[i % len(bodies)], "x")
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def measure(
    name: str, path: Path, bodies: list[bytes], args: argparse.Namespace
) -> dict[str, float]:
    predictor = Predictor.from_file(path)
    expected = [predictor.predict_bytes(b).digit for b in bodies]
    alone = alone_ms(predictor, bodies)
    process, url = start_server(path)
    try:
        server = psutil.Process(process.pid)
        asyncio.run(load(url, bodies, expected, WARMUP, args.clients))
        rss_warm = server.memory_info().rss / 2**20
        server_cpu, client_cpu = cpu_seconds(server), time.process_time()
        run = asyncio.run(load(url, bodies, expected, args.requests, args.clients))
        server_cpu = cpu_seconds(server) - server_cpu
        client_cpu = time.process_time() - client_cpu
        rss_end = server.memory_info().rss / 2**20
    finally:
        process.terminate()
        process.wait(timeout=10)
    lat = 1000 * np.array(run["latencies"])
    return {
        "model": name,
        "requests": args.requests,
        "rps": args.requests / float(run["wall"]),
        "p50": float(np.percentile(lat, 50)),
        "p95": float(np.percentile(lat, 95)),
        "p99": float(np.percentile(lat, 99)),
        "failed": int(run["failed"]),
        "wrong": int(run["wrong"]),
        "server_ms": float(np.median(run["server_ms"])) if run["server_ms"] else float("nan"),
        "alone_ms": alone,
        "server_cpu_ms": 1000 * server_cpu / args.requests,
        "client_cpu_ms": 1000 * client_cpu / args.requests,
        "rss_warm": rss_warm,
        "rss_end": rss_end,
    }


def report(rows: list[dict[str, float]]) -> None:
    print(
        f"{'model':<8} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'failed':>6} "
        f"{'wrong':>5} {'in-server ms':>12} {'alone ms':>8} {'CPU ms/req server':>17} "
        f"{'client':>6} {'RSS@100 MB':>10} {'RSS end':>8}"
    )
    for r in rows:
        print(
            f"{r['model']:<8} {r['rps']:7.0f} {r['p50']:7.1f} {r['p95']:7.1f} {r['p99']:7.1f} "
            f"{r['failed']:6d} {r['wrong']:5d} {r['server_ms']:12.2f} {r['alone_ms']:8.2f} "
            f"{r['server_cpu_ms']:17.2f} {r['client_cpu_ms']:6.2f} "
            f"{r['rss_warm']:10.1f} {r['rss_end']:8.1f}"
        )
    lenet = next(r for r in rows if r["model"] == "lenet5")
    targets = [
        ("LeNet-5 ≥ 200 requests/s", lenet["rps"] >= 200, f"{lenet['rps']:.0f}/s"),
        ("LeNet-5 p95 < 100 ms", lenet["p95"] < 100, f"{lenet['p95']:.1f} ms"),
        ("no failed request", all(r["failed"] == 0 for r in rows), "all models"),
        ("every answer right", all(r["wrong"] == 0 for r in rows), "all models"),
        (
            "memory within 50 MB of RSS@100",
            all(r["rss_end"] - r["rss_warm"] <= 50 for r in rows),
            ", ".join(f"{r['model']} {r['rss_end'] - r['rss_warm']:+.1f} MB" for r in rows),
        ),
    ]
    for what, ok, value in targets:
        print(f"{'PASS' if ok else 'MISS'}  {what}: {value}")


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--mlp", default=None, help="an MLP model file (default: random weights)")
    parser.add_argument("--lenet5", default=None, help="a LeNet-5 model file (default: random)")
    args = parser.parse_args()
    bodies = canvas_pngs()
    print(f"load average before: {load_average()} ({os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory() as tmp:
        rows = [
            measure("mlp", model_file(MLPSpec((256,)), args.mlp, Path(tmp)), bodies, args),
            measure("lenet5", model_file(LeNet5Spec(), args.lenet5, Path(tmp)), bodies, args),
        ]
    print(
        f"{args.requests:,} POST /api/predict from {args.clients} concurrent httpx clients, "
        f"280×280 PNG bodies; load average after: {load_average()}"
    )
    report(rows)


if __name__ == "__main__":
    main()
