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

COMMANDS = ("train", "evaluate", "summary", "gradcheck", "sweep", "compare", "report")
EXIT_USAGE = 2


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and still exit code 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="mnistlab", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"mnistlab {__version__}")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=OneLineParser
    )
    for name in COMMANDS:
        importlib.import_module(f"mnistlab.commands.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("MPLBACKEND", "Agg")
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except UserError as exc:
        print(f"mnistlab {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"mnistlab {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
