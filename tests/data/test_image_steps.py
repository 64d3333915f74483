"""Each preprocessing step of `mnistlab.data.images` against an oracle of its own.

tests/data/test_images.py checks the whole walk from a photo to 28×28 mostly against
itself (a shifted, inverted or re-encoded digit gives the same output); here each step's
result is compared with what it should be: pixel values computed by hand, a known glyph,
the exact sizes, modes and boundaries the module's docstring promises.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from mnistlab.data import images
from mnistlab.data.images import ImageError


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def jpeg(image: Image.Image, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", **kwargs)
    return buf.getvalue()


BLANK = png(Image.new("L", (40, 40), 255))

# An "F": a 20×20 glyph with no symmetry, so a flip, a shift or a smear shows.
GLYPH = np.zeros((20, 20), np.float32)
GLYPH[:, 3:7] = 1
GLYPH[0:4, 3:17] = 1
GLYPH[8:12, 3:13] = 1


# Whole walk against a known glyph


def test_a_glyph_drawn_ten_times_larger_comes_back_as_itself_centred_by_mass() -> None:
    """The glyph in 10×10-pixel blocks, dark on white: cropped to 200×200, scaled by
    exactly 1/10 (Lanczos: each block's mean, with a little ringing at the edges) and
    placed where its centre of mass is nearest (14, 14)."""
    page = np.full((260, 300), 255, np.uint8)
    page[30:230, 50:250][np.kron(GLYPH, np.ones((10, 10))) > 0] = 0
    x = images.preprocess(png(Image.fromarray(page))).x
    cy, cx = images.centre_of_mass(GLYPH)
    top, left = round(14 - cy), round(14 - cx)  # 7, 7: inside 0..8
    expected = np.zeros((28, 28), np.float32)
    expected[top : top + 20, left : left + 20] = GLYPH
    assert np.abs(x - expected).max() < 0.2
    assert np.abs(x - expected).mean() < 0.02


def test_preprocess_is_mnist_style_of_the_pictures_greyscale_in_float32() -> None:
    page = np.full((130, 150), 230, np.uint8)
    page[20:100, 40:120][np.kron(GLYPH, np.ones((4, 4))) > 0] = 40
    picture = Image.fromarray(page).resize((97, 83), Image.Resampling.BICUBIC)  # greys
    x = images.preprocess(png(picture)).x
    np.testing.assert_array_equal(
        x, images.mnist_style(np.asarray(picture, dtype=np.float32) / 255)
    )


def test_the_original_is_the_upright_greyscale_picture() -> None:
    stored = Image.new("RGB", (60, 40), (200, 210, 220))
    stored.paste((10, 10, 10), (5, 5, 25, 35))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    original = images.preprocess(jpeg(stored, quality=95, exif=exif.tobytes())).original
    assert original.mode == "L" and original.size == (40, 60)


# Errors name the image


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: images.preprocess(b""), "the file is empty"),
        (lambda: images.decode(b""), "the file is empty"),
        (lambda: images.preprocess(BLANK), "the image is blank"),
        (lambda: images.mnist_style(np.ones((30, 30), np.float32)), "the image is blank"),
        (lambda: images.normalise_ink(np.ones((30, 30), np.float32)), "the image is blank"),
    ],
    ids=["preprocess-empty", "decode-empty", "preprocess-blank", "mnist_style", "normalise_ink"],
)
def test_an_unnamed_image_is_called_image(call, words) -> None:
    with pytest.raises(ImageError, match=rf"^image: {words}"):
        call()


def test_a_file_is_read_and_named_by_its_path(tmp_path) -> None:
    picture = Image.new("L", (80, 80), 255)
    picture.paste(0, (30, 10, 45, 70))
    path = tmp_path / "one.png"
    path.write_bytes(png(picture))
    np.testing.assert_array_equal(images.preprocess_file(path).x, images.preprocess(png(picture)).x)
    blank = tmp_path / "white.png"
    blank.write_bytes(BLANK)
    with pytest.raises(ImageError, match=rf"^{blank}: the image is blank"):
        images.preprocess_file(blank)


def test_an_unreadable_file_says_why(tmp_path) -> None:
    missing = tmp_path / "gone.png"
    with pytest.raises(ImageError) as caught:
        images.preprocess_file(missing)
    assert str(caught.value) == f"{missing}: cannot read it (No such file or directory)"


def test_an_empty_directory_lists_the_suffixes_it_looks_for(tmp_path) -> None:
    with pytest.raises(ImageError) as caught:
        images.image_files(tmp_path)
    assert str(caught.value).endswith("(.png, .jpg, .jpeg, .bmp, .gif, .webp)")


# Steps 1–2: decoding


def test_damaged_exif_reads_the_picture_as_stored_without_a_warning() -> None:
    exif = Image.Exif()
    exif[0x010F] = "a camera"  # Make
    damaged = exif.tobytes()[:-4]  # Pillow: "Corrupt EXIF data. Expecting to read … bytes"
    picture = Image.new("RGB", (50, 30), "white")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = images.decode(jpeg(picture, exif=damaged))
    assert image.size == (50, 30)


def test_jpegs_alone_are_decoded_at_a_reduced_scale(monkeypatch) -> None:
    """Pillow's `draft` makes the JPEG decoder skip detail (a 4,000-pixel photo decodes
    at 1/2, 1/4 or 1/8); other formats have no such shortcut and are reduced after."""
    asked = []
    jpeg_draft = JpegImagePlugin.JpegImageFile.draft

    def draft(self, mode, size):
        asked.append((mode, size))
        return jpeg_draft(self, mode, size)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", draft)
    monkeypatch.setattr(Image.Image, "draft", draft)
    images.decode(png(Image.new("RGB", (300, 200), "white")))
    assert asked == []
    images.decode(jpeg(Image.new("RGB", (300, 200), "white")))
    assert asked == [("RGB", (images.DRAFT_SIDE, images.DRAFT_SIDE))]


@pytest.mark.parametrize(
    ("mode", "info", "alpha"),
    [
        ("RGBA", {}, True),
        ("LA", {}, True),
        ("PA", {}, True),
        ("La", {}, True),
        ("RGBa", {}, True),
        ("P", {"transparency": 0}, True),
        ("L", {"transparency": 255}, True),
        ("RGB", {}, False),
        ("L", {}, False),
        ("P", {}, False),
    ],
)
def test_which_images_have_transparency(mode, info, alpha) -> None:
    image = Image.new(mode, (4, 4))
    image.info.update(info)
    assert images.has_alpha(image) is alpha


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "I", "F"])
def test_shrink_keeps_the_modes_it_can_reduce(mode) -> None:
    image = Image.new(mode, (2048, 1000))
    shrunk = images.shrink(image)
    assert shrunk.mode == mode and shrunk.size == (1024, 500)  # by 2: 2,048 is twice 1,024


@pytest.mark.parametrize(
    ("mode", "info", "becomes"),
    [("P", {}, "RGB"), ("P", {"transparency": 0}, "RGBA"), ("1", {}, "RGB"), ("CMYK", {}, "RGB")],
)
def test_shrink_converts_the_modes_it_cannot_reduce(mode, info, becomes) -> None:
    image = Image.new(mode, (3100, 40))
    image.info.update(info)
    shrunk = images.shrink(image)
    assert shrunk.mode == becomes and shrunk.size == (1034, 14)  # by 3, rounding up


def test_shrink_leaves_anything_under_twice_its_side_alone() -> None:
    image = Image.new("L", (2047, 300))
    assert images.shrink(image) is image


# Steps 3–4: transparency and greyscale


def canvas(rgb: tuple[int, int, int], alpha: np.ndarray) -> Image.Image:
    pixels = np.zeros((*alpha.shape, 4), np.uint8)  # transparent *black* where alpha is 0
    pixels[..., :3] = rgb
    pixels[..., 3] = alpha
    return Image.fromarray(pixels, "RGBA")


ALPHA = np.zeros((40, 40), np.uint8)
ALPHA[10:30, 18:22] = 255
ALPHA[10:30, 17] = ALPHA[10:30, 22] = 96  # anti-aliased edges


def luma(rgb: tuple[int, int, int]) -> float:
    return (rgb[0] * 299 + rgb[1] * 587 + rgb[2] * 114) / 1000


@pytest.mark.parametrize("form", ["RGBA", "LA", "P"])
def test_dark_ink_on_a_transparent_canvas_is_blended_onto_white(form) -> None:
    ink = (20, 20, 160)
    image = canvas(ink, ALPHA)
    if form == "LA":
        image = image.convert("LA")
        ink = (round(luma(ink)),) * 3
    elif form == "P":  # a palette with one transparent entry: ink or nothing
        image = canvas(ink, np.where(ALPHA == 255, 255, 0).astype(np.uint8)).convert("P")
        image.info["transparency"] = image.getpixel((0, 0))
    a = np.asarray(image.convert("RGBA"))[..., 3] / 255
    expected = luma(ink) * a + 255 * (1 - a)
    grey = images.to_greyscale(image)
    assert grey.mode == "L"
    np.testing.assert_allclose(np.asarray(grey, dtype=np.float64), expected, atol=1.01)


def test_light_ink_on_a_transparent_canvas_is_blended_onto_black() -> None:
    """White ink visible only through alpha, and a faint grey ink whose contrast on white
    (15 of 255) is under MIN_CONTRAST: both are put on black."""
    for shade in (255, 240):
        grey = np.asarray(images.to_greyscale(canvas((shade, shade, shade), ALPHA)))
        np.testing.assert_allclose(grey.astype(np.float64), shade * (ALPHA / 255), atol=1.01)
        assert (grey[ALPHA == 0] == 0).all()  # black, not nearly


def test_an_opaque_rgba_picture_is_its_plain_greyscale() -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (30, 30, 4), dtype=np.uint8)
    pixels[..., 3] = 255
    image = Image.fromarray(pixels, "RGBA")
    grey = images.to_greyscale(image)
    assert grey.mode == "L"
    np.testing.assert_array_equal(np.asarray(grey), np.asarray(image.convert("L")))


def test_composite_blends_onto_the_background_given() -> None:
    half = canvas((255, 255, 255), np.full((4, 4), 128, np.uint8))
    for background, level in (((0, 0, 0, 255), 128), ((60, 60, 60, 255), 158)):
        grey = np.asarray(images.composite(half, background))
        assert np.abs(grey.astype(int) - level).max() <= 1


# Steps 5–6 on even light: polarity and the ink's scale


def test_a_mid_grey_border_is_dark_background() -> None:
    grey = np.full((20, 20), 0.5)
    grey[5:15, 8:12] = 1.0
    ink, level = images.light_on_dark(grey)
    assert ink is grey and level == 0.5


def test_ink_contrast_is_the_ink_above_its_background() -> None:
    grey = np.full((20, 20), 0.2)
    grey[5:15, 8:12] = 0.9
    assert images.ink_contrast(grey) == pytest.approx(0.7)


def test_normalise_ink_maps_the_floor_to_0_and_the_strong_ink_to_1() -> None:
    """Background 0.3 (dark paper), ink 1.0 with a grey edge: the floor is the background
    plus NOISE_FLOOR of the contrast, and each pixel (v − floor) / (peak − floor), in
    [0, 1], float32."""
    grey = np.full((40, 40), 0.3)
    grey[0, 0] = 0.25  # darker than the paper: below the floor, 0
    grey[10:30, 15:25] = 0.9  # the strong ink: its 99th percentile is full strength
    grey[15, 20] = 1.0  # a hot pixel above it: 1, not more
    grey[10:30, 25] = 0.342  # just above the floor
    out = images.normalise_ink(grey)
    floor = 0.3 + images.NOISE_FLOOR * (0.9 - 0.3)
    assert out.dtype == np.float32
    assert out[20, 25] == pytest.approx((0.342 - floor) / (0.9 - floor), rel=1e-5)
    assert out[0, 0] == 0 and out[1, 1] == 0
    assert out[20, 20] == out[15, 20] == out.max() == 1.0


def test_the_ink_scale_comes_from_the_strong_ink_only() -> None:
    """A few pixels at full strength beside many at exactly half: the strong ink is what
    lies *above* half the contrast, so full strength stays 1 and the half-strength ink
    stays about half."""
    grey = np.zeros((100, 100))
    grey[40:60, 40:50] = 0.5
    grey[50, 60] = 1.0
    out = images.normalise_ink(grey)
    assert out[50, 60] == 1.0 and out[45, 45] == pytest.approx(0.45 / 0.95, rel=1e-5)


def test_exactly_min_contrast_is_ink() -> None:
    grey = np.zeros((20, 20))
    grey[5:15, 9:11] = images.MIN_CONTRAST
    assert images.normalise_ink(grey).max() == 1.0


def test_shaded_ink_has_its_own_floor(monkeypatch) -> None:
    """Under uneven light the floor is SHADED_FLOOR of the contrast, not NOISE_FLOOR:
    grey between the two is cleared."""
    ink = np.zeros((40, 40), np.float32)
    ink[10:30, 18:22] = 1.0
    between = (images.NOISE_FLOOR + images.SHADED_FLOOR) / 2
    ink[10:30, 22] = between
    monkeypatch.setattr(images, "evenly_lit", lambda grey: False)
    monkeypatch.setattr(images, "flatten_lighting", lambda grey: (ink, 9))
    out = images.normalise_ink(ink)
    assert out[20, 20] == 1.0 and out[20, 22] == 0.0


@pytest.mark.parametrize(("side", "band"), [(10, 1), (200, 4)])
def test_the_frame_is_a_band_of_2_percent(side, band) -> None:
    grey = np.arange(side * (side + 50), dtype=np.float64).reshape(side, side + 50)
    inside = np.ones_like(grey, dtype=bool)
    inside[band:-band, band:-band] = False
    assert np.array_equal(np.sort(images.frame(grey)), grey[inside])


@pytest.mark.parametrize(
    ("shade", "count", "even"), [(0.2, 5, True), (0.2, 6, False), (1.0, 5, True), (1.0, 6, False)]
)
def test_even_light_allows_5_percent_of_the_frame_to_differ(shade, count, even) -> None:
    """A 26×26 picture's frame is 100 pixels: 5 darker or lighter ones (a speck on the
    edge) are ignored; 6 (a shadow or a glare reaching the edge) make the light uneven."""
    grey = np.full((26, 26), 0.6)
    grey[0, :count] = shade
    assert images.frame(grey).size == 100
    assert images.evenly_lit(grey) is even


def test_a_frame_spread_of_exactly_even_spread_is_uneven() -> None:
    grey = np.zeros((26, 26))
    grey[13:, 0] = grey[13:, -1] = grey[-1] = images.EVEN_SPREAD
    assert images.evenly_lit(grey) is False
    assert np.ptp(images.frame(grey)) == images.EVEN_SPREAD


# Step 6 under uneven light


def test_window_widths_are_these() -> None:
    assert images.window_widths(60) == [3, 5, 7, 9, 13, 19, 27, 37, 51]
    assert images.window_widths(51)[-1] == 51 and images.window_widths(50)[-1] == 37


def paper_with_stroke(stroke: int, ink: float, side: int = 120) -> np.ndarray:
    paper = np.ones((side, side))
    paper[30:90, 50 : 50 + stroke] = ink
    paper[50 : 50 + stroke, 20:100] = ink
    return paper


def test_the_window_is_the_first_that_erases_the_strokes_plus_its_margin() -> None:
    """Hard 7-pixel strokes: widths 3, 5 and 7 leave them, 9 erases them, 13 as well;
    so 9, times WINDOW_MARGIN 1.3, rounded to odd: 13 (no reduction under 160 pixels)."""
    assert images.choose_window(paper_with_stroke(7, 0.1)) == 13


def test_faint_pencil_strokes_choose_the_same_window() -> None:
    assert images.choose_window(paper_with_stroke(7, 0.7)) == 13


def test_strokes_of_every_width_take_the_widest_window() -> None:
    """Bars 2 to 60 pixels wide, each erased at its own width, up to the widest tried (69,
    under half the shorter side): the share uncovered never levels off, so the widest is
    taken, times the margin."""
    paper = np.ones((160, 160))
    rows = ((4, 30, (2, 4, 6, 8, 12, 18)), (40, 40, (26, 36)), (86, 62, (48, 60)))
    for top, height, widths in rows:
        left = 6
        for width in widths:
            paper[top : top + height, left : left + width] = 0.1
            left += width + 6
    assert images.window_widths(80)[-1] == 69
    assert images.choose_window(paper) == round(69 * images.WINDOW_MARGIN) | 1


def test_the_window_is_measured_on_the_reduced_copy_and_scaled_back() -> None:
    big = np.kron(paper_with_stroke(7, 0.1), np.ones((2, 2)))  # 240 pixels: reduced by 2
    assert images.choose_window(big) == round(9 * 2 * images.WINDOW_MARGIN) | 1


def test_under_a_gradient_a_stroke_is_the_light_it_absorbs() -> None:
    paper = paper_with_stroke(7, 0.1)
    light = np.linspace(1.0, 0.4, 120)[None, :]
    ink, window = images.flatten_lighting(paper * light)
    assert ink.dtype == np.float32 and window == 13
    # 1 − 0.1 as the paper beside it is lit, within the light's change across the stroke
    np.testing.assert_allclose(ink[60, 50:57], 0.9, atol=0.006)
    assert ink[60, 30] == ink[10, 10] == 0


def test_chalk_and_its_negative_give_the_same_ink() -> None:
    board = 1.0 - paper_with_stroke(7, 0.1) * np.linspace(1.0, 0.4, 120)[None, :]
    ink, _ = images.flatten_lighting(board)
    same, _ = images.flatten_lighting(1.0 - board)
    np.testing.assert_array_equal(ink, same)


def test_a_small_digit_is_dark_ink_on_a_large_page() -> None:
    """Ink that covers well under 1% of the picture is still what departs most."""
    paper = np.ones((400, 400)) * np.linspace(1.0, 0.6, 400)[None, :]
    paper[200:230, 200:203] = 0.1  # 90 of 160,000 pixels
    assert images.ink_is_dark(paper)
    assert not images.ink_is_dark(1.0 - paper)


def test_reduced_is_float32_whatever_it_is_given() -> None:
    small, factor = images.reduced(np.ones((400, 400)))
    assert small.dtype == np.float32 and factor == 3 and small.shape == (133, 133)


@pytest.mark.parametrize(("window", "kept", "cleared"), [(20, 5, 6), (4, 1, 2)])
def test_grey_is_kept_within_a_quarter_window_of_a_core(window, kept, cleared) -> None:
    """Reach: NEAR_CORE × window pixels on every side (at least 1)."""
    ink = np.zeros((60, 60), np.float32)
    ink[20:40, 28 - cleared : 32 + cleared] = 0.3  # a grey halo, one part with the stroke
    ink[20:40, 28:32] = 1.0
    out = images.only_strokes(ink, window)
    assert out[30, 31 + kept] == out[30, 28 - kept] == pytest.approx(0.3)
    assert out[30, 31 + cleared] == out[30, 28 - cleared] == 0


def test_a_stroke_at_exactly_core_strength_is_a_core() -> None:
    ink = np.zeros((40, 40), np.float32)
    ink[10:30, 18:22] = images.CORE
    np.testing.assert_array_equal(images.only_strokes(ink, 9), ink)


def test_a_diagonal_hairline_is_one_part() -> None:
    ink = np.zeros((60, 60), np.float32)
    ink[10:40, 10:20] = 1.0  # the largest part: 300
    idx = np.arange(20, 55)
    ink[idx, idx] = 1.0  # 35 pixels touching at corners: one part, over 10% of 300
    out = images.only_strokes(ink, 9)
    assert out[50, 50] == 1.0


def test_a_speck_beside_one_stroke_is_cleared_and_a_tenth_is_kept() -> None:
    ink = np.zeros((60, 60), np.float32)
    ink[10:30, 10:20] = 1.0  # 200
    ink[45, 45] = 1.0  # a speck: the second of two parts
    out = images.only_strokes(ink, 101)
    assert out[45, 45] == 0 and out[20, 15] == 1.0
    ink[40:44, 40:45] = 1.0  # exactly 10% of the largest part: kept
    ink[45, 45] = 0
    assert images.only_strokes(ink, 101)[42, 42] == 1.0


def test_grey_at_exactly_box_level_belongs_to_no_part() -> None:
    ink = np.zeros((40, 40), np.float32)
    ink[10:30, 10:20] = 1.0
    ink[35, 35] = images.BOX_LEVEL
    assert images.only_strokes(ink, 101)[35, 35] == np.float32(images.BOX_LEVEL)


# Steps 7–9


def test_crop_to_ink_uses_the_level_given_and_excludes_it() -> None:
    ink = np.zeros((30, 30), np.float32)
    ink[5:25, 5:25] = 0.3
    ink[10:15, 12:14] = 0.8
    assert images.crop_to_ink(ink, level=0.5).shape == (5, 2)
    ink[0, 0] = images.BOX_LEVEL  # not above it
    assert images.crop_to_ink(ink).shape == (20, 20)


@pytest.mark.parametrize(("shape", "scaled"), [((200, 2), (20, 1)), ((2, 200), (1, 20))])
def test_a_hairline_stays_one_pixel_wide(shape, scaled) -> None:
    assert images.scale_to_box(np.ones((4, 2), np.float32)).shape == (20, 10)
    assert images.scale_to_box(np.ones(shape, np.float32)).shape == scaled


def test_scale_to_box_reads_float64_as_numbers() -> None:
    out = images.scale_to_box(np.ones((40, 40)))
    np.testing.assert_allclose(out, 1.0, atol=1e-6)
    assert out.dtype == np.float32


@pytest.mark.parametrize(
    ("at", "shape", "where"),
    [((19, 19), (20, 20), (19, 19)), ((0, 0), (20, 20), (8, 8)), ((0, 0), (20, 6), (8, 14))],
    ids=["bottom-right", "top-left", "narrow"],
)
def test_a_lopsided_box_is_kept_inside_the_frame(at, shape, where) -> None:
    """All the ink in one corner: the shift that centres it would push the box out of the
    frame, so it stops at the frame's edge."""
    box = np.zeros(shape, np.float32)
    box[at] = 1.0
    out = images.centre_by_mass(box)
    assert out[where] == 1.0 and out.sum() == 1.0
