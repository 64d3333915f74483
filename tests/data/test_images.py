"""MNIST-style preprocessing, step by step, on synthetic digits drawn with Pillow."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnistlab.data import images
from mnistlab.data.images import (
    ImageError,
    centre_of_mass,
    crop_to_ink,
    image_files,
    preprocess,
)


def draw_digit(
    size: tuple[int, int] = (300, 200),
    box: tuple[int, int, int, int] = (40, 30, 120, 170),
    ink: int = 0,
    paper: int = 255,
) -> Image.Image:
    """A '0'-like ring with a bar through it: asymmetric enough to catch a flip or shift."""
    image = Image.new("L", size, paper)
    draw = ImageDraw.Draw(image)
    draw.ellipse(box, outline=ink, width=9)
    x0, y0, x1, _ = box
    draw.line((x0 + 10, y0 + 20, x1, y0 + 20), fill=ink, width=9)
    return image


def encode(image: Image.Image, fmt: str = "PNG", **kwargs: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def seen(image: Image.Image, fmt: str = "PNG", **kwargs: object) -> np.ndarray:
    return preprocess(encode(image, fmt, **kwargs)).x


def test_output_is_28x28_float32_in_unit_range() -> None:
    x = seen(draw_digit())
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == pytest.approx(1.0)
    assert (x[0] == 0).all() and (x[:, 0] == 0).all()  # MNIST's black margin


def test_a_shifted_digit_comes_back_centred_and_identical() -> None:
    here = seen(draw_digit(box=(20, 20, 100, 160)))
    there = seen(draw_digit(size=(500, 400), box=(380, 220, 460, 360)))
    np.testing.assert_allclose(here, there, atol=1e-6)
    cy, cx = centre_of_mass(here)
    assert abs(cy - images.CENTRE) <= 0.5 and abs(cx - images.CENTRE) <= 0.5


def test_inverted_image_comes_back_the_same() -> None:
    dark_on_white = seen(draw_digit(ink=0, paper=255))
    light_on_black = seen(draw_digit(ink=255, paper=0))
    np.testing.assert_allclose(dark_on_white, light_on_black, atol=1e-6)


@pytest.mark.parametrize(
    ("box", "axis"), [((40, 30, 120, 170), 0), ((20, 60, 280, 140), 1)], ids=["tall", "wide"]
)
def test_longer_side_is_20_pixels_and_aspect_is_kept(box, axis) -> None:
    x = seen(draw_digit(size=(300, 200), box=box))
    h, w = crop_to_ink(x).shape
    assert (h, w)[axis] == images.BOX
    x0, y0, x1, y1 = box
    aspect = ((y1 - y0) / (x1 - x0)) if axis == 0 else ((x1 - x0) / (y1 - y0))
    shorter = (w, h)[axis]
    assert shorter == pytest.approx(images.BOX / aspect, abs=1.5)


@pytest.mark.parametrize("where", [(10, 10, 60, 110), (200, 60, 280, 190), (120, 40, 180, 100)])
def test_centre_of_mass_within_half_a_pixel_of_the_centre(where) -> None:
    x = seen(draw_digit(box=where))
    cy, cx = centre_of_mass(x)
    assert abs(cy - 14.0) <= 0.5 and abs(cx - 14.0) <= 0.5


def test_a_thin_vertical_bar_stays_thin() -> None:
    image = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(image).line((140, 40, 140, 240), fill=0, width=20)
    x = seen(image)
    h, w = crop_to_ink(x).shape
    assert h == 20 and w <= 4


def test_mnist_digit_is_nearly_unchanged() -> None:
    """An MNIST-made digit (20-px box, centred by mass) is already what preprocess makes."""
    digit = seen(draw_digit(ink=255, paper=0))
    again = seen(Image.fromarray((digit * 255).round().astype(np.uint8)))
    assert np.abs(again - digit).mean() < 0.02


def test_rgba_with_transparent_background_is_ink_on_white() -> None:
    grey = draw_digit()
    rgba = Image.new("RGBA", grey.size, (0, 0, 0, 0))  # transparent *black*: a canvas export
    ink = np.asarray(grey) < 128
    pixels = np.zeros((*ink.shape, 4), np.uint8)
    pixels[ink] = (20, 20, 160, 255)  # dark blue ink
    rgba = Image.fromarray(pixels, "RGBA")
    np.testing.assert_allclose(seen(rgba), seen(grey), atol=0.08)


def test_light_ink_on_transparent_background_is_still_found() -> None:
    grey = draw_digit()
    pixels = np.zeros((grey.height, grey.width, 4), np.uint8)
    pixels[..., :3] = 255
    pixels[..., 3] = 255 - np.asarray(grey)  # white ink, visible only through alpha
    x = seen(Image.fromarray(pixels, "RGBA"))
    np.testing.assert_allclose(x, seen(grey), atol=0.08)


def test_exif_rotation_is_applied() -> None:
    upright = draw_digit()
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # how a sideways phone stores it
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to view
    x = seen(stored, "JPEG", quality=95, exif=exif.tobytes())
    np.testing.assert_allclose(x, seen(upright), atol=0.1)


def test_jpeg_noise_and_colour_do_not_matter() -> None:
    grey = draw_digit()
    colour = Image.merge("RGB", (grey, grey, grey.point(lambda v: min(255, v + 40))))
    x = seen(colour, "JPEG", quality=70)
    assert np.abs(x - seen(grey)).mean() < 0.05
    assert np.corrcoef(x.ravel(), seen(grey).ravel())[0, 1] > 0.95


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "BMP", "GIF", "WEBP"])
def test_every_format_reads(fmt) -> None:
    x = seen(draw_digit().convert("RGB"), fmt)
    assert np.abs(x - seen(draw_digit())).mean() < 0.03


def test_faint_pencil_on_grey_paper_becomes_full_strength_ink() -> None:
    x = seen(draw_digit(ink=150, paper=200))
    assert x.max() == pytest.approx(1.0)
    assert np.abs(x - seen(draw_digit())).mean() < 0.03


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"hello, not an image", "not an image"),
        (encode(Image.new("L", (50, 50), 255)), "blank"),
        (encode(Image.new("RGB", (50, 50), (10, 120, 30))), "blank"),
        (encode(draw_digit())[:300], "damaged"),
    ],
    ids=["empty", "text", "white", "one-colour", "truncated"],
)
def test_bad_images_are_one_clear_error(data, words) -> None:
    with pytest.raises(ImageError, match=words):
        preprocess(data, "x.png")


@pytest.mark.parametrize("limit", [6_000, 1_000], ids=["over-the-warning", "over-twice"])
def test_decompression_bomb_is_refused(monkeypatch, limit) -> None:
    """Pillow warns above MAX_IMAGE_PIXELS and raises above twice it: both are errors here."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    with pytest.raises(ImageError, match="decompression bomb"):
        preprocess(encode(draw_digit(size=(100, 100), box=(10, 10, 60, 90))), "bomb.png")


