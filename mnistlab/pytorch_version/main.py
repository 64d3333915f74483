"""The PyTorch lab's entry point: `.venv/bin/python mnistlab/pytorch_version/main.py [flags]`.

The same as `mnistlab train --backend torch [flags]`; it exists so the lab's entry point
has the name the lab hand-out uses. Every flag of `mnistlab train` works here too, except
`--backend numpy`, which is refused (numpy_version/main.py trains that version).
"""

import sys

try:
    from mnistlab.cli import lab_main
except ModuleNotFoundError as exc:  # mnistlab or numpy is not installed for this Python
    print(
        f"main.py: {sys.executable} cannot import {exc.name}; run `make setup`, then "
        "`.venv/bin/python mnistlab/pytorch_version/main.py` from the clone's root",
        file=sys.stderr,
    )
    raise SystemExit(2) from None

if __name__ == "__main__":
    raise SystemExit(lab_main("torch", sys.argv[1:]))
