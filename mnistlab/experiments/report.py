"""The lab report: every experiment the lab asks for, run (or reused) and written up.

`build_report` runs whatever DIR lacks — the k × m sweep resumes through its own
results.jsonl, every other run is a run directory that `compare.ensure_runs` reuses once
finished — then writes DIR/report.md with its figures in DIR/figures/, and DIR/report.html,
the same content as one self-contained page (markdown-it-py, figures as data URIs). Every
number in the text is read from a run recorded in DIR, and each table names the run
directory it comes from. Class names come from the dataset's metadata
(`data.sources.class_names`): digits for MNIST, garments for Fashion-MNIST.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mnistlab.data.sources import class_names
from mnistlab.data.splits import N_TRAIN, Splits
from mnistlab.experiments.compare import (
    Comparison,
    DataCache,
    RunResult,
    backend_table,
    config_line,
    ensure_run,
    ensure_runs,
    markdown_table,
    model_table,
    plot_val_curves,
    plural,
    summarize_run,
    write_comparison,
)
from mnistlab.experiments.cost import COSTS, Point, pareto_front, run_point, sweep_points
from mnistlab.experiments.html import html_page, slug
from mnistlab.experiments.report_plan import (
    BACKENDS,
    ReportPlan,
    best_cell_plan,
    lenet_plans,
    recipe_plans,
    sweep_settings,
)
from mnistlab.experiments.sweep import SweepSettings
from mnistlab.fileio import write_bytes, write_text
from mnistlab.runinfo import describe_software, software
from mnistlab.training import CURVES, MODEL

REPORT_MD = "report.md"
REPORT_HTML = "report.html"
FIGURES = "figures"
SWEEP_DIR = "sweep"
BEST_DIR = "best-mlp"
COMPARE_DIR = "compare"

SECTIONS = (
    "Data and split",
    "Network design and cost",
    "The protocol",
    "The k/m study",
    "NumPy vs PyTorch",
    "MLP vs LeNet-5",
    "The cost of accuracy",
    "Learning curves",
    "Confusion matrix of the best MLP",
    "Test images and predictions",
    "LeNet-5: kernels and feature maps",
    "First-layer weights of the best MLP",
    "Provenance",
)
STAGES = (
    "data",
    "k/m sweep",
    "best MLP, trained again with its seed",
    "NumPy vs PyTorch",
    "LeNet-5 and the recipes",
    "figures",
    "report",
)
BEST_PAIR = "The best pair"  # how the sentence that names the chosen (k, m) starts

Log = Callable[[str], None]


# ---------------------------------------------------------------- running what is missing


@dataclass
class Inputs:
    """Everything the report is written from, each piece read back from DIR."""

    plan: ReportPlan
    out: Path
    splits: Splits
    sweep_record: dict[str, Any]
    rows: list[dict[str, Any]]
    best: dict[str, Any]
    best_mlp: RunResult
    torch_mlp: RunResult
    lenets: list[RunResult]  # in BACKENDS order
    recipes: dict[str, list[RunResult]]  # each named recipe but LeNet-5's, BACKENDS order
    figures: dict[str, str] = field(default_factory=dict)  # key → path relative to out
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def classes(self) -> tuple[str, ...]:
        """What labels 0-9 mean in this report's dataset."""
        return class_names(self.splits.dataset)

    @property
    def comparison(self) -> Comparison:
        mlps = [self.torch_mlp, self.best_mlp]  # BACKENDS order
        recipes = [r for runs in self.recipes.values() for r in runs]
        return Comparison(backend_runs=mlps, model_runs=[*mlps, *self.lenets, *recipes])


