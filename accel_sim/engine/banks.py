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
from accel_sim.trace.work import _Mask


def conflict_factor(rows: np.ndarray | None, cols: np.ndarray | None, shape: tuple[int, int],
                    word_bytes: float, width_bytes: int, banks: int) -> np.ndarray:
    """(r,) conflict factor (>= 1) of accessing ``rows`` x ``cols`` of a stored ``shape`` tensor:
    ``rows`` / ``cols`` are (r or 1, shape[0] / shape[1]) bool membership, None for every index."""
    if banks <= 1 or shape[0] == 0 or shape[1] == 0:
        return np.ones(max(_r(rows), _r(cols)))
    geo = Geometry(shape, word_bytes, width_bytes, banks)
    return combine(geo.row_histogram(rows), geo.word_histogram(geo.words_of(cols)))


class Geometry:
    """Where a stored tensor's rows and column words fall among a level's banks."""

    def __init__(self, shape: tuple[int, int], word_bytes: float, width_bytes: int, banks: int) -> None:
        n_rows, n_cols = shape
        self.banks, self.n_cols = banks, n_cols
        pitch = math.ceil(n_cols * word_bytes / width_bytes)
        self.row_onehot = _onehot((np.arange(n_rows, dtype=np.int64) * pitch) % banks, banks)
        self.col_word = np.floor(np.arange(n_cols) * word_bytes / width_bytes).astype(np.int64)
        self.n_words = int(self.col_word[-1]) + 1
        self._exact = np.float32 if self.n_words < 2**24 else np.float64  # sums of 0/1: float32 is exact below 2^24
        self._groups: dict[int, list] = {}  # packed_histogram's bit groups and their banks, per row bytes
        self.word_onehot = _onehot(np.arange(self.n_words) % banks, banks).astype(np.float32)
        self.row_key = (n_rows, pitch, banks)  # what the row and column histograms depend on
        self.col_key = (n_cols, word_bytes, width_bytes, banks)
        self._starts = np.flatnonzero(np.diff(self.col_word, prepend=-1))
        per = width_bytes / word_bytes  # columns per access word
        self.per_word = int(per) if per >= 1 and per == int(per) and (per % 8 == 0 or 8 % int(per) == 0) else 0

    def row_histogram(self, rows: np.ndarray | None) -> np.ndarray:
        """(r or 1, banks) selected rows whose start word lies in each bank."""
        if rows is None:
            return self.row_onehot.sum(axis=0)[None, :]
        return rows.astype(np.float64) @ self.row_onehot

    def words_of(self, cols: np.ndarray | None) -> np.ndarray:
        """(r or 1, words) 1 where an access word of a row holds a selected column (bool ``cols``)."""
        if cols is None:
            return np.ones((1, self.n_words))
        touched = np.zeros((cols.shape[0], self.n_words))  # col_word is non-decreasing: reduce each word's run
        touched[:, self.col_word[self._starts]] = np.logical_or.reduceat(cols, self._starts, axis=1)
        return touched

    def packed_histogram(self, packed: np.ndarray) -> np.ndarray | None:
        """:meth:`word_histogram` of the words that little-endian packed column bits (rows, bytes)
        touch, without unpacking, when an access word holds a whole number of bytes' columns or a
        byte a whole number of words (None otherwise)."""
        per = self.per_word
        if not per:
            return None
        if per % 8 == 0:  # a word is per / 8 bytes
            nb = per // 8
            need = self.n_words * nb
            p = packed[:, :need] if packed.shape[1] >= need else np.pad(packed, ((0, 0), (0, need - packed.shape[1])))
            touched = p != 0 if nb == 1 else p.reshape(p.shape[0], self.n_words, nb).any(axis=2)
            return self.word_histogram(touched)
        q = 8 // per  # words per byte: word j * q + g is bits g * per ... of byte j
        nbytes = packed.shape[1]
        if nbytes not in self._groups:  # per bit group g: the bank of byte j's word (none beyond the row)
            words = np.arange(nbytes)[:, None] * q + np.arange(q)[None, :]
            banks = np.where(words < self.n_words, words % self.banks, self.banks)
            self._groups[nbytes] = [(np.uint8(((1 << per) - 1) << (g * per)),
                                     _onehot(banks[:, g], self.banks + 1)[:, :self.banks].astype(self._exact))
                                    for g in range(q)]
        out = np.zeros((packed.shape[0], self.banks), self._exact)
        for bits, onehot in self._groups[nbytes]:
            out += ((packed & bits) != 0).astype(self._exact) @ onehot
        return out.astype(np.float64)

    def word_histogram(self, touched: np.ndarray) -> np.ndarray:
        """(r or 1, banks) touched access words of row 0 in each bank (word w is in bank w mod banks)."""
        return (touched.astype(self._exact) @ self.word_onehot.astype(self._exact, copy=False)).astype(np.float64)


