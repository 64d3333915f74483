"""What the figures say, read back from their artists: a PNG existing proves nothing.

Each plotting function is run with `save_figure` replaced by one that also keeps the
`Figure`, so the test can read the texts, their colours and the frames drawn.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import same_color, to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.text import Text

from mnistlab.plots import digits

RED = to_rgba(digits.MISTAKE)
TITLE = re.compile(r"^(\d)(?: \((\d)\))?$")  # "prediction (truth)", or one digit when right


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[Figure]:
    figures: list[Figure] = []
    save = digits.save_figure

    def keep(fig: Figure, path: Path, *args, **kwargs) -> Path:
        figures.append(fig)
        return save(fig, path, *args, **kwargs)

    monkeypatch.setattr(digits, "save_figure", keep)
    return figures


def grid_titles(fig: Figure) -> list[tuple[Text, int, int]]:
    """(artist, prediction, truth) of every digit's title, in drawing order."""
    found = []
    for text in fig.findobj(Text):
        match = TITLE.match(text.get_text())
        if match:
            found.append((text, int(match[1]), int(match[2] or match[1])))
    return found


def red_frames(fig: Figure) -> list[Patch]:
    return [
        p
        for p in fig.findobj(Patch)
        if p.get_edgecolor()[3] > 0 and same_color(p.get_edgecolor(), RED) and not p.get_fill()
    ]


def frame_under(text: Text, frames: list[Patch]) -> list[Patch]:
    """Frames around the tile whose title `text` is: same column, top edge just below it."""
    tx, ty = text.get_position()
    hits = []
    for frame in frames:
        box = frame.get_bbox()
        top = min(box.y0, box.y1)
        if box.x0 <= tx <= box.x1 and 0 <= top - ty <= 8:
            hits.append(frame)
    return hits


def test_mistakes_are_red_and_framed(tmp_path: Path, drawn: list[Figure]) -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 30)
    preds = labels.copy()
    wrong = [2, 7, 13, 29]  # first row, second row, last digit
    preds[wrong] = (labels[wrong] + 3) % 10
    digits.plot_prediction_grid(rng.random((30, 784)), labels, preds, tmp_path / "g.png", n=30)
    (fig,) = drawn
    titles = grid_titles(fig)
    assert [(p, t) for _, p, t in titles] == list(zip(preds.tolist(), labels.tolist(), strict=True))
    frames = red_frames(fig)
    assert len(frames) == len(wrong)
    for i, (text, p, t) in enumerate(titles):
        if i in wrong:
            assert p != t and same_color(text.get_color(), RED)
            assert len(frame_under(text, frames)) == 1, f"digit {i} has no frame of its own"
        else:
            assert p == t and not same_color(text.get_color(), RED)
            assert frame_under(text, frames) == []


def test_a_grid_without_mistakes_has_no_red(tmp_path: Path, drawn: list[Figure]) -> None:
    labels = np.arange(12) % 10
    digits.plot_prediction_grid(np.zeros((12, 784)), labels, labels, tmp_path / "g.png", n=12)
    (fig,) = drawn
    assert len(grid_titles(fig)) == 12
    assert red_frames(fig) == []
    assert not any(same_color(t.get_color(), RED) for t in fig.findobj(Text))


def test_confusion_matrix_cells_show_the_counts(tmp_path: Path, drawn: list[Figure]) -> None:
    cm = np.arange(100).reshape(10, 10) * 7
    digits.plot_confusion_matrix(cm, tmp_path / "cm.png")
    (fig,) = drawn
    ax = fig.axes[0]
    cells = {
        (round(t.get_position()[1]), round(t.get_position()[0])): int(t.get_text())
        for t in ax.texts
    }
    assert cells == {(i, j): int(cm[i, j]) for i in range(10) for j in range(10)}
    assert "34,650 images" in ax.get_title()  # 7 · (0 + 1 + … + 99)
