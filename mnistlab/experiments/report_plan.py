"""What a report runs: the plan (full or quick) and the runs it asks for.

The full plan is the lab: the k × m sweep with its defaults (experiments.sweep), the best
cell again on NumPy (to keep its model) and on PyTorch, LeNet-5 with its recipe and every
other named recipe (config.RECIPES) — each on both backends with the same settings and
epochs, so a backend comparison compares like with like.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from mnistlab.config import LENET5_RECIPE, RECIPES, TrainConfig
from mnistlab.data.splits import N_TRAIN
from mnistlab.errors import UserError
from mnistlab.experiments.grid import Cell, Grid, parse_grid
from mnistlab.experiments.runplan import RunPlan, lenet_plan
from mnistlab.experiments.sweep import SweepSettings

BACKENDS = ("torch", "numpy")  # table order: every network that runs on both runs on both


@dataclass(frozen=True)
class ReportPlan:
    """The experiments of one report; `quick` ones only show that the pipeline works.

    LeNet-5 trains `lenet_epochs` epochs on every backend: one budget, so the backends
    compare.
    """

    quick: bool
    ks: tuple[int, ...]
    ms: tuple[int, ...]
    epochs: int
    limit_train: int | None
    lenet_epochs: int

    @property
    def lenet_limit_train(self) -> int | None:
        """LeNet-5 and the recipes train on the sweep's images."""
        return self.limit_train


def full_plan() -> ReportPlan:
    """The lab's sweep (its defaults) and LeNet-5 with its recipe, on both backends."""
    from mnistlab.experiments.sweep import DEFAULT_EPOCHS, DEFAULT_K, DEFAULT_M

    grid = parse_grid(DEFAULT_K, DEFAULT_M)
    return ReportPlan(
        quick=False,
        ks=grid.ks,
        ms=grid.ms,
        epochs=DEFAULT_EPOCHS,
        limit_train=None,
        lenet_epochs=LENET5_RECIPE["epochs"],
    )


def quick_plan() -> ReportPlan:
    """A few minutes on two cores: 4 cells, 5,000 images, 2 epochs; LeNet-5 1 epoch."""
    return ReportPlan(
        quick=True,
        ks=(1, 2),
        ms=(16, 64),
        epochs=2,
        limit_train=5_000,
        lenet_epochs=1,
    )


def override(
    plan: ReportPlan,
    *,
    ks: tuple[int, ...] | None = None,
    ms: tuple[int, ...] | None = None,
    epochs: int | None = None,
    limit_train: int | None = None,
    lenet_epochs: int | None = None,
) -> ReportPlan:
    """A plan with some knobs turned (for tests and experiments; the report says so)."""
    if epochs is not None and epochs < 1:
        raise UserError(f"--epochs must be at least 1, got {epochs}")
    if lenet_epochs is not None and lenet_epochs < 1:
        raise UserError(f"--lenet-epochs must be at least 1, got {lenet_epochs}")
    if limit_train is not None and not 1 <= limit_train <= N_TRAIN:
        raise UserError(f"--limit-train must be between 1 and {N_TRAIN}, got {limit_train}")
    changes: dict[str, Any] = {"ks": ks, "ms": ms, "epochs": epochs, "lenet_epochs": lenet_epochs}
    changes["limit_train"] = limit_train
    return replace(plan, **{k: v for k, v in changes.items() if v is not None})


def sweep_settings(plan: ReportPlan, dataset: str, data_dir: str | None) -> SweepSettings:
    """The sweep's own defaults (experiments.sweep), with the plan's epochs and data."""
    return SweepSettings(
        epochs=plan.epochs, limit_train=plan.limit_train, dataset=dataset, data_dir=data_dir
    )


def cell_plan(cell: Cell, settings: SweepSettings, name: str, backend: str) -> RunPlan:
    """One cell of the sweep as a run: its architecture, configuration and seed."""
    return RunPlan(
        name,
        backend,
        settings.spec(cell),
        settings.train_config(cell),
        settings.limit_train,
        settings.dataset,
    )


