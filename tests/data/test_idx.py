"""The IDX reader turns every malformed file into DataError, never another exception."""

from __future__ import annotations

import gzip
import hashlib
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mnistlab.data import idx
from mnistlab.errors import DataError

FAST = settings(
    deadline=None, max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def idx_bytes(
    arr: np.ndarray, magic: int | None = None, dims: tuple[int, ...] | None = None
) -> bytes:
    magic = (0x0800 | arr.ndim) if magic is None else magic
    dims = arr.shape if dims is None else dims
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    return header + arr.astype(np.uint8).tobytes()


@st.composite
def arrays(draw: st.DrawFn) -> np.ndarray:
    """Small images (N, r, c) or labels (N,) with values a valid file may hold."""
    if draw(st.booleans()):
        shape = tuple(draw(st.lists(st.integers(1, 5), min_size=3, max_size=3)))
        values = st.integers(0, 255)
    else:
        shape = (draw(st.integers(1, 20)),)
        values = st.integers(0, 9)
    flat = draw(st.lists(values, min_size=math.prod(shape), max_size=math.prod(shape)))
    return np.array(flat, dtype=np.uint8).reshape(shape)


def reader(arr: np.ndarray) -> Callable[[Path], np.ndarray]:
    return idx.read_images if arr.ndim == 3 else idx.read_labels


def write(path: Path, data: bytes, compress: bool) -> Path:
    path = path.with_suffix(".gz") if compress else path.with_suffix("")
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def outcome(read: Callable[[Path], np.ndarray], path: Path) -> np.ndarray | None:
    """The array, or None after a one-line DataError that names the file."""
    try:
        return read(path)
    except DataError as exc:
        assert path.name in str(exc) and "\n" not in str(exc)
        return None


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    return tmp_path / "sample-idx-ubyte"


@FAST
@given(arr=arrays(), compress=st.booleans())
def test_round_trip(scratch: Path, arr: np.ndarray, compress: bool) -> None:
    out = reader(arr)(write(scratch, idx_bytes(arr), compress))
    assert out.dtype == np.uint8 and out.shape == arr.shape
    np.testing.assert_array_equal(out, arr)


@FAST
@given(arr=arrays(), compress=st.booleans(), data=st.data())
def test_truncated_file_is_an_error(scratch: Path, arr, compress, data) -> None:
    full = idx_bytes(arr)
    blob = gzip.compress(full) if compress else full
    cut = data.draw(st.integers(0, len(blob) - 1))
    path = scratch.with_suffix(".gz")
    path.write_bytes(blob[:cut])
    assert outcome(reader(arr), path) is None


@FAST
@given(arr=arrays(), compress=st.booleans(), data=st.data())
def test_header_byte_flip_is_an_error(scratch: Path, arr, compress, data) -> None:
    raw = bytearray(idx_bytes(arr))
    pos = data.draw(st.integers(0, 4 + 4 * arr.ndim - 1))
    raw[pos] ^= data.draw(st.integers(1, 255))
    assert outcome(reader(arr), write(scratch, bytes(raw), compress)) is None


@FAST
@given(arr=arrays(), magic=st.integers(0, 2**32 - 1), compress=st.booleans())
def test_wrong_magic_is_an_error(scratch: Path, arr, magic: int, compress: bool) -> None:
    assume(magic != 0x0800 | arr.ndim)
    path = write(scratch, idx_bytes(arr, magic=magic), compress)
    with pytest.raises(DataError, match="wrong magic number"):
        reader(arr)(path)


@FAST
@given(arr=arrays(), data=st.data(), compress=st.booleans())
def test_wrong_dims_are_an_error(scratch: Path, arr, data, compress: bool) -> None:
    dim = st.integers(0, 2**32 - 1)
    dims = tuple(data.draw(st.lists(dim, min_size=arr.ndim, max_size=arr.ndim)))
    assume(math.prod(dims) != arr.size)
    path = write(scratch, idx_bytes(arr, dims=dims), compress)
    with pytest.raises(DataError, match=r"truncated|trailing bytes"):
        reader(arr)(path)


@FAST
@given(arr=arrays(), extra=st.binary(min_size=1, max_size=32), compress=st.booleans())
def test_trailing_bytes_are_an_error(scratch: Path, arr, extra: bytes, compress: bool) -> None:
    path = write(scratch, idx_bytes(arr) + extra, compress)
    with pytest.raises(DataError, match="trailing bytes"):
        reader(arr)(path)


@FAST
@given(arr=arrays(), extra=st.binary(min_size=1, max_size=32))
def test_junk_after_gzip_stream(scratch: Path, arr, extra: bytes) -> None:
    path = scratch.with_suffix(".gz")
    path.write_bytes(gzip.compress(idx_bytes(arr)) + extra)
    out = outcome(reader(arr), path)
    assert out is None or np.array_equal(out, arr)


@FAST
@given(arr=arrays(), data=st.data())
def test_gzip_byte_flips(scratch: Path, arr, data) -> None:
    """A flip in the gzip header's mtime may be harmless; anything else must be caught."""
    blob = bytearray(gzip.compress(idx_bytes(arr)))
    for _ in range(data.draw(st.integers(1, 3))):
        blob[data.draw(st.integers(0, len(blob) - 1))] ^= data.draw(st.integers(1, 255))
    path = scratch.with_suffix(".gz")
    path.write_bytes(bytes(blob))
    out = outcome(reader(arr), path)
    assert out is None or np.array_equal(out, arr)


@FAST
@given(body=st.binary(max_size=200), ndim=st.sampled_from([None, 1, 3]))
def test_garbage_is_an_error_or_an_array(scratch: Path, body: bytes, ndim: int | None) -> None:
    for blob in (b"\x1f\x8b" + body, body):
        path = scratch.with_suffix(".gz")
        path.write_bytes(blob)
        out = outcome(lambda p: idx.read_idx(p, ndim), path)
        assert out is None or out.dtype == np.uint8


def test_wrong_magic_message(tmp_path: Path) -> None:
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((1, 2, 2)), magic=0x999)))
    with pytest.raises(DataError) as info:
        idx.read_images(path)
    assert str(info.value) == (
        "train-images-idx3-ubyte.gz: wrong magic number 0x00000999 (expected 0x00000803 for images)"
    )


