"""The NumPy lab's entry point: `python mnistlab/numpy_version/main.py [flags]`.

The same as `mnistlab train --backend numpy [flags]`, so the lab can be run the way
Nielsen's network.py is, from its own folder, while all the flags stay in one place.
"""

import sys

from mnistlab.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["train", "--backend", "numpy", *sys.argv[1:]]))
