"""mnistlab: train, compare and understand networks that read handwritten digits.

Every problem a user can fix is reported as one line on stderr with exit code 2 — never
a traceback. Heavy imports (torch, matplotlib) happen inside the commands that need them
so `mnistlab --help` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from mnistlab import __version__
from mnistlab.errors import UserError

COMMANDS = (
    "train",
    "evaluate",
    "predict",
    "serve",
    "summary",
    "gradcheck",
    "sweep",
    "compare",
    "report",
    "export",
)
EXIT_USAGE = 2
LAB_MAIN = {"numpy": "mnistlab/numpy_version/main.py", "torch": "mnistlab/pytorch_version/main.py"}


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and still exit code 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="mnistlab",
        description=__doc__.splitlines()[0],
        epilog="`mnistlab COMMAND --help` shows a command's flags.",
    )
    parser.add_argument("--version", action="version", version=f"mnistlab {__version__}")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=OneLineParser
    )
    for name in COMMANDS:
        importlib.import_module(f"mnistlab.commands.{name}").add_parser(sub)
    return parser


def _commands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def command_list(parser: argparse.ArgumentParser) -> str:
    """What bare `mnistlab` prints: every command with its one-line help."""
    sub = _commands(parser)
    width = max(len(name) for name in sub.choices)
    lines = [f"  {a.dest:<{width}}  {a.help}" for a in sub._choices_actions]
    return "\n".join(
        [parser.format_usage().rstrip(), "", "commands:", *lines, "", parser.epilog or ""]
    )


def parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Parse, letting the sub-command's parser report flags it does not know, so the error
    names the command (`mnistlab train: error: unrecognized arguments: --colour`)."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        _commands(parser).choices[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("MPLBACKEND", "Agg")
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    if not argv:
        print(command_list(parser), file=sys.stderr)
        return EXIT_USAGE
    try:
        args = parse(parser, argv)
    except BrokenPipeError:  # --help piped into head
        return quiet_broken_pipe()
    try:
        code = int(args.run(args) or 0)
        sys.stdout.flush()  # here, not at exit, so a closed pipe is caught below
        return code
    except BrokenPipeError:
        return quiet_broken_pipe()
    except UserError as exc:
        print(f"mnistlab {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"mnistlab {args.command}: interrupted", file=sys.stderr)
        return 130


def lab_main(backend: str, argv: list[str]) -> int:
    """A version's own main.py: `mnistlab train --backend BACKEND`, and only that backend
    (the lab's main.py of one version trains that version)."""
    full = ["train", "--backend", backend, *argv]
    args = parse(build_parser(), full)
    if args.backend != backend:
        other = args.backend
        print(
            f"{LAB_MAIN[backend]}: error: this main.py trains the {backend} version only; for "
            f"{other} run {LAB_MAIN[other]} or `mnistlab train --backend {other}`",
            file=sys.stderr,
        )
        return EXIT_USAGE
    return main(full)


def quiet_broken_pipe() -> int:
    """`mnistlab … | head`: the reader has gone, so stop quietly, as shell tools do.

    What is still buffered goes to /dev/null, or Python would fail again flushing it at
    exit. 141 = 128 + SIGPIPE, the status a shell gives a tool ended by a closed pipe.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 141


if __name__ == "__main__":
    raise SystemExit(main())
