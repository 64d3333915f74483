"""Finding the data: the user's choice wins, and downloads survive bad mirrors."""

from __future__ import annotations

import dataclasses
import gzip
import io
import re
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from mnistlab.data import idx, sources
from mnistlab.errors import DataError, UserError

MNIST = sources.DATASETS["mnist"]
GZ_NAMES = sorted(f"{f.name}.gz" for f in MNIST.files)
TIMEOUT = 0.5


def fake_dir(path: Path, gz: bool = True) -> Path:
    """A directory holding the four file names (enough for locating, not for reading)."""
    path.mkdir(parents=True)
    for file in MNIST.files:
        (path / (f"{file.name}.gz" if gz else file.name)).touch()
    return path


@pytest.fixture
def no_download(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("locate() must not download here")

    monkeypatch.setattr(sources, "download", refuse)


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(sources.ENV_VAR, raising=False)
    return {
        "flag": fake_dir(tmp_path / "flag"),
        "env": fake_dir(tmp_path / "env", gz=False),
        "cwd": fake_dir(tmp_path / "data" / "mnist"),
    }


@pytest.mark.usefixtures("no_download")
def test_locate_order(dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sources.ENV_VAR, str(dirs["env"]))
    assert sources.locate(data_dir=dirs["flag"]) == dirs["flag"]
    assert sources.locate() == dirs["env"]
    monkeypatch.delenv(sources.ENV_VAR)
    assert sources.locate().resolve() == dirs["cwd"]


def test_find_searches_for_mnist_by_default_and_never_downloads(
    dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "download", None)  # find must not reach it
    monkeypatch.setenv(sources.ENV_VAR, str(dirs["env"]))
    assert sources.find() == dirs["env"]
    monkeypatch.delenv(sources.ENV_VAR)
    assert sources.find().resolve() == dirs["cwd"]
    monkeypatch.chdir(dirs["flag"])  # no data/ here
    assert sources.find() is None


@pytest.mark.usefixtures("no_download")
def test_empty_env_var_is_unset(dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sources.ENV_VAR, "")
    assert sources.locate().resolve() == dirs["cwd"]


@pytest.mark.usefixtures("no_download")
def test_named_directory_must_exist(dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    missing = dirs["flag"].parent / "typo"
    with pytest.raises(DataError, match=re.escape(f"data directory {missing} does not exist")):
        sources.locate(data_dir=missing)
    monkeypatch.setenv(sources.ENV_VAR, str(missing))
    with pytest.raises(DataError, match="does not exist"):
        sources.locate()


@pytest.mark.usefixtures("no_download")
def test_named_directory_must_hold_the_files(dirs: dict[str, Path]) -> None:
    (dirs["flag"] / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"has no t10k-labels-idx1-ubyte\(\.gz\)"):
        sources.locate(data_dir=dirs["flag"])


def test_default_dir_downloads_what_is_missing(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(sources.ENV_VAR, raising=False)
    calls = []
    monkeypatch.setattr(sources, "download", lambda *args: calls.append(args))
    assert sources.locate(mirrors=["http://127.0.0.1:1/"]) == sources.DEFAULT_DIR
    assert calls[0][0] == sources.DEFAULT_DIR and calls[0][2] == ["http://127.0.0.1:1/"]


FASHION = sources.DATASETS["fashion-mnist"]


@pytest.fixture
def fashion_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Every place Fashion-MNIST may be found, each holding its four file names."""
    monkeypatch.chdir(tmp_path)
    system = fake_dir(tmp_path / "usr-share" / "fashion-mnist")
    monkeypatch.setitem(
        sources.DATASETS, "fashion-mnist", dataclasses.replace(FASHION, system_dir=system)
    )
    return {
        "flag": fake_dir(tmp_path / "flag"),
        "env": fake_dir(tmp_path / "root" / "fashion-mnist"),
        "cwd": fake_dir(tmp_path / "data" / "fashion-mnist"),
        "system": system,
    }


@pytest.mark.usefixtures("no_download")
def test_fashion_mnist_has_mnists_search_order(
    fashion_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = fashion_dirs["env"].parent
    monkeypatch.setenv(sources.ENV_VAR, str(root))
    assert sources.locate("fashion-mnist", fashion_dirs["flag"]) == fashion_dirs["flag"]
    assert sources.locate("fashion-mnist") == fashion_dirs["env"]
    monkeypatch.delenv(sources.ENV_VAR)
    assert sources.locate("fashion-mnist").resolve() == fashion_dirs["cwd"]
    shutil.rmtree(fashion_dirs["cwd"])
    assert sources.locate("fashion-mnist") == fashion_dirs["system"]


def test_fashion_mnist_downloads_into_data_fashion_mnist(
    fashion_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("cwd", "system"):
        shutil.rmtree(fashion_dirs[name])
    calls = []
    monkeypatch.setattr(sources, "download", lambda *args: calls.append(args))
    assert sources.locate("fashion-mnist") == Path("data/fashion-mnist")
    assert calls[0][0] == Path("data/fashion-mnist") and calls[0][1].name == "fashion-mnist"
    assert "amazonaws.com" in sources.DATASETS["fashion-mnist"].mirrors[0]


@pytest.mark.usefixtures("no_download")
def test_one_variable_serves_both_datasets(
    fashion_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """$MNISTLAB_DATA is laid out like data/; a folder of MNIST's own files still works."""
    root = fashion_dirs["env"].parent
    fake_dir(root / "mnist")
    monkeypatch.setenv(sources.ENV_VAR, str(root))
    assert sources.locate("mnist") == root / "mnist"
    assert sources.locate("fashion-mnist") == root / "fashion-mnist"
    # The older use: the variable names MNIST's folder. Fashion-MNIST is looked for on.
    monkeypatch.setenv(sources.ENV_VAR, str(fashion_dirs["flag"]))
    assert sources.locate("mnist") == fashion_dirs["flag"]
    assert sources.locate("fashion-mnist").resolve() == fashion_dirs["cwd"]


def test_a_failed_download_leaves_no_empty_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(sources.ENV_VAR, raising=False)
    with pytest.raises(DataError, match=r"download MNIST's four files yourself into data/mnis"):
        sources.locate(mirrors=["http://127.0.0.1:1/"], timeout=TIMEOUT)
    assert list(tmp_path.iterdir()) == []  # neither data/mnist/ nor data/
    err = capsys.readouterr().err
    assert f"MNIST not found: downloading it into {tmp_path / 'data' / 'mnist'}/" in err
    # urllib's URLError is reported by its reason, without the wrapper's name
    refused = "warning: skipping http://127.0.0.1:1/train-images-idx3-ubyte.gz: [Errno"
    assert refused in err and "Connection refused" in err and "URLError" not in err


def test_unknown_dataset() -> None:
    known = re.escape("unknown dataset 'emnist' (known: mnist, fashion-mnist)")
    with pytest.raises(UserError, match=f"^{known}$"):
        sources.get_dataset("emnist")


def test_class_names_come_from_the_dataset() -> None:
    assert sources.class_names("mnist") == tuple("0123456789")
    assert sources.class_names("fashion-mnist") == sources.FASHION_CLASSES
    assert sources.FASHION_CLASSES[0] == "T-shirt/top"
    assert sources.FASHION_CLASSES[9] == "Ankle boot"


# A local web server with one mirror per misbehaviour, reached only on 127.0.0.1.


def flip_bytes(body: bytes) -> bytes:
    damaged = bytearray(body)
    for i in range(100, len(damaged), 997):
        damaged[i] ^= 0x5A
    return bytes(damaged)


def wrong_payload(body: bytes) -> bytes:
    """A well-formed gzip of a valid IDX file with one label or pixel changed: gzip's CRC
    passes, the header parses, and only the payload's MD5 can tell."""
    payload = bytearray(gzip.decompress(body))
    payload[-1] = (payload[-1] + 1) % 10
    return gzip.compress(bytes(payload))


class Mirror(BaseHTTPRequestHandler):
    """/<kind>/<file>: "good" serves the file; every other kind misbehaves in its own way
    ("images" serves only the image files, "nolength" sends no Content-Length)."""

    files: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        kind, _, name = self.path.strip("/").partition("/")
        body = self.files.get(name)
        if kind == "missing" or body is None or (kind == "images" and "images" not in name):
            self.send_error(404)
            return
        if kind == "slow":
            time.sleep(TIMEOUT * 3)
        if kind == "wrong":
            body = wrong_payload(body)
        self.send_response(200)
        if kind != "nolength":  # HTTP/1.0: the body then ends when the connection closes
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if kind == "corrupt":
            body = flip_bytes(body)
        if kind == "truncated":
            body = body[: len(body) // 2]
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class QuietServer(ThreadingHTTPServer):
    block_on_close = False  # do not wait for the slow mirror's handler

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that timed out and hung up is expected here


@pytest.fixture(scope="module")
def server(mnist_dir: Path) -> Iterator[str]:
    Mirror.files = {name: (mnist_dir / name).read_bytes() for name in GZ_NAMES}
    httpd = QuietServer(("127.0.0.1", 0), Mirror)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_download_skips_bad_mirrors(server: str, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(sources.ENV_VAR, raising=False)
    mirrors = [f"{server}/missing/", f"{server}/corrupt", f"{server}/good/"]
    dest = sources.locate(mirrors=mirrors, timeout=TIMEOUT)
    assert dest == sources.DEFAULT_DIR
    assert sorted(p.name for p in dest.iterdir()) == GZ_NAMES  # no temporary files left
    for file in MNIST.files:
        assert idx.md5_hex(idx.read_payload(dest / f"{file.name}.gz")) == file.md5
    warnings = capsys.readouterr().err.splitlines()
    assert sum("HTTP 404" in line for line in warnings) == 4
    for name in GZ_NAMES:  # each names the mirror's URL, then the file and what is wrong
        corrupt = f"warning: skipping {server}/corrupt/{name}: {name}: truncated or corrupt gzip"
        assert sum(line.startswith(corrupt) for line in warnings) == 1
    assert not any(".tmp" in line for line in warnings)  # errors name the real file
    assert not any("/good/" in line for line in warnings)
    assert sources.locate(mirrors=[f"{server}/missing/"]) == dest  # no second download


def test_download_survives_timeouts_and_cut_connections(server: str, tmp_path, capsys) -> None:
    file = MNIST.train_labels
    mirrors = [f"{server}/slow/", f"{server}/truncated/", f"{server}/good/"]
    path = sources.fetch(file, tmp_path, mirrors, timeout=TIMEOUT)
    assert path == tmp_path / "train-labels-idx1-ubyte.gz"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    err = capsys.readouterr().err
    assert "slow/train-labels-idx1-ubyte.gz: timed out" in err
    cut = f"skipping {server}/truncated/{path.name}: {path.name}: connection closed after"
    assert f"{cut} 14451 of 28902 bytes" in err


def test_the_timeout_reaches_every_request(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """locate → download → fetch → urlopen: a mirror slower than `timeout` is given up
    (the slow mirror does answer, after 3 × TIMEOUT: a lost timeout waits for it)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(sources.ENV_VAR, raising=False)
    sources.DEFAULT_DIR.mkdir(parents=True)
    for file in (MNIST.train_images, MNIST.test_images, MNIST.test_labels):
        (sources.DEFAULT_DIR / file.name).touch()  # present: only the labels are to fetch
    sources.locate(mirrors=[f"{server}/slow/", f"{server}/good/"], timeout=TIMEOUT)
    err = capsys.readouterr().err
    assert f"warning: skipping {server}/slow/train-labels-idx1-ubyte.gz: timed out" in err
    assert (sources.DEFAULT_DIR / "train-labels-idx1-ubyte.gz").stat().st_size == 28902


def test_a_mirror_that_sends_no_length_is_read_to_the_end(
    server: str, tmp_path: Path, capsys
) -> None:
    """Without Content-Length there is no total to check a short read against; the
    payload's MD5 still guards the file."""
    file = MNIST.train_labels
    path = sources.fetch(file, tmp_path, [f"{server}/nolength/"], timeout=TIMEOUT)
    assert idx.md5_hex(idx.read_payload(path)) == file.md5
    assert capsys.readouterr().err == ""


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_a_download_shows_a_progress_bar_then_erases_it(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    sources.fetch(MNIST.train_labels, tmp_path, [f"{server}/good/"], timeout=TIMEOUT)
    shown = screen.getvalue()
    frames = shown.split("\r")
    # the file's name, bytes done of its size in k/M, a rate in bytes per second
    assert frames[1].startswith("train-labels-idx1-ubyte.gz:   0%|")
    assert "| 0.00/28.9k [" in frames[1] and "?B/s]" in frames[1]
    # cleared when done, without a new line: the next output starts on a clean line
    assert frames[-1] == "" and frames[-2].strip() == "" and "\n" not in shown


def test_a_mirror_that_is_not_a_url_is_reported_by_its_error(tmp_path: Path, capsys) -> None:
    with pytest.raises(DataError, match=r"from any of the 1 mirror\(s\)"):
        sources.fetch(MNIST.train_labels, tmp_path, ["mirror.example.org/mnist/"])
    url = "mirror.example.org/mnist/train-labels-idx1-ubyte.gz"
    assert capsys.readouterr().err == (
        f"warning: skipping {url}: ValueError: unknown url type: '{url}'\n"
    )


def test_all_mirrors_fail(server: str, tmp_path: Path, capsys) -> None:
    dest = tmp_path / "mnist"
    mirrors = [f"{server}/missing/", f"{server}/corrupt/", f"{server}/truncated/"]
    with pytest.raises(
        DataError, match=r"from any of the 3 mirror\(s\).*\$MNISTLAB_DATA or --data-dir"
    ):
        sources.download(dest, MNIST, mirrors, timeout=TIMEOUT)
    assert not dest.exists()  # the folder this download created is not left behind empty
    assert len(capsys.readouterr().err.splitlines()) == 3


def test_a_failed_download_keeps_the_files_it_got(server: str, tmp_path: Path) -> None:
    """The next run fetches only what is missing; MNIST names no package to install."""
    dest = tmp_path / "new" / "mnist"
    message = (
        "could not download train-labels-idx1-ubyte.gz from any of the 1 mirror(s); "
        "download MNIST's four files yourself into data/mnist/, "
        "or point $MNISTLAB_DATA or --data-dir at the folder that holds them"
    )
    with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
        sources.download(dest, MNIST, [f"{server}/images/"], timeout=TIMEOUT)
    assert [p.name for p in dest.iterdir()] == ["train-images-idx3-ubyte.gz"]


def test_fashion_mnist_names_debians_package_when_no_mirror_serves_it(
    server: str, tmp_path: Path
) -> None:
    message = (
        "could not download train-labels-idx1-ubyte.gz from any of the 1 mirror(s); "
        "download Fashion-MNIST's four files yourself into data/fashion-mnist/, "
        "or point $MNISTLAB_DATA or --data-dir at the folder that holds them; "
        "or install Debian's copy: apt-get install dataset-fashion-mnist"
    )
    with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
        sources.fetch(FASHION.train_labels, tmp_path, [f"{server}/missing/"], TIMEOUT, FASHION)


def test_a_leftover_temporary_file_is_not_data(server: str, tmp_path: Path) -> None:
    partial = tmp_path / ".train-labels-idx1-ubyte.gz.x1y2.tmp"
    partial.write_bytes(Mirror.files["train-labels-idx1-ubyte.gz"][:100])
    for file in (MNIST.train_images, MNIST.test_images, MNIST.test_labels):
        (tmp_path / file.name).touch()  # present: only the labels are to fetch
    assert sources.find_file(tmp_path, MNIST.train_labels) is None
    sources.download(tmp_path, MNIST, [f"{server}/good/"], timeout=TIMEOUT)
    assert (tmp_path / "train-labels-idx1-ubyte.gz").stat().st_size == 28902


def test_a_well_formed_file_with_the_wrong_content_is_refused(
    server: str, tmp_path: Path, capsys
) -> None:
    file = MNIST.train_labels
    path = sources.fetch(file, tmp_path, [f"{server}/wrong/", f"{server}/good/"], timeout=TIMEOUT)
    assert idx.md5_hex(idx.read_payload(path)) == file.md5
    (warning,) = capsys.readouterr().err.splitlines()
    assert "/wrong/train-labels-idx1-ubyte.gz: train-labels-idx1-ubyte.gz: " in warning
    assert "checksum mismatch (MD5 " in warning and f"expected {file.md5})" in warning
    with pytest.raises(DataError, match=r"from any of the 1 mirror\(s\)"):
        sources.fetch(file, tmp_path / "empty", [f"{server}/wrong/"], timeout=TIMEOUT)


def test_mnistlab_data_downloads_what_make_test_needs_once(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """`make test` runs `mnistlab data` first: on a fresh machine it downloads MNIST, checked
    file by file, where the tests' fixture (`sources.find`) then finds it."""
    from mnistlab.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(sources.ENV_VAR, raising=False)
    mirrored = dataclasses.replace(MNIST, mirrors=(f"{server}/missing/", f"{server}/good/"))
    monkeypatch.setitem(sources.DATASETS, "mnist", mirrored)
    assert sources.find("mnist") is None
    assert main(["data"]) == 0
    out, err = capsys.readouterr()
    assert out == f"MNIST: {tmp_path / 'data' / 'mnist'}\n"
    assert "MNIST not found: downloading it into" in err
    assert sources.find("mnist") == sources.DEFAULT_DIR
    for file in MNIST.files:
        assert idx.md5_hex(idx.read_payload(sources.DEFAULT_DIR / f"{file.name}.gz")) == file.md5
    assert main(["data"]) == 0  # found now: nothing is fetched again
    assert capsys.readouterr() == (f"MNIST: {tmp_path / 'data' / 'mnist'}\n", "")


def test_mnistlab_data_without_a_mirror_says_how_to_provide_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from mnistlab.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(sources.ENV_VAR, raising=False)
    offline = dataclasses.replace(MNIST, mirrors=("http://127.0.0.1:1/",))
    monkeypatch.setitem(sources.DATASETS, "mnist", offline)
    assert main(["data"]) == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last == (
        "mnistlab data: error: could not download train-images-idx3-ubyte.gz from any of the "
        "1 mirror(s); download MNIST's four files yourself into data/mnist/, or point "
        "$MNISTLAB_DATA or --data-dir at the folder that holds them"
    )
    assert list(tmp_path.iterdir()) == []


def test_mnistlab_data_names_the_folder_the_search_finds(
    dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from mnistlab.cli import main

    assert main(["data", "--data-dir", str(dirs["flag"])]) == 0
    monkeypatch.setenv(sources.ENV_VAR, str(dirs["env"]))
    assert main(["data"]) == 0
    monkeypatch.delenv(sources.ENV_VAR)
    assert main(["data"]) == 0
    found = [line.split(": ", 1)[1] for line in capsys.readouterr().out.splitlines()]
    assert found == [str(dirs["flag"]), str(dirs["env"]), str(dirs["cwd"])]
