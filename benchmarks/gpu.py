"""Bigger hardware must mean faster: the GPU and many-core figures, side by side, in one run.

    PYTHONPATH=. python3 benchmarks/gpu.py [--data-dir DIR] [--seeds 5] [--json PATH]
    PYTHONPATH=. python3 benchmarks/gpu.py --smoke    # tiny synthetic data: the test's run

Runs under a bare Python that has NumPy and PyTorch (a GPU machine's own interpreter): tqdm,
threadpoolctl and safetensors are used where present, and what needs a missing one is
skipped and named. Without CUDA it runs the CPU parts and lists the GPU figures it
skipped. Each section keeps to a share of --budget seconds (default 330: the run ends
within 6 minutes), and a section that fails or runs out of time is reported, not fatal.

What it prints, each figure beside the peer's or the smaller machine's:

1. first runs on CUDA, each in a fresh process whose CUDA context already exists (kernel
   loading, cuBLAS/cuDNN handles and our data copy and graph capture included): the peer
   (benchmarks/peer.py, data on the GPU) and `train --recipe fast --backend torch`;
2. warm runs on CUDA, --seeds seeds interleaved, the order rotating: the peer's training
   loop against ours under the lab protocol (building the learner, training, scoring
   validation and test), test accuracy of each; targets ≤ 0.5× the peer, mean ≥ 99.0%,
   every seed ≥ 98.85%;
3. the lab's workloads on CUDA at batch 20, two epochs each (the first includes the
   capture): LeNet-5 with its recipe (target ≤ 0.6 s an epoch) and the default MLP
   [784,256,10] (≤ 0.3 s); the same MLP epoch with graphs off, and the fast recipe with
   deterministic kernels off, for what each costs;
4. reproducibility on CUDA: seed 0 of the fast recipe twice (identical histories), and a
   run stopped after one epoch and resumed from its checkpoint against one never stopped;
   graph replay against the CPU's loop (the same batches: equal within float32 rounding);
5. the same machine's CPU: the peer and our PyTorch fast recipe on all cores; our NumPy
   fast recipe on all cores against 2 cores (`taskset -c 0,1`, else thread limits),
   interleaved, target ≤ 0.5×; NumPy LeNet-5 and MLP epochs at batch 20;
6. what `--device auto` picks for each workload, beside the measured times.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for path in (str(ROOT), str(HERE)):
    if path not in sys.path:
        sys.path.insert(0, path)

import numpy as np  # noqa: E402

import mnistlab.pytorch_version  # noqa: E402, F401  (before torch: passive OpenMP waits)

# Where sections 1-4 run: "cuda", or "cpu" with --device cpu (the smoke test's check that
# they run at all; their figures then are no GPU figures).
GPU = "cuda"
OPTIONAL = ("tqdm", "threadpoolctl", "safetensors")
SMOKE_SIZES = (600, 200, 200)  # synthetic train / validation / test images with --smoke


# --------------------------------------------------------------------------- plumbing


class Run:
    """The figures measured, what was skipped and why, and the time left."""

    def __init__(self, budget: float, smoke: bool) -> None:
        self.start = time.perf_counter()
        self.budget = budget
        self.smoke = smoke
        self.numbers: dict[str, Any] = {}
        self.targets: list[tuple[str, str, str, bool]] = []
        self.skipped: list[str] = []

    def left(self) -> float:
        return self.budget - (time.perf_counter() - self.start)

    def skip(self, what: str, why: str) -> None:
        self.skipped.append(f"{what}: {why}")
        say(f"   skipped {what}: {why}")

    def target(self, name: str, value: str, goal: str, ok: bool) -> None:
        self.targets.append((name, value, goal, ok))
        say(f"   {'PASS' if ok else 'MISS'}  {name}: {value} (target {goal})")

    @contextlib.contextmanager
    def section(self, title: str, needs: float, figures: str) -> Iterator[bool]:
        """Run a section if `needs` seconds are left; a failure is reported, not raised."""
        say(f"\n{title}  [{self.left():.0f} s of budget left]")
        if self.left() < needs:
            self.skip(figures, f"the time budget ran out ({self.left():.0f} s left)")
            yield False
            return
        try:
            yield True
        except Exception as error:  # the other sections' figures still count
            self.skip(figures, f"{type(error).__name__}: {error}")
            traceback.print_exc(limit=3)


def say(line: str) -> None:
    print(line, flush=True)


def installed(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def missing_packages() -> list[str]:
    return [name for name in OPTIONAL if not installed(name)]


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def load_data(data_dir: str | None, smoke: bool) -> Any:
    """The lab's splits, or with --smoke small synthetic ones (labels from a linear teacher,
    so a network can learn them)."""
    from mnistlab.data.splits import Split, Splits

    if not smoke:
        from mnistlab.data.mnist import load_splits

        return load_splits(data_dir=data_dir)
    rng = np.random.default_rng(0)
    teacher = rng.standard_normal((784, 10))

    def split(n: int) -> Split:
        x = rng.random((n, 28, 28), dtype=np.float32)
        return Split(x, (x.reshape(n, -1) @ teacher).argmax(axis=1).astype(np.int64))

    n_train, n_val, n_test = SMOKE_SIZES
    return Splits(split(n_train), split(n_val), split(n_test), "synthetic", "(--smoke)")


def recipe(name: str, **changes: Any) -> tuple[Any, Any]:
    """(spec, config) of a named recipe, or of the default MLP for "mlp"."""
    from mnistlab.config import TrainConfig, get_recipe
    from mnistlab.models.spec import build_spec

    if name == "mlp":
        return build_spec("mlp", None, "relu"), dataclasses.replace(TrainConfig(), **changes)
    r = get_recipe(name)
    return build_spec(r.model, None, "relu"), dataclasses.replace(r.config(), **changes)


def ours(splits: Any, name: str, backend: str, device: str = "cpu", **changes: Any) -> dict:
    """One run of a recipe under the lab protocol, timed as a user waits for it."""
    from mnistlab.training import train

    spec, config = recipe(name, **changes)
    start = time.perf_counter()
    history, learner = train(
        spec, config, splits, backend, None, log=None, show_progress=False, device=device
    )
    seconds = time.perf_counter() - start
    resident = getattr(learner, "resident", None)
    return {
        "seconds": seconds,
        "epoch_seconds": [e.seconds for e in history.epochs],
        "test_acc": (history.best or {}).get("test_acc"),
        "history": [dataclasses.asdict(e) for e in history.epochs],
        "graph_error": None if resident is None else resident.graph_error,
        "graphs": bool(resident is not None and resident.plan and resident.plan.graph),
    }


def same_history(a: dict, b: dict) -> bool:
    """Equal epoch records, their seconds aside."""
    strip = [{k: v for k, v in e.items() if k != "seconds"} for e in a["history"]]
    return strip == [{k: v for k, v in e.items() if k != "seconds"} for e in b["history"]]


def peer(splits: Any, seed: int, device: str) -> dict:
    from peer import run_peer

    x60 = np.concatenate([splits.train.x, splits.val.x])
    y60 = np.concatenate([splits.train.y, splits.val.y])
    result = run_peer(x60, y60, splits.test.x, splits.test.y, seed, device=device)
    return {"seconds": result.seconds, "test_acc": result.test_acc}


def child(args: list[str], env: dict[str, str] | None = None, prefix: list[str] = ()) -> dict:
    """Run this script in a fresh process (`--child ...`) and read its RESULT line."""
    command = [*prefix, sys.executable, str(Path(__file__).resolve()), *args]
    full_env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE)])}
    full_env.update(env or {})
    start = time.perf_counter()
    done = subprocess.run(command, env=full_env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("RESULT "):
            return {**json.loads(line[len("RESULT ") :]), "process_seconds": wall}
    raise RuntimeError(f"child {args[:2]} exited {done.returncode}: {done.stderr.strip()[-300:]}")


def ratio_line(name: str, ours_s: float, theirs_s: float, theirs: str) -> str:
    return f"   {name}: {ours_s:.3f} s against {theirs} {theirs_s:.3f} s = {ours_s / theirs_s:.2f}×"


# --------------------------------------------------------------------------- child runs


def run_child(options: argparse.Namespace) -> None:
    """One measurement in this fresh process; prints RESULT {json}."""
    from mnistlab.runinfo import software

    software()  # asks git for the commit once: not part of any training time
    splits = load_data(options.data_dir, options.smoke)
    if GPU == "cuda" and options.child != "numpy-fast":
        # The CUDA context exists before either timer starts (the peer's recipe creates it
        # when it moves its data): a first run then counts kernel loading, cuDNN/cuBLAS
        # handles, our data copy and graph capture, the same for both.
        import torch

        torch.zeros(1, device="cuda")
        torch.cuda.synchronize()
    if options.child == "peer-first":
        result = peer(splits, options.seed, GPU)
    elif options.child == "ours-first":
        result = ours(splits, "fast", "torch", GPU, seed=options.seed)
        result.pop("history")
    elif options.child == "numpy-fast":
        from mnistlab.numpy_version import parallel
        from mnistlab.threads import affinity_cores, available_cores

        if options.min_rows:
            parallel.MIN_PART_ROWS = options.min_rows

        result = ours(splits, "fast", "numpy", seed=options.seed)
        result.pop("history")
        result["cores"] = available_cores()
        result["affinity"] = affinity_cores()
        result["min_rows"] = parallel.MIN_PART_ROWS
    else:
        raise SystemExit(f"unknown --child {options.child}")
    print("RESULT " + json.dumps(result), flush=True)


# --------------------------------------------------------------------------- sections


def first_runs(run: Run, data_args: list[str]) -> None:
    """1. Fresh processes: CUDA start-up, cuDNN/cuBLAS loading and our capture counted."""
    figures = "first runs on CUDA (peer and ours)"
    with run.section("1. First runs on CUDA, each in a fresh process", 40, figures) as go:
        if not go:
            return
        first = {
            "peer": child(["--child", "peer-first", *data_args]),
            "ours": child(["--child", "ours-first", *data_args]),
        }
        for who, r in first.items():
            say(
                f"   {who:<5} first run {r['seconds']:.3f} s (timed part), test "
                f"{r['test_acc']:.2%}; whole process {r['process_seconds']:.1f} s "
                "(imports and data loading included)"
            )
        if first["ours"].get("graph_error"):
            say(f"   ours trained WITHOUT CUDA graphs: {first['ours']['graph_error']}")
        run.numbers["first_run"] = first


def fast_on_gpu(run: Run, splits: Any, seeds: int) -> dict[str, list[dict]]:
    """2. Warm runs, seeds interleaved; the targets against the peer."""
    runs: dict[str, list[dict]] = {"peer": [], "ours": []}
    figures = "fast recipe on CUDA, warm (peer and ours, test accuracy)"
    with run.section(f"2. Fast recipe on CUDA, warm, {seeds} seeds", 30, figures) as go:
        if not go:
            return runs
        peer(splits, 99, GPU)  # warm-ups: CUDA, cuDNN, the allocator
        ours(splits, "fast", "torch", GPU, seed=99)
        order = ["peer", "ours"]
        for seed in range(seeds):
            for who in order[seed % 2 :] + order[: seed % 2]:
                if who == "peer":
                    r = peer(splits, seed, GPU)
                else:
                    r = ours(splits, "fast", "torch", GPU, seed=seed)
                runs[who].append(r)
                say(f"   seed {seed}  {who:<5} {r['seconds']:.3f} s  test {r['test_acc']:.2%}")
        if any(r.get("graph_error") for r in runs["ours"]):
            say(f"   ours trained WITHOUT CUDA graphs: {runs['ours'][0]['graph_error']}")
        ratios = [
            o["seconds"] / p["seconds"] for o, p in zip(runs["ours"], runs["peer"], strict=True)
        ]
        accs = [r["test_acc"] for r in runs["ours"]]
        peer_accs = [r["test_acc"] for r in runs["peer"]]
        ratio = statistics.median(ratios)
        say(
            f"   median: peer {statistics.median(r['seconds'] for r in runs['peer']):.3f} s "
            f"({statistics.mean(peer_accs):.2%}, min {min(peer_accs):.2%}), ours "
            f"{statistics.median(r['seconds'] for r in runs['ours']):.3f} s "
            f"({statistics.mean(accs):.2%}, min {min(accs):.2%})"
        )
        run.target("GPU fast recipe / peer (warm)", f"{ratio:.2f}×", "≤ 0.5×", ratio <= 0.5)
        run.target(
            "GPU fast recipe test accuracy",
            f"mean {statistics.mean(accs):.2%}, min {min(accs):.2%}",
            "mean ≥ 99.0%, each ≥ 98.85%",
            statistics.mean(accs) >= 0.99 and min(accs) >= 0.9885,
        )
        run.numbers["fast_gpu"] = {
            "ratio_median": ratio,
            "runs": {k: [{**r, "history": None} for r in v] for k, v in runs.items()},
        }
    return runs


def lab_workloads_on_gpu(run: Run, splits: Any) -> None:
    """3. LeNet-5's recipe and the default MLP at batch 20, and what graphs and
    deterministic kernels each cost."""
    figures = "LeNet-5 and MLP epochs at batch 20 on CUDA"
    with run.section("3. The lab's workloads on CUDA, batch 20", 40, figures) as go:
        if not go:
            return
        goals = {"lenet5": 0.6, "mlp": 0.3}
        for name, goal in goals.items():
            r = ours(splits, name, "torch", GPU, epochs=2)
            first, warm = r["epoch_seconds"]
            error = r["graph_error"]
            graphs = "graphs" if r["graphs"] else f"NO graphs: {error}" if error else "no graphs"
            say(
                f"   {name}: epoch 1 {first:.3f} s (capture included), epoch 2 {warm:.3f} s, "
                f"test {r['test_acc']:.2%}; {graphs}"
            )
            run.numbers[f"{name}_gpu_epoch_s"] = [first, warm]
            run.target(f"GPU {name} epoch, batch 20", f"{warm:.3f} s", f"≤ {goal} s", warm <= goal)
        no_graphs = ungraphed_mlp_epoch(splits)
        say(f"   mlp with graphs off (steps launched one by one): epoch 2 {no_graphs:.3f} s")
        run.numbers["mlp_gpu_epoch_no_graphs_s"] = no_graphs
        det = [ours(splits, "fast", "torch", GPU, seed=0)["seconds"] for _ in range(2)]
        with nondeterministic():
            free = [ours(splits, "fast", "torch", GPU, seed=0)["seconds"] for _ in range(2)]
        say(
            f"   fast recipe: deterministic kernels {min(det):.3f} s, without "
            f"{min(free):.3f} s (best of 2): determinism costs {min(det) / min(free):.2f}×"
        )
        run.numbers["determinism_cost"] = {"deterministic_s": det, "free_s": free}


def ungraphed_mlp_epoch(splits: Any) -> float:
    """The default MLP's second epoch with the resident loop but no graph."""
    from mnistlab.pytorch_version import resident

    graphs = resident.Resident.__init__

    def without(self: Any, learner: Any, graphs_on: bool) -> None:
        graphs(self, learner, False)

    resident.Resident.__init__ = without  # type: ignore[method-assign]
    try:
        return ours(splits, "mlp", "torch", GPU, epochs=2)["epoch_seconds"][1]
    finally:
        resident.Resident.__init__ = graphs  # type: ignore[method-assign]