def combine(h_r: np.ndarray, h_c: np.ndarray) -> np.ndarray:
    """(r,) conflict factors from the rows' bank offsets and the column words' banks: the cyclic
    convolution load_b = sum_o h_r[o] h_c[(b - o) mod banks] (a circulant product when either side
    is one row; integer counts, so every order of summation gives the same floats)."""
    banks = h_r.shape[1]
    shift = (np.arange(banks)[None, :] - np.arange(banks)[:, None]) % banks  # [o, b] = (b - o) mod banks
    if h_r.shape[0] == 1:
        loads = h_c @ h_r[0][shift]  # [k, b] = h_r[(b - k) mod banks]
    elif h_c.shape[0] == 1:
        loads = h_r @ h_c[0][shift]
    else:
        loads = np.zeros((max(h_r.shape[0], h_c.shape[0]), banks))
        for o in range(banks):
            loads += h_r[:, o:o + 1] * np.roll(h_c, o, axis=1)
    total = loads.sum(axis=1)
    return np.where(total > 0, banks * loads.max(axis=1) / np.where(total > 0, total, 1.0), 1.0)


def _r(mask) -> int:
    return 1 if mask is None else mask.shape[0]


def _onehot(bank: np.ndarray, banks: int) -> np.ndarray:
    onehot = np.zeros((bank.shape[0], banks))
    onehot[np.arange(bank.shape[0]), bank] = 1.0
    return onehot


class BankModel:
    """Conflict factors of the declared ops' parts on one config: :meth:`begin` each batch, then
    :meth:`factors` per part (the rows' and column words' bank histograms are computed once per
    batch and set expression, for all the batch's steps)."""

    def __init__(self, config: HardwareConfig, header: TraceHeader, plans, work) -> None:
        self.config, self.header, self.work = config, header, work
        self.word_bytes = config.pe_array.word_bytes
        self._static: dict[tuple[int, int], np.ndarray] = {}
        #: (op, part index) -> (geometry, rows expression, cols expression) of the parts that can conflict
        self.parts: dict[tuple[int, int], tuple] = {}
        geometries: dict[tuple, Geometry] = {}
        for oid, (decl, op_plan) in enumerate(zip(header.ops, plans)):
            for k, (part, pp) in enumerate(zip((*decl.a, *decl.b, *decl.z), op_plan.parts)):
                spec = config.sram[pp.level]
                if spec.banks <= 1 or spec.scope != "shared" or pp.compressed:
                    continue
                rows, cols = (part.cols, part.rows) if part.transpose else (part.rows, part.cols)
                key = (header.tensor(part.tensor).shape, spec.width_bytes, spec.banks)
                if key not in geometries:
                    geometries[key] = Geometry(key[0], self.word_bytes, spec.width_bytes, spec.banks)
                self.parts[(oid, k)] = (geometries[key], rows, cols)
        self._expr, self._n = None, 0
        self._hist: dict = {}

    def begin(self, for_steps, n_steps: int) -> None:
        """A new batch of ``n_steps`` steps; ``for_steps``: the work model's set masks of it."""
        self._expr = for_steps(np.arange(n_steps))
        self._n = n_steps
        self._hist = {}

    def factors(self, oid: int, k: int, steps: np.ndarray) -> np.ndarray | None:
        """(len(steps),) conflict factor of part ``k`` of declared op ``oid`` at the batch steps
        ``steps``; None when the part cannot conflict."""
        key = (oid, k)
        if key not in self.parts:
            return None
        geo, rows, cols = self.parts[key]
        if self.work._static[oid]:
            if key not in self._static:
                self._static[key] = combine(self._hist_of(geo, rows, True, None)[:1],
                                            self._hist_of(geo, cols, False, None)[:1])
            return np.broadcast_to(self._static[key], steps.shape)
        if 2 * steps.size < self._n:  # an op at a few steps: its own steps only
            return np.broadcast_to(combine(self._hist_of(geo, rows, True, steps),
                                           self._hist_of(geo, cols, False, steps)), steps.shape)
        both = (geo.row_key, rows, geo.col_key, cols)  # every batch step, shared by parts alike
        if both not in self._hist:
            self._hist[both] = combine(self._hist_of(geo, rows, True, None), self._hist_of(geo, cols, False, None))
        f = self._hist[both]
        return np.broadcast_to(f if f.shape[0] == 1 else f[steps], steps.shape)

    def _hist_of(self, geo: Geometry, expr, rows: bool, steps: np.ndarray | None) -> np.ndarray:
        """(batch steps, ``steps`` or 1, banks) histogram of a set expression's rows / column words."""
        if steps is None:
            key = (rows, geo.row_key if rows else geo.col_key, expr)
            if key not in self._hist:
                self._hist[key] = self._histogram(geo, self._expr(expr), rows)
            return self._hist[key]
        m = self._expr(expr)
        return self._histogram(geo, None if m is None else (m if m.rows == 1 else _Mask(m.packed[steps], m.size)), rows)

    @staticmethod
    def _histogram(geo: Geometry, m, rows: bool) -> np.ndarray:
        if rows:
            return geo.row_histogram(None if m is None else m.bool)
        hist = None if m is None else geo.packed_histogram(m.packed)
        return geo.word_histogram(geo.words_of(None if m is None else m.bool)) if hist is None else hist
