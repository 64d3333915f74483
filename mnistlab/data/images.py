"""A person's image of a digit, made into what the network was trained on: MNIST's recipe.

MNIST's digits are light ink (up to 1.0) on a black background (0.0), 28×28 pixels, the
digit scaled so that its longer side fits 20 pixels with its aspect ratio kept, and
placed so that its centre of mass sits at the centre of the frame (LeCun et al., "The
MNIST database"). A network only knows that world: a photo of dark ink on white paper, a
canvas export with a transparent background or a digit drawn in a corner all look to it
like nothing it has seen. `preprocess` walks every image to MNIST's form, one step each:

1. **Decode safely.** Pillow reads PNG, JPEG, BMP, GIF (its first frame) and WebP. Its
   decompression-bomb limit (`Image.MAX_IMAGE_PIXELS`, ~89 megapixels) is an error here,
   not a warning: a tiny file that inflates to gigabytes must not take the process down.
   Large JPEGs are decoded at a reduced scale (`draft`), and any image over 2,048 pixels
   is reduced by a whole factor (box filter) to about 1,024: the digit ends up 20
   pixels tall anyway, so carrying 4,000 × 3,000 photo pixels through every step would
   waste time and memory.
2. **Turn it upright.** Phones store photos sideways with an EXIF orientation tag;
   `ImageOps.exif_transpose` applies it, or a 7 would be read lying on its side. Damaged
   EXIF data is ignored (the picture is read as stored) rather than printed as a warning.
3. **Transparency onto white.** A canvas or a sticker exports ink on a transparent
   background, whose hidden colour is often black (so a plain conversion turns the whole
   image black). Alpha is composited onto white, like ink on paper. If that leaves
   nothing to see (light ink on a transparent background), it is composited onto black.
4. **Greyscale** with ITU-R 601 luma (Pillow's "L"): the network has one input channel.
5. **Polarity from the border.** Ink is the minority of pixels, and the border of a
   picture of one digit is background. The median of the outer frame says which:
   a light border means dark ink on light paper, and the image is inverted so that ink
   is light on black, as in MNIST.
6. **Background to 0, ink to 1.** The frame's median (paper shade, JPEG grey) becomes 0,
   the ink's brightest percentile becomes 1, and anything within `NOISE_FLOOR` of the
   background is cut to 0, so that JPEG ringing, paper texture and a faint pencil all
   end up as MNIST's clean black background and full-strength strokes.

   **Uneven lighting** (a frame whose shades spread more than `EVEN_SPREAD`: a shadow
   across the page, light falling off to one side, a vignette) would make the darker
   paper look like ink, so there the paper is first taken out (`flatten_lighting`):
   the ink's polarity comes from how the image departs from a heavily blurred copy of
   itself (ink departs most), and the paper's brightness at each pixel is estimated by a
   greyscale *closing* (a maximum, then a minimum, over a square window) of the image
   as dark ink on light paper: it erases every dark feature narrower than the window and
   keeps the shading, even a shadow's sharp edge, of anything wider. Dividing by it
   leaves ink as the fraction of light it absorbs, whatever the light falling on it.
   The window must be wider than the strokes and narrower than a shadow: the closing is
   tried at growing widths on a reduced copy (`choose_window`), and the first width at
   which the image's strong dark features (strokes) stop gaining contrast is taken: a
   shadow is too faint to count among them. Then, as for even light, the ink is scaled
   from its floor (`SHADED_FLOOR`) to its strong part; grey left only far from any
   strong stroke (a shadow's edge) and specks much smaller than the digit's largest part
   are cleared.
7. **Crop to the ink's bounding box**: where the digit was drawn does not matter. The
   box holds the pixels above `BOX_LEVEL` (10% of full strength), so JPEG ringing around
   the strokes does not widen it. An image with no ink (below `MIN_CONTRAST`) is refused:
   there is nothing to read.
8. **Scale the longer side to 20 pixels**, aspect ratio kept, with Pillow's anti-aliased
   Lanczos filter in floating point: a tall thin 1 stays tall and thin, and the strokes'
   edges become the grey levels MNIST's anti-aliasing made.
9. **Centre by centre of mass.** The 20-pixel box is pasted into the 28×28 frame at the
   whole-pixel shift that brings the ink's centre of mass closest to (14, 14) in
   pixel-index coordinates, i.e. within half a pixel on each axis, the way MNIST was
   made: MNIST's own test digits have their centre of mass at (13.99, 14.00) on average
   (σ 0.29), not at the geometric centre 13.5, and a half-pixel offset from what the
   network learned costs accuracy. The box is kept inside the frame, so no ink is cut off.
10. **float32 in [0, 1]**, the values training used.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

from mnistlab.errors import UserError
from mnistlab.models.spec import IMAGE_SIDE

BOX = 20  # MNIST's digits fit a 20×20 box inside the 28×28 frame
CENTRE = IMAGE_SIDE / 2  # 14.0 in pixel-index coordinates: where MNIST puts it (measured)
MIN_CONTRAST = 0.10  # ink must differ from the background by 10% of the full range
NOISE_FLOOR = 0.05  # of the ink's contrast: fainter is background (JPEG noise, paper)
BOX_LEVEL = 0.1  # the bounding box holds the pixels brighter than this
INK_PERCENTILE = 99.0  # the ink's "full strength": robust to a few hot pixels
DRAFT_SIDE = 1024  # large images are decoded / reduced to about this many pixels a side
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
# Uneven lighting (step 6): measured on 400 MNIST test digits photographed onto paper with a
# gradient, a shadow band, a vignette and all three (tests/test_predict_lighting.py).
EVEN_SPREAD = 0.08  # the frame's 5th-95th percentile shades closer than this: evenly lit
DARK_OFFSET = 0.05  # added to shades before their ratio: a camera's black is not 0
ESTIMATE_SIDE = 160  # the window is chosen on a copy reduced to about this many pixels
STRONG = 0.5  # strong dark features: at least half the image's largest log-contrast
COVERED = 0.5  # a feature is uncovered once the closing shows half its full contrast
PLATEAU = 0.05  # ...and the window is wide enough once a wider one uncovers < 5% more
WINDOW_MARGIN = 1.3  # the chosen width, times this, at full size: a margin for blots
UNDER_WAY = 0.25  # of them, after at least a quarter are uncovered
SHADED_FLOOR = 0.08  # of the ink's contrast: fainter is shadow or paper, not ink
CORE = 0.6  # strong strokes; grey further than NEAR_CORE windows from them is cleared
NEAR_CORE = 0.25
SPECK = 0.1  # parts with under 10% of the largest part's ink are specks


class ImageError(UserError):
    """An input image that cannot be read as a digit: not an image, empty, blank, a bomb."""


@dataclass(frozen=True)
class Prepared:
    """A decoded image and the 28×28 the network sees."""

    original: Image.Image  # upright, greyscale, as the user gave it (for figures)
    x: np.ndarray  # (28, 28) float32 in [0, 1]: light ink on black, centred


def preprocess(data: bytes, name: str = "image") -> Prepared:
    """Bytes of an image file → MNIST-style 28×28 input (see the module's docstring)."""
    grey = to_greyscale(decode(data, name))
    return Prepared(original=grey, x=mnist_style(np.asarray(grey, dtype=np.float32) / 255, name))


def preprocess_file(path: str | os.PathLike[str]) -> Prepared:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    return preprocess(data, str(path))


def decode(data: bytes, name: str = "image") -> Image.Image:
    """Steps 1–2: a loaded, upright Pillow image, or ImageError with the reason."""
    if not data:
        raise ImageError(f"{name}: the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "Corrupt EXIF data": read as stored
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format == "JPEG":
                image.draft(image.mode, (DRAFT_SIDE, DRAFT_SIDE))
            image.load()
            return shrink(ImageOps.exif_transpose(image))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(
            f"{name}: the image is too large to decode safely (a decompression bomb? "
            f"Pillow's limit is {Image.MAX_IMAGE_PIXELS:,} pixels)"
        ) from None
    except UnidentifiedImageError:
        raise ImageError(
            f"{name}: not an image (PNG, JPEG, BMP, GIF and WebP can be read)"
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt image data
        raise ImageError(f"{name}: the image data is damaged ({exc})") from None


def shrink(image: Image.Image, side: int = DRAFT_SIDE) -> Image.Image:
    """A box-filtered whole-factor reduction when the longer side is over 2 × `side`."""
    factor = max(image.size) // side
    if factor < 2:
        return image
    if image.mode not in ("L", "LA", "RGB", "RGBA", "I", "F"):
        image = image.convert("RGBA" if has_alpha(image) else "RGB")
    return image.reduce(factor)


def to_greyscale(image: Image.Image) -> Image.Image:
    """Steps 3–4: transparency composited onto white (or black if that hides the ink), "L"."""
    if not has_alpha(image):
        return image.convert("L")
    rgba = image.convert("RGBA")
    if rgba.getchannel("A").getextrema()[0] == 255:  # opaque (the page's canvas): no compositing
        return rgba.convert("L")
    on_white = composite(rgba, (255, 255, 255, 255))
    if ink_contrast(np.asarray(on_white, dtype=np.float32) / 255) >= MIN_CONTRAST:
        return on_white
    return composite(rgba, (0, 0, 0, 255))


def has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info


def composite(rgba: Image.Image, background: tuple[int, int, int, int]) -> Image.Image:
    return Image.alpha_composite(Image.new("RGBA", rgba.size, background), rgba).convert("L")


def mnist_style(grey: np.ndarray, name: str = "image") -> np.ndarray:
    """Steps 5–10 on a greyscale image in [0, 1] of any size → (28, 28) float32."""
    ink = normalise_ink(grey, name)
    return centre_by_mass(scale_to_box(crop_to_ink(ink)))


def frame(grey: np.ndarray) -> np.ndarray:
    """The outer frame's pixels: a band 2% of the shorter side (at least one pixel)."""
    h, w = grey.shape
    band = max(1, round(0.02 * min(h, w)))
    return np.concatenate(
        [
            grey[:band].ravel(),
            grey[-band:].ravel(),
            grey[band:-band, :band].ravel(),
            grey[band:-band, -band:].ravel(),
        ]
    )


def border_level(grey: np.ndarray) -> float:
    """The median of the outer frame."""
    return float(np.median(frame(grey)))


def light_on_dark(grey: np.ndarray) -> tuple[np.ndarray, float]:
    """Step 5: inverted when the border (the background) is the lighter side; the image
    and its background level (the border's median, inverted with it)."""
    level = border_level(grey)
    return (1.0 - grey, 1.0 - level) if level > 0.5 else (grey, level)


def ink_contrast(grey: np.ndarray) -> float:
    """How far the ink stands out from the background, in [0, 1]."""
    ink, background = light_on_dark(grey)
    return float(ink.max()) - background


def normalise_ink(grey: np.ndarray, name: str = "image") -> np.ndarray:
    """Steps 5–6: light ink on 0, background at 0 and the ink's strong part at 1."""
    if evenly_lit(grey):
        ink, background = light_on_dark(grey)
        return scaled_ink(ink, background, NOISE_FLOOR, name)
    ink, window = flatten_lighting(grey)
    return only_strokes(scaled_ink(ink, border_level(ink), SHADED_FLOOR, name), window)


def scaled_ink(ink: np.ndarray, background: float, share: float, name: str) -> np.ndarray:
    """Step 6's scaling of light ink: `background` to 0 and the ink's strong part to 1,
    anything less than `share` of the way up cut to 0; an ImageError when no ink stands
    out from the background."""
    peak_all = float(ink.max())
    if peak_all - background < MIN_CONTRAST:
        raise ImageError(f"{name}: the image is blank: no ink stands out from the background")
    strong = ink[ink > background + 0.5 * (peak_all - background)]
    peak = float(np.percentile(strong, INK_PERCENTILE))
    floor = background + share * (peak - background)
    return np.clip((ink - floor) / max(peak - floor, 1e-6), 0.0, 1.0, dtype=np.float32)


def evenly_lit(grey: np.ndarray) -> bool:
    """Whether the frame (the background) is one shade: its 5th to 95th percentiles lie
    within `EVEN_SPREAD`. A shadow, a gradient or a vignette reaches the frame."""
    low, high = np.percentile(frame(grey), [5, 95])
    return float(high - low) < EVEN_SPREAD


def flatten_lighting(grey: np.ndarray) -> tuple[np.ndarray, int]:
    """Step 6 under uneven light: (light ink on about 0, the closing's window in pixels).

    With the image as dark ink on light paper (p), the paper's brightness is its closing
    P, and ink = 1 − p / P: the share of the light the ink absorbs."""
    paper = (grey if ink_is_dark(grey) else 1.0 - grey).astype(np.float64)
    window = choose_window(paper)
    lit = ndimage.grey_closing(paper, size=(window, window), mode="nearest")
    ink = 1.0 - paper / np.maximum(lit, 1e-3)
    return np.clip(ink, 0.0, 1.0, dtype=np.float32), window


def ink_is_dark(grey: np.ndarray) -> bool:
    """Ink is what departs most from its surroundings (a heavily blurred copy), measured
    as a ratio of brightness, as light falls: darker than them for ink on paper, lighter
    for chalk on a board. `DARK_OFFSET` keeps a black background's ratios finite."""
    small, _ = reduced(grey)
    around = ndimage.gaussian_filter(small, sigma=min(small.shape) / 10, mode="reflect")
    departure = np.log((small + DARK_OFFSET) / (around + DARK_OFFSET))
    lowest, highest = np.percentile(departure, [0.1, 99.9])
    return -lowest > highest


def choose_window(paper: np.ndarray) -> int:
    """The closing's window for dark ink on light `paper`: just wider than the strokes.

    On a reduced copy, the log-contrast log(closing / image) is measured at growing
    windows. Strong features are those with at least `STRONG` of the largest contrast at
    the widest window (a shadow, fainter than ink, is not one; a percentile instead of the
    largest would let a broad shadow outnumber a small thin digit's strokes and count as
    strong); the window is wide enough
    when `UNDER_WAY` of them are uncovered and widening it uncovers fewer than `PLATEAU`
    more."""
    small, factor = reduced(paper)
    widths = window_widths(min(small.shape) // 2)
    level = np.log(np.maximum(small, 1e-3))
    contrast = [
        np.log(np.maximum(ndimage.grey_closing(small, size=(w, w), mode="nearest"), 1e-3)) - level
        for w in widths
    ]
    widest = contrast[-1]
    features = widest >= STRONG * float(widest.max())
    shown = [np.mean(c[features] >= COVERED * widest[features]) for c in contrast]
    chosen = widths[-1]
    for width, now, wider in zip(widths, shown, shown[1:], strict=False):
        if now >= UNDER_WAY and wider - now < PLATEAU:
            chosen = width
            break
    return round(chosen * factor * WINDOW_MARGIN) | 1


def window_widths(widest: int) -> list[int]:
    """Odd widths from 3 pixels growing by about 35% a step, up to `widest` (at least 3)."""
    widths = [3]
    while (grown := max(widths[-1] + 2, round(widths[-1] * 1.35) | 1)) <= widest:
        widths.append(grown)
    return widths


def reduced(grey: np.ndarray, side: int = ESTIMATE_SIDE) -> tuple[np.ndarray, int]:
    """`grey` averaged over factor × factor blocks so its longer side is about `side`."""
    factor = max(1, -(-max(grey.shape) // side))
    h, w = grey.shape[0] // factor * factor, grey.shape[1] // factor * factor
    blocks = grey[:h, :w].reshape(h // factor, factor, w // factor, factor)
    return blocks.mean(axis=(1, 3), dtype=np.float32), factor


def only_strokes(ink: np.ndarray, window: int) -> np.ndarray:
    """Ink near strong strokes only, in parts of at least `SPECK` of the largest part's ink:
    what a shadow's edge or a speck leaves behind is cleared."""
    core = ink >= CORE
    reach = 2 * max(1, int(NEAR_CORE * window)) + 1
    ink = np.where(ndimage.maximum_filter(core, size=reach), ink, np.float32(0))
    parts, count = ndimage.label(ink > BOX_LEVEL, structure=np.ones((3, 3)))
    if count > 1:
        mass = ndimage.sum_labels(ink, parts, index=np.arange(1, count + 1))
        small = np.flatnonzero(mass < SPECK * mass.max()) + 1
        ink = np.where(np.isin(parts, small), np.float32(0), ink)
    return ink


def crop_to_ink(ink: np.ndarray, level: float | None = None) -> np.ndarray:
    """Step 7: the smallest rectangle holding every pixel above `level` (BOX_LEVEL)."""
    level = BOX_LEVEL if level is None else level
    strong = ink > level
    rows = np.flatnonzero(strong.any(axis=1))
    cols = np.flatnonzero(strong.any(axis=0))
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def scale_to_box(ink: np.ndarray, box: int = BOX) -> np.ndarray:
    """Step 8: longer side → `box` pixels, aspect kept, anti-aliased (Lanczos, float)."""
    h, w = ink.shape
    scale = box / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    image = Image.fromarray(np.ascontiguousarray(ink, dtype=np.float32), mode="F")
    out = np.asarray(image.resize(size, Image.Resampling.LANCZOS), dtype=np.float32)
    return np.clip(out, 0.0, 1.0)  # Lanczos overshoots a little beside sharp edges


def centre_of_mass(x: np.ndarray) -> tuple[float, float]:
    """(row, column) of the intensity-weighted mean position, in pixel-index coordinates."""
    total = float(x.sum())
    rows = np.arange(x.shape[0], dtype=np.float64)
    cols = np.arange(x.shape[1], dtype=np.float64)
    return float(x.sum(axis=1) @ rows) / total, float(x.sum(axis=0) @ cols) / total


def centre_by_mass(box: np.ndarray, side: int = IMAGE_SIDE) -> np.ndarray:
    """Step 9–10: `box` pasted into side×side with its centre of mass nearest the centre."""
    h, w = box.shape
    cy, cx = centre_of_mass(box)
    centre = side / 2  # CENTRE for MNIST's 28
    top = int(np.clip(round(centre - cy), 0, side - h))
    left = int(np.clip(round(centre - cx), 0, side - w))
    out = np.zeros((side, side), dtype=np.float32)
    out[top : top + h, left : left + w] = box
    return out


def image_files(path: str | os.PathLike[str]) -> list[Path]:
    """A file as given, or every image file (by suffix) directly inside a directory."""
    path = Path(path)
    if not path.is_dir():
        return [path]
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ImageError(f"{path}: a directory with no images in it ({', '.join(IMAGE_SUFFIXES)})")
    return files