def best_cell_plan(
    best: dict[str, Any], settings: SweepSettings, name: str, backend: str
) -> RunPlan:
    """The sweep's best cell as a run: same architecture, configuration and seed."""
    return cell_plan(Cell(best["k"], best["m"]), settings, name, backend)


def lenet_plans(plan: ReportPlan, settings: SweepSettings) -> list[RunPlan]:
    """LeNet-5 on each backend: the sweep's optimiser, batch size and base seed with its
    own recipe (config.LENET5_RECIPE), for the same number of epochs on both."""
    config = TrainConfig(
        lr=settings.lr,
        lr_decay=settings.lr_decay,
        l2=settings.l2,
        optimizer=settings.optimizer,
        momentum=settings.momentum,
        batch_size=settings.batch_size,
        seed=settings.seed,
        dtype=settings.dtype,
    )
    return [
        lenet_plan(
            backend,
            config,
            plan.lenet_epochs,
            plan.lenet_limit_train,
            settings.activation,
            settings.dataset,
        )
        for backend in BACKENDS
    ]


def recipe_plans(plan: ReportPlan, settings: SweepSettings) -> dict[str, list[RunPlan]]:
    """Every named recipe but LeNet-5's (whose runs are `lenet_plans`), on each backend,
    with its own settings and the sweep's base seed; a quick plan caps its epochs."""
    from mnistlab.models.spec import build_spec

    plans = {}
    for name, recipe in RECIPES.items():
        if recipe.model == "lenet5":
            continue
        config = recipe.config(seed=settings.seed, dtype=settings.dtype)
        if plan.quick:
            config = replace(config, epochs=min(config.epochs, plan.lenet_epochs))
        spec = build_spec(recipe.model, None, "relu")
        plans[name] = [
            RunPlan(
                f"{backend}-{name}", backend, spec, config, plan.lenet_limit_train, settings.dataset
            )
            for backend in BACKENDS
        ]
    return plans


def planned_runs(
    plan: ReportPlan, settings: SweepSettings
) -> tuple[list[RunPlan], list[float], list[RunPlan]]:
    """What a report trains: the sweep's cells (side by side) with each one's rough
    seconds, then the runs made one at a time.

    Before the sweep the best cell is not known: the slowest cell stands in for it (on
    each backend), so an estimate from these errs long rather than short."""
    from mnistlab.experiments.estimate import plan_seconds

    cells = cell_runs(plan.ks, plan.ms, settings)
    seconds = [plan_seconds(run) for run in cells]
    slowest = cells[seconds.index(max(seconds))]
    best = [replace(slowest, name=f"{b}-best", backend=b) for b in BACKENDS]
    after = [*best, *lenet_plans(plan, settings)]
    after += [run for runs in recipe_plans(plan, settings).values() for run in runs]
    return cells, seconds, after


def report_seconds(plan: ReportPlan, workers: int) -> tuple[float, float]:
    """Rough (sweep, whole report) seconds on an idle machine with `workers` cores."""
    from mnistlab.experiments.estimate import REPORT_WRITE_S, plan_seconds, side_by_side

    settings = sweep_settings(plan, "mnist", None)
    _, cell_seconds, after = planned_runs(plan, settings)
    sweep = side_by_side(cell_seconds, workers)
    return sweep, sweep + sum(plan_seconds(run) for run in after) + REPORT_WRITE_S


def cell_runs(ks: tuple[int, ...], ms: tuple[int, ...], settings: SweepSettings) -> list[RunPlan]:
    """The sweep's k × m cells as runs (for estimating their time)."""
    return [
        cell_plan(cell, settings, f"k{cell.k}-m{cell.m}", settings.backend)
        for cell in Grid(ks, ms).cells
    ]


def sweep_seconds(
    ks: tuple[int, ...], ms: tuple[int, ...], settings: SweepSettings, workers: int
) -> float:
    """Rough seconds of a sweep on an idle machine, `workers` cells at a time."""
    from mnistlab.experiments.estimate import plan_seconds, side_by_side

    return side_by_side([plan_seconds(run) for run in cell_runs(ks, ms, settings)], workers)
