"""`python mnistlab/pytorch_version/main.py [flags]`: the lab's PyTorch run.

The same as `mnistlab train --backend torch [flags]`; it exists so the lab's entry point has
the name the lab hand-out uses. Every flag of `mnistlab train` works here too.
"""

import sys

from mnistlab.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["train", "--backend", "torch", *sys.argv[1:]]))
