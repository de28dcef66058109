"""Which recurrent-path parameter each column of the influence matrix M (n x P) belongs to."""

from __future__ import annotations

import numpy as np

from rtrl.backend import array_module
from rtrl.model import BIASES, EGRU, MASKED


class InfluenceLayout:
    """Column layout of M in the order of ``rtrl.model.RECURRENT_PATH``.

    With ``masked_only`` (sparse RTRL) the weight groups hold only their unmasked entries, ordered
    by source (column of the weight matrix) and then row: the columns of W[:, j] are contiguous, so
    the columns still provably zero early in a sequence (sources that have not been non-zero yet)
    form a few long runs the influence update skips (``rtrl.reach``). Otherwise (dense RTRL) every
    entry, masked ones included (stored as zero), row-major.
    ``rows[name]`` / ``srcs[name]`` give, per column of a weight group, the unit i and the input
    or source unit j of W[i, j]; biases and thresholds have one column per unit. These index
    arrays are numpy; ``unflatten`` works on numpy or CuPy vectors (device copies are cached).
    """

    def __init__(self, model: EGRU, masked_only: bool) -> None:
        self.n_hidden = n = model.n_hidden
        self.shapes = {name: model.params[name].shape for name in MASKED}
        self.rows: dict[str, np.ndarray] = {}
        self.srcs: dict[str, np.ndarray] = {}
        self.start: dict[str, int] = {}
        col = 0
        for name in MASKED:
            if masked_only:  # source-major: np.nonzero of the transpose lists (source, row) pairs
                srcs, rows = np.nonzero(model.masks[name].T)
            else:
                rows, srcs = np.nonzero(np.ones(self.shapes[name], bool))
            self.rows[name], self.srcs[name] = rows.astype(np.int64), srcs.astype(np.int64)
            self.start[name] = col
            col += self.rows[name].size
        for name in BIASES + ("thr",):
            self.start[name] = col
            col += n
        self.n_columns = col
        self._device_index: dict[str, tuple] = {}

    def columns(self, name: str) -> slice:
        size = self.rows[name].size if name in self.rows else self.n_hidden
        return slice(self.start[name], self.start[name] + size)

    def unflatten(self, vector: np.ndarray) -> dict[str, np.ndarray]:
        """(P,) gradient vector -> dict of recurrent-path parameter arrays (same array module)."""
        xp = array_module(vector)
        out: dict[str, np.ndarray] = {}
        for name, shape in self.shapes.items():
            grad = xp.zeros(shape, vector.dtype)
            grad[self._index(name, xp)] = vector[self.columns(name)]
            out[name] = grad
        for name in BIASES + ("thr",):
            out[name] = vector[self.columns(name)].copy()
        return out

    def _index(self, name: str, xp) -> tuple:
        """(rows, srcs) of weight group ``name`` as arrays of module ``xp``."""
        if xp is np:
            return self.rows[name], self.srcs[name]
        if name not in self._device_index:
            self._device_index[name] = (xp.asarray(self.rows[name]), xp.asarray(self.srcs[name]))
        return self._device_index[name]
