"""Where the data files come from: a named directory, the working tree, a system package, or
a download from public mirrors.

Every dataset is searched for in the same order: --data-dir; $MNISTLAB_DATA; data/<name>/
under the current working directory; the system package's folder (Debian's
/usr/share/datasets/fashion-mnist); and last a download into data/<name>/. One variable
serves both datasets because it names a folder laid out like data/: MNIST is read from
$MNISTLAB_DATA/mnist/ and Fashion-MNIST from $MNISTLAB_DATA/fashion-mnist/. A folder that
itself holds MNIST's files (the older use of the variable) is MNIST's folder.

Checksums are of the uncompressed payload, never of the .gz file: mirrors and Debian
recompress the files, so the same data arrives in different gzip wrappers.
"""

from __future__ import annotations

import http.client
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mnistlab.bars import progress_bar
from mnistlab.data import idx
from mnistlab.errors import DataError, UserError
from mnistlab.fileio import atomic_path, missing_dirs, remove_empty_dirs

ENV_VAR = "MNISTLAB_DATA"
DEFAULT_ROOT = Path("data")  # relative to the current working directory, not to the clone
DEFAULT_DIR = DEFAULT_ROOT / "mnist"
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
FASHION_MIRRORS: tuple[str, ...] = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)
TIMEOUT_S = 30.0
CHUNK = 1 << 16
DIGITS = tuple(str(d) for d in range(10))


@dataclass(frozen=True)
class DataFile:
    name: str  # without ".gz"; either form is accepted on disk
    md5: str  # of the uncompressed bytes


@dataclass(frozen=True)
class Dataset:
    name: str
    train_images: DataFile
    train_labels: DataFile
    test_images: DataFile
    test_labels: DataFile
    mirrors: tuple[str, ...] = MIRRORS
    system_dir: Path | None = None  # where an OS package installs it
    install_hint: str = ""  # said when the download fails too
    label: str = "MNIST"  # the name people write
    classes: tuple[str, ...] = DIGITS  # label i's name, for every figure and table

    @property
    def files(self) -> tuple[DataFile, ...]:
        return (self.train_images, self.train_labels, self.test_images, self.test_labels)

    @property
    def default_dir(self) -> Path:
        return DEFAULT_ROOT / self.name


FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)  # Zalando's names for labels 0-9

