"""Speed and memory of mnistlab's networks, side by side, against the lab's targets.

    python benchmarks/bench.py [--quick] [--json PATH] [--data-dir DIR]

Measures, on the real 50,000 MNIST training images:

1. the NumPy MLP [784,100,10] relu float32 SGD epoch at batch 128 against the ideal time
   from this machine's float32 GEMM rate (≤ 2.5×);
2. the same at batch 10 (≤ 1.0 s, and ≥ 3× faster than a plain PyTorch eager loop doing
   the same work); the lab's momentum + L2 settings are printed alongside;
3. mnistlab's TorchLearner at batch 10 with the lab's settings against its own training
   step fed by DataLoader(TensorDataset, shuffle=True) (≥ 1.5× faster: the batching
   alone), and, for scale, against the same network, cost and optimiser trained in a
   DataLoader loop written the way tutorials write it;
4. NumPy MLP against TorchLearner MLP at batch 10 and 128 (NumPy at least as fast);
5. NumPy LeNet-5 against PyTorch LeNet-5 at batch 64: training epoch (within 4×) and a
   1,000-image forward pass (within 3×);
6. peak resident memory of `mnistlab train --backend numpy --epochs 1` (< 600 MB);
7. `--recipe fast` on both backends against the peer, the published one-epoch PyTorch
   recipe (peer.py), interleaved over --seeds seeds (fast_recipe.py): PyTorch ≤ 0.5× and
   NumPy ≤ 1.0× the peer's training time, mean test accuracy ≥ 99.0% and every seed
   ≥ 98.85%; with LeNet-5's recipe epoch on both backends for the record.
   `--only fast` runs this section alone.
8. the cost of the checkpoint written after every epoch, for [784,100,10] at batch 20 and
   LeNet-5 (its recipe), both backends: (epoch + checkpoint) / epoch, under 1.03;
   `--only checkpoint` runs this section alone.
9. ONNX Runtime against the NumPy forward pass on 1,000 test images, for the MLP, LeNet-5
   and the convnet (extras_bench.py): at least as fast, the same predictions;
   `--only onnx` runs this section alone.
10. TensorBoard logging: a one-epoch run with and without `--tensorboard`, both backends
   (extras_bench.py): under 3% more time; `--only tensorboard` runs this section alone.
11. watching a run live (live_bench.py): the same run with the live record on and a page
   attached against nothing watching (both backends, [784,100,10] at batch 20 and
   LeNet-5: ≤ 5% slower); the page's updates while a run trains (≥ 2 Hz); /api/predict
   p95 (< 150 ms) and /healthz (≤ 200 ms) while a training runs; the server's memory over
   a 15-epoch LeNet-5 run on 2,000 images watched from start to end (< 20 MB growth).
   `--only live` runs this section alone.
12. the time estimates the commands print (compare's and report's plans, `report --help`)
   against the measured wall time of each kind of plan (estimates.py); `--only
   estimates` runs this section alone.

NumPy runs first, before PyTorch starts its threads. Times use time.perf_counter, one
warm-up, then the best of 3 repeats (5 for the sub-second NumPy MLP epochs at the lab's
batch sizes): this is a shared 2-core machine whose speed drifts by ±30% from minute to
minute, and the best time is the one least disturbed. Nothing
asserts: each target is printed with PASS or MISS and its ratio. --quick uses one repeat
and smaller subsets (scaled to 50,000 images, and said so). The full run takes about two
minutes on 2 idle cores. PyTorch at batch 10 (sections 2, 3, 4) and LeNet-5 training are
timed on the first 10,000 and 5,000 images and scaled to 50,000, as the output says.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import mnistlab.pytorch_version  # noqa: F401  (before any torch import: passive OpenMP waits)

N_EPOCH = 50_000
MLP_LR = 0.01
LENET_BATCH = 64
WARMUP_IMAGES = 1_000  # training warm-ups run on a short slice, not a whole epoch

Row = dict[str, Any]


# --------------------------------------------------------------------------- helpers


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def best_time(
    fn: Callable[[], object], repeats: int, warmup: Callable[[], object] | None = None
) -> float:
    """Best wall-clock seconds of `repeats` calls of fn, after one untimed warm-up call
    (of `warmup` when given, e.g. the same work on a short slice, else of fn itself)."""
    (warmup or fn)()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def subset(x: np.ndarray, y: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    return x[:n], y[:n]


# --------------------------------------------------------------------------- learners


def sgd_config(batch: int) -> Any:
    """Plain SGD at the lab's lr, no L2: the "same work" every speed target compares."""
    from mnistlab.config import TrainConfig

    return TrainConfig(
        lr=MLP_LR,
        l2=0.0,
        optimizer="sgd",
        momentum=0.0,
        batch_size=batch,
        epochs=1,
        seed=0,
        dtype="float32",
    )


