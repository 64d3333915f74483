"""`mnistlab data`: where a dataset is read from, downloading it first when it is nowhere.

Every command searches for its dataset in the same order (--data-dir, $MNISTLAB_DATA,
./data/<dataset>/, Debian's folder) and downloads into ./data/<dataset>/ when it finds
nothing, checksums verified. This command does only that, and prints the folder found:
`make test` runs it first, so the tests read MNIST the way every command does.
"""

from __future__ import annotations

import argparse

from mnistlab.commands import common


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "data",
        help="find a dataset (or download it) and print its folder",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common.add_data_flags(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mnistlab.data.sources import get_dataset, locate

    folder = locate(args.dataset, args.data_dir)
    print(f"{get_dataset(args.dataset).label}: {folder.resolve()}")
    return 0