DATASETS: dict[str, Dataset] = {
    "mnist": Dataset(
        "mnist",
        DataFile("train-images-idx3-ubyte", "6bbc9ace898e44ae57da46a324031adb"),
        DataFile("train-labels-idx1-ubyte", "a25bea736e30d166cdddb491f175f624"),
        DataFile("t10k-images-idx3-ubyte", "2646ac647ad5339dbf082846283269ea"),
        DataFile("t10k-labels-idx1-ubyte", "27ae3e4e09519cfbb04c329615203637"),
    ),
    # Debian's dataset-fashion-mnist recompresses the upstream files (the .gz MD5s differ
    # from Zalando's published ones); these payload MD5s match upstream's uncompressed files.
    "fashion-mnist": Dataset(
        "fashion-mnist",
        DataFile("train-images-idx3-ubyte", "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
        DataFile("train-labels-idx1-ubyte", "9018921c3c673c538a1fc5bad174d6f9"),
        DataFile("t10k-images-idx3-ubyte", "8181f5470baa50b63fa0f6fddb340f0a"),
        DataFile("t10k-labels-idx1-ubyte", "15d484375f8d13e6eb1aabb0c3f46965"),
        mirrors=FASHION_MIRRORS,
        system_dir=Path("/usr/share/datasets/fashion-mnist"),
        install_hint="or install Debian's copy: apt-get install dataset-fashion-mnist",
        label="Fashion-MNIST",
        classes=FASHION_CLASSES,
    ),
}


def get_dataset(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        known = ", ".join(DATASETS)
        raise UserError(f"unknown dataset {name!r} (known: {known})") from None


def class_names(name: str) -> tuple[str, ...]:
    """What labels 0-9 mean in dataset `name`: digits for MNIST, garments for Fashion."""
    return get_dataset(name).classes


def find_file(directory: Path, file: DataFile) -> Path | None:
    """The file in `directory`, gzipped or not; temporary download files never match."""
    for candidate in (directory / f"{file.name}.gz", directory / file.name):
        if candidate.is_file():
            return candidate
    return None


def file_paths(directory: Path, dataset: Dataset) -> list[Path]:
    """The dataset's four files in `directory`, in `Dataset.files` order, or DataError."""
    if not directory.is_dir():
        raise DataError(f"data directory {directory} does not exist")
    paths = []
    for file in dataset.files:
        path = find_file(directory, file)
        if path is None:
            raise DataError(f"{directory} has no {file.name}(.gz)")
        paths.append(path)
    return paths


def locate(
    dataset: str = "mnist",
    data_dir: str | os.PathLike[str] | None = None,
    mirrors: Sequence[str] | None = None,
    timeout: float = TIMEOUT_S,
) -> Path:
    """The directory to read `dataset` from, downloading it into data/<name>/ if need be.

    Order: `data_dir` (--data-dir), $MNISTLAB_DATA (see the module docstring), data/<name>/,
    the system package's directory, then a download into data/<name>/. A directory the user
    named must hold the files: silently downloading elsewhere would hide a typo.
    """
    spec = get_dataset(dataset)
    if data_dir is not None:
        file_paths(Path(data_dir), spec)
        return Path(data_dir)
    from_env = env_dir(spec)
    if from_env is not None:
        return from_env
    for directory in (spec.default_dir, spec.system_dir):
        if directory is not None and all(find_file(directory, f) for f in spec.files):
            return directory
    print(
        f"{spec.label} not found: downloading it into {spec.default_dir.resolve()}/",
        file=sys.stderr,
    )
    download(spec.default_dir, spec, mirrors, timeout)
    return spec.default_dir


def env_dir(spec: Dataset) -> Path | None:
    """The dataset's folder under $MNISTLAB_DATA, or None to go on searching.

    The variable must name an existing folder (else DataError: a typo). Inside it the
    dataset's subfolder, when present, must be complete; a folder holding MNIST's files
    directly is MNIST's folder. Without either, the search goes on: a variable set for
    MNIST alone does not stop Fashion-MNIST from being found elsewhere.
    """
    value = os.environ.get(ENV_VAR)
    if not value:
        return None
    root = Path(value)
    if not root.is_dir():
        raise DataError(f"data directory {root} (${ENV_VAR}) does not exist")
    sub = root / spec.name
    if sub.is_dir():
        file_paths(sub, spec)
        return sub
    if spec.name == "mnist" and any(find_file(root, f) for f in spec.files):
        file_paths(root, spec)
        return root
    return None


def download(
    dest: str | os.PathLike[str],
    dataset: Dataset,
    mirrors: Sequence[str] | None = None,
    timeout: float = TIMEOUT_S,
) -> None:
    """Fetch whichever of the dataset's files `dest` lacks.

    A failure leaves no empty folder behind: folders this call created and left empty
    are removed, so a later run does not mistake them for a data directory.
    """
    dest = Path(dest)
    created = missing_dirs(dest)
    urls = dataset.mirrors if mirrors is None else mirrors
    try:
        for file in dataset.files:
            if find_file(dest, file) is None:
                fetch(file, dest, urls, timeout, dataset)
    except BaseException:
        remove_empty_dirs(created)
        raise


def fetch(
    file: DataFile,
    dest: Path,
    mirrors: Sequence[str],
    timeout: float = TIMEOUT_S,
    dataset: Dataset | None = None,
) -> Path:
    """Download `file`.gz from the first mirror that serves it intact; return its path.

    The bytes go to a temporary file beside the target and are renamed into place only
    after the payload checksum passes, so an interrupted or corrupt download never
    looks like a good file.
    """
    target = dest / f"{file.name}.gz"
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + target.name
        try:
            with atomic_path(target) as tmp:
                _stream(url, tmp, timeout, target.name)
                payload = idx.gunzip(target.name, tmp.read_bytes())
                idx.check_md5(target.name, payload, file.md5)
            return target
        except (OSError, ValueError, http.client.HTTPException, DataError) as exc:
            print(f"warning: skipping {url}: {_reason(exc)}", file=sys.stderr)
    spec = dataset or DATASETS["mnist"]
    hint = f"; {spec.install_hint}" if spec.install_hint else ""
    raise DataError(
        f"could not download {target.name} from any of the {len(mirrors)} mirror(s); "
        f"download {spec.label} yourself and pass --data-dir{hint}"
    )


def _stream(url: str, path: Path, timeout: float, desc: str) -> None:
    got = 0  # counted here: a disabled progress bar counts nothing
    with urllib.request.urlopen(url, timeout=timeout) as response, path.open("wb") as out:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        bar = progress_bar(
            total=total, unit="B", unit_scale=True, desc=desc, disable=None, leave=False
        )
        with bar:
            while chunk := response.read(CHUNK):
                out.write(chunk)
                got += len(chunk)
                bar.update(len(chunk))
    if total is not None and got != total:
        raise DataError(f"{desc}: connection closed after {got} of {total} bytes")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, DataError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
