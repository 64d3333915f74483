"""`mnistlab report`: the Markdown → HTML converter, and a tiny report end to end."""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path

import pytest
from PIL import Image

from mnistlab.cli import main
from mnistlab.errors import UserError
from mnistlab.experiments import report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

SAMPLE = """# Title with `code`

> **Quick run**: numbers are
> not the lab's.

A paragraph with **bold**, `a<b>` and
a second line & [a link](https://example.org).

| k | m | acc |
|---|---|---|
| 1 | 16 | 97.50% |
| 2 | `32` | – |

![a figure](figures/a.png)

- first item
- second **item**

```
C = λ/(2n) · Σ‖W‖² <raw>
```
"""


def test_markdown_to_html_sample() -> None:
    body = report.markdown_to_html(SAMPLE, lambda src: f"data:image/png;base64,{src}")
    assert '<h1 id="title-with-code">Title with <code>code</code></h1>' in body
    assert "<blockquote><p><strong>Quick run</strong>: numbers are not the lab's.</p>" in body
    assert (
        "<p>A paragraph with <strong>bold</strong>, <code>a&lt;b&gt;</code> and a second "
        'line &amp; <a href="https://example.org">a link</a>.</p>'
    ) in body
    assert "<thead><tr><th>k</th><th>m</th><th>acc</th></tr></thead>" in body
    assert '<td class="num">97.50%</td>' in body
    assert body.count("<tr>") == 3
    assert '<img src="data:image/png;base64,figures/a.png" alt="a figure">' in body
    assert "<figcaption>a figure</figcaption>" in body
    assert "<ul><li>first item</li><li>second <strong>item</strong></li></ul>" in body
    assert "<pre><code>C = λ/(2n) · Σ‖W‖² &lt;raw&gt;</code></pre>" in body
    assert "<td><code>32</code></td><td>–</td></tr>" in body
    assert "|" not in body  # every table pipe consumed


def test_html_document_embeds_images(tmp_path: Path) -> None:
    (tmp_path / "figures").mkdir()
    png = b"\x89PNG\r\n\x1a\nfake"
    (tmp_path / "figures" / "a.png").write_bytes(png)
    page = report.html_document("# T\n\n![x](figures/a.png)\n", "T", report.embed_images(tmp_path))
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    src = re.search(r'<img src="([^"]+)"', page)[1]
    assert base64.b64decode(src.removeprefix("data:image/png;base64,")) == png


def test_override_checks_its_knobs() -> None:
    plan = report.override(report.quick_plan(), ks=(1,), epochs=1, limit_train=300)
    assert plan.ks == (1,) and plan.ms == (16, 64) and plan.epochs == 1
    assert plan.limit_train == plan.lenet_limit_train == 300
    assert report.override(plan, lenet_epochs=3).lenet_epochs == (("torch", 3), ("numpy", 3))
    with pytest.raises(UserError):
        report.override(plan, epochs=0)
    with pytest.raises(UserError):
        report.override(plan, limit_train=60_000)


def test_full_plan_is_the_lab() -> None:
    plan = report.full_plan()
    assert not plan.quick and plan.ks == (1, 2, 3) and plan.limit_train is None
    assert dict(plan.lenet_epochs)["torch"] >= 10


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


# ---------------------------------------------------------------- end to end on MNIST

TINY = [*["--k", "1", "--m", "8,16", "--epochs", "1"], *["--limit-train", "300"]]


def recorded_files(out: Path) -> dict[Path, int]:
    """Every file that records a result: a changed mtime means something was re-trained."""
    paths = [*out.rglob("history.json"), *out.rglob("model.safetensors")]
    paths.append(out / "sweep" / "results.jsonl")
    return {p: p.stat().st_mtime_ns for p in paths}


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path) -> dict:
    """`mnistlab report --quick` shrunk to seconds, run twice in the same directory."""
    out = tmp_path_factory.mktemp("report") / "r"
    args = ["report", "--quick", "--out", str(out), "--data-dir", str(mnist_dir), *TINY]
    args += ["--lenet-epochs", "1", "--workers", "1"]
    start = time.perf_counter()
    assert main(args) == 0
    first = time.perf_counter() - start
    stamps = recorded_files(out)
    start = time.perf_counter()
    assert main(args) == 0
    second = time.perf_counter() - start
    return {"out": out, "first": first, "second": second, "stamps": stamps}


@pytest.mark.mnist
def test_report_has_every_section(tiny_report: dict) -> None:
    text = (tiny_report["out"] / report.REPORT_MD).read_text()
    headings = re.findall(r"^## \d+\. (.+)$", text, flags=re.M)
    assert headings == list(report.SECTIONS)
    assert "**Quick run**" in text
    for name in ("best-mlp", "compare/torch-mlp", "compare/torch-lenet5", "compare/numpy-lenet5"):
        assert f"`{name}/`" in text  # every table names its source run


@pytest.mark.mnist
def test_html_is_self_contained(tiny_report: dict) -> None:
    out = tiny_report["out"]
    markdown = (out / report.REPORT_MD).read_text()
    page = (out / report.REPORT_HTML).read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(images) >= 12 and len(sources) == len(images)
    assert all(src.startswith("data:image/png;base64,") for src in sources)
    assert "href=" not in page.replace('href="https://', "")  # no local links either
    for src, rel in zip(sources, images, strict=True):
        data = base64.b64decode(src.split(",", 1)[1])
        assert data[:8] == PNG_SIGNATURE and data == (out / rel).read_bytes()


@pytest.mark.mnist
def test_figures_are_pngs(tiny_report: dict) -> None:
    figures = sorted((tiny_report["out"] / report.FIGURES).glob("*.png"))
    assert len(figures) >= 12
    for path in figures:
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        with Image.open(path) as im:
            assert im.size[0] >= 200 and im.size[1] >= 100


@pytest.mark.mnist
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


@pytest.mark.mnist
def test_rerun_reuses_everything(tiny_report: dict) -> None:
    assert recorded_files(tiny_report["out"]) == tiny_report["stamps"]
    assert tiny_report["second"] < tiny_report["first"]