@contextlib.contextmanager
def nondeterministic() -> Iterator[None]:
    """CUDA learners without the deterministic settings (for what they cost)."""
    from mnistlab.pytorch_version import learner

    kept = learner.reproducible_cuda
    learner.reproducible_cuda = contextlib.nullcontext  # type: ignore[assignment]
    try:
        yield
    finally:
        learner.reproducible_cuda = kept  # type: ignore[assignment]


def reproducibility(run: Run, splits: Any, fast_runs: dict[str, list[dict]]) -> None:
    """4. Same seed twice; resume against a run never stopped; replay against the CPU."""
    figures = "same-seed and resume checks on CUDA, graph replay against the CPU"
    with run.section("4. Reproducible on CUDA", 25, figures) as go:
        if not go:
            return
        first = fast_runs["ours"][0] if fast_runs["ours"] else None
        if first is None:
            first = ours(splits, "fast", "torch", GPU, seed=0)
        again = ours(splits, "fast", "torch", GPU, seed=0)
        same = same_history(first, again)
        say(
            f"   fast recipe seed 0 twice: test {first['test_acc']:.2%} then "
            f"{again['test_acc']:.2%}; histories {'identical' if same else 'DIFFER'}"
        )
        run.target("same seed twice on CUDA", "identical" if same else "differ", "identical", same)
        resume_check(run, splits)
        replay_against_cpu(run, splits)