def test_real_bomb_file_is_refused(bomb_png) -> None:
    with pytest.raises(ImageError, match="decompression bomb"):
        preprocess(bomb_png, "bomb.png")


def test_directory_lists_its_images_only(tmp_path) -> None:
    for name in ("b.png", "a.JPG", "c.webp", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in image_files(tmp_path)] == ["a.JPG", "b.png", "c.webp"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ImageError, match="no images"):
        image_files(empty)


def test_a_huge_image_is_reduced_first_and_reads_the_same() -> None:
    small = draw_digit(size=(400, 300), box=(60, 45, 180, 255))
    huge = small.resize((4000, 3000), Image.Resampling.NEAREST)
    assert images.shrink(huge).size == (1334, 1000)  # by 3: the longer side 1,024 to 2,047
    assert images.shrink(small) is small
    assert np.abs(seen(huge) - seen(small)).mean() < 0.02


# Uneven light: the same drawing under a gradient, a shadow band and a vignette, against
# the same drawing evenly lit.


def lit(image: Image.Image, kind: str) -> Image.Image:
    """`image` with light falling unevenly on it (paper at 100% where it is brightest)."""
    grey = np.asarray(image, dtype=np.float64)
    h, w = grey.shape
    v, u = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    if kind == "gradient":  # the right-hand side at 35%
        light = 1 - 0.65 * u
    elif kind == "shadow":  # a band 25% of the width, 55% darker, across the digit
        across = np.abs((u - 0.5) * 0.8 + (v - 0.5) * 0.6)
        light = 1 - 0.55 * np.clip((0.125 - across) / 0.02 + 0.5, 0, 1)
    else:  # a vignette: the corners 60% darker
        light = 1 - 0.6 * np.clip(((u - 0.5) ** 2 + (v - 0.5) ** 2) / 0.5, 0, 1)
    return Image.fromarray(np.clip(grey * light, 0, 255).round().astype(np.uint8))