class Stages:
    """Prints "[3/7] NumPy vs PyTorch …" as each stage starts."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self.done = 0

    def start(self, title: str) -> None:
        self.done += 1
        self.log(f"[{self.done}/{len(STAGES)}] {title} …")


def run_sweep_stage(
    plan: ReportPlan, out: Path, settings: SweepSettings, workers: int, log: Log
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """Run (or resume) the sweep; returns its record, its rows and best.json as written."""
    from mnistlab.experiments import sweep
    from mnistlab.experiments.grid import Grid
    from mnistlab.plots.sweep import plot_sweep

    grid = Grid(plan.ks, plan.ms)
    sweep_dir = out / SWEEP_DIR
    outcome = sweep.run_sweep(grid, settings, sweep_dir, workers=workers, echo=log)
    if outcome.interrupted:
        raise KeyboardInterrupt
    best = sweep.choose_best(outcome.rows)
    best_path = sweep.write_best(sweep_dir, best, grid, settings)
    plot_sweep(outcome.rows, sweep_dir)
    record = json.loads((sweep_dir / sweep.SWEEP).read_text(encoding="utf-8"))
    best_json = json.loads(best_path.read_text(encoding="utf-8"))
    return record, sweep.sorted_rows(outcome.rows), best_json


def build_report(
    out: Path,
    plan: ReportPlan,
    *,
    dataset: str = "mnist",
    data_dir: str | None = None,
    workers: int = 1,
    log: Log = print,
) -> Inputs:
    """Run what DIR lacks, then write report.md, figures/ and report.html (the command
    has checked that DIR can be written)."""
    stages = Stages(log)
    stages.start(STAGES[0])
    data = DataCache(dataset, data_dir)
    splits = data.get()
    settings = sweep_settings(plan, dataset, data_dir)
    stages.start(STAGES[1])
    record, rows, best = run_sweep_stage(plan, out, settings, workers, log)
    stages.start(STAGES[2])
    best_mlp = ensure_run(best_cell_plan(best, settings, BEST_DIR, "numpy"), out / BEST_DIR, data)
    stages.start(STAGES[3])
    torch_plan = best_cell_plan(best, settings, "torch-mlp", "torch")
    torch_mlp = ensure_run(torch_plan, out / COMPARE_DIR / torch_plan.name, data)
    stages.start(STAGES[4])
    recipe_runs = recipe_plans(plan, settings)
    plans = [*lenet_plans(plan, settings), *(p for ps in recipe_runs.values() for p in ps)]
    runs = ensure_runs([(p, out / COMPARE_DIR / p.name) for p in plans], data)  # one at a time
    lenets, rest = runs[: len(BACKENDS)], iter(runs[len(BACKENDS) :])
    recipes = {name: [next(rest) for _ in ps] for name, ps in recipe_runs.items()}
    inputs = Inputs(plan, out, splits, record, rows, best, best_mlp, torch_mlp, lenets, recipes)
    stages.start(STAGES[5])
    write_comparison(out / COMPARE_DIR, inputs.comparison)
    draw_figures(inputs)
    stages.start(STAGES[6])
    write_report(inputs)
    return inputs


# ---------------------------------------------------------------- figures


def _copy(src: Path, out: Path, name: str) -> str:
    write_bytes(out / FIGURES / name, src.read_bytes())
    return f"{FIGURES}/{name}"


def predictions(result: RunResult, x: np.ndarray) -> np.ndarray:
    """The saved (best-validation) network's predicted classes, on its own backend."""
    from mnistlab.backends import make_learner
    from mnistlab.models.modelfile import load_model

    model = load_model(result.run_dir / MODEL)
    n_train = int(result.history.config.get("n_train") or N_TRAIN)
    learner = make_learner(
        result.plan.backend, model.spec, result.plan.config, n_train, model.params
    )
    return learner.logits(x).argmax(axis=1)


