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
   `ImageOps.exif_transpose` applies it, or a 7 would be read lying on its side.
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


class ImageError(UserError):
    """An input image that cannot be read as a digit: not an image, empty, blank, a bomb."""


@dataclass(frozen=True)
class Prepared:
    """A decoded image and the 28×28 the network sees."""

    original: Image.Image  # upright, greyscale, as the user gave it (for figures)
    x: np.ndarray  # (28, 28) float32 in [0, 1]: light ink on black, centred


def preprocess(data: bytes, name: str = "image") -> Prepared:
    """Bytes of an image file → MNIST-style 28×28 input (see the module's docstring)."""
    grey = to_greyscale(decode(data, name), name)
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


def to_greyscale(image: Image.Image, name: str = "image") -> Image.Image:
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


def border_level(grey: np.ndarray) -> float:
    """The median of the outer frame (a band 2% of the side, at least one pixel)."""
    h, w = grey.shape
    band = max(1, round(0.02 * min(h, w)))
    frame = np.concatenate(
        [
            grey[:band].ravel(),
            grey[-band:].ravel(),
            grey[band:-band, :band].ravel(),
            grey[band:-band, -band:].ravel(),
        ]
    )
    return float(np.median(frame))


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
    ink, background = light_on_dark(grey)
    peak_all = float(ink.max())
    if peak_all - background < MIN_CONTRAST:
        raise ImageError(f"{name}: the image is blank: no ink stands out from the background")
    strong = ink[ink > background + 0.5 * (peak_all - background)]
    peak = float(np.percentile(strong, INK_PERCENTILE))
    floor = background + NOISE_FLOOR * (peak - background)
    return np.clip((ink - floor) / max(peak - floor, 1e-6), 0.0, 1.0, dtype=np.float32)


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