@pytest.mark.parametrize("kind", ["gradient", "shadow", "vignette"])
def test_uneven_light_gives_what_even_light_gives(kind) -> None:
    even = draw_digit(paper=235)
    x = seen(lit(even, kind))
    assert not images.evenly_lit(np.asarray(lit(even, kind), dtype=np.float32) / 255)
    assert np.abs(x - seen(even)).mean() < 0.03
    assert np.abs(np.array(centre_of_mass(x)) - (14, 14)).max() <= 0.5


def test_chalk_on_an_unevenly_lit_board_is_light_ink() -> None:
    board = lit(draw_digit(ink=230, paper=40), "gradient")
    grey = np.asarray(board, dtype=np.float32) / 255
    assert not images.evenly_lit(grey) and not images.ink_is_dark(grey)
    assert np.abs(seen(board) - seen(draw_digit())).mean() < 0.03


def test_evenly_lit_images_take_the_plain_path() -> None:
    for image in (draw_digit(), draw_digit(ink=150, paper=200), draw_digit(ink=255, paper=0)):
        assert images.evenly_lit(np.asarray(image, dtype=np.float32) / 255)


def test_the_window_is_wider_than_the_strokes_and_narrower_than_a_shadow() -> None:
    """Strokes 9 pixels wide under a shadow band about 60 pixels wide (across it): the
    closing's window lies between, so it erases the strokes and keeps the shadow."""
    grey = np.asarray(lit(draw_digit(paper=235), "shadow"), dtype=np.float32) / 255
    window = images.choose_window(grey)
    assert 9 < window < 60


def test_window_widths_grow_by_about_a_third_in_odd_steps() -> None:
    assert images.window_widths(3) == [3] and images.window_widths(1) == [3]
    widths = images.window_widths(60)
    assert widths[0] == 3 and all(w % 2 == 1 for w in widths) and widths[-1] <= 60
    assert all(b >= a + 2 and b <= a * 1.35 + 2 for a, b in itertools.pairwise(widths))
    assert widths[-1] * 1.35 > 60 - 2  # the next step would pass 60


def test_reduced_averages_whole_blocks() -> None:
    grey = np.arange(6 * 9, dtype=np.float32).reshape(6, 9)
    small, factor = images.reduced(grey, side=3)
    assert factor == 3 and small.shape == (2, 3)
    assert small[1, 2] == pytest.approx(grey[3:6, 6:9].mean())
    assert images.reduced(grey, side=100)[1] == 1


def test_only_strokes_clears_shadow_left_far_from_ink_and_specks() -> None:
    ink = np.zeros((100, 100), np.float32)
    ink[20:80, 45:55] = 1.0  # a stroke
    ink[20:80, 55:58] = 0.3  # its grey edge: kept
    ink[5:15, 80:95] = 0.3  # grey far from any stroke (a shadow's edge): cleared
    ink[90:92, 5:7] = 1.0  # a speck, far under 10% of the stroke's ink: cleared
    ink[40:60, 10:20] = 1.0  # a second part a third the stroke's size: kept
    out = images.only_strokes(ink, window=20)
    assert out[50, 56] == pytest.approx(0.3) and out[10, 85] == 0 and out[91, 6] == 0
    assert out[50, 15] == 1.0 and out[50, 50] == 1.0


def test_under_a_gradient_ink_is_the_share_of_light_it_absorbs() -> None:
    even = np.asarray(draw_digit(ink=20, paper=235), dtype=np.float64) / 255
    ink, window = images.flatten_lighting(
        np.asarray(lit(draw_digit(ink=20, paper=235), "gradient"), dtype=np.float32) / 255
    )
    assert window % 2 == 1 and window > 9
    strokes = even < 0.5
    assert np.median(ink[strokes]) == pytest.approx(1 - 20 / 235, abs=0.05)
    assert np.percentile(ink[~strokes], 90) < 0.05  # the paper, dark or bright, is 0


def test_an_unreadable_file_is_one_error_naming_it(tmp_path) -> None:
    missing = tmp_path / "gone.png"
    with pytest.raises(ImageError, match=rf"^{missing}: cannot read it \("):
        images.preprocess_file(missing)
