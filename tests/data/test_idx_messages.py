"""Each IDX error names the file at fault and what was expected of it, word for word."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pytest

from mnistlab.data import idx
from mnistlab.errors import DataError


def write_idx(path: Path, arr: np.ndarray) -> Path:
    header = (0x0800 | arr.ndim).to_bytes(4, "big")
    header += b"".join(d.to_bytes(4, "big") for d in arr.shape)
    path.write_bytes(header + arr.astype(np.uint8).tobytes())
    return path


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    images = write_idx(tmp_path / "img.idx", np.arange(2 * 3 * 3).reshape(2, 3, 3))
    labels = write_idx(tmp_path / "lab.idx", np.array([4, 7]))
    return images, labels


def raises(message: str):
    return pytest.raises(DataError, match="^" + re.escape(message) + "$")


def test_read_pair_names_the_file_with_the_wrong_magic(pair: tuple[Path, Path]) -> None:
    images, labels = pair
    with raises("lab.idx: wrong magic number 0x00000801 (expected 0x00000803 for images)"):
        idx.read_pair(labels, labels)
    with raises("img.idx: wrong magic number 0x00000803 (expected 0x00000801 for labels)"):
        idx.read_pair(images, images)
    with raises("img.idx: wrong magic number 0x00000803 (expected 0x00000801 for labels)"):
        idx.read_labels(images)


def test_read_pair_names_the_file_with_the_wrong_checksum(pair: tuple[Path, Path]) -> None:
    images, labels = pair
    right = (idx.md5_hex(images.read_bytes()), idx.md5_hex(labels.read_bytes()))
    x, y = idx.read_pair(images, labels, *right)
    assert x.shape == (2, 3, 3) and y.tolist() == [4, 7]
    wrong = "0" * 32
    with raises(f"img.idx: checksum mismatch (MD5 {right[0]}, expected {wrong})"):
        idx.read_pair(images, labels, wrong, right[1])
    with raises(f"lab.idx: checksum mismatch (MD5 {right[1]}, expected {wrong})"):
        idx.read_pair(images, labels, right[0], wrong)
    with raises(f"lab.idx: checksum mismatch (MD5 {right[1]}, expected {wrong})"):
        idx.read_labels(labels, wrong)


def test_a_bad_type_byte_without_a_dimension_to_expect() -> None:
    data = bytes([0, 0, 0x09, 1]) + (1).to_bytes(4, "big") + b"\x05"
    with raises("f: wrong magic number 0x00000901 (expected 0x000008NN for unsigned bytes)"):
        idx.parse_idx("f", data)
    assert idx.parse_idx("f", bytes([0, 0, 8, 1]) + (1).to_bytes(4, "big") + b"\x05").tolist() == [
        5
    ]


def test_md5_hex_is_the_md5_of_the_payload() -> None:
    assert idx.md5_hex(b"") == "d41d8cd98f00b204e9800998ecf8427e"  # RFC 1321's test suite
    assert idx.md5_hex(b"abc") == "900150983cd24fb0d6963f7d28e17f72"


def test_four_bytes_are_a_magic_number_without_its_dimensions() -> None:
    with raises("f: too short for an IDX header (3 bytes)"):
        idx.parse_idx("f", bytes([0, 0, 8]))
    with raises("f: header cut short (4 bytes, need 8)"):
        idx.parse_idx("f", bytes([0, 0, 8, 1]))


def test_read_images_checks_the_checksum_it_is_given(pair: tuple[Path, Path]) -> None:
    images, _ = pair
    right, wrong = idx.md5_hex(images.read_bytes()), "f" * 32
    assert idx.read_images(images, right).shape == (2, 3, 3)
    with raises(f"img.idx: checksum mismatch (MD5 {right}, expected {wrong})"):
        idx.read_images(images, wrong)


def test_size_errors_say_which_way_and_by_how_much() -> None:
    header = bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in (2, 3, 3))
    with raises("f: truncated: dimensions 2x3x3 need 18 data bytes, found 17"):
        idx.parse_idx("f", header + bytes(17))
    with raises("f: trailing bytes: dimensions 2x3x3 need 18 data bytes, found 19"):
        idx.parse_idx("f", header + bytes(19))


def test_an_empty_set_is_a_header_alone() -> None:
    labels = idx.parse_idx("f", bytes([0, 0, 8, 1]) + (0).to_bytes(4, "big"), 1)
    assert labels.shape == (0,)


def test_a_cut_gzip_stream_says_so(tmp_path: Path) -> None:
    path = tmp_path / "lab.idx.gz"
    path.write_bytes(
        gzip.compress(bytes([0, 0, 8, 1]) + (300).to_bytes(4, "big") + bytes(300))[:-30]
    )
    with raises("lab.idx.gz: truncated or corrupt gzip data (compressed stream ends early)"):
        idx.read_labels(path)


def test_an_unreadable_file_gives_the_reason(tmp_path: Path) -> None:
    with raises(f"{tmp_path / 'none.idx'}: cannot read (No such file or directory)"):
        idx.read_labels(tmp_path / "none.idx")
    with raises(f"{tmp_path}: cannot read (Is a directory)"):
        idx.read_labels(tmp_path)


def test_a_label_out_of_range_names_the_labels_file(pair: tuple[Path, Path]) -> None:
    images, labels = pair
    write_idx(labels, np.array([4, 12]))
    with raises("lab.idx: label 12 at index 1 is not in 0..9"):
        idx.read_pair(images, labels)
