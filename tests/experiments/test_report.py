"""`mnistlab report`: its plan, its HTML page, and a tiny Fashion-MNIST report end to end."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnistlab.cli import main
from mnistlab.config import RECIPES
from mnistlab.data.sources import FASHION_CLASSES, class_names
from mnistlab.errors import UserError
from mnistlab.experiments import report, report_plan
from mnistlab.experiments.compare import markdown_table
from mnistlab.experiments.html import html_page, slug
from mnistlab.experiments.report_plan import BACKENDS

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TINY_REPORT = pytest.mark.xdist_group("tiny_report")


def test_override_checks_its_knobs() -> None:
    plan = report_plan.override(report_plan.quick_plan(), ks=(1,), epochs=1, limit_train=300)
    assert plan.ks == (1,) and plan.ms == (16, 64) and plan.epochs == 1
    assert plan.limit_train == plan.lenet_limit_train == 300
    assert report_plan.override(plan, lenet_epochs=3).lenet_epochs == 3
    with pytest.raises(UserError):
        report_plan.override(plan, epochs=0)
    with pytest.raises(UserError):
        report_plan.override(plan, limit_train=60_000)


def test_full_plan_is_the_lab_with_equal_budgets() -> None:
    from mnistlab.config import LENET5_RECIPE
    from mnistlab.experiments.sweep import DEFAULT_EPOCHS

    plan = report_plan.full_plan()
    assert not plan.quick and plan.ks == (1, 2, 3) and plan.limit_train is None
    assert plan.ms == (16, 32, 64, 128, 256, 512) and plan.epochs == DEFAULT_EPOCHS
    settings = report_plan.sweep_settings(plan, "fashion-mnist", None)
    lenets = report_plan.lenet_plans(plan, settings)
    assert [p.backend for p in lenets] == list(report_plan.BACKENDS) == ["torch", "numpy"]
    assert {p.config for p in lenets} == {lenets[0].config}  # one recipe, one budget
    assert lenets[0].config.epochs == LENET5_RECIPE["epochs"] == plan.lenet_epochs
    assert lenets[0].dataset == "fashion-mnist"
    for name, plans in report_plan.recipe_plans(plan, settings).items():
        assert RECIPES[name].model != "lenet5" and [p.backend for p in plans] == ["torch", "numpy"]
        assert plans[0].config == plans[1].config == RECIPES[name].config()
        assert plans[0].spec.to_json()["model"] == RECIPES[name].model


def test_quick_plan_caps_the_recipes_epochs() -> None:
    plan = report_plan.override(report_plan.quick_plan(), lenet_epochs=1)
    settings = report_plan.sweep_settings(plan, "mnist", None)
    for plans in report_plan.recipe_plans(plan, settings).values():
        assert all(p.config.epochs == 1 and p.limit_train == 5_000 for p in plans)


def test_report_does_not_import_commands() -> None:
    for module in ("report", "report_plan", "html", "cost"):
        source = (Path(report.__file__).parent / f"{module}.py").read_text()
        assert "mnistlab.commands" not in source


def test_out_is_a_file(tmp_path: Path, capsys) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    assert main(["report", "--quick", "--out", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a file" in err
    assert path.read_text() == "x"


@pytest.mark.parametrize("flags", [["--workers", "0"], ["--k", "4"], ["--epochs", "0"]])
def test_bad_flags_touch_nothing(tmp_path: Path, capsys, flags: list[str]) -> None:
    assert main(["report", "--quick", "--out", str(tmp_path / "r"), *flags]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert not (tmp_path / "r").exists()


# ---------------------------------------------------------------- what the tables show


def test_tables_right_align_their_number_columns() -> None:
    text = markdown_table(
        ["network", "accuracy", "best epoch", "run"],
        [["k=1, m=8", "98.50% ← best", "3 of 20", "`sweep/`"], ["LeNet-5", "–", "12 of 20", "x"]],
    )
    assert text.splitlines()[1] == "|---|---:|---:|---|"


def test_per_class_table_names_each_class() -> None:
    classes = class_names("fashion-mnist")
    cm = np.diag(np.full(10, 90))
    cm[6, 0] = 10  # ten shirts taken for T-shirts
    table = report.per_class_table(cm, classes)
    rows = [line.split(" | ") for line in table.splitlines()[2:]]
    assert [r[1] for r in rows] == list(classes)
    assert rows[6][4:] == ["90.00%", "T-shirt/top (10×) |"]
    assert rows[0][4:] == ["100.00%", "– |"]
    assert report.top_confusions(cm, classes) == "Shirt taken for T-shirt/top (10×)"


def test_html_page_anchors_figures_and_numbers(tmp_path: Path) -> None:
    """What markdown-it-py is configured to add: anchors, <figure>s, data URIs."""
    png = PNG_SIGNATURE + b"fake"
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "a.png").write_bytes(png)
    title = "4. The k/m study"
    text = f"- [{title}](#{slug(title)})\n\n## {title}\n\n![a <figure>](figures/a.png)\n\n"
    text += markdown_table(["k", "acc"], [["1", "97.50%"]]) + "\n"
    page = html_page(text, "T", tmp_path)
    assert page.startswith("<!DOCTYPE html>") and "<title>T</title>" in page
    assert '<a href="#4-the-km-study">' in page and '<h2 id="4-the-km-study">' in page
    src = re.search(
        r'<figure><img src="data:image/png;base64,([^"]+)" alt="a &lt;figure&gt;">', page
    )
    assert src and base64.b64decode(src[1]) == png
    assert "<figcaption>a &lt;figure&gt;</figcaption></figure>" in page
    assert '<td style="text-align:right">97.50%</td>' in page


# ---------------------------------------------------------------- end to end on Fashion-MNIST


@TINY_REPORT
def test_report_has_every_section(tiny_report: dict) -> None:
    text = (tiny_report["out"] / report.REPORT_MD).read_text()
    headings = re.findall(r"^## \d+\. (.+)$", text, flags=re.M)
    assert headings == list(report.SECTIONS)
    assert "**Quick run**" in text and text.startswith("# mnistlab report: fashion-mnist")
    runs = ["best-mlp", "compare/torch-mlp", "compare/torch-lenet5", "compare/numpy-lenet5"]
    runs += [
        f"compare/{b}-{n}" for n, r in RECIPES.items() if r.model != "lenet5" for b in BACKENDS
    ]
    for name in runs:
        assert f"`{name}/`" in text  # every table names its source run
    assert "Budget, the same on both backends" in text and "Pareto front" in text


@TINY_REPORT
def test_class_names_in_the_report(tiny_report: dict) -> None:
    """The per-class table lists Fashion-MNIST's classes, in label order, from the data's
    metadata; its counts are the confusion matrix of the best MLP on the test set."""
    text = (tiny_report["out"] / report.REPORT_MD).read_text()
    section = text.split("## 9. ")[1].split("## 10. ")[0]
    table = [line for line in section.splitlines() if line.startswith("|")]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in table[2:]]
    assert [r[1] for r in rows] == list(FASHION_CLASSES)
    assert sum(int(r[2].replace(",", "")) for r in rows) == 10_000
    correct = sum(int(r[3].replace(",", "")) for r in rows)
    best = json.loads((tiny_report["out"] / "best-mlp" / "history.json").read_text())["best"]
    assert correct / 10_000 == pytest.approx(best["test_acc"], abs=1e-4)
    assert "class Ankle boot" in text  # the first test image, in the LeNet-5 section


@TINY_REPORT
def test_cost_section_names_the_front(tiny_report: dict) -> None:
    text = (tiny_report["out"] / report.REPORT_MD).read_text()
    section = text.split("## 7. ")[1].split("## 8. ")[0]
    results = [json.loads(line) for line in (tiny_report["out"] / "sweep" / "results.jsonl").open()]
    recipes = [n for n, r in RECIPES.items() if r.model != "lenet5"]
    # the cells, the torch MLP, LeNet-5 and each other recipe on both backends
    assert f"{len(results) + 3 + 2 * len(recipes)} in all" in section
    fronts = re.findall(
        r"^On the front for (.+?), from cheapest to most accurate: (.+)\.$", section, flags=re.M
    )
    assert [f[0] for f in fronts] == ["training seconds", "parameters"]
    for _, names in fronts:
        accs = [float(a) for a in re.findall(r"\(([\d.]+)%\)", names)]
        assert accs and accs == sorted(accs) and len(set(accs)) == len(accs)


@TINY_REPORT
def test_html_is_self_contained(tiny_report: dict) -> None:
    out = tiny_report["out"]
    markdown = (out / report.REPORT_MD).read_text()
    page = (out / report.REPORT_HTML).read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(images) >= 14 and len(sources) == len(images)
    for src, rel in zip(sources, images, strict=True):
        data = base64.b64decode(src.removeprefix("data:image/png;base64,"))
        assert data[:8] == PNG_SIGNATURE and data == (out / rel).read_bytes()
    links = re.findall(r'href="([^"]*)"', page)
    assert len(links) == len(report.SECTIONS) and all(h.startswith("#") for h in links)


@TINY_REPORT
def test_figures_are_pngs(tiny_report: dict) -> None:
    figures = sorted((tiny_report["out"] / report.FIGURES).glob("*.png"))
    assert len(figures) >= 14
    for path in figures:
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        with Image.open(path) as im:
            assert im.size[0] >= 200 and im.size[1] >= 100


@TINY_REPORT
def test_best_pair_sentence_matches_best_json(tiny_report: dict) -> None:
    out = tiny_report["out"]
    best = json.loads((out / "sweep" / "best.json").read_text())
    text = (out / report.REPORT_MD).read_text()
    (sentence,) = [line for line in text.splitlines() if line.startswith(report.BEST_PAIR)]
    numbers = re.findall(r"\d+(?:,\d{3})*(?:\.\d+)?%?", sentence)
    expected = [
        str(best["k"]),
        str(best["m"]),
        f"{best['params']:,}",
        f"{best['val_acc']:.2%}",
        str(best["best_epoch"]),
        f"{best['test_acc']:.2%}",
    ]
    assert numbers == expected


@TINY_REPORT
def test_rerun_reuses_everything(tiny_report: dict) -> None:
    assert tiny_report["stamps_now"]() == tiny_report["stamps"]
    assert tiny_report["second"] < tiny_report["first"]


# ---------------------------------------------------------------- numbers read back


def markdown_tables(text: str) -> list[list[dict[str, str]]]:
    """Every pipe table in `text` as rows of {header: cell}, the separator row dropped."""
    tables, block = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            block.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif block:
            header, *rows = [r for r in block if not set("".join(r)) <= set("-: ")]
            tables.append([dict(zip(header, row, strict=True)) for row in rows])
            block = []
    return tables


def table_with(text: str, column: str) -> list[dict[str, str]]:
    (table,) = [t for t in markdown_tables(text) if t and column in t[0]]
    return table


def percent(value: float) -> str:
    return f"{value:.2%}"


@TINY_REPORT
def test_sweep_table_matches_results_jsonl(tiny_report: dict) -> None:
    out = tiny_report["out"]
    text = (out / report.REPORT_MD).read_text()
    lines = (out / "sweep" / "results.jsonl").read_text().splitlines()
    recorded = {(r["k"], r["m"]): r for r in map(json.loads, lines)}
    table = table_with(text, "val. accuracy")
    assert {(int(r["k"]), int(r["m"])) for r in table} == set(recorded) == {(1, 8), (1, 16)}
    for row in table:
        cell = recorded[int(row["k"]), int(row["m"])]
        assert row["val. accuracy"].removesuffix(" ← best") == percent(cell["val_acc"])
        assert row["test accuracy"] == percent(cell["test_acc"])
        assert row["best epoch"] == str(cell["best_epoch"])
        assert row["parameters"] == f"{cell['params']:,}"
    assert cell["val_acc"] != cell["test_acc"]  # else swapped columns would pass unseen


@TINY_REPORT
def test_run_tables_match_each_runs_history(tiny_report: dict) -> None:
    """Each table naming its runs in a "run" column shows that run's recorded best."""
    out = tiny_report["out"]
    text = (out / report.REPORT_MD).read_text()
    checked = 0
    for table in markdown_tables(text):
        for row in table:
            accuracy = [v for k, v in row.items() if k.startswith("test accuracy")]
            if "run" not in row or not accuracy:
                continue
            run_dir = out / row["run"].strip("`")
            best = json.loads((run_dir / "history.json").read_text())["best"]
            assert accuracy[0] == percent(best["test_acc"]), row
            if "best epoch" in row:
                assert row["best epoch"].split()[0] == str(best["epoch"])
            checked += 1
    assert checked >= 6  # 2 backend rows + 4 model rows


@TINY_REPORT
def test_confusion_section_cites_the_recorded_accuracy(tiny_report: dict) -> None:
    out = tiny_report["out"]
    text = (out / report.REPORT_MD).read_text()
    best = json.loads((out / "best-mlp" / "history.json").read_text())["best"]
    (line,) = [s for s in text.splitlines() if "correct (recorded in" in s]
    shown, recorded = re.findall(r"(\d+\.\d\d)%", line)
    assert recorded + "%" == percent(best["test_acc"])
    assert shown == recorded  # the saved network, re-scored, gives the recorded number


def test_report_shows_the_code_that_made_each_number(tiny_report: dict) -> None:
    """Every run and sweep row records the mnistlab version (and commit): the report says it."""
    from mnistlab.runinfo import describe_software

    out = tiny_report["out"]
    text = (out / report.REPORT_MD).read_text()
    recorded = json.loads((out / "best-mlp" / "history.json").read_text())["config"]["mnistlab"]
    row = json.loads((out / "sweep" / "results.jsonl").read_text().splitlines()[0])
    assert row["mnistlab"] == recorded
    assert text.count(describe_software(recorded)) >= 2  # a run's row and a sweep cell's
