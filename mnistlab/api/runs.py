"""One training run under the lab protocol, from Python (`mnistlab.train`) or the command
line (`mnistlab train`, a thin layer over `run_training`).

A run trains in memory, or into a run directory that records it epoch by epoch
(`training.py`) and is held against other processes (`rundir.claimed_run`: `force`
keeps the run it replaces until the new one has saved an epoch). `resume` goes on with a
run directory from its checkpoint, refusing settings that contradict it; `init` starts
from a model file's weights. Ctrl-C and SIGTERM stop at once with `Interrupted`, every
finished epoch kept.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mnistlab.api.models import Model
from mnistlab.api.settings import (
    RECIPE_FIELDS,
    TrainSettings,
    config_from_args,
    settings_with,
    spec_from_args,
)
from mnistlab.backends import check_device
from mnistlab.config import TrainConfig
from mnistlab.data.splits import Split, Splits
from mnistlab.errors import UserError
from mnistlab.learner import Learner
from mnistlab.models.modelfile import ModelFile
from mnistlab.models.spec import ModelSpec
from mnistlab.protocol import EpochRecord, History
from mnistlab.watch import Watcher

if TYPE_CHECKING:
    from mnistlab.checkpoint import Checkpoint
    from mnistlab.plots import Figure

Log = Callable[[str], None]
# Settings that define a run: with `resume` each must agree with the recorded run, and so
# must a recipe's settings. `epochs` extends the run; `backend` may differ (both backends
# read one checkpoint layout), and `device` too.
RUN_FLAGS = (
    "model", "hidden", "activation",
    *(f for f in RECIPE_FIELDS if f != "epochs"),
    "seed", "dtype", "dataset", "limit_train",
)  # fmt: skip


@dataclass
class Run:
    """What a training run leaves: its history, its best network, where it was recorded."""

    history: History  # settings, one record an epoch, the best epoch
    out: Path | None  # the run directory, or None for a run kept in memory
    learner: Learner = field(repr=False)  # the network as the last epoch left it
    backend: str = "numpy"
    best_file: ModelFile | None = field(default=None, repr=False)  # kept in memory, if so

    @functools.cached_property
    def model(self) -> Model:
        """The network at the best validation epoch (the lab protocol's result), on the
        backend that trained it: kept in memory, or (a resumed run whose best epoch came
        before) read from the run directory."""
        from mnistlab.models.modelfile import load_model
        from mnistlab.training import MODEL

        if self.best_file is not None:
            return Model(self.best_file, self.backend)
        if self.out is None:
            raise UserError("this run kept no best model")
        return Model(load_model(self.out / MODEL), self.backend)

    @property
    def best(self) -> dict[str, Any]:
        """{"epoch", "val_acc", "test_acc"} of the best validation epoch."""
        assert self.history.best is not None  # every run trains at least one epoch
        return self.history.best

    @property
    def epochs(self) -> list[EpochRecord]:
        return self.history.epochs

    def curves_figure(self, title: str = "") -> Figure:
        """Loss and accuracy epoch by epoch (the run directory's learning_curves.png)."""
        from mnistlab.plots.curves import learning_curves_figure

        return learning_curves_figure(self.history, title or self.model.spec.describe())


class BestModel:
    """A watcher that keeps a copy of the network at each new best validation epoch."""

    def __init__(self, backend: str, dataset: str) -> None:
        self.backend, self.dataset = backend, dataset
        self.learner: Learner | None = None
        self.model: ModelFile | None = None

    def started(self, learner: Learner, history: History) -> None:
        self.learner = learner

    def steps(self, epoch: int, seen: int, loss: float, acc: float) -> None:
        pass

    def epoch_saved(self, record: EpochRecord, history: History) -> None:
        from mnistlab.training import model_info

        if self.learner is not None and history.best and history.best["epoch"] == record.epoch:
            info = model_info(self.backend, self.learner, history, self.dataset)
            self.model = ModelFile(self.learner.spec, self.learner.params(), info)

    def finished(self, history: History, error: BaseException | None) -> None:
        pass


def train(
    settings: TrainSettings | None = None,
    /,
    *,
    data: Splits | None = None,
    watchers: Sequence[Watcher] = (),
    progress: bool = True,
    log: Log | None = print,
    **keywords: Any,
) -> Run:
    """Train one network under the lab protocol, with `mnistlab train`'s settings and
    defaults, as keywords (`hidden=100, epochs=5`) or a TrainSettings; returns a Run.

    `data`: splits already loaded (`load_data`), used instead of reading the files again
    (`limit_train` still applies). `watchers` see the run as it trains (watch.Watcher).
    `progress` shows a tqdm bar each epoch (a widget in a notebook); `log` gets the lines
    the command prints (None: quiet). Without `out` the run stays in memory.
    """
    return run_training(
        settings_with(settings, keywords),
        data=data,
        watchers=watchers,
        progress=progress,
        log=log,
    )


def run_training(
    settings: TrainSettings,
    *,
    data: Splits | None = None,
    watchers: Sequence[Watcher] = (),
    progress: bool = True,
    log: Log | None = print,
    default_out: bool = False,
) -> Run:
    """`train`, and what the command line adds: `default_out` names a run directory
    runs/<backend>-<model>-<time> when `out` is not set."""
    given = settings.given()
    s = settings.resolved()
    if s.resume is not None:
        return resume(s, given, data, watchers, progress, log)
    spec = spec_from_args(s)  # bad settings fail here, before anything is touched
    init: dict[str, Any] | None = None
    record: dict[str, Any] = {}
    if s.init is not None:
        spec, init, record = init_weights(s, given)
        if not given & {"model", "recipe"}:
            s.model = spec.name  # the model's own defaults (LeNet-5's recipe, say)
    config = config_from_args(s)
    if s.out is None and default_out:
        s.out = f"runs/{s.backend}-{spec.name}-{dt.datetime.now():%Y%m%d-%H%M%S}"
    out = None if s.out is None else Path(s.out)
    launch = Launch(s, out, spec, config, data, watchers, progress, log)
    return launch.start(init=init, record=record)


def init_weights(s: TrainSettings, given: set[str]) -> tuple[ModelSpec, Any, dict]:
    """The architecture and weights of `init`'s model file; model settings given must agree."""
    from mnistlab.models.modelfile import check_matches, load_model

    model = load_model(s.init)  # type: ignore[arg-type]
    flags = {f: getattr(s, f) for f in ("model", "hidden", "activation") if f in given}
    check_matches(model, flags, s.init)  # type: ignore[arg-type]
    record = {"init": {"model_file": str(s.init), "trained": model.info}}
    return model.spec, model.params, record


def resume(
    s: TrainSettings,
    given: set[str],
    data: Splits | None,
    watchers: Sequence[Watcher],
    progress: bool,
    log: Log | None,
) -> Run:
    """Go on with the run in `resume`, refusing settings that contradict it."""
    from mnistlab.checkpoint import CHECKPOINT, load_checkpoint

    run_dir = Path(s.resume)  # type: ignore[arg-type]
    for flag in ("force", "init", "lr_changes"):
        if flag in given:
            raise UserError(f"--{flag.replace('_', '-')} cannot be used with --resume")
    if "out" in given and Path(s.out).resolve() != run_dir.resolve():  # type: ignore[arg-type]
        raise UserError(f"--out {s.out} is not --resume {run_dir}: a run resumes in place")
    if not (run_dir / CHECKPOINT).is_file():
        raise UserError(no_checkpoint(run_dir))
    checkpoint = load_checkpoint(run_dir / CHECKPOINT)
    config = recorded_config(run_dir, checkpoint, log)
    diffs = contradictions(s, given, checkpoint)
    if diffs:
        raise UserError(f"{run_dir} was trained with other settings: {'; '.join(diffs)}")
    if s.epochs is not None:  # given
        if s.epochs <= checkpoint.epoch:
            raise UserError(
                f"{run_dir} has already trained {checkpoint.epoch} epochs; "
                f"--epochs must be more than that to go on"
            )
        config = dataclasses.replace(config, epochs=s.epochs)
    elif checkpoint.epoch >= config.epochs:
        raise UserError(
            f"{run_dir} finished all its {config.epochs} epochs; "
            f"add --epochs N (more than {config.epochs}) to train it further"
        )
    recorded_backend = checkpoint.history.config["backend"]
    if "backend" not in given:
        s.backend = recorded_backend
    # What the resume command must repeat while the checkpoint does not record it yet
    # (until this call saves an epoch): an extension's epochs, another backend.
    again = [f"--epochs {config.epochs}"] if s.epochs is not None else []
    if s.backend != recorded_backend:
        again.append(f"--backend {s.backend}")
    launch = Launch(s, run_dir, checkpoint.spec, config, data, watchers, progress, log, again=again)
    return launch.start(resume=checkpoint)


def recorded_config(run_dir: Path, checkpoint: Checkpoint, log: Log | None = print) -> TrainConfig:
    """The checkpoint's settings, with the learning-rate changes made after it (in the epoch
    a stop dropped) that history.json recorded: re-applied at the same steps."""
    import json

    from mnistlab.checkpoint import with_recorded_changes
    from mnistlab.training import HISTORY

    config = checkpoint.config()
    try:
        recorded = json.loads((run_dir / HISTORY).read_text())["config"]["train"]
    except (OSError, ValueError, KeyError, TypeError):
        return config
    resumed = with_recorded_changes(config, recorded, checkpoint.step)
    # those history.json added: not the checkpoint's own (given with --lr-changes, say)
    again = [
        c for c in resumed.lr_changes if c[0] >= checkpoint.step and c not in config.lr_changes
    ]
    if again and log is not None:
        listed = ", ".join(f"{lr:g} from step {step}" for step, lr in again)
        log(f"re-applying the learning-rate changes made after the checkpoint: {listed}")
    return resumed


def no_checkpoint(run_dir: Path) -> str:
    from mnistlab.training import HISTORY

    if not run_dir.is_dir():
        return f"--resume {run_dir}: no such run directory"
    if (run_dir / HISTORY).is_file():
        return (
            f"{run_dir} holds a run without a checkpoint (it stopped before its first "
            f"epoch, or an older mnistlab trained it); train it again with --out {run_dir} "
            "--force"
        )
    return f"--resume {run_dir}: no run there (no checkpoint.safetensors)"


def contradictions(s: TrainSettings, given: set[str], checkpoint: Checkpoint) -> list[str]:
    """'lr 0.01 there, 0.1 here' for each given setting that disagrees with the recorded
    run (a recipe counts as giving each setting it fixes, and its model)."""
    from mnistlab.config import get_recipe

    recorded = checkpoint.history.config
    spec = checkpoint.spec
    there: dict[str, Any] = {
        **checkpoint.config().to_json(),
        "model": spec.name,
        "activation": getattr(spec, "activation", None),
        "dataset": recorded.get("dataset"),
        "limit_train": recorded.get("limit_train"),
    }
    here: dict[str, Any] = {**vars(s), **config_from_args(s).to_json()}
    flags = set(given)
    if "recipe" in given:
        recipe = get_recipe(s.recipe)  # type: ignore[arg-type]
        flags |= (set(recipe.settings) - {"epochs"}) | {"model"}
        here["model"] = s.model or recipe.model
    diffs = []
    for flag in RUN_FLAGS:
        if flag not in flags:
            continue
        if flag == "hidden":
            wanted = spec_from_args(s)
            if wanted != spec:
                diffs.append(f"architecture {spec.describe()} there, {wanted.describe()} here")
        elif there.get(flag) != here.get(flag):
            diffs.append(f"{flag.replace('_', '-')} {there.get(flag)} there, {here[flag]} here")
    return diffs


@dataclass
class Launch:
    """One run being started: its settings, where it goes, what it trains."""

    s: TrainSettings
    out: Path | None
    spec: ModelSpec
    config: TrainConfig
    data: Splits | None
    watchers: Sequence[Watcher]
    progress: bool
    log: Log | None
    saved: list[int] = field(default_factory=list)  # epochs this call saved
    again: list[str] = field(default_factory=list, kw_only=True)  # flags a resume repeats

    def start(
        self, *, resume: Checkpoint | None = None, init: Any = None, record: dict | None = None
    ) -> Run:
        """Hold the run directory (if any), train (from scratch, from `init`, or resuming)."""
        import contextlib

        from mnistlab.interrupt import Interrupted, stop_on_signals
        from mnistlab.rundir import claimed_run
        from mnistlab.training import CHECKPOINT, RUN_FILES

        self.check_device()
        watchers = self.all_watchers()
        best = BestModel(self.s.backend, self.dataset(resume))  # type: ignore[arg-type]
        claim: Any = contextlib.nullcontext()
        if self.out is not None:
            files = (*RUN_FILES, "figures")
            claim = claimed_run(
                self.out, files, CHECKPOINT, force=self.s.force, resume=resume is not None
            )
        try:
            with stop_on_signals(), claim as run:

                def on_saved(epoch: int) -> None:
                    self.saved.append(epoch)
                    if run is not None:
                        run.saved_first_epoch()

                history, learner = self.train(resume, init, record, on_saved, [*watchers, best])
        except Interrupted as stop:
            stop.resumable = self.out is not None and (resume is not None or bool(self.saved))
            stop.run_dir = self.out
            stop.again = [] if self.saved else self.again  # once saved, the checkpoint has them
            raise
        backend: str = self.s.backend  # type: ignore[assignment]
        return Run(history, self.out, learner, backend, best.model)

    def check_device(self) -> None:
        """Refuse a device the backend cannot have (cuda without a GPU) before any work."""
        check_device(self.s.backend, self.s.device)  # type: ignore[arg-type]
        if self.s.backend == "torch" and self.s.device == "cuda":  # auto and cpu always do
            from mnistlab.pytorch_version.device import choose_device

            choose_device(self.s.device)  # type: ignore[arg-type]

    def all_watchers(self) -> list[Watcher]:
        """The caller's watchers, and TensorBoard's when asked for (refused now if the
        extra is missing, before the run directory is touched)."""
        watchers = list(self.watchers)
        if self.s.tensorboard is not None:
            from mnistlab.tensorboard import TensorBoardWatcher

            watchers.append(TensorBoardWatcher(self.s.tensorboard))
        return watchers

    def dataset(self, resume: Checkpoint | None) -> str:
        recorded = resume.history.config if resume is not None else {}
        return str(recorded.get("dataset", self.s.dataset))

    def splits(self, resume: Checkpoint | None) -> tuple[Splits, int | None]:
        """The images to train on and the training limit recorded with the run."""
        recorded = resume.history.config if resume is not None else {}
        dataset = self.dataset(resume)
        limit = recorded.get("limit_train") if resume is not None else self.s.limit_train
        if self.data is not None:
            return given_splits(self.data, dataset, limit), limit
        from mnistlab.data.mnist import load_splits

        data_dir = self.s.data_dir
        if data_dir is None and recorded.get("data_dir") and Path(recorded["data_dir"]).is_dir():
            data_dir = recorded["data_dir"]  # where the run read its images, unless told
        return load_splits(dataset, data_dir, limit), limit

    def train(
        self,
        resume: Checkpoint | None,
        init: Any,
        record: dict | None,
        on_saved: Callable[[int], None],
        watchers: list[Watcher],
    ) -> tuple[History, Learner]:
        from mnistlab.training import train

        splits, limit = self.splits(resume)
        if self.out is not None and not self.s.no_live:
            from mnistlab.live import LiveRecord

            watchers = [*watchers, LiveRecord(self.out, splits)]  # the page's view of it
        epochs = self.config.epochs - (resume.epoch if resume is not None else 0)
        backend: str = self.s.backend  # type: ignore[assignment]
        requested: str = self.s.device  # type: ignore[assignment]
        n_train = len(splits.train)
        device, where = placement(backend, requested, self.spec, self.config, n_train, epochs)
        if self.log is not None:
            what = f"resuming at epoch {resume.epoch + 1} of " if resume is not None else ""
            if init is not None and record:
                what = f"starting from the weights in {record['init']['model_file']}: "
            self.log(
                f"{what}{self.spec.describe()} on {backend}, {len(splits.train):,} "
                f"train / {len(splits.val):,} validation / {len(splits.test):,} test images "
                f"from {splits.source}, {where}"
            )
        return train(
            self.spec,
            self.config,
            splits,
            self.s.backend,  # type: ignore[arg-type]
            self.out,
            limit_train=limit,
            log=self.log,
            show_progress=self.progress,
            resume=resume,
            init=init,
            record=record,
            device=device,
            on_saved=on_saved,
            watchers=watchers,
        )


def placement(
    backend: str, requested: str, spec: ModelSpec, config: TrainConfig, n_train: int, epochs: int
) -> tuple[str, str]:
    """Where the run trains, and the first line's words for it: the device and why (for
    --device auto, the run's estimated CPU time decides: pytorch_version/device.py)."""
    if backend == "numpy":
        from mnistlab.threads import available_cores

        cores = available_cores()
        return "cpu", f"on cpu ({cores} core{'s' if cores != 1 else ''}; NumPy runs on the CPU)"
    from mnistlab.experiments.estimate import run_seconds
    from mnistlab.pytorch_version.device import choose_device

    seconds = run_seconds(spec, backend, config.batch_size, n_train, epochs)
    choice = choose_device(requested, seconds)
    return choice.device, f"on {choice.device} ({choice.reason})"


def given_splits(data: Splits, dataset: str, limit: int | None) -> Splits:
    """Splits loaded beforehand, checked against the settings, with `limit` applied as
    load_splits applies it (the first N training images)."""
    from mnistlab.data.mnist import check_limit

    if data.dataset != dataset:
        raise UserError(f"the data given are {data.dataset}, not the run's dataset {dataset}")
    if limit is None:
        return data
    n = check_limit(limit)
    if n > len(data.train):
        raise UserError(f"limit_train {n} is more than the {len(data.train):,} images given")
    train = data.train if n == len(data.train) else Split(data.train.x[:n], data.train.y[:n])
    return dataclasses.replace(data, train=train)


def best_line(history: History) -> str:
    """`best validation 97.81% at epoch 4: test accuracy 97.60%`."""
    best = history.best
    assert best is not None
    return (
        f"best validation {best['val_acc']:.2%} at epoch {best['epoch']}: "
        f"test accuracy {best['test_acc']:.2%}"
    )
