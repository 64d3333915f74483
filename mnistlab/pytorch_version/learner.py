"""Training a PyTorch network under the lab protocol, with the NumPy backend's exact cost.

The cost is the mean cross-entropy of a mini-batch plus λ/(2n)·Σ‖W‖² over the weights
(never the biases), n being the training-set size, as in the NumPy version. That is why
the L2 term lives in the loss and every optimiser has weight_decay=0: one λ means the same
on both backends, and both see the same shuffled batches from `minibatches`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mnistlab.config import TrainConfig
from mnistlab.learner import (
    EVAL_BATCH,
    SINGLE_THREAD_BELOW,
    OptimizerState,
    Progress,
    Score,
    Ticker,
    accuracy_and_loss,
    diverged,
    minibatches,
)
from mnistlab.models.init import init_params
from mnistlab.models.spec import ModelSpec, is_weight
from mnistlab.pytorch_version.data_loader import as_tensor
from mnistlab.pytorch_version.device import reproducible_cuda, resolve_device
from mnistlab.pytorch_version.network import build_network, torch_dtype
from mnistlab.pytorch_version.resident import DEVICE_EVAL_BATCH, Resident

# torch.optim's per-parameter state by optimiser, for checkpoints; Adam's "step" is a scalar.
SLOTS = {"momentum": ("momentum_buffer",), "adam": ("exp_avg", "exp_avg_sq"), "sgd": ()}


def make_optimizer(
    model: nn.Module, config: TrainConfig, lr: float | torch.Tensor | None = None
) -> torch.optim.Optimizer:
    """Plain SGD, SGD with (heavy-ball) momentum, or Adam with its defaults.

    weight_decay stays 0 because the L2 term belongs to the cost (see TorchLearner.step).
    fused=True only swaps the per-parameter Python loop for one kernel with the same update;
    on the lab MLP it made optimizer.step() 1.7× faster for SGD and 3× for Adam.

    `lr` as a one-element tensor on the parameters' device (resident.py) makes the update
    read the learning rate on the device, so a replayed CUDA graph sees each step's rate;
    on CUDA, Adam then keeps its step count there too (capturable).
    """
    lr = config.lr if lr is None else lr
    if config.optimizer == "adam":
        betas = (config.beta1, config.beta2)
        capturable = isinstance(lr, torch.Tensor) and lr.device.type == "cuda"
        return torch.optim.Adam(
            model.parameters(), lr=lr, betas=betas, fused=True, capturable=capturable
        )
    momentum = config.momentum if config.optimizer == "momentum" else 0.0
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, fused=True)


class TorchLearner:
    """A network, its optimiser and the regularised cost: the Learner protocol in PyTorch.

    On CUDA (or when asked, with `resident=True`) training and scoring run through
    resident.py: data, batch order and statistics on the device, each step one CUDA-graph
    replay. On the CPU the loop below is used: batches gathered from the NumPy arrays'
    memory, one eager step each (measured faster on the CPU than anything replayed).
    """

    def __init__(
        self,
        spec: ModelSpec,
        config: TrainConfig,
        n_train: int,
        model: nn.Module,
        device: str = "cpu",
        resident: bool | None = None,
    ) -> None:
        self.spec = spec
        self.config = config
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.dtype = torch_dtype(config.dtype)
        cuda = self.device.type == "cuda"
        self.resident: Resident | None = None
        if cuda if resident is None else resident:
            lr = torch.tensor(config.lr, dtype=self.dtype, device=self.device)
            self.optimizer = make_optimizer(model, config, lr)
            self.resident = Resident(self)
        else:
            self.optimizer = make_optimizer(model, config)
        self.l2_scale = config.l2 / (2 * max(n_train, 1))  # the cost's λ/(2n)
        self.weights = [p for name, p in model.named_parameters() if is_weight(name)]
        self.epochs_done = 0
        self.steps_done = 0  # across epochs: the one-cycle schedule's position
        self.train_acc = math.nan  # the last epoch's running accuracy

    def l2_term(self) -> torch.Tensor:
        """λ/(2n)·Σ‖W‖² over the weights; biases are not regularised."""
        return self.l2_scale * sum(w.pow(2).sum() for w in self.weights)

    def cost(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The regularised cost of one batch: mean cross-entropy + λ/(2n)·Σ‖W‖²."""
        return F.cross_entropy(self.model(x.to(self.dtype)), y) + self.l2_term()

    def step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimiser step on the gradient of `cost`; returns the batch's cross-entropy
        and how many of its examples the network got right before the step (tensors: reading
        them would make PyTorch wait for the step).

        The L2 term's gradient, (λ/n)·W, is added to each weight's gradient directly rather
        than backpropagated: the same gradient, but one fused add per weight instead of a
        pow, a sum and their backward, which cost the MLP half again as much per step.
        """
        self.optimizer.zero_grad(set_to_none=True)
        logits = self.model(x.to(self.dtype))
        ce = F.cross_entropy(logits, y)
        ce.backward()
        if self.l2_scale:
            with torch.no_grad():
                for w in self.weights:
                    w.grad.add_(w, alpha=2 * self.l2_scale)
        self.optimizer.step()
        return ce.detach(), (logits.detach().argmax(dim=1) == y).sum()

    def train_epoch(
        self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator, progress: Progress | None
    ) -> float:
        """One shuffled pass; returns the mean batch cross-entropy plus the final L2 term."""
        if self.resident is not None:
            with self.on_device():
                return self.resident.train_epoch(x, y, rng, progress)
        small = self.config.batch_size < SINGLE_THREAD_BELOW
        with torch_threads(1) if small else nullcontext():
            return self._train_epoch(x, y, rng, progress)

    def on_device(self) -> AbstractContextManager:
        """Deterministic kernels while this learner works on CUDA (device.py)."""
        return reproducible_cuda() if self.device.type == "cuda" else nullcontext()

    def _train_epoch(
        self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator, progress: Progress | None
    ) -> float:
        """train_epoch's loop. Losses and right answers are summed as tensors and read
        (.item()) only when progress is reported, which is also when divergence is checked:
        a read forces PyTorch to finish the step, and costs one each time."""
        epoch = self.epochs_done + 1
        config = self.config
        total_steps = config.total_steps(len(y))
        self.set_lr(config.lr_at(epoch, self.steps_done))
        self.model.train()
        # .long() copies only non-int64 labels; .to() copies only to another device
        xs, ys = as_tensor(x).to(self.device), as_tensor(y).long().to(self.device)
        ce_sum = torch.zeros((), dtype=self.dtype, device=self.device)
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        n_batches = seen = 0
        ticker = Ticker()
        for idx in minibatches(len(y), config.batch_size, rng):
            if config.per_step:
                self.set_lr(config.lr_at_step(self.steps_done, total_steps, epoch))
            rows = torch.from_numpy(idx).to(self.device)
            ce, right = self.step(xs[rows], ys[rows])
            ce_sum += ce
            correct += right
            self.steps_done += 1
            n_batches += 1
            seen += len(idx)
            if ticker.due(len(idx)):
                loss = ce_sum.item() / n_batches
                self.check(loss, epoch)
                if progress is not None:
                    progress(ticker.take(), loss, correct.item() / seen)
                else:
                    ticker.take()
                config = self.config  # a watcher may have changed the learning rate
        with torch.no_grad():
            mean_ce = ce_sum.item() / max(n_batches, 1)
            mean_cost = mean_ce + float(self.l2_term())
        self.check(mean_cost, epoch)
        self.train_acc = correct.item() / max(seen, 1)
        if progress is not None and ticker.unreported:
            progress(ticker.take(), mean_ce, self.train_acc)
        self.epochs_done = epoch
        return mean_cost

    def set_lr(self, lr: float) -> None:
        """The rate of the next steps: refilled in place where the optimiser reads it on the
        device (a graph replay reads that very tensor), else set."""
        for group in self.optimizer.param_groups:
            if isinstance(group["lr"], torch.Tensor):
                group["lr"].fill_(lr)
            else:
                group["lr"] = lr

    def check(self, loss: float, epoch: int) -> None:
        if not math.isfinite(loss):
            raise diverged(loss, epoch)

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Pre-softmax outputs (N, 10), computed in chunks to bound memory."""
        if self.resident is not None:
            with self.on_device():
                return self.forward_in_chunks(self.resident.images(x), DEVICE_EVAL_BATCH)
        return self.forward_in_chunks(as_tensor(x), EVAL_BATCH)

    def forward_in_chunks(self, xs: torch.Tensor, chunk: int) -> np.ndarray:
        """The network on `chunk` images at a time, on this device, back as one array. The
        model's mode is put back afterwards: a watcher may ask in the middle of an epoch."""
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                chunks = [
                    self.model(xs[start : start + chunk].to(self.device, self.dtype))
                    for start in range(0, len(xs), chunk)
                ]
                if not chunks:
                    return np.zeros((0, 10), dtype=np.dtype(self.config.dtype))
                return torch.cat(chunks).cpu().numpy()
        finally:
            self.model.train(was_training)

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> Score:
        """All logits at once (computed in chunks by `logits`), scored by the CPU's
        arithmetic."""
        return accuracy_and_loss(lambda z: z, self.logits(x), y)

    def params(self) -> dict[str, np.ndarray]:
        """Copies (never views) of the parameters under the spec's names, in spec order."""
        state = self.model.state_dict()
        return {
            name: state[name].detach().cpu().numpy().copy() for name in self.spec.parameter_shapes()
        }

    def optimizer_state(self) -> OptimizerState:
        """Copies of torch.optim's buffers under the parameters' names (v itself: scale 1)."""
        named = dict(self.model.named_parameters())
        slots: dict[str, dict[str, np.ndarray]] = {}
        scalars: dict[str, float | int] = {}
        for slot in SLOTS[self.config.optimizer]:
            slots[slot] = {}
            for name, p in named.items():
                buffer = self.optimizer.state.get(p, {}).get(slot)
                tensor = torch.zeros_like(p) if buffer is None else buffer
                slots[slot][name] = tensor.detach().cpu().numpy().copy()
        if self.config.optimizer == "momentum":
            scalars["buffer_scale"] = 1.0
        if self.config.optimizer == "adam":
            steps = [s["step"] for s in self.optimizer.state.values() if "step" in s]
            scalars["step"] = int(steps[0].item()) if steps else 0
        return OptimizerState(self.config.optimizer, slots, scalars)

    def load_optimizer_state(
        self, state: OptimizerState, epochs_done: int, steps_done: int
    ) -> None:
        """Fill torch.optim's state as its own steps would have left it, on this device."""
        scale = float(state.scalars.get("buffer_scale", 1.0))
        for name, p in self.model.named_parameters():
            entry: dict[str, torch.Tensor] = {}
            for slot in SLOTS[self.config.optimizer]:
                value = torch.from_numpy(np.array(state.slots[slot][name], dtype=self.config.dtype))
                if slot == "momentum_buffer" and scale != 1.0:
                    value = value / scale
                # like p: same device and memory format (the convnet's are channels-last,
                # and a fused step pairs the two tensors' storage element by element)
                entry[slot] = torch.empty_like(p).copy_(value)
            if self.config.optimizer == "adam":
                step = float(state.scalars["step"])
                entry["step"] = torch.tensor(step, dtype=torch.float32, device=p.device)
            if entry and (self.config.optimizer != "adam" or entry["step"] > 0):
                self.optimizer.state[p] = entry
        self.epochs_done = epochs_done
        self.steps_done = steps_done
        if self.resident is not None:
            self.resident.invalidate()


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with PyTorch's intra-op thread count at `n`, then restore it."""
    before = torch.get_num_threads()
    if before == n:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def make_learner(
    spec: ModelSpec,
    config: TrainConfig,
    n_train: int,
    params: dict[str, np.ndarray] | None = None,
    device: str = "cpu",
    resident: bool | None = None,
) -> TorchLearner:
    """A learner starting from `params`, or from the seeded weights both backends share,
    on `device` ("cpu", "cuda" or "auto"); `resident` as TorchLearner's."""
    device = resolve_device(device)
    torch.manual_seed(config.seed)
    if params is None:
        params = init_params(spec, np.random.default_rng(config.seed), config.dtype)
    model = build_network(spec, params, config.dtype)
    return TorchLearner(spec, config, n_train, model, device, resident)