def lab_config(batch: int) -> Any:
    """The lab's training defaults (momentum 0.9, λ = 5, lr 0.01) at this batch size."""
    from dataclasses import replace

    from mnistlab.config import TrainConfig

    return replace(TrainConfig(), batch_size=batch, epochs=1)


def warm_learner(backend: str, spec: Any, config: Any, x: np.ndarray, y: np.ndarray) -> Any:
    """A mnistlab learner with fresh weights, warmed up on the first images of (x, y)."""
    from mnistlab.backends import make_learner

    learner = make_learner(backend, spec, config, len(y))
    w = min(len(y), WARMUP_IMAGES)
    learner.train_epoch(x[:w], y[:w], np.random.default_rng(0), None)
    return learner


def learner_epoch(
    backend: str, spec: Any, config: Any, x: np.ndarray, y: np.ndarray, repeats: int
) -> float:
    """Best time of one train_epoch over (x, y) with a mnistlab learner (fresh weights)."""
    learner = warm_learner(backend, spec, config, x, y)
    rng = np.random.default_rng(0)
    return best_time(lambda: learner.train_epoch(x, y, rng, None), repeats, warmup=lambda: None)


def shuffled_loaders(x: Any, y: Any, batch: int) -> tuple[Any, Any]:
    """DataLoader(TensorDataset, shuffle=True) over (x, y), and one over its first images
    for the warm-up."""
    from torch.utils.data import DataLoader, TensorDataset

    def loader(n: int) -> Any:
        return DataLoader(TensorDataset(x[:n], y[:n]), batch_size=batch, shuffle=True)

    return loader(len(y)), loader(min(len(y), WARMUP_IMAGES))


