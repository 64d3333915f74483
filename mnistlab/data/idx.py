"""Read IDX files (LeCun's MNIST format), raw or gzip-compressed, into uint8 arrays.

An IDX file is a 4-byte magic number (two zero bytes, a type byte, the number of
dimensions), then one big-endian uint32 per dimension, then the data. Every way a file
can be wrong (truncated, padded, corrupt gzip, wrong magic, wrong checksum) is turned into
a one-line `DataError` naming the file, so the command line never shows a traceback.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import zlib
from pathlib import Path

import numpy as np

from mnistlab.errors import DataError

UBYTE = 0x08  # the only IDX data type MNIST and Fashion-MNIST use
IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions: count, rows, columns
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension: count
N_CLASSES = 10

PathLike = str | os.PathLike[str]


def read_payload(path: PathLike) -> bytes:
    """The file's bytes, gunzipped when they start with the gzip magic (name aside)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return gunzip(path.name, data)


def gunzip(name: str, data: bytes) -> bytes:
    """`data` decompressed if it is gzip, else as it is; `name` is for error messages."""
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        # One C call for the common single-member file; gzip.decompress handles the rest.
        dec = zlib.decompressobj(wbits=31)
        out = dec.decompress(data)
        if not dec.eof:
            raise EOFError("compressed stream ends early")
        if dec.unused_data:
            out += gzip.decompress(dec.unused_data)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{name}: truncated or corrupt gzip data ({exc})") from None
    return out


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def check_md5(name: str, data: bytes, expected: str | None) -> None:
    """Raise unless the uncompressed bytes have the expected MD5 (None: no check)."""
    if expected is None:
        return
    actual = md5_hex(data)
    if actual != expected.lower():
        raise DataError(f"{name}: checksum mismatch (MD5 {actual}, expected {expected})")


def parse_idx(name: str, data: bytes, ndim: int | None = None) -> np.ndarray:
    """A read-only uint8 view of IDX `data`; `name` is only for error messages."""
    if len(data) < 4:
        raise DataError(f"{name}: too short for an IDX header ({len(data)} bytes)")
    magic = int.from_bytes(data[:4], "big")
    file_ndim = data[3]
    if data[:2] != b"\0\0" or data[2] != UBYTE or (ndim is not None and file_ndim != ndim):
        raise DataError(f"{name}: wrong magic number 0x{magic:08x} ({_expected_magic(ndim)})")
    header = 4 + 4 * file_ndim
    if len(data) < header:
        raise DataError(f"{name}: header cut short ({len(data)} bytes, need {header})")
    dims = tuple(int.from_bytes(data[i : i + 4], "big") for i in range(4, header, 4))
    expected = math.prod(dims)  # Python ints: no overflow however large the header claims
    got = len(data) - header
    if got != expected:
        problem = "truncated" if got < expected else "trailing bytes"
        raise DataError(
            f"{name}: {problem}: dimensions {'x'.join(map(str, dims))} need {expected} "
            f"data bytes, found {got}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def _expected_magic(ndim: int | None) -> str:
    if ndim == 3:
        return f"expected 0x{IMAGES_MAGIC:08x} for images"
    if ndim == 1:
        return f"expected 0x{LABELS_MAGIC:08x} for labels"
    return "expected 0x000008NN for unsigned bytes"


def read_idx(path: PathLike, ndim: int | None = None, md5: str | None = None) -> np.ndarray:
    """Read any unsigned-byte IDX file; `ndim` and `md5` (of the payload) are checked if given.

    The structure is checked before the checksum, so a damaged file is reported by what is
    wrong with it (magic, size) rather than by a bare checksum mismatch.
    """
    path = Path(path)
    data = read_payload(path)
    array = parse_idx(path.name, data, ndim)
    check_md5(path.name, data, md5)
    return array


def read_images(path: PathLike, md5: str | None = None) -> np.ndarray:
    """Images as a read-only (N, rows, cols) uint8 array."""
    return read_idx(path, 3, md5)


def read_labels(path: PathLike, md5: str | None = None) -> np.ndarray:
    """Labels as a read-only (N,) uint8 array, every one in 0..9."""
    path = Path(path)
    data = read_payload(path)
    labels = check_labels(path.name, parse_idx(path.name, data, 1))
    check_md5(path.name, data, md5)
    return labels


def check_labels(name: str, labels: np.ndarray) -> np.ndarray:
    if labels.size and labels.max() >= N_CLASSES:
        bad = int(np.argmax(labels >= N_CLASSES))
        raise DataError(f"{name}: label {labels[bad]} at index {bad} is not in 0..9")
    return labels


def read_pair(
    images_path: PathLike,
    labels_path: PathLike,
    images_md5: str | None = None,
    labels_md5: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Images and their labels; structure and counts are checked before the checksums."""
    images_path, labels_path = Path(images_path), Path(labels_path)
    image_data, label_data = read_payload(images_path), read_payload(labels_path)
    images = parse_idx(images_path.name, image_data, 3)
    labels = check_labels(labels_path.name, parse_idx(labels_path.name, label_data, 1))
    if len(images) != len(labels):
        raise DataError(
            f"{images_path.name} has {len(images)} images but "
            f"{labels_path.name} has {len(labels)} labels"
        )
    check_md5(images_path.name, image_data, images_md5)
    check_md5(labels_path.name, label_data, labels_md5)
    return images, labels