def resume_check(run: Run, splits: Any) -> None:
    if not installed("safetensors"):
        run.skip("resume on CUDA", "safetensors is not installed (checkpoints need it)")
        return
    from mnistlab.checkpoint import load_checkpoint
    from mnistlab.training import train

    spec, config = recipe("mlp", epochs=2, batch_size=20)
    part = splits_head(splits, 10_000)
    with tempfile.TemporaryDirectory() as tmp:
        whole, _ = train(spec, config, part, "torch", None, log=None, show_progress=False,
                         device=GPU)  # fmt: skip
        path = Path(tmp) / "checkpoint.safetensors"
        one = dataclasses.replace(config, epochs=1)
        train(spec, one, part, "torch", None, log=None, show_progress=False, device=GPU,
              checkpoint=path)  # fmt: skip
        checkpoint = load_checkpoint(path)
        resumed, _ = train(spec, config, part, "torch", None, log=None, show_progress=False,
                           device=GPU, resume=checkpoint)  # fmt: skip
    a = [dataclasses.asdict(e) | {"seconds": 0} for e in whole.epochs]
    b = [dataclasses.asdict(e) | {"seconds": 0} for e in resumed.epochs]
    same = a == b
    say(f"   MLP 2 epochs on 10,000 images, resumed after epoch 1: {'identical' if same else a}")
    run.target("--resume on CUDA = run never stopped", "identical" if same else "differ",
               "identical", same)  # fmt: skip


