"""The PyTorch backend.

Before torch loads its OpenMP runtime, idle OpenMP threads are told to sleep rather than
spin (OMP_WAIT_POLICY=PASSIVE, unless the environment already says otherwise). Between
two parallel operations an idle thread otherwise busy-waits, and on a shared machine the
spinning thread takes the core its own worker needs: on this project's 2-core machine
with other processes busy, a batch-256 convnet epoch took 145 s on two spinning threads,
39-43 s on two passive ones and 34-38 s on one. This only works if nothing imported torch
earlier in the process; `mnistlab` itself imports torch nowhere else.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# cuBLAS's deterministic mode needs a fixed workspace, and reads this when CUDA starts:
# set here, before anything can start it (pytorch_version/device.py: reproducible_cuda).
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
