"""Training with everything on the device, and on CUDA each step replayed as one graph.

A lab-sized step (batch 20, a small network) is dozens of kernels of a few microseconds
each. Launched one by one from Python, with a host sync whenever a loss is read, the GPU
mostly waits for the CPU: on an H200 the MLP's batch-20 epoch took 4.3 s, against 1.1 s
in NumPy on 2 CPU cores. Here:

- the images and labels go to the device once per run; each epoch's shuffled order (the
  very order `learner.minibatches` gives, from the same NumPy generator) goes once per
  epoch, as a (steps, batch) table of row numbers. The last, short batch is padded with
  row 0 and its padding weighted 0, so every step has the same shapes and the same sums;
- a step picks its row of the table at a step counter kept on the device, so the only
  thing the host gives it is the learning rate, in a device tensor that the optimiser
  reads and the host refills before each step (config.lr_at_step: schedules, and the
  changes a watcher makes between steps);
- each batch's cross-entropy and right answers are added up on the device. When progress
  is due (every PROGRESS_SECONDS), the host copies them out without waiting (pinned
  memory and an event) and reports the last copy that has arrived: no sync within an
  epoch; one read at its end;
- on CUDA the whole step (forward, the weighted cross-entropy, backward, the L2 term's
  gradient, the fused optimiser's update with the learning rate read on the device, the
  statistics, the counter) is captured once as a CUDA graph and replayed: one launch a
  step instead of dozens. The capture needs warm-up steps (cuBLAS/cuDNN handles, the
  optimiser's state); they run on copies' worth of state that is put back afterwards, so
  the run's numbers are those of a run without them.
- scoring takes DEVICE_EVAL_BATCH images a forward pass from the device's copy of the set;
  the logits come back in one copy and are scored on the host exactly as on the CPU
  (learner.accuracy_and_loss).

The cross-entropy is written as −Σ onehot·log_softmax rather than F.cross_entropy: CUDA's
nll_loss is listed without a deterministic implementation (torch.use_deterministic_
algorithms flags it), while these element-wise products and sums are deterministic. Same
value, within float32 rounding.

The same code runs without graphs on any device, which is how the CPU tests check it
against TorchLearner's own loop.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from mnistlab.learner import EVAL_BATCH, Progress, Ticker, epoch_order
from mnistlab.pytorch_version.data_loader import as_tensor

if TYPE_CHECKING:
    from mnistlab.pytorch_version.learner import TorchLearner

DEVICE_EVAL_BATCH = 10_000  # images a scoring pass on the device: LeNet-5's C1 maps, 188 MB
WARMUP_STEPS = 2  # steps run before a capture (and undone): lazy handles and state
KEEP_ARRAYS = 4  # training images and labels, validation and test images


@dataclass
class Plan:
    """The tensors one step reads and writes, at fixed addresses: what a graph replays."""

    key: tuple[int, ...]
    x: torch.Tensor  # (N, 28, 28) images in the training dtype
    y: torch.Tensor  # (N,) int64 labels
    order: torch.Tensor  # (steps, batch) int64: the epoch's rows, the last padded with 0
    weight: torch.Tensor  # (steps, batch): 1/len(batch) per real row, 0 per padding
    step: torch.Tensor  # (1,) int64: the step within the epoch
    ce_sum: torch.Tensor  # () the epoch's summed batch cross-entropies
    correct: torch.Tensor  # () int64: right answers so far
    graph: Any = None  # torch.cuda.CUDAGraph once captured

    @property
    def steps(self) -> int:
        return self.order.shape[0]


class DeviceArrays:
    """NumPy arrays copied to the device once, kept (with the array) while in use."""

    def __init__(self, device: torch.device, keep: int = KEEP_ARRAYS) -> None:
        self.device = device
        self.keep = keep
        self.copies: OrderedDict[int, tuple[np.ndarray, torch.Tensor]] = OrderedDict()

    def get(self, array: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
        """The device copy of `array` in `dtype`, made at its first use. The lab never
        changes an array in place, so an array is known by its identity (kept alive here,
        so no other array can take its id)."""
        key = id(array)
        hit = self.copies.get(key)
        if hit is not None and hit[0] is array and hit[1].dtype == dtype:
            self.copies.move_to_end(key)
            return hit[1]
        tensor = as_tensor(array).to(self.device, dtype)
        self.copies[key] = (array, tensor)
        while len(self.copies) > self.keep:
            self.copies.popitem(last=False)
        return tensor


class Statistics:
    """The device's running sums, copied to the host without waiting for them."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        cuda = plan.ce_sum.device.type == "cuda"
        self.host = (
            torch.zeros((), dtype=plan.ce_sum.dtype, pin_memory=cuda),
            torch.zeros((), dtype=torch.int64, pin_memory=cuda),
        )
        self.event = torch.cuda.Event() if cuda else None
        self.pending: tuple[int, int] | None = None  # (batches, examples) of the copy

    def request(self, batches: int, seen: int) -> None:
        """Start copying the sums as they will be after `batches` steps (`seen` examples)."""
        self.host[0].copy_(self.plan.ce_sum, non_blocking=True)
        self.host[1].copy_(self.plan.correct, non_blocking=True)
        if self.event is not None:
            self.event.record()
        self.pending = (batches, seen)

    def arrived(self) -> tuple[float, float] | None:
        """(mean batch cross-entropy, accuracy) of the last copy, once it has arrived."""
        if self.pending is None or (self.event is not None and not self.event.query()):
            return None
        batches, seen = self.pending
        self.pending = None
        return float(self.host[0]) / max(batches, 1), int(self.host[1]) / max(seen, 1)


