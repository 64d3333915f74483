"""The NumPy lab's entry point: `.venv/bin/python mnistlab/numpy_version/main.py [flags]`.

The same as `mnistlab train --backend numpy [flags]`, so the lab can be run the way
Nielsen's network.py is, from its own file, while all the flags stay in one place. It
trains the NumPy version only: `--backend torch` is refused (pytorch_version/main.py).
"""

import sys

try:
    from mnistlab.cli import lab_main
except ModuleNotFoundError as exc:  # mnistlab or numpy is not installed for this Python
    print(
        f"main.py: {sys.executable} cannot import {exc.name}; run `make setup`, then "
        "`.venv/bin/python mnistlab/numpy_version/main.py` from the clone's root",
        file=sys.stderr,
    )
    raise SystemExit(2) from None

if __name__ == "__main__":
    raise SystemExit(lab_main("numpy", sys.argv[1:]))