def splits_head(splits: Any, n: int) -> Any:
    from mnistlab.data.splits import Split

    train = Split(splits.train.x[:n], splits.train.y[:n])
    return dataclasses.replace(splits, train=train)


def replay_against_cpu(run: Run, splits: Any) -> None:
    from mnistlab.pytorch_version.learner import make_learner

    spec, config = recipe("mlp", batch_size=20)
    part = splits_head(splits, 5_000)
    learners = {}
    costs = {}
    for device in (GPU, "cpu"):
        learner = make_learner(spec, config, len(part.train), device=device)
        rng = np.random.default_rng(0)
        costs[device] = learner.train_epoch(part.train.x, part.train.y, rng, None)
        learners[device] = learner
    worst = max(
        float(np.max(np.abs(g - c)) / (np.max(np.abs(c)) + 1e-12))
        for g, c in zip(
            learners[GPU].params().values(), learners["cpu"].params().values(), strict=True
        )
    )
    say(
        f"   graph replay against the CPU loop, MLP epoch on 5,000 images at batch 20: cost "
        f"{costs[GPU]:.6f} vs {costs['cpu']:.6f}, largest weight difference "
        f"{worst:.1e} of the largest weight"
    )
    run.target("CUDA replay = CPU loop (float32)", f"{worst:.1e}", "≤ 1e-3", worst <= 1e-3)