def lenet_maps(result: RunResult, image: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """C1 kernels and both conv layers' maps for one image (drawn with the torch network)."""
    from mnistlab.models.modelfile import load_model
    from mnistlab.pytorch_version.network import build_network, feature_maps

    model = load_model(result.run_dir / MODEL)
    network = build_network(model.spec, model.params)
    maps = feature_maps(network, image[None])
    named = {"C1": maps["conv1"][0], "C3": maps["conv2"][0]}  # LeCun's names for the layers
    return model.params["conv1.weight"], named


def draw_figures(inputs: Inputs) -> None:
    """Every figure of the report into DIR/figures, from the runs recorded in DIR."""
    from mnistlab.evaluation import confusion_matrix
    from mnistlab.plots import digits
    from mnistlab.plots.sweep import HEATMAP, SECONDS_VS_M, VAL_ACC_VS_M

    out, test, fig, classes = inputs.out, inputs.splits.test, inputs.figures, inputs.classes
    train = inputs.splits.train
    sample = out / FIGURES / "data_sample.png"
    fig["sample"] = _rel(
        digits.plot_prediction_grid(train.x, train.y, None, sample, 32, classes=classes), out
    )
    for name in (VAL_ACC_VS_M, HEATMAP, SECONDS_VS_M):
        fig[name] = _copy(out / SWEEP_DIR / name, out, f"sweep_{name}")
    fig["curves_mlp"] = _copy(inputs.best_mlp.run_dir / CURVES, out, "curves_best_mlp.png")
    fig["curves_lenet"] = _copy(inputs.lenets[0].run_dir / CURVES, out, "curves_lenet5.png")
    fig["val_curves"] = _rel(
        plot_val_curves(inputs.comparison.results, out / FIGURES / "val_acc_curves.png"), out
    )
    draw_cost_figures(inputs)
    pred = predictions(inputs.best_mlp, test.x)
    cm = confusion_matrix(test.y, pred)
    inputs.notes |= {"cm": cm, "pred_acc": float(np.mean(pred == test.y))}
    fig["confusion"] = _rel(
        digits.plot_confusion_matrix(cm, out / FIGURES / "confusion_best_mlp.png", classes=classes),
        out,
    )
    picked = digits.pick_for_grid(test.y, pred, n=GRID)
    inputs.notes["picked"] = picked
    grid_path = out / FIGURES / "predictions.png"
    fig["predictions"] = _rel(
        digits.plot_prediction_grid(
            test.x[picked], test.y[picked], pred[picked], grid_path, GRID, classes=classes
        ),
        out,
    )
    kernels, maps = lenet_maps(inputs.lenets[0], test.x[0])
    fig["kernels"] = _rel(digits.plot_kernels(kernels, out / FIGURES / "lenet5_kernels.png"), out)
    fig["maps"] = _rel(
        digits.plot_feature_maps(test.x[0], maps, out / FIGURES / "lenet5_feature_maps.png"), out
    )
    weights = load_first_layer(inputs.best_mlp)
    fig["weights"] = _rel(
        digits.plot_weight_images(weights, out / FIGURES / "best_mlp_weights.png"), out
    )


GRID = 64  # test images in the prediction grid: 8 × 8


def cost_points(inp: Inputs) -> list[Point]:
    """Every network the report trained: each sweep cell, then every compared run except
    the best MLP's retraining (the same network, seed and numbers as its sweep cell)."""
    backend = inp.sweep_record["settings"]["backend"]
    points = sweep_points(inp.rows, backend, f"{SWEEP_DIR}/results.jsonl")
    named = [(r, None) for r in (inp.torch_mlp, *inp.lenets)]
    named += [(r, f"{name} recipe") for name, runs in inp.recipes.items() for r in runs]
    return points + [run_point(r, _run_path(inp, r), label) for r, label in named]


def draw_cost_figures(inputs: Inputs) -> None:
    """Test accuracy against seconds and against parameters, each with its Pareto front."""
    from mnistlab.plots.cost import plot_accuracy_vs_cost

    points = cost_points(inputs)
    inputs.notes["cost_points"] = points
    for measure, label in COSTS.items():
        front = pareto_front(points, lambda p, m=measure: p.cost(m))
        inputs.notes[f"front_{measure}"] = front
        path = inputs.out / FIGURES / f"accuracy_vs_{measure}.png"
        inputs.figures[f"cost_{measure}"] = _rel(
            plot_accuracy_vs_cost(points, front, measure, label, path), inputs.out
        )


def load_first_layer(result: RunResult) -> np.ndarray:
    from mnistlab.models.modelfile import load_model

    return load_model(result.run_dir / MODEL).params["layers.0.weight"]


def _rel(path: Path, out: Path) -> str:
    return path.relative_to(out).as_posix()


# ---------------------------------------------------------------- the text


def write_report(inputs: Inputs) -> tuple[Path, Path]:
    text = report_markdown(inputs)
    md_path = inputs.out / REPORT_MD
    write_text(md_path, text)
    html_path = inputs.out / REPORT_HTML
    title = f"mnistlab report: {inputs.splits.dataset}"
    write_text(html_path, html_page(text, title, inputs.out))
    return md_path, html_path


def report_markdown(inputs: Inputs) -> str:
    parts = [f"# mnistlab report: {inputs.splits.dataset}"]
    if inputs.plan.quick:
        parts.append(quick_banner(inputs))
    titles = [f"{number}. {title}" for number, title in enumerate(SECTIONS, 1)]
    parts.append("\n".join(f"- [{t}](#{slug(t)})" for t in titles))
    writers = (
        section_data,
        section_network,
        section_protocol,
        section_sweep,
        section_backends,
        section_models,
        section_cost,
        section_curves,
        section_confusion,
        section_predictions,
        section_lenet,
        section_weights,
        section_provenance,
    )
    for title, writer in zip(titles, writers, strict=True):
        parts += [f"## {title}", writer(inputs)]
    return "\n\n".join(parts) + "\n"


def quick_banner(inputs: Inputs) -> str:
    config = inputs.best_mlp.history.config
    n, l2 = config.get("n_train"), config.get("train", {}).get("l2")
    return (
        f"> **Quick run** (`--quick`): a small grid, {n:,} training images and "
        f"{plural(inputs.plan.epochs, 'epoch')}. It shows that the whole pipeline works; "
        "its numbers are **not** the lab's results. Run `mnistlab report` without "
        f"`--quick` for those. The L2 term is λ/(2n) with n = {n:,} here, so λ = {l2:g} "
        f"regularises {N_TRAIN / n:g}× as strongly as in a full run on {N_TRAIN:,} images."
    )


def optimizer_text(name: str, momentum: float) -> str:
    if name == "momentum":
        return f"SGD with momentum {momentum:g}"
    return {"sgd": "plain SGD", "adam": "Adam (PyTorch's defaults)"}.get(name, name)


def image(path: str, alt: str) -> str:
    return f"![{alt}]({path})"


def section_data(inp: Inputs) -> str:
    s = inp.splits
    n = inp.best_mlp.history.config.get("n_train")
    return "\n\n".join(
        [
            f"Read from `{s.source}`, each file checked against its MD5. The training file "
            f"is split into the first {N_TRAIN:,} images for training and the next "
            f"{len(s.val):,} for validation; the {len(s.test):,} t10k images are the test "
            "set. Pixels are scaled to [0, 1].",
            f"The runs of this report train on the first {n:,} training images (recorded as "
            "`n_train` in each run's history.json); validation and test are always whole.",
            "The ten classes: "
            + ", ".join(f"{i} {name}" for i, name in enumerate(inp.classes))
            + ". Each image below is titled with its class:",
            image(inp.figures["sample"], "the first 32 training images with their classes"),
        ]
    )


def section_network(inp: Inputs) -> str:
    st = inp.sweep_record["settings"]
    n = inp.best_mlp.history.config.get("n_train")
    init = "He-normal" if st["activation"] == "relu" else "Glorot-uniform"
    return "\n\n".join(
        [
            f"k hidden layers of m neurons ({st['activation']}) and a softmax output over the "
            f"{len(inp.classes)} classes. The cost is the cross-entropy plus an L2 term on the "
            "weights (never the biases):",
            "```\nC = (1/B) Σ_x CE(softmax(z_x), y_x)  +  λ/(2n) · Σ_W ‖W‖²\n```",
            f"with B = {st['batch_size']} (the mini-batch size), n = {n:,} (the training-set "
            f"size) and λ = {st['l2']:g}; its gradient adds (λ/n)·W to each weight's gradient.",
            "\n".join(
                [
                    f"- Initialisation: {init} weights drawn in NumPy from the run's seed, "
                    "biases zero; both backends start from the same numbers.",
                    f"- Optimiser: {optimizer_text(st['optimizer'], st['momentum'])}, "
                    f"learning rate {st['lr']:g}, {plural(st['epochs'], 'epoch')} per sweep "
                    f"cell, {st['dtype']}.",
                    "- LeNet-5 and the named recipes use the same cost and initialisation; their "
                    "optimisers and budgets are in sections 5 and 6.",
                ]
            ),
            f"Source: `{SWEEP_DIR}/sweep.json`.",
        ]
    )


def section_protocol(inp: Inputs) -> str:
    return (
        "After every epoch the network is scored on validation (p_i). Only when p_i beats "
        "the best validation accuracy so far (p) is it scored on the test set; then p = p_i "
        "and the model is saved. **The result of a run is the test accuracy at its best "
        "validation epoch**: the test set never chooses anything — not an epoch, not (k, m), "
        "not a network."
    )


def sweep_table(rows: list[dict[str, Any]], best: dict[str, Any]) -> str:
    header = ["k", "m", "parameters", "val. accuracy", "test accuracy", "best epoch", "s", "seed"]
    body = []
    for r in rows:
        chosen = (r["k"], r["m"]) == (best["k"], best["m"])
        mark = " ← best" if chosen else ""
        body.append(
            [
                str(r["k"]),
                str(r["m"]),
                f"{r.get('params', 0):,}",
                f"{r['val_acc']:.2%}{mark}",
                f"{r['test_acc']:.2%}",
                str(r["best_epoch"]),
                f"{r['seconds']:,.1f}",
                str(r["seed"]),
            ]
        )
    return markdown_table(header, body)


def best_pair_sentence(best: dict[str, Any]) -> str:
    return (
        f"{BEST_PAIR}, chosen by validation accuracy, is **k = {best['k']}, m = {best['m']}** "
        f"({best['params']:,} parameters): validation accuracy {best['val_acc']:.2%} at epoch "
        f"{best['best_epoch']}, and test accuracy at that epoch {best['test_acc']:.2%}."
    )


def retrain_note(inp: Inputs) -> str:
    h = inp.best_mlp.history
    b = h.best or {}
    same = b.get("val_acc") == inp.best["val_acc"] and b.get("test_acc") == inp.best["test_acc"]
    verdict = "the same numbers as the sweep cell" if same else "not the sweep cell's numbers"
    return (
        f"Trained once more with the same seed in `{BEST_DIR}/` to keep its model and curves: "
        f"validation {b.get('val_acc', 0):.2%} at epoch {b.get('epoch')}, test "
        f"{b.get('test_acc', 0):.2%} — {verdict}."
    )


def section_sweep(inp: Inputs) -> str:
    st = inp.sweep_record["settings"]
    grid = inp.sweep_record["grid"]
    f = inp.figures
    return "\n\n".join(
        [
            f"Every pair of k ∈ {{{', '.join(map(str, grid['k']))}}} and m ∈ "
            f"{{{', '.join(map(str, grid['m']))}}} trained for "
            f"{plural(st['epochs'], 'epoch')} on the {st['backend']} backend, each cell with "
            "its own seed. Test accuracies are at each cell's best validation epoch; seconds "
            "cover all epochs.",
            image(f["val_acc_vs_m.png"], "validation accuracy against m, one line per k"),
            image(f["heatmap.png"], "validation accuracy for every (k, m)"),
            image(f["seconds_vs_m.png"], "training seconds against m, one line per k"),
            sweep_table(inp.rows, inp.best),
            f"Source: `{SWEEP_DIR}/results.jsonl`, `{SWEEP_DIR}/best.json`.",
            best_pair_sentence(inp.best),
            retrain_note(inp),
        ]
    )


def budget(result: RunResult) -> str:
    """The budget every row of a comparison shares: epochs, data and recipe."""
    return config_line(result.plan.config, result.history.config.get("n_train"))


def budget_line(result: RunResult) -> str:
    return f"Budget, the same on both backends: {budget(result)}."


def backend_pairs(inp: Inputs) -> list[tuple[str, list[RunResult]]]:
    """Every network trained on both backends, with what the text calls it."""
    mlp = f"the best cell's network, {inp.best_mlp.plan.spec.describe()}"
    lenet = f"{inp.lenets[0].plan.spec.describe()} with its recipe (`config.RECIPES['lenet5']`)"
    pairs = [(mlp, [inp.torch_mlp, inp.best_mlp]), (lenet, inp.lenets)]
    for name, runs in inp.recipes.items():
        pairs.append((f"the {name} recipe's {runs[0].plan.spec.describe()}", runs))
    return pairs


def section_backends(inp: Inputs) -> str:
    parts = [
        "The same network, configuration, seed, initial weights and batch order on both "
        "backends, for each network the report trains on both:"
    ]
    for title, runs in backend_pairs(inp):
        parts += [
            f"**{title[0].upper()}{title[1:]}.** {budget_line(runs[0])}",
            backend_table([summarize_run(r) for r in runs], inp.out),
        ]
    parts.append(
        "Seconds are per epoch of training plus scoring validation (and test, when "
        "validation improved); each run trained alone, in its own process, on one CPU "
        "thread, as the sweep's cells do. Sources: the run directories in the last column."
    )
    return "\n\n".join(parts)


def section_models(inp: Inputs) -> str:
    budgets = [f"{title}: {budget(runs[0])}" for title, runs in backend_pairs(inp)]
    return "\n\n".join(
        [
            "Parameters and FLOPs per image (2 per multiply-add) come from the architecture; "
            "accuracy is the test accuracy at the best validation epoch. **Budgets** (each "
            "the same on both backends; the epochs column gives each row's):",
            "\n".join(f"- {b[0].upper()}{b[1:]}." for b in budgets),
            model_table(inp.comparison.models, inp.out),
            "Every run trained alone, in its own process, on one CPU thread. Sources: the run "
            "directories in the last column.",
        ]
    )


def front_table(front: list[Point]) -> str:
    header = ["network", "family", "test accuracy", "training s", "parameters", "source"]
    body = [
        [
            p.name,
            p.family,
            f"{p.test_acc:.2%}",
            f"{p.seconds:,.1f}",
            f"{p.params:,}",
            f"`{p.source}`",
        ]
        for p in front
    ]
    return markdown_table(header, body)


def front_sentence(front: list[Point], label: str) -> str:
    names = ", then ".join(f"**{p.name}** ({p.test_acc:.2%})" for p in front)
    return f"On the front for {label}, from cheapest to most accurate: {names}."


def section_cost(inp: Inputs) -> str:
    points = inp.notes["cost_points"]
    workers = len({r.get("worker") for r in inp.rows})
    fronts = {m: inp.notes[f"front_{m}"] for m in COSTS}
    return "\n\n".join(
        [
            f"Every network this report trained, {len(points)} in all: the "
            f"{len(inp.rows)} sweep cells and the runs of sections 5 and 6 (the best MLP's "
            "retraining is left out: it is its sweep cell again). Test accuracy at the best "
            "validation epoch against what it cost. A network is on the **Pareto front** when "
            "no other is at most as costly and at least as accurate; the front describes, it "
            "chooses nothing.",
            image(inp.figures["cost_seconds"], "test accuracy against training seconds"),
            front_sentence(fronts["seconds"], "training seconds"),
            front_table(fronts["seconds"]),
            image(inp.figures["cost_params"], "test accuracy against parameters"),
            front_sentence(fronts["params"], "parameters"),
            f"Training seconds cover every epoch (training and scoring). The sweep's cells ran "
            f"{plural(workers, 'worker')} at a time, the other runs one at a time, each on "
            "one CPU thread; the runs' budgets are in sections 4-6.",
        ]
    )


def section_curves(inp: Inputs) -> str:
    f = inp.figures
    return "\n\n".join(
        [
            f"The best MLP (`{BEST_DIR}/`) and LeNet-5 (`{_run_path(inp, inp.lenets[0])}/`): "
            "loss and accuracy per epoch; test accuracy only where validation improved.",
            image(f["curves_mlp"], "learning curves of the best MLP"),
            image(f["curves_lenet"], "learning curves of LeNet-5"),
            "Validation accuracy per epoch of every run in sections 5 and 6:",
            image(f["val_curves"], "validation accuracy per epoch, every run"),
        ]
    )


def _run_path(inp: Inputs, result: RunResult) -> str:
    return result.run_dir.relative_to(inp.out).as_posix()


def top_confusions(cm: np.ndarray, classes: tuple[str, ...], n: int = 3) -> str:
    off = cm.copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(off, axis=None)[::-1][:n]
    pairs = [np.unravel_index(i, cm.shape) for i in order if off.flat[i] > 0]
    taken = [f"{classes[t]} taken for {classes[p]} ({int(cm[t, p])}×)" for t, p in pairs]
    return ", ".join(taken) or "none"


def per_class_table(cm: np.ndarray, classes: tuple[str, ...]) -> str:
    """Per true class: how many, how many right, and what it is most often taken for."""
    header = ["label", "class", "test images", "correct", "accuracy", "most often taken for"]
    body = []
    for c, name in enumerate(classes):
        total, right = int(cm[c].sum()), int(cm[c, c])
        off = cm[c].copy()
        off[c] = 0
        worst = int(off.argmax())
        wrong = f"{classes[worst]} ({int(off[worst])}×)" if off[worst] else "–"
        acc = f"{right / total:.2%}" if total else "–"
        body.append([str(c), name, f"{total:,}", f"{right:,}", acc, wrong])
    return markdown_table(header, body)


def section_confusion(inp: Inputs) -> str:
    cm = inp.notes["cm"]
    recorded = (inp.best_mlp.history.best or {}).get("test_acc")
    return "\n\n".join(
        [
            f"The best MLP's saved network (`{BEST_DIR}/{MODEL}`, its best validation epoch) "
            f"on the {int(cm.sum()):,} test images: {inp.notes['pred_acc']:.2%} correct "
            f"(recorded in `{BEST_DIR}/history.json`: {recorded:.2%}). Rows are the true "
            "class, columns the prediction; colour is the share of the row.",
            image(inp.figures["confusion"], "confusion matrix of the best MLP on test"),
            per_class_table(cm, inp.classes),
            f"Most frequent mistakes: {top_confusions(cm, inp.classes)}.",
        ]
    )


def section_predictions(inp: Inputs) -> str:
    picked = inp.notes["picked"]
    return "\n\n".join(
        [
            f"{len(picked)} test images (the first ones, plus the first few mistakes), each "
            'titled with the best MLP\'s prediction; a mistake reads "prediction (truth)", '
            "in red and framed.",
            image(inp.figures["predictions"], "test images with predicted classes"),
        ]
    )


def section_lenet(inp: Inputs) -> str:
    where = _run_path(inp, inp.lenets[0])
    label = inp.classes[int(inp.splits.test.y[0])]
    return "\n\n".join(
        [
            f"The six 5×5 kernels of C1 of LeNet-5 (`{where}/{MODEL}`), on one colour scale "
            "centred on zero (red positive, blue negative):",
            image(inp.figures["kernels"], "LeNet-5 first-layer kernels"),
            f"What C1 (6 maps, 28×28) and C3 (16 maps, 10×10) compute for the first test "
            f"image (class {label}), after the activation and before pooling:",
            image(inp.figures["maps"], "LeNet-5 feature maps for one image"),
        ]
    )


def section_weights(inp: Inputs) -> str:
    w = load_first_layer(inp.best_mlp)
    shown = min(len(w), 100)
    return "\n\n".join(
        [
            f"Each of the first {shown} hidden neurons' {w.shape[1]} input weights "
            f"(`{BEST_DIR}/{MODEL}`, layers.0.weight) drawn as a 28×28 image, each on its own "
            "colour scale centred on zero: red pixels push the neuron up, blue ones down.",
            image(inp.figures["weights"], "first-layer weights of the best MLP"),
        ]
    )


def decay_text(train: dict[str, Any]) -> str:
    """' × 0.8 per epoch' for a run whose learning rate decayed; nothing for a fixed one."""
    decay = train.get("lr_decay", 1.0)
    return "" if decay in (None, 1.0) else f" × {decay:g} per epoch"


def machine_text(machine: dict[str, Any] | None) -> str:
    if not machine:
        return "not recorded"
    text = f"{machine.get('cpu')}, {machine.get('cpus')} CPUs, {machine.get('platform')}"
    versions = [f"Python {machine.get('python')}", f"NumPy {machine.get('numpy')}"]
    if machine.get("torch"):
        versions.append(f"torch {machine['torch']}")
    return f"{text}; {', '.join(versions)}"


def provenance_rows(inp: Inputs) -> list[list[str]]:
    rows = []
    for result in inp.comparison.results:
        cfg = result.history.config
        train = cfg.get("train", {})
        rows.append(
            [
                f"`{_run_path(inp, result)}/`",
                result.plan.backend,
                result.plan.spec.describe(),
                f"{plural(train.get('epochs', 0), 'epoch')}, batch {train.get('batch_size')}, lr "
                f"{train.get('lr')}{decay_text(train)}, λ {train.get('l2')}, "
                f"{train.get('optimizer')}, "
                f"{train.get('dtype')}, n_train {cfg.get('n_train')}",
                str(train.get("seed")),
                str(cfg.get("started")),
                machine_text(cfg.get("machine")),
                describe_software(cfg.get("mnistlab")),
            ]
        )
    return rows


def section_provenance(inp: Inputs) -> str:
    header = [
        "run",
        "backend",
        "network",
        "configuration",
        "seed",
        "started (UTC)",
        "machine",
        "code",
    ]
    cells = [
        [
            *(str(r.get(key)) for key in ("k", "m", "seed", "finished", "worker")),
            describe_software(r.get("mnistlab")),
        ]
        for r in inp.rows
    ]
    st = inp.sweep_record["settings"]
    return "\n\n".join(
        [
            "Every run this report reads, as recorded in its `history.json`:",
            markdown_table(header, provenance_rows(inp)),
            f"The sweep (`{SWEEP_DIR}/`): settings in `sweep.json` ({st['backend']}, "
            f"{plural(st['epochs'], 'epoch')}, batch {st['batch_size']}, lr {st['lr']}, "
            f"λ {st['l2']}, {st['optimizer']}, base seed {st['seed']}, "
            f"limit_train {st['limit_train']}); one line per cell in `results.jsonl` "
            "(cells keep no run directory):",
            markdown_table(["k", "m", "seed", "finished (UTC)", "worker", "code"], cells),
            f"Written {time.strftime('%Y-%m-%d %H:%M:%S %Z')} by {describe_software(software())}.",
        ]
    )