def test_labels_file_is_not_images(tmp_path: Path) -> None:
    path = write(tmp_path / "labels", idx_bytes(np.arange(5)), compress=True)
    with pytest.raises(DataError, match="expected 0x00000803 for images"):
        idx.read_images(path)


def test_result_is_a_read_only_view(tmp_path: Path) -> None:
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    out = idx.read_images(write(tmp_path / "images", idx_bytes(arr), compress=False))
    assert not out.flags.writeable and out.flags.c_contiguous


def test_concatenated_gzip_members(tmp_path: Path) -> None:
    raw = idx_bytes(np.arange(10, dtype=np.uint8))
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(raw[:7]) + gzip.compress(raw[7:]))
    np.testing.assert_array_equal(idx.read_labels(path), np.arange(10))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nothing-here\.gz: cannot read"):
        idx.read_labels(tmp_path / "nothing-here.gz")


def test_label_out_of_range(tmp_path: Path) -> None:
    path = write(tmp_path / "labels", idx_bytes(np.array([0, 9, 10, 3])), compress=True)
    with pytest.raises(DataError, match=r"labels.gz: label 10 at index 2 is not in 0\.\.9"):
        idx.read_labels(path)


def test_count_mismatch(tmp_path: Path) -> None:
    images = write(tmp_path / "imgs", idx_bytes(np.zeros((3, 2, 2))), compress=True)
    labels = write(tmp_path / "labs", idx_bytes(np.zeros(4)), compress=False)
    with pytest.raises(DataError, match=r"imgs\.gz has 3 images but labs has 4 labels"):
        idx.read_pair(images, labels)
    labels.write_bytes(idx_bytes(np.array([1, 2, 3])))
    x, y = idx.read_pair(images, labels)
    assert x.shape == (3, 2, 2) and list(y) == [1, 2, 3]


def test_checksum_is_of_the_payload(tmp_path: Path) -> None:
    raw = idx_bytes(np.array([1, 2, 3]))
    path = write(tmp_path / "labels", raw, compress=True)
    payload_md5 = hashlib.md5(raw).hexdigest()
    assert list(idx.read_labels(path, md5=payload_md5)) == [1, 2, 3]
    assert list(idx.read_labels(path, md5=payload_md5.upper())) == [1, 2, 3]
    gz_md5 = hashlib.md5(path.read_bytes()).hexdigest()
    with pytest.raises(DataError, match=r"labels\.gz: checksum mismatch"):
        idx.read_labels(path, md5=gz_md5)
