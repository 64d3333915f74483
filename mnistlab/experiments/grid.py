"""The sweep's grid: k hidden layers × m neurons each, parsed from the command line.

`--k 1,2,3` is a comma list; `--m` is a comma list of widths and/or inclusive ranges
`start:stop:step` (`16,32,100:300:100` → 16, 32, 100, 200, 300). Values are de-duplicated
and sorted, so two spellings of the same grid are the same grid (and resume each other).
Every mistake is a one-line `UserError`, found before any work starts.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from mnistlab.errors import UserError
from mnistlab.models.spec import MAX_HIDDEN_LAYERS, N_CLASSES, N_INPUTS

SEED_STRIDE = 1_000_003  # a prime larger than 1000·k + m for any sensible grid
MAX_RANGE_VALUES = 1_000  # a typo like 1:1000000:1 is refused instead of filling memory


@dataclass(frozen=True, order=True)
class Cell:
    """One network of the sweep: k hidden layers of m neurons each."""

    k: int
    m: int

    @property
    def hidden(self) -> tuple[int, ...]:
        return (self.m,) * self.k

    @property
    def n_params(self) -> int:
        """Weights and biases of 784 → m (×k) → 10: the tie-breaker when picking the best."""
        sizes = [N_INPUTS, *self.hidden, N_CLASSES]
        return sum(n_in * n_out + n_out for n_in, n_out in itertools.pairwise(sizes))


def cell_seed(base_seed: int, cell: Cell) -> int:
    """Each cell's own seed: base·1,000,003 + 1000·k + m.

    Deterministic, so a cell gives the same numbers whether it runs first, last, alone or
    after a resume; and distinct for distinct cells of one sweep (m < 1000, and even
    beyond that a clash needs 1000·k + m to coincide).
    """
    return base_seed * SEED_STRIDE + 1000 * cell.k + cell.m


def _ints(flag: str, text: str, part: str) -> int:
    try:
        return int(part)
    except ValueError:
        raise UserError(f"{flag} {text!r}: {part!r} is not a whole number") from None


def _parts(flag: str, text: str) -> list[str]:
    parts = [p.strip() for p in str(text).split(",")]
    if all(p == "" for p in parts):
        raise UserError(f"{flag} is empty: give at least one value")
    if any(p == "" for p in parts):
        raise UserError(f"{flag} {text!r} has an empty item between commas")
    return parts


def parse_k(text: str) -> list[int]:
    """'1,2,3' → [1, 2, 3]; each k must be 1..3 (the MLPs the lab builds)."""
    values = {_ints("--k", text, p) for p in _parts("--k", text)}
    for k in sorted(values):
        if not 1 <= k <= MAX_HIDDEN_LAYERS:
            raise UserError(
                f"--k {text!r}: the number of hidden layers must be 1 to {MAX_HIDDEN_LAYERS}, "
                f"got {k}"
            )
    return sorted(values)


def _expand_range(text: str, part: str) -> range:
    pieces = part.split(":")
    if len(pieces) != 3:
        raise UserError(f"--m {text!r}: a range is start:stop:step, got {part!r}")
    start, stop, step = (_ints("--m", text, p.strip()) for p in pieces)
    if step <= 0:
        raise UserError(f"--m {text!r}: the step of {part!r} must be positive, got {step}")
    if stop < start:
        raise UserError(f"--m {text!r}: the range {part!r} stops ({stop}) before it starts")
    values = range(start, stop + 1, step)  # stop is included when a step lands on it
    if len(values) > MAX_RANGE_VALUES:
        raise UserError(
            f"--m {text!r}: the range {part!r} has {len(values):,} values "
            f"(at most {MAX_RANGE_VALUES:,}); use a larger step"
        )
    return values


def parse_m(text: str) -> list[int]:
    """'16,32,100:300:100' → [16, 32, 100, 200, 300]; each m must be at least 1."""
    values: set[int] = set()
    for part in _parts("--m", text):
        if ":" in part:
            values.update(_expand_range(text, part))
        else:
            values.add(_ints("--m", text, part))
    bad = [m for m in sorted(values) if m < 1]
    if bad:
        raise UserError(f"--m {text!r}: every layer needs at least one neuron, got {bad[0]}")
    return sorted(values)


@dataclass(frozen=True)
class Grid:
    """The k values and m values; the cells are their product, in (k, m) order."""

    ks: tuple[int, ...]
    ms: tuple[int, ...]

    @property
    def cells(self) -> list[Cell]:
        return [Cell(k, m) for k in self.ks for m in self.ms]

    def __len__(self) -> int:
        return len(self.ks) * len(self.ms)

    def to_json(self) -> dict[str, list[int]]:
        return {"k": list(self.ks), "m": list(self.ms)}

    def describe(self) -> str:
        ks = ",".join(map(str, self.ks))
        ms = ",".join(map(str, self.ms))
        return f"k ∈ {{{ks}}} × m ∈ {{{ms}}}"


def parse_grid(k_text: str, m_text: str) -> Grid:
    """Both flags at once: the grid the command line describes."""
    return Grid(ks=tuple(parse_k(k_text)), ms=tuple(parse_m(m_text)))
