"""`mnistlab serve [MODEL_FILE]`: a page to draw digits on and watch a network read them.

Serves the page and its JSON API (`/api/predict`, `/api/model`, `/healthz`, OpenAPI docs
at `/docs`) with uvicorn, on 127.0.0.1 unless --host says otherwise. The training view at
`/live` starts, watches and steers runs under --runs, each `mnistlab train` in its own
process (docs/live.md); when the server stops, they stop at a clean point, resumable.
Without MODEL_FILE it uses runs/default-model/model.safetensors, and trains that first
when it is missing (the quickest recipe that reaches about 99%: `--recipe fast`), so it
works on a fresh clone.
"""

from __future__ import annotations

import argparse
import errno
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mnistlab.commands import common
from mnistlab.errors import UserError

if TYPE_CHECKING:
    from mnistlab.config import TrainConfig
    from mnistlab.models.spec import ModelSpec

DEFAULT_MODEL = Path("runs/default-model/model.safetensors")
MAX_TRAININGS = 8  # each training takes a core or two: more would starve the page


def quickest_99_recipe() -> tuple[ModelSpec, TrainConfig, str]:
    """(architecture, training settings, backend) of the quickest recipe reaching ~99% test.

    The one place that chooses it: the fast recipe (`--recipe fast`, one epoch of the
    convnet, about 99.0% test on average; README, Speed), on NumPy so that serving needs no
    torch. LeNet-5's recipe reaches 99.2% but trains 15 epochs.
    """
    from mnistlab.config import get_recipe
    from mnistlab.models.spec import build_spec

    recipe = get_recipe("fast")
    return build_spec(recipe.model, None, "relu"), recipe.config(), "numpy"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="a web page to draw digits on and watch the network read them",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "model_file",
        metavar="MODEL_FILE",
        nargs="?",
        default=None,
        help=f"a model.safetensors from train (default: {DEFAULT_MODEL}, trained if missing)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument(
        "--port",
        type=int,
        default=8000,
        help="port to listen on; 0 picks a free one (default: 8000)",
    )
    common.add_backend_flag(p)
    p.add_argument(
        "--data-dir",
        default=None,
        help="where MNIST is, for training the default model and the page's runs "
        "(else $MNISTLAB_DATA, data/mnist)",
    )
    p.add_argument(
        "--runs",
        default="runs",
        metavar="DIR",
        help="the run root: the training view (/live) lists, starts and streams the runs "
        "in DIR (default: runs)",
    )
    p.add_argument(
        "--max-trainings",
        type=int,
        default=1,
        metavar="N",
        help="trainings the page may run at once, each in its own process (default: 1)",
    )
    p.add_argument(
        "--allow-training",
        action="store_true",
        help="let the page start, steer and resume trainings although --host listens "
        "beyond this machine (on 127.0.0.1 they are always allowed)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import anyio
    import uvicorn

    from mnistlab.inference import Predictor
    from mnistlab.web.app import create_app
    from mnistlab.web.runs import Trainings, add_training

    if not 1 <= args.max_trainings <= MAX_TRAININGS:
        raise UserError(f"--max-trainings must be 1 to {MAX_TRAININGS}, got {args.max_trainings}")
    path = Path(args.model_file) if args.model_file else DEFAULT_MODEL
    must_train = args.model_file is None and not path.exists()
    # The model first (a missing or broken file is the error to report), then the port,
    # and only then any training: a port in use fails now, not after it.
    predictor = None if must_train else Predictor.from_file(path, args.backend)
    sock = bind(args.host, args.port)
    if predictor is None:
        train_default_model(path.parent, args.data_dir)
        predictor = Predictor.from_file(path, args.backend)
    host, port = sock.getsockname()[:2]
    url_host = f"[{host}]" if ":" in host else host
    print(
        f"serving {predictor.model.spec.describe()} from {path} on {args.backend} at "
        f"http://{url_host}:{port}/ (Ctrl-C stops)",
        flush=True,
    )
    steering = args.allow_training or is_local(host)
    trainings = Trainings(
        Path(args.runs), max_trainings=args.max_trainings, steering=steering,
        data_dir=args.data_dir,
    )  # fmt: skip
    print(
        f"training view at http://{url_host}:{port}/live, runs in {args.runs}/"
        + ("" if steering else " (watch only: --allow-training lets the page start runs)"),
        flush=True,
    )
    app = create_app(predictor)
    add_training(app, trainings)
    config = uvicorn.Config(app, log_level="warning", access_log=False)

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            trainings.stop_all()  # each stops at once, its finished epochs saved
            super().handle_exit(sig, frame)

        async def shutdown(self, sockets: Any = None) -> None:
            await super().shutdown(sockets)
            # before uvicorn re-raises the signal that stopped it, which ends this process
            await anyio.to_thread.run_sync(trainings.wait_all)

    try:
        Server(config).run(sockets=[sock])
    finally:
        trainings.stop_all()
        trainings.wait_all()
    return 0


def is_local(host: str) -> bool:
    """Whether `host` (as bound) is reachable from this machine only."""
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket on (host, port), or one line saying why there is none."""
    if not 0 <= port <= 65535:
        raise UserError(f"--port must be 0 to 65535, got {port}")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise UserError(
            f"--host {host}: not an address this machine knows ({exc.strerror})"
        ) from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UserError(
                f"port {port} on {host} is already in use: stop what runs there or pass --port"
            ) from None
        raise UserError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    return sock


def train_default_model(out: Path, data_dir: str | None) -> None:
    """Train the quickest 99% recipe into `out` (with a progress bar), saying so first.

    It trains into a sibling directory that is renamed at the end, so an interrupted
    training never leaves a half-trained default model to be served next time.
    """
    import shutil

    from mnistlab.data.mnist import load_splits
    from mnistlab.training import train

    spec, config, backend = quickest_99_recipe()
    print(
        f"no model at {out / 'model.safetensors'}: training {spec.describe()} on {backend} "
        f"first ({config.epochs} epoch{'s' if config.epochs != 1 else ''}, with a progress bar; "
        "it is kept for next time)",
        flush=True,
    )
    splits = load_splits("mnist", data_dir)
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    train(spec, config, splits, backend, partial)
    out.mkdir(parents=True, exist_ok=True)
    for done in partial.iterdir():  # the model last, so it appears only when all is there
        if done.name != "model.safetensors":
            done.replace(out / done.name)
    (partial / "model.safetensors").replace(out / "model.safetensors")
    shutil.rmtree(partial, ignore_errors=True)