def cpu_columns(run: Run, splits: Any, data_args: list[str]) -> None:
    """5. The same machine's CPU: all cores, and NumPy on all cores against 2."""
    from mnistlab.threads import affinity_cores

    cores = affinity_cores()
    figures = "the same machine's CPU (peer, PyTorch and NumPy fast recipe; LeNet-5, MLP)"
    with run.section(f"5. This machine's CPU ({cores} cores)", 60, figures) as go:
        if not go:
            return
        p = peer(splits, 0, "cpu")
        t = ours(splits, "fast", "torch", "cpu", seed=0)
        say(ratio_line("PyTorch fast recipe on the CPU", t["seconds"], p["seconds"], "the peer"))
        say(f"   test: ours {t['test_acc']:.2%}, peer {p['test_acc']:.2%}")
        run.numbers["cpu_fast"] = {"peer_s": p["seconds"], "torch_s": t["seconds"]}
        numpy_cores(run, data_args, cores)
        for name, n in (("lenet5", 5_000), ("mlp", len(splits.train))):
            seconds, timed = numpy_epoch(splits, name, n)
            say(
                f"   NumPy {name} training epoch at batch 20 on the CPU: {seconds:.2f} s "
                f"(timed on {timed:,} images, scaled to {len(splits.train):,}; scoring aside)"
            )
            run.numbers[f"numpy_{name}_epoch_s"] = seconds