class Resident:
    """TorchLearner's training and scoring with the data on the device (see the module)."""

    def __init__(self, learner: TorchLearner) -> None:
        self.learner = learner
        self.device = learner.device
        self.graphs = self.device.type == "cuda"  # steps captured and replayed on CUDA only
        self.arrays = DeviceArrays(self.device)
        self.classes = torch.arange(10, device=self.device)
        self.plan: Plan | None = None
        self.graph_error: str | None = None  # why steps are not replayed, if they are not

    # ------------------------------------------------------------------ training

    def train_epoch(
        self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator, progress: Progress | None
    ) -> float:
        """One shuffled pass; returns the mean batch cross-entropy plus the final L2 term."""
        learner = self.learner
        config = learner.config
        epoch = learner.epochs_done + 1
        n, batch = len(y), config.batch_size
        total_steps = config.total_steps(n)
        order = epoch_order(n, rng)
        plan = self.plan_for(x, y, batch)
        rows = np.zeros(plan.order.numel(), dtype=np.int64)
        rows[:n] = order
        plan.order.copy_(torch.from_numpy(rows).view(plan.order.shape))
        for tensor in (plan.step, plan.ce_sum, plan.correct):
            tensor.zero_()
        learner.set_lr(config.lr_at(epoch, learner.steps_done))
        learner.model.train()
        stats = Statistics(plan)
        ticker = Ticker(every=math.inf)  # by the clock: a GPU step is too quick to count
        seen = 0
        for step in range(plan.steps):
            if config.per_step:
                learner.set_lr(config.lr_at_step(learner.steps_done, total_steps, epoch))
            self.run_step(plan)
            learner.steps_done += 1
            examples = min(batch, n - seen)
            seen += examples
            if ticker.due(examples) and step + 1 < plan.steps:  # the last: exact, below
                self.report(stats, ticker, progress, epoch)
                config = learner.config  # a watcher may have changed the learning rate
                if stats.pending is None:
                    stats.request(step + 1, seen)
        mean_ce = plan.ce_sum.item() / max(plan.steps, 1)  # the epoch's waits: here, at its end
        learner.train_acc = plan.correct.item() / max(n, 1)
        with torch.no_grad():
            mean_cost = mean_ce + float(learner.l2_term())
        learner.check(mean_cost, epoch)
        if progress is not None and ticker.unreported:
            progress(ticker.take(), mean_ce, learner.train_acc)
        learner.epochs_done = epoch
        return mean_cost

    def report(
        self, stats: Statistics, ticker: Ticker, progress: Progress | None, epoch: int
    ) -> None:
        """Report the last copy of the sums that has arrived, if one has."""
        arrived = stats.arrived()
        if arrived is None:
            return
        loss, acc = arrived
        self.learner.check(loss, epoch)
        if progress is None:
            ticker.take()
            return
        progress(ticker.take(), loss, acc)

    def run_step(self, plan: Plan) -> None:
        if plan.graph is not None:
            plan.graph.replay()
            return
        self.learner.optimizer.zero_grad(set_to_none=True)
        self.step(plan)

    def step(self, plan: Plan) -> None:
        """One training step on the batch at plan.step: what a graph captures."""
        learner = self.learner
        rows = plan.order.index_select(0, plan.step).view(-1)
        weight = plan.weight.index_select(0, plan.step).view(-1)
        xb, yb = plan.x.index_select(0, rows), plan.y.index_select(0, rows)
        logits = learner.model(xb)
        log_p = F.log_softmax(logits, dim=1)
        target = (yb.unsqueeze(1) == self.classes).to(log_p.dtype)
        ce = ((log_p * target).sum(dim=1) * weight).sum().neg()
        ce.backward()
        with torch.no_grad():
            if learner.l2_scale:
                for w in learner.weights:
                    w.grad.add_(w, alpha=2 * learner.l2_scale)
            learner.optimizer.step()
            plan.ce_sum.add_(ce.detach())
            plan.correct.add_(((logits.argmax(dim=1) == yb) & (weight > 0)).sum())
            plan.step.add_(1)

    # ------------------------------------------------------------------ plans and graphs

    def plan_for(self, x: np.ndarray, y: np.ndarray, batch: int) -> Plan:
        """The plan for this data and batch size: the last one, or a new one (captured)."""
        learner = self.learner
        xs = self.arrays.get(x, learner.dtype)
        ys = self.arrays.get(y, torch.int64)
        key = (id(xs), id(ys), len(y), batch)
        if self.plan is not None and self.plan.key == key:
            return self.plan
        self.plan = None  # its graph's memory goes back before the new one is captured
        steps = math.ceil(len(y) / batch)
        weight = torch.full((steps, batch), 1.0 / batch, dtype=learner.dtype)
        if steps:
            last = len(y) - (steps - 1) * batch
            weight[-1, :] = 0.0
            weight[-1, :last] = 1.0 / last
        device = self.device
        plan = Plan(
            key=key,
            x=xs,
            y=ys,
            order=torch.zeros((steps, batch), dtype=torch.int64, device=device),
            weight=weight.to(device),
            step=torch.zeros(1, dtype=torch.int64, device=device),
            ce_sum=torch.zeros((), dtype=learner.dtype, device=device),
            correct=torch.zeros((), dtype=torch.int64, device=device),
        )
        if self.graphs and self.graph_error is None and steps:
            plan.graph = self.capture(plan)
        self.plan = plan
        return plan

    def invalidate(self) -> None:
        """Forget the plan: the optimiser's state was replaced, so a graph would update
        tensors that are no longer the optimiser's."""
        self.plan = None

    def capture(self, plan: Plan) -> Any:
        """The step as a CUDA graph, or None (and why, in graph_error) where capture fails:
        training then goes on with the same steps launched one by one."""
        saved = self.saved_state()
        try:
            self.warm_up(plan, saved)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                self.step(plan)
            return graph
        except Exception as error:  # any failure: the same steps, launched one by one
            self.graph_error = f"{type(error).__name__}: {str(error).splitlines()[0]}"
            warnings.warn(
                f"CUDA graph capture failed ({self.graph_error}); training goes on with one "
                "launch per kernel",
                RuntimeWarning,
                stacklevel=2,
            )
            with contextlib.suppress(Exception):
                torch.cuda.synchronize()
            self.undo(saved)
            return None

    def warm_up(self, plan: Plan, saved: dict[int, dict[str, torch.Tensor]]) -> None:
        """WARMUP_STEPS real steps (on a side stream on CUDA, as capture wants), then the
        parameters and the optimiser's state put back as `saved` had them."""
        cuda = self.device.type == "cuda"
        side = torch.cuda.Stream() if cuda else None
        if side is not None:
            side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side) if side is not None else contextlib.nullcontext():
            for _ in range(WARMUP_STEPS):
                self.learner.optimizer.zero_grad(set_to_none=True)
                self.step(plan)
        if side is not None:
            torch.cuda.current_stream().wait_stream(side)
        self.undo(saved)

    def undo(self, saved: dict[int, dict[str, torch.Tensor]]) -> None:
        """The parameters and the optimiser's state as `saved` had them, and no gradients."""
        self.put_back(saved)
        self.learner.optimizer.zero_grad(set_to_none=True)

    def saved_state(self) -> dict[int, dict[str, torch.Tensor]]:
        """Copies of the parameters and the optimiser's state, before warm-up steps."""
        optimizer = self.learner.optimizer
        saved: dict[int, dict[str, torch.Tensor]] = {}
        for p in self.learner.model.parameters():
            state = optimizer.state.get(p, {})
            saved[id(p)] = {"": p.detach().clone()} | {
                k: v.detach().clone() for k, v in state.items() if torch.is_tensor(v)
            }
        return saved

    def put_back(self, saved: dict[int, dict[str, torch.Tensor]]) -> None:
        """Undo the warm-up in place (a graph keeps addresses): the saved values, and zeros
        for optimiser state the warm-up created (zero momentum and moments, step 0 update
        exactly as a first step does)."""
        optimizer = self.learner.optimizer
        with torch.no_grad():
            for p in self.learner.model.parameters():
                copies = saved[id(p)]
                p.copy_(copies[""])
                for k, v in optimizer.state.get(p, {}).items():
                    if torch.is_tensor(v):
                        v.copy_(copies[k]) if k in copies else v.zero_()

    # ------------------------------------------------------------------ scoring

    def images(self, x: np.ndarray) -> torch.Tensor:
        """Images to score: a set as large as EVAL_BATCH (validation, test) is copied to the
        device once and kept; a few images a watcher asks about stay where they are."""
        if len(x) >= EVAL_BATCH:
            return self.arrays.get(x, self.learner.dtype)
        return as_tensor(x)
