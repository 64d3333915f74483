"""θ: all of a model's parameters in one vector, with a named view for each tensor.

The layers read and write their weights through the views; the optimiser and the L2 term
see one contiguous vector, so a step is a handful of whole-vector NumPy calls instead of a
few per tensor. At batch 10 an epoch takes 5,000 steps and every NumPy call costs about
a microsecond however small its array, so this is worth ~0.1 s an epoch. Weights are laid
out first: the L2 term, which skips biases, touches one leading slice.
"""

from __future__ import annotations

import math

import numpy as np

from mnistlab.errors import UserError
from mnistlab.models.init import init_params
from mnistlab.models.spec import ModelSpec, is_weight, parameter_mismatch


class ParameterVector:
    """`vector` holds every parameter; `views[name]` is that tensor, shaped as in the spec."""

    def __init__(self, shapes: dict[str, tuple[int, ...]], dtype: np.dtype) -> None:
        self.shapes = dict(shapes)
        order = [n for n in shapes if is_weight(n)] + [n for n in shapes if not is_weight(n)]
        sizes = {name: math.prod(shape) for name, shape in shapes.items()}
        self.vector = np.zeros(sum(sizes.values()), dtype=dtype)
        self.n_weights = sum(sizes[n] for n in shapes if is_weight(n))
        offsets: dict[str, int] = {}
        start = 0
        for name in order:
            offsets[name] = start
            start += sizes[name]
        self.offsets = offsets
        self.views = self.named(self.vector)  # in the spec's order, the order of model files

    def named(self, vector: np.ndarray) -> dict[str, np.ndarray]:
        """Views of any vector laid out like θ (an optimiser's buffer, say), by name."""
        return {
            name: vector[self.offsets[name] : self.offsets[name] + math.prod(shape)].reshape(shape)
            for name, shape in self.shapes.items()
        }

    @classmethod
    def of(cls, spec: ModelSpec, params: dict[str, np.ndarray], dtype: np.dtype) -> ParameterVector:
        """A private copy of `params` in `dtype`, after checking names and shapes against spec."""
        problem = parameter_mismatch(spec, {n: np.asarray(v) for n, v in params.items()})
        if problem:
            raise UserError(problem)
        theta = cls(spec.parameter_shapes(), dtype)
        for name, view in theta.views.items():
            view[...] = params[name]
        return theta

    @classmethod
    def start(
        cls, spec: ModelSpec, params: dict[str, np.ndarray] | None, seed: int, dtype: np.dtype
    ) -> ParameterVector:
        """θ from `params` when given, else the seeded initial weights both backends share."""
        if params is None:
            params = init_params(spec, np.random.default_rng(seed), dtype)
        return cls.of(spec, params, dtype)

    def zeros_like(self) -> ParameterVector:
        """Same layout, all zeros: a home for gradients."""
        return ParameterVector(self.shapes, self.vector.dtype)

    @property
    def weights(self) -> np.ndarray:
        """The leading slice that holds every weight and no bias (a view)."""
        return self.vector[: self.n_weights]