def numpy_epoch(splits: Any, name: str, n: int) -> tuple[float, int]:
    """A NumPy training epoch of a recipe at batch 20, timed on the first n images and
    scaled to the whole training set, after a short warm-up."""
    from mnistlab.backends import make_learner

    spec, config = recipe(name, epochs=1)
    x, y = splits.train.x[:n], splits.train.y[:n]
    learner = make_learner("numpy", spec, config, len(splits.train))
    learner.train_epoch(x[:200], y[:200], np.random.default_rng(1), None)
    start = time.perf_counter()
    learner.train_epoch(x, y, np.random.default_rng(0), None)
    return (time.perf_counter() - start) * len(splits.train) / len(y), len(y)


def numpy_cores(run: Run, data_args: list[str], cores: int) -> None:
    """NumPy's fast recipe in fresh processes, all cores against 2 (1 on a machine of fewer
    than 4), interleaved."""
    if cores < 2:
        run.skip("NumPy all cores against fewer", "this machine has one core")
        return
    few = 2 if cores >= 4 else 1
    cpus = ",".join(str(c) for c in sorted(os.sched_getaffinity(0))[:few])
    taskset = shutil.which("taskset")
    two: dict[str, Any] = (
        {"prefix": [taskset, "-c", cpus]}
        if taskset
        else {"env": {"OMP_NUM_THREADS": str(few), "OPENBLAS_NUM_THREADS": str(few)}}
    )
    how = f"taskset -c {cpus}" if taskset else f"OMP_NUM_THREADS={few} (no taskset here)"
    best: dict[str, dict] = {}
    for repeat in range(2):
        for label, kwargs in (("all", {}), ("two", two)):
            r = child(["--child", "numpy-fast", "--seed", "0", *data_args], **kwargs)
            if label not in best or r["seconds"] < best[label]["seconds"]:
                best[label] = r
            say(
                f"   NumPy fast recipe, {r['cores']} cores (affinity {r['affinity']}), "
                f"run {repeat + 1}: {r['seconds']:.2f} s, test {r['test_acc']:.2%}"
            )
    if cores >= 16:  # more, smaller parts: whether the GIL or the cores limit them
        r = child(["--child", "numpy-fast", "--seed", "0", "--min-rows", "16", *data_args])
        say(f"   NumPy fast recipe, {r['cores']} cores, parts of ≥ 16 images (16 at batch "
            f"256) instead of ≥ 32: {r['seconds']:.2f} s, test {r['test_acc']:.2%}")  # fmt: skip
        run.numbers["numpy_parts_of_16"] = r
    ratio = best["all"]["seconds"] / best["two"]["seconds"]
    say(f"   NumPy fast recipe, {cores} cores against {few} ({how}), best of 2: {ratio:.2f}×")
    run.numbers["numpy_cores"] = {"all": best["all"], "few": best["two"], "how": how}
    if few == 2:
        run.target(f"NumPy fast recipe, {cores} cores / 2 cores", f"{ratio:.2f}×", "≤ 0.5×",
                   ratio <= 0.5)  # fmt: skip


def auto_policy(run: Run, splits: Any) -> None:
    """6. What --device auto picks for each workload (the run's estimated CPU time)."""
    from mnistlab.experiments.estimate import run_seconds
    from mnistlab.pytorch_version.device import choose_device

    say("\n6. --device auto, per workload (estimated CPU seconds decide)")
    n = len(splits.train)
    for name, label in (("fast", "fast recipe"), ("lenet5", "LeNet-5 recipe"), ("mlp", "MLP")):
        spec, config = recipe(name)
        seconds = run_seconds(spec, "torch", config.batch_size, n, config.epochs)
        choice = choose_device("auto", seconds)
        say(f"   {label:<15} ({config.epochs} epochs, batch {config.batch_size}, {n:,} images): "
            f"{choice.device} — {choice.reason}")  # fmt: skip
    spec, config = recipe("mlp")
    seconds = run_seconds(spec, "torch", config.batch_size, 1_000, 1)
    choice = choose_device("auto", seconds)
    say(f"   MLP, 1 epoch of 1,000 images: {choice.device} — {choice.reason}")
    say("   (compare with the measured seconds above: GPU epochs in section 3, the CPU's "
        "in section 5)")  # fmt: skip


