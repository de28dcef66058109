"""SRAM bank conflicts of an op's accesses, from the rows and columns the trace's index sets select.

Layout: a tensor (rows x cols, row-major, ``word_bytes`` per element) is stored with each row
padded to whole access words of the level (``width_bytes``): row i starts at access word i * P,
P = ceil(cols * word_bytes / width_bytes), and element (i, j) lies in access word
i * P + floor(j * word_bytes / width_bytes). Access words are interleaved over the level's banks
(word w in bank w mod banks). An op touching the rows R and columns C of the tensor (a part's
slices; a transposed part's rows are the stored columns) reads, per bank b,

    load_b = sum_o hR[o] * hC[(b - o) mod banks]

with hR[o] the selected rows whose start word is o mod banks and hC[u] the distinct column words
(words holding a selected column) in bank u of row 0. A bank serves one access per port and cycle,
so the part's port time is its conflict-free time times the **conflict factor**
banks * max_b load_b / sum_b load_b (1: every bank equally loaded; banks: one bank serves all).
Compressed parts stream their stored entries contiguously and PE-local levels belong to one PE:
both have factor 1.
"""

from __future__ import annotations

import math

import numpy as np

from accel_sim.config.schema import HardwareConfig
from accel_sim.trace.header import TraceHeader


def conflict_factor(rows: np.ndarray | None, cols: np.ndarray | None, shape: tuple[int, int],
                    word_bytes: float, width_bytes: int, banks: int) -> np.ndarray:
    """(r,) conflict factor (>= 1) of accessing ``rows`` x ``cols`` of a stored ``shape`` tensor:
    ``rows`` / ``cols`` are (r or 1, shape[0] / shape[1]) bool membership, None for every index."""
    n_rows, n_cols = shape
    if banks <= 1 or n_rows == 0 or n_cols == 0:
        return np.ones(max(_r(rows), _r(cols)))
    pitch = math.ceil(n_cols * word_bytes / width_bytes)
    row_bank = (np.arange(n_rows, dtype=np.int64) * pitch) % banks
    h_r = _histogram(rows, row_bank, banks, n_rows)  # (r or 1, banks)
    col_word = np.floor(np.arange(n_cols) * word_bytes / width_bytes).astype(np.int64)
    n_words = int(col_word[-1]) + 1
    if cols is None:
        touched = np.ones((1, n_words))
    else:
        touched = np.zeros((cols.shape[0], n_words))
        np.add.at(touched.T, col_word, cols.T.astype(np.float64))  # members per column word
        touched = (touched > 0).astype(np.float64)
    h_c = _histogram_dense(touched, np.arange(n_words) % banks, banks)
    shift = (np.arange(banks)[None, :] - np.arange(banks)[:, None]) % banks  # [o, b] = (b - o) mod banks
    r = max(h_r.shape[0], h_c.shape[0])  # cyclic convolution of the row offsets and the column words' banks
    loads = np.einsum("ro,rob->rb", np.broadcast_to(h_r, (r, banks)), np.broadcast_to(h_c[:, shift], (r, banks, banks)))
    total = loads.sum(axis=1)
    return np.where(total > 0, banks * loads.max(axis=1) / np.where(total > 0, total, 1.0), 1.0)


def _r(mask) -> int:
    return 1 if mask is None else mask.shape[0]


def _histogram(mask, bank, banks: int, size: int) -> np.ndarray:
    if mask is None:
        return np.bincount(bank, minlength=banks)[None, :].astype(np.float64)
    return _histogram_dense(mask.astype(np.float64), bank, banks)


def _histogram_dense(weights: np.ndarray, bank: np.ndarray, banks: int) -> np.ndarray:
    onehot = np.zeros((bank.shape[0], banks))
    onehot[np.arange(bank.shape[0]), bank] = 1.0
    return weights @ onehot


class BankModel:
    """Conflict factors of the declared ops' parts on one config: :meth:`factors` per batch."""

    def __init__(self, config: HardwareConfig, header: TraceHeader, plans, work) -> None:
        self.config, self.header, self.work = config, header, work
        self.word_bytes = config.pe_array.word_bytes
        self._static: dict[tuple[int, int], np.ndarray] = {}
        #: (op, part index) -> (stored shape, rows expression, cols expression, level) of the parts that can conflict
        self.parts: dict[tuple[int, int], tuple] = {}
        for oid, (decl, op_plan) in enumerate(zip(header.ops, plans)):
            for k, (part, pp) in enumerate(zip((*decl.a, *decl.b, *decl.z), op_plan.parts)):
                spec = config.sram[pp.level]
                if spec.banks <= 1 or spec.scope != "shared" or pp.compressed:
                    continue
                rows, cols = (part.cols, part.rows) if part.transpose else (part.rows, part.cols)
                self.parts[(oid, k)] = (header.tensor(part.tensor).shape, rows, cols, spec)

    def factors(self, oid: int, k: int, steps: np.ndarray, for_steps) -> np.ndarray | None:
        """(len(steps),) conflict factor of part ``k`` of declared op ``oid`` at the batch steps
        ``steps``; None when the part cannot conflict. ``for_steps``: the work model's set masks."""
        key = (oid, k)
        if key not in self.parts:
            return None
        shape, rows, cols, spec = self.parts[key]
        if self.work._static[oid]:
            if key not in self._static:
                expr = for_steps(steps[:1])
                self._static[key] = self._factor(expr, rows, cols, shape, spec)[:1]
            return np.broadcast_to(self._static[key], steps.shape)
        return np.broadcast_to(self._factor(for_steps(steps), rows, cols, shape, spec), steps.shape)

    def _factor(self, expr, rows, cols, shape, spec) -> np.ndarray:
        rm, cm = expr(rows), expr(cols)
        return conflict_factor(None if rm is None else rm.bool, None if cm is None else cm.bool, shape,
                               self.word_bytes, spec.width_bytes, spec.banks)
