"""Real digits made to look like a person's images still read as well as the originals.

600 MNIST test digits, each scaled up 3–10× onto a larger canvas at a random place; half
dark ink on white; a fifth RGBA with the ink in the alpha channel on a transparent
background, a fifth RGB, a fifth JPEG at quality 70. Through `mnistlab predict`, a
trained model's accuracy on these must be within 1.0 percentage point of its accuracy on
the same 600 originals.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnistlab.cli import main
from mnistlab.data.mnist import load_splits
from mnistlab.inference import Predictor

N_IMAGES = 600
TOLERANCE = 0.010


def as_persons_image(x: np.ndarray, i: int, rng: np.random.Generator, folder: Path) -> Path:
    """Digit i as a person might hand it over (variant by i, placement and scale by rng)."""
    side = round(28 * rng.uniform(3, 10))
    digit = Image.fromarray((x * 255).astype(np.uint8)).resize(
        (side, side), Image.Resampling.BICUBIC
    )
    width, height = side + int(rng.integers(10, 300)), side + int(rng.integers(10, 300))
    canvas = Image.new("L", (width, height), 0)
    canvas.paste(digit, (int(rng.integers(0, width - side)), int(rng.integers(0, height - side))))
    ink = np.asarray(canvas)
    dark_on_white = i % 2 == 0
    grey = 255 - ink if dark_on_white else ink
    kind = i % 5
    if kind == 1:  # a canvas export: ink colour everywhere, the digit in the alpha channel
        pixels = np.zeros((height, width, 4), np.uint8)
        pixels[..., :3] = (25, 25, 120) if dark_on_white else (255, 255, 255)
        pixels[..., 3] = ink
        image = Image.fromarray(pixels, "RGBA")
    elif kind == 2:
        image = Image.fromarray(grey).convert("RGB")
    else:
        image = Image.fromarray(grey)
    if kind == 3:
        path = folder / f"{i:04d}.jpg"
        image.convert("RGB").save(path, "JPEG", quality=70)
    else:
        path = folder / f"{i:04d}.png"
        image.save(path)
    return path


@pytest.mark.mnist
def test_persons_images_read_within_one_point_of_the_originals(
    capsys, tmp_path, mnist_dir, quick_lenet5
) -> None:
    test = load_splits("mnist", mnist_dir).test
    rng = np.random.default_rng(8)
    pick = rng.choice(len(test), N_IMAGES, replace=False)
    x, y = test.x[pick], test.y[pick]
    paths = [as_persons_image(x[i], i, rng, tmp_path) for i in range(N_IMAGES)]

    assert main(["predict", str(quick_lenet5), str(tmp_path), "--json"]) == 0
    results = {r["file"]: r["digit"] for r in json.loads(capsys.readouterr().out)}
    person_acc = np.mean([results[str(p)] == label for p, label in zip(paths, y, strict=True)])
    original_acc = np.mean(Predictor.from_file(quick_lenet5).probabilities(x).argmax(1) == y)
    print(f"originals {original_acc:.2%}, as a person's images {person_acc:.2%}")
    assert original_acc > 0.9  # a trained model, or the comparison means nothing
    assert person_acc >= original_acc - TOLERANCE