def plain_torch_mlp(batch: int, x: np.ndarray, y: np.ndarray, repeats: int) -> float:
    """The textbook eager loop: Sequential, cross_entropy, SGD, shuffled index batches."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 10))
    opt = torch.optim.SGD(model.parameters(), lr=MLP_LR)
    xs = torch.from_numpy(np.ascontiguousarray(x.reshape(len(x), -1)))
    ys = torch.from_numpy(y)

    def epoch(n: int = len(ys)) -> None:
        order = torch.randperm(n)
        for start in range(0, n, batch):
            idx = order[start : start + batch]
            opt.zero_grad()
            loss = F.cross_entropy(model(xs[idx]), ys[idx])
            loss.backward()
            opt.step()

    return best_time(epoch, repeats, warmup=lambda: epoch(min(len(ys), WARMUP_IMAGES)))


def dataloader_torch_mlp(config: Any, x: np.ndarray, y: np.ndarray, repeats: int) -> float:
    """mnistlab's own training step, but fed by DataLoader(TensorDataset, shuffle=True).

    Only the batching differs from TorchLearner.train_epoch: this isolates what the
    DataLoader itself costs.
    """
    import torch

    from mnistlab.models.spec import MLPSpec
    from mnistlab.pytorch_version.learner import make_learner

    learner = make_learner(MLPSpec((100,), "relu"), config, len(y))
    loader, small = shuffled_loaders(torch.from_numpy(x), torch.from_numpy(y), config.batch_size)

    def epoch(loader: Any = loader) -> None:
        learner.model.train()
        for xb, yb in loader:
            learner.step(xb, yb)

    return best_time(epoch, repeats, warmup=lambda: epoch(small))


def dataloader_loop_mlp(config: Any, x: np.ndarray, y: np.ndarray, repeats: int) -> float:
    """The same network, cost and optimiser trained the way a tutorial writes it.

    DataLoader(TensorDataset, shuffle=True); the L2 term λ/(2n)·Σ‖W‖² in the loss and
    backpropagated; torch.optim.SGD with its default (foreach) update; the running loss
    read with loss.item() every step. Same weights, batches of the same size, same maths
    as TorchLearner: only the way the loop is written differs.
    """
    import torch
    import torch.nn.functional as F

    from mnistlab.models.init import init_params
    from mnistlab.models.spec import MLPSpec
    from mnistlab.pytorch_version.network import build_network

    spec = MLPSpec((100,), "relu")
    model = build_network(spec, init_params(spec, np.random.default_rng(0), "float32"), "float32")
    momentum = config.momentum if config.optimizer == "momentum" else 0.0
    opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=momentum)
    weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
    l2_scale = config.l2 / (2 * N_EPOCH)
    loader, small = shuffled_loaders(
        torch.from_numpy(x), torch.from_numpy(y).long(), config.batch_size
    )

    def epoch(loader: Any = loader) -> float:
        model.train()
        total = 0.0
        for xb, yb in loader:
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            if l2_scale:
                loss = loss + l2_scale * sum(w.pow(2).sum() for w in weights)
            loss.backward()
            opt.step()
            total += loss.item()
        return total

    return best_time(epoch, repeats, warmup=lambda: epoch(small))


def gemm_rate(repeats: int) -> tuple[float, dict[str, float]]:
    """Best sustained float32 np.matmul GFLOP/s over MLP-shaped and larger products."""
    rng = np.random.default_rng(0)
    shapes = [
        (128, 784, 100),
        (100, 128, 784),
        (128, 784, 512),
        (512, 784, 512),
        (1024, 1024, 1024),
    ]
    rates: dict[str, float] = {}
    for m, k, n in shapes:
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        out = np.empty((m, n), dtype=np.float32)
        flops = 2.0 * m * k * n
        inner = max(1, int(2e9 / flops))  # ~2 GFLOP a timing: long enough to be sustained

        def run(
            a: np.ndarray = a, b: np.ndarray = b, out: np.ndarray = out, inner: int = inner
        ) -> None:
            for _ in range(inner):
                np.matmul(a, b, out=out)

        seconds = best_time(run, repeats)
        rates[f"{m}x{k}@{k}x{n}"] = flops * inner / seconds / 1e9
    return max(rates.values()), rates


def mlp_epoch_flops(n: int) -> float:
    """Forward, weight gradients and hidden delta of [784,100,10] for n images."""
    forward = 2.0 * n * (784 * 100 + 100 * 10)
    weight_grads = forward
    hidden_delta = 2.0 * n * 100 * 10
    return forward + weight_grads + hidden_delta


def forward_time(backend: str, spec: Any, config: Any, x: np.ndarray, repeats: int) -> float:
    from mnistlab.backends import make_learner

    learner = make_learner(backend, spec, config, N_EPOCH)
    return best_time(lambda: learner.logits(x), repeats)


# Runs a command and prints the peak RSS (KB) of its children. Measuring from this small
# process matters: a child forked from the benchmark itself inherits the benchmark's ~600
# MB as its starting "maximum", and ru_maxrss keeps that number through exec.
RSS_LAUNCHER = (
    "import resource, subprocess, sys; "
    "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(rc)"
)


def train_peak_rss(data_dir: str | None) -> tuple[float, float, int]:
    """(peak RSS MB, seconds, return code) of `mnistlab train --backend numpy --epochs 1`."""
    exe = Path(sys.executable).with_name("mnistlab")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "mnistlab"]
    env = dict(os.environ)
    if data_dir:
        env["MNISTLAB_DATA"] = data_dir
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                RSS_LAUNCHER,
                *cmd,
                "train",
                "--backend",
                "numpy",
                "--epochs",
                "1",
                "--out",
                out,
                "--force",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - start
    if done.returncode != 0:
        print(f"  (mnistlab train exited {done.returncode}: {done.stderr.strip()[-400:]})")
    lines = done.stdout.split()
    kb = int(lines[-1]) if lines and lines[-1].isdigit() else 0  # Linux reports KB
    return kb / 1024, seconds, done.returncode


# --------------------------------------------------------------------------- report


def checkpoint_cost(
    backend: str, spec: Any, x: np.ndarray, y: np.ndarray, reps: int
) -> tuple[float, float, int]:
    """(training epoch on (x, y), writing its checkpoint, checkpoint bytes), best times.

    The checkpoint is what `training.py` writes after each epoch: capture (copies of the
    parameters and optimiser state) + serialise + checksum + atomic write, to a real file
    beside the working directory. Epochs and checkpoints are timed in turn, so both see
    the same stretch of this machine's drifting speed.
    """
    from dataclasses import replace

    from mnistlab.checkpoint import capture, save_checkpoint
    from mnistlab.config import default_config
    from mnistlab.protocol import EpochRecord, History

    config = replace(default_config(spec.name), batch_size=20, epochs=1)
    learner = warm_learner(backend, spec, config, x, y)
    rng = np.random.default_rng(0)
    history = History({"n_train": len(y), "train": config.to_json()})
    history.epochs.append(EpochRecord(1, 0.1, 0.1, 0.9, 0.9, 1.0))
    epoch_s = ckpt_s = float("inf")
    with tempfile.TemporaryDirectory(dir=Path.cwd(), prefix=".bench-ckpt-") as tmp:
        path = Path(tmp) / "checkpoint.safetensors"
        for _ in range(reps):
            epoch_s = min(epoch_s, best_time(lambda: learner.train_epoch(x, y, rng, None), 1,
                                             warmup=lambda: None))  # fmt: skip
            save = lambda: save_checkpoint(path, capture(learner, rng, history, backend))  # noqa: E731
            ckpt_s = min(ckpt_s, best_time(save, 3))
        size = path.stat().st_size
    return epoch_s, ckpt_s, size


def scaled(seconds: float, n: int) -> float:
    """Seconds measured on n images, scaled to a whole N_EPOCH-image epoch."""
    return seconds * N_EPOCH / n


def note(n: int) -> str:
    return "" if n == N_EPOCH else f" [{n:,} imgs ×{N_EPOCH / n:g}]"


def checkpoint_section(
    x: np.ndarray,
    y: np.ndarray,
    reps: int,
    n_small: int,
    n_lenet: int,
    add: Callable[[str, str, str, float, bool], None],
    numbers: dict[str, Any],
) -> None:
    """8. (epoch + checkpoint) / epoch for [784,100,10] and LeNet-5, both backends."""
    from mnistlab.models.spec import LeNet5Spec, MLPSpec

    print("\n8. Checkpoint after every epoch, batch 20: (epoch + checkpoint) / epoch")
    numbers["checkpoint"] = {}
    for backend in ("numpy", "torch"):
        mlp_n = N_EPOCH if backend == "numpy" else n_small
        for spec, n in ((MLPSpec((100,), "relu"), mlp_n), (LeNet5Spec(), n_lenet)):
            epoch_s, ckpt_s, size = checkpoint_cost(backend, spec, x[:n], y[:n], reps)
            epoch_s = scaled(epoch_s, n)
            ratio = (epoch_s + ckpt_s) / epoch_s
            print(
                f"     {spec.describe():<28} {backend:<5}: epoch {epoch_s:7.2f} s{note(n)}, "
                f"checkpoint {ckpt_s * 1000:6.1f} ms ({size / 1e6:.2f} MB)"
            )
            add(
                f"checkpoint cost, {spec.name} {backend}",
                f"{(ratio - 1) * 100:+.2f}%",
                "< 3%",
                ratio,
                ratio < 1.03,
            )
            numbers["checkpoint"][f"{spec.name}-{backend}"] = {
                "epoch_s": epoch_s,
                "checkpoint_s": ckpt_s,
                "bytes": size,
                "epoch_images_timed": n,
            }


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def default_data_dir() -> str | None:
    """MNIST's folder as every command finds it ($MNISTLAB_DATA in either layout, then
    data/mnist/), else a copy beside the checkout."""
    from mnistlab.data.sources import find

    found = find("mnist")
    if found is not None:
        return str(found)
    beside = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
    return str(beside) if beside.is_dir() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller subsets")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the numbers")
    parser.add_argument("--data-dir", default=None, help="MNIST folder (else $MNISTLAB_DATA …)")
    parser.add_argument(
        "--seeds", type=int, default=None, help="fast-recipe seeds (default: 5, --quick: 2)"
    )
    parser.add_argument(
        "--only",
        choices=["all", "fast", "checkpoint", "onnx", "tensorboard", "live", "estimates"],
        default="all",
        help="run one section (default: all)",
    )
    args = parser.parse_args()
    seeds = args.seeds or (2 if args.quick else 5)

    data_dir = args.data_dir or default_data_dir()

    from importlib.metadata import version

    from mnistlab.data.mnist import load_splits
    from mnistlab.models.spec import LeNet5Spec, MLPSpec

    torch_version = version("torch")  # torch itself is imported after the NumPy timings

    reps = 1 if args.quick else 3
    # PyTorch at batch 10 and LeNet-5 are slow: time a subset and scale to 50,000 images.
    n_small = 5_000 if args.quick else 10_000
    n_lenet = 1_000 if args.quick else 5_000

    print("mnistlab benchmark" + (" (--quick)" if args.quick else ""))
    print(f"  CPU      : {cpu_model()}, {os.cpu_count()} logical cores")
    print(
        f"  Python   : {platform.python_version()}, numpy {np.__version__}, "
        f"torch {torch_version} (default threads: {os.cpu_count()})"
    )
    print(f"  data     : {data_dir or '(default location)'}")
    print(
        f"  OpenMP   : OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')} for torch, ours and "
        f"the peer alike; load average {', '.join(f'{v:.1f}' for v in os.getloadavg())}"
    )
    if args.only == "estimates":
        estimates_section(data_dir)
        return
    t0 = time.perf_counter()
    splits = load_splits(data_dir=data_dir)
    x, y = splits.train.x, splits.train.y
    print(
        f"  loaded {len(y):,} training images in {time.perf_counter() - t0:.2f} s; "
        f"best of {reps} after 1 warm-up\n"
    )

    mlp = MLPSpec((100,), "relu")
    results: list[Row] = []
    numbers: dict[str, Any] = {
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "numpy": np.__version__,
            "torch": torch_version,
            "quick": args.quick,
        }
    }

    def add(name: str, value: str, target: str, ratio: float, ok: bool) -> None:
        results.append({"name": name, "value": value, "target": target, "ratio": ratio, "pass": ok})
        print(f"  {verdict(ok)}  {name}: {value}  (target {target}; ratio {ratio:.2f})")

    def fast_section(gflops: float) -> None:
        print(
            f"\n7. --recipe fast vs the peer (published PyTorch recipe), {seeds} seeds interleaved"
        )
        from dataclasses import replace

        from fast_recipe import fast_recipe_section

        from mnistlab.config import get_recipe

        lenet_recipe = replace(get_recipe("lenet5").config(), epochs=1)
        xl, yl = subset(x, y, n_lenet)

        def lenet_epoch(backend: str) -> float:
            seconds = learner_epoch(backend, LeNet5Spec(), lenet_recipe, xl, yl, reps)
            return scaled(seconds, n_lenet)

        targets, numbers["fast_recipe"] = fast_recipe_section(splits, seeds, gflops, lenet_epoch)
        for target in targets:
            add(*target)

    if args.only == "fast":
        fast_section(gemm_rate(1)[0])
        summary(results, numbers, args.json, t0)
        return
    if args.only == "checkpoint":
        checkpoint_section(x, y, reps, n_small, n_lenet, add, numbers)
        summary(results, numbers, args.json, t0)
        return
    if args.only == "live":
        from live_bench import live_section

        live_section(splits, reps, args.quick, data_dir, add, numbers)
        summary(results, numbers, args.json, t0)
        return
    if args.only in ("onnx", "tensorboard"):
        from extras_bench import onnx_section, tensorboard_section

        if args.only == "onnx":
            onnx_section(splits, reps, add, numbers)
        else:
            tensorboard_section(splits, reps, n_small, add, numbers)
        summary(results, numbers, args.json, t0)
        return

    # NumPy is timed first, before PyTorch has started its thread pool.
    # 1. NumPy MLP batch 128 vs the GEMM ideal
    print("1. MLP [784,100,10] relu float32 SGD, batch 128, against the float32 GEMM ideal")
    # This machine's speed drifts from minute to minute, so GEMM-rate measurements and
    # epochs are interleaved over the same stretch of time; the ratio takes the best epoch
    # against the best rate (never a pair whose rate happened to be measured slow).
    flops = mlp_epoch_flops(N_EPOCH)
    learner128 = warm_learner("numpy", mlp, sgd_config(128), x, y)
    samples = []
    for _ in range(max(reps, 5)):
        rate_i, rates_i = gemm_rate(1)
        epoch_i = best_time(
            lambda: learner128.train_epoch(x, y, np.random.default_rng(0), None),
            1,
            warmup=lambda: None,
        )
        samples.append((epoch_i, rate_i, rates_i))
    np128 = min(sample[0] for sample in samples)
    rate, rates = max(((s[1], s[2]) for s in samples), key=lambda r: r[0])
    ratio128 = np128 * rate * 1e9 / flops
    for shape, r in rates.items():
        print(f"     np.matmul {shape:<22} {r:8.1f} GFLOP/s")
    ideal = flops / (rate * 1e9)
    print(
        f"     epoch FLOPs {flops / 1e9:.2f} GFLOP at best {rate:.1f} GFLOP/s "
        f"→ ideal {ideal * 1000:.1f} ms"
    )
    print(
        f"     NumPy learner epoch       {np128:8.3f} s  (best of {len(samples)}; all "
        f"{min(s[0] for s in samples):.3f}–{max(s[0] for s in samples):.3f} s)"
    )
    add(
        "NumPy epoch / GEMM ideal, batch 128",
        f"{ratio128:.2f}×",
        "≤ 2.5×",
        ratio128,
        ratio128 <= 2.5,
    )
    numbers["mlp_b128_ideal"] = {
        "numpy_s": np128,
        "ideal_s": ideal,
        "gflops": rate,
        "gemm_rates": rates,
        "epoch_gflop": flops / 1e9,
        "epochs_s": [s[0] for s in samples],
        "rates_gflops": [s[1] for s in samples],
    }

    # 2. NumPy MLP batch 10 vs a plain PyTorch eager loop
    print("\n2. MLP [784,100,10] relu float32 SGD, batch 10")
    np10 = learner_epoch("numpy", mlp, sgd_config(10), x, y, max(reps, 5))
    np10_lab = learner_epoch("numpy", mlp, lab_config(10), x, y, reps)
    xs, ys = subset(x, y, n_small)
    plain10 = scaled(plain_torch_mlp(10, xs, ys, reps), n_small)
    print(f"     NumPy learner epoch       {np10:8.3f} s")
    print(f"     plain PyTorch eager loop  {plain10:8.3f} s{note(n_small)}")
    print(f"     (NumPy with the lab's momentum 0.9 and λ = 5: {np10_lab:.3f} s)")
    add("NumPy epoch, batch 10", f"{np10:.3f} s", "≤ 1.0 s", np10 / 1.0, np10 <= 1.0)
    add(
        "plain PyTorch / NumPy, batch 10",
        f"{plain10 / np10:.2f}×",
        "≥ 3×",
        plain10 / np10,
        plain10 / np10 >= 3.0,
    )
    numbers["mlp_b10"] = {
        "numpy_s": np10,
        "plain_torch_s": plain10,
        "numpy_lab_defaults_s": np10_lab,
    }

    # 3. TorchLearner vs the DataLoader way, batch 10, the lab's training settings
    print(
        "\n3. PyTorch MLP, batch 10, momentum 0.9, λ = 5: TorchLearner vs a DataLoader loop"
        " (all on one thread)"
    )
    from mnistlab.pytorch_version.learner import torch_threads

    tl10_lab = scaled(learner_epoch("torch", mlp, lab_config(10), xs, ys, reps), n_small)
    with torch_threads(1):  # what TorchLearner itself uses below batch 100: a fair race
        loop10 = scaled(dataloader_loop_mlp(lab_config(10), xs, ys, reps), n_small)
        fed10 = scaled(dataloader_torch_mlp(lab_config(10), xs, ys, reps), n_small)
    print(f"     TorchLearner epoch                    {tl10_lab:8.3f} s{note(n_small)}")
    print(f"     TorchLearner's step fed by DataLoader {fed10:8.3f} s{note(n_small)}")
    print(f"     DataLoader loop as tutorials write it {loop10:8.3f} s{note(n_small)}")
    print(
        f"     (the target compares batching alone: {fed10 / tl10_lab:.2f}×. Against the "
        f"tutorial loop, {loop10 / tl10_lab:.2f}×, most of the gain is the step itself: L2 "
        "gradient added directly, fused optimiser, no per-step .item())"
    )
    add(
        "DataLoader-fed / TorchLearner, batch 10",
        f"{fed10 / tl10_lab:.2f}×",
        "≥ 1.5×",
        fed10 / tl10_lab,
        fed10 / tl10_lab >= 1.5,
    )
    numbers["torch_b10"] = {
        "torchlearner_s": tl10_lab,
        "dataloader_loop_s": loop10,
        "dataloader_fed_step_s": fed10,
    }

    # 4. NumPy vs TorchLearner, batch 10 and 128
    print("\n4. MLP: NumPy learner vs TorchLearner, plain SGD")
    tl10 = scaled(learner_epoch("torch", mlp, sgd_config(10), xs, ys, reps), n_small)
    tl128 = learner_epoch("torch", mlp, sgd_config(128), x, y, reps)
    print(f"     batch 10 : NumPy {np10:.3f} s, torch {tl10:.3f} s")
    print(f"     batch 128: NumPy {np128:.3f} s, torch {tl128:.3f} s")
    add("TorchLearner / NumPy, batch 10", f"{tl10 / np10:.2f}×", "≥ 1×", tl10 / np10, tl10 >= np10)
    add(
        "TorchLearner / NumPy, batch 128",
        f"{tl128 / np128:.2f}×",
        "≥ 1×",
        tl128 / np128,
        tl128 >= np128,
    )
    numbers["numpy_vs_torch"] = {
        "b10": {"numpy_s": np10, "torch_s": tl10},
        "b128": {"numpy_s": np128, "torch_s": tl128},
    }

    # 5. LeNet-5
    print(f"\n5. LeNet-5 relu float32 SGD, batch {LENET_BATCH}")
    lenet = LeNet5Spec()
    xl, yl = subset(x, y, n_lenet)
    np_le = scaled(learner_epoch("numpy", lenet, sgd_config(LENET_BATCH), xl, yl, reps), n_lenet)
    th_le = scaled(learner_epoch("torch", lenet, sgd_config(LENET_BATCH), xl, yl, reps), n_lenet)
    xf = x[:1000]
    np_fw = forward_time("numpy", lenet, sgd_config(LENET_BATCH), xf, max(reps, 3))
    th_fw = forward_time("torch", lenet, sgd_config(LENET_BATCH), xf, max(reps, 3))
    print(f"     training epoch: NumPy {np_le:.2f} s, torch {th_le:.2f} s{note(n_lenet)}")
    print(f"     forward 1,000 images: NumPy {np_fw * 1000:.1f} ms, torch {th_fw * 1000:.1f} ms")
    add(
        "LeNet-5 epoch NumPy / torch",
        f"{np_le / th_le:.2f}×",
        "≤ 4×",
        np_le / th_le,
        np_le / th_le <= 4.0,
    )
    add(
        "LeNet-5 forward NumPy / torch",
        f"{np_fw / th_fw:.2f}×",
        "≤ 3×",
        np_fw / th_fw,
        np_fw / th_fw <= 3.0,
    )
    numbers["lenet5"] = {
        "numpy_epoch_s": np_le,
        "torch_epoch_s": th_le,
        "epoch_images_timed": n_lenet,
        "numpy_forward1k_s": np_fw,
        "torch_forward1k_s": th_fw,
    }

    # 6. Peak RSS of a CLI training run
    print("\n6. Peak RSS of `mnistlab train --backend numpy --epochs 1` (defaults, full data)")
    rss, secs, rc = train_peak_rss(data_dir)
    print(f"     peak RSS {rss:.0f} MB, wall {secs:.1f} s, exit {rc}")
    add("train peak RSS", f"{rss:.0f} MB", "< 600 MB", rss / 600, rss < 600 and rc == 0)
    numbers["train_rss"] = {"peak_rss_mb": rss, "seconds": secs, "returncode": rc}

    checkpoint_section(x, y, reps, n_small, n_lenet, add, numbers)
    fast_section(rate)
    from extras_bench import onnx_section, tensorboard_section
    from live_bench import live_section

    onnx_section(splits, reps, add, numbers)
    tensorboard_section(splits, reps, n_small, add, numbers)
    live_section(splits, reps, args.quick, data_dir, add, numbers)
    print()
    estimates_section(data_dir)
    summary(results, numbers, args.json, t0)


def estimates_section(data_dir: str | None) -> None:
    """12. Each kind of plan's printed estimate against its measured time (estimates.py)."""
    command = [sys.executable, str(Path(__file__).with_name("estimates.py"))]
    subprocess.run(command + (["--data-dir", data_dir] if data_dir else []), check=True)


def summary(results: list[Row], numbers: dict[str, Any], json_path: str | None, t0: float) -> None:
    print("\nSummary")
    width = max(len(r["name"]) for r in results)
    print(f"  {'':4}  {'measure':<{width}}  {'value':>10}  {'target':>9}  {'ratio':>6}")
    for r in results:
        print(
            f"  {verdict(r['pass'])}  {r['name']:<{width}}  {r['value']:>10}  "
            f"{r['target']:>9}  {r['ratio']:6.2f}"
        )
    passed = sum(r["pass"] for r in results)
    print(f"  {passed}/{len(results)} targets met; total {time.perf_counter() - t0:.0f} s")
    numbers["targets"] = results

    if json_path:
        Path(json_path).write_text(json.dumps(numbers, indent=2) + "\n")
        print(f"  numbers written to {json_path}")


if __name__ == "__main__":
    main()