def summary(run: Run, cuda: bool) -> None:
    say("\nSummary")
    for name, value, goal, ok in run.targets:
        say(f"  {'PASS' if ok else 'MISS'}  {name}: {value} (target {goal})")
    if not cuda:
        run.skipped.insert(0, "every CUDA figure (sections 1-4): PyTorch sees no CUDA GPU here")
    if run.skipped:
        say("  Not measured in this run:")
        for line in run.skipped:
            say(f"   - {line}")
    say(f"  total {time.perf_counter() - run.start:.0f} s")


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="MNIST folder (else $MNISTLAB_DATA …)")
    parser.add_argument("--seeds", type=int, default=None, help="fast-recipe seeds (default 5)")
    parser.add_argument("--budget", type=float, default=330.0, help="seconds (default 330)")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the numbers")
    parser.add_argument("--smoke", action="store_true", help="tiny synthetic data, quick")
    parser.add_argument(
        "--device",
        default="cuda",
        choices=["cuda", "cpu"],
        help="where sections 1-4 run (cpu: only to check that they run; default cuda)",
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--min-rows", type=int, default=0, help=argparse.SUPPRESS)
    options = parser.parse_args()
    global GPU
    GPU = options.device
    if options.data_dir is None and not options.smoke:
        options.data_dir = default_data_dir()
    if options.child is not None:
        run_child(options)
        return
    seeds = options.seeds or (2 if options.smoke else 5)
    data_args = ["--data-dir", options.data_dir] if options.data_dir else []
    data_args += ["--smoke"] if options.smoke else []
    data_args += ["--device", GPU]
    run = Run(options.budget, options.smoke)
    header(options)
    from mnistlab.runinfo import software

    software()  # asks git for the commit once: not part of any training time
    splits = load_data(options.data_dir, options.smoke)
    say(f"  data: {len(splits.train):,} / {len(splits.val):,} / {len(splits.test):,} images "
        f"from {splits.source}")  # fmt: skip
    gpu = cuda_available() or GPU == "cpu"
    if GPU == "cpu":
        say("\nSections 1-4 run on the CPU (--device cpu): a check that they run, no GPU figures.")
    if gpu:
        first_runs(run, data_args)
        fast_runs = fast_on_gpu(run, splits, seeds)
        lab_workloads_on_gpu(run, splits)
        reproducibility(run, splits, fast_runs)
    else:
        say("\nSections 1-4 (CUDA) skipped: PyTorch sees no CUDA GPU here.")
    cpu_columns(run, splits, data_args)
    auto_policy(run, splits)
    summary(run, cuda_available())
    if options.json:
        run.numbers["targets"] = run.targets
        run.numbers["skipped"] = run.skipped
        Path(options.json).write_text(json.dumps(run.numbers, indent=2, default=str) + "\n")
        say(f"  numbers written to {options.json}")


def default_data_dir() -> str | None:
    """MNIST's folder under $MNISTLAB_DATA (a folder laid out like data/, or one holding
    MNIST's files: sources.find reads both), else a copy inside or beside the checkout."""
    if os.environ.get("MNISTLAB_DATA"):
        from mnistlab.data.sources import find

        found = find("mnist")
        if found is not None:
            return str(found)
    for candidate in (
        ROOT / "shared" / "data" / "mnist",
        ROOT.parent / "shared" / "data" / "mnist",
    ):
        if candidate.is_dir():
            return str(candidate)
    return None


def header(options: argparse.Namespace) -> None:
    import platform

    import torch

    from mnistlab.threads import affinity_cores, available_cores

    say(
        "mnistlab on bigger hardware" + (" (--smoke: tiny synthetic data)" if options.smoke else "")
    )
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none visible"
    say(f"  GPU: {gpu}; torch {torch.__version__}, numpy {np.__version__}, "
        f"Python {platform.python_version()}")  # fmt: skip
    say(f"  CPU: {affinity_cores()} cores in this process's affinity ({os.cpu_count()} in the "
        f"machine), {available_cores()} available; load average "
        f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}")  # fmt: skip
    missing = missing_packages()
    say("  optional packages missing: " + (", ".join(missing) if missing else "none"))


if __name__ == "__main__":
    main()
