"""The work of every op, derived from the header's declarations and each step's index sets.

For each op of a batch of steps (vectorised over the steps):

* its **domain**: the part of each operand it touches (the tensor, sliced to the part's rows /
  cols index sets; a ``compact`` tensor's domain holds only its pattern's entries), and the
  **non-zeros** in that domain (the tensor's pattern, its rows / cols restrictions, its diagonal);
* ``dense``: the operations if every element of the domain is processed, zeros included
  (matmul: m x k x n over the slices; elementwise: z's elements x per_element; scatter, gather,
  reduction: a's elements x per_element; index_decode: a's elements);
* ``effectual``: the operations whose operands are all non-zero (matmul: the pairs
  A[i, k] != 0 and B[k, j] != 0, i.e. sum over k of the non-zeros in A's column k times those in
  B's row k; for an outer product (k = 1) whose output has a structure, only the outputs it holds;
  a ``scale``d matmul adds one multiply per (non-zero) element of z);
* ``index_count``: indices decoded per step: the members of per-step slicing sets and of the set
  an index_decode produces.

Patterns are the header's until a mask-change record (rewiring) takes effect: from its step on
the work model uses the pattern with the record applied (:meth:`WorkModel.apply`; callers cut
batches where records take effect, ``accel_sim.trace.masks.MaskSchedule``), so every op after a
rewiring is costed on the structure in force.

These are properties of the trace alone (the learner's ``macs`` are kept only to cross-check
them); what the hardware does with zeros is the simulator's choice (``accel_sim.engine.demand``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from accel_sim.trace.header import MATMUL_KINDS, OP_KINDS, OpDecl, Part, Pattern, Tensor, TraceHeader, set_names
from accel_sim.trace.masks import apply_change
from accel_sim.trace.schema import MaskChange, SetLayout

ROLE_A, ROLE_B, ROLE_Z = 0, 1, 2


@dataclass
class PartWork:
    """One operand part of one declared op, over the batch's ops of that declared op: ``rows``
    (their indices in the batch), ``tensor`` (index into ``header.tensors``), ``role`` (ROLE_A /
    ROLE_B / ROLE_Z), per row ``dense`` (elements of its domain) and ``nonzero`` (non-zero elements
    in it), and ``structured`` (the tensor declares a pattern, restrictions or a diagonal: its
    non-zeros carry coordinates)."""

    rows: np.ndarray
    tensor: int
    role: int
    dense: np.ndarray
    nonzero: np.ndarray
    structured: bool
    op: int = -1  # the declared op (index into header.ops)


@dataclass
class OpWork:
    """Per op of a batch (arrays of length n_ops, in the batch's op order). ``kind``: code into
    OP_KINDS; ``label``: code into ``header.labels``; ``m, k, n``: a matmul's extents over its
    slices (other ops: m = the elements ``dense`` counts, k = n = 1); ``dense`` / ``effectual``:
    operations (MACs for matmuls); ``index_count``: indices decoded; ``accumulate``: z is
    read-modify-written; ``per_element``: operations per element (1 for matmuls); ``parts``: the
    operands' domains, one :class:`PartWork` per part of each declared op present."""

    step: np.ndarray
    op: np.ndarray
    kind: np.ndarray
    label: np.ndarray
    m: np.ndarray
    k: np.ndarray
    n: np.ndarray
    dense: np.ndarray
    effectual: np.ndarray
    index_count: np.ndarray
    accumulate: np.ndarray
    per_element: np.ndarray
    parts: list[PartWork]
    scale_dense: np.ndarray = None  # of ``dense`` / ``effectual``: a scaled matmul's multiplies of z
    scale_effectual: np.ndarray = None
    busiest: np.ndarray = None  # MACs of the busiest unit under ``spread`` (-1: not spread)

    @property
    def n_ops(self) -> int:
        return int(self.step.shape[0])


class _Frame:
    """A tensor as one op sees it (after the part's transpose): shape, pattern (scipy CSR and its
    counts), non-zero restrictions, diagonal, compactness and the part's slices."""

    def __init__(self, tensor: Tensor, part: Part, patterns: dict, luts: dict) -> None:
        r, c = tensor.shape
        nz_rows, nz_cols = tensor.rows, tensor.cols
        pattern = patterns[tensor.pattern] if tensor.pattern is not None else None
        if part.transpose:
            r, c, nz_rows, nz_cols = c, r, nz_cols, nz_rows
            pattern = pattern.T.tocsr() if pattern is not None else None
        self.pattern_key = (tensor.pattern, part.transpose)
        self.shape = (r, c)
        self.pattern = pattern
        if pattern is not None:
            self.colcnt = np.asarray(pattern.getnnz(axis=0), np.int64)
            self.rowcnt = np.asarray(pattern.getnnz(axis=1), np.int64)
            key = self.pattern_key
            if key not in luts:  # shared by every frame of the same pattern and orientation
                luts[key] = (_lut(self.colcnt), _lut(self.rowcnt))
            self.colcnt_lut, self.rowcnt_lut = luts[key]
            self.nnz = int(pattern.nnz)
            self.pdiag = _diag_presence(pattern, min(r, c))
        self.nz_rows, self.nz_cols = nz_rows, nz_cols
        self.diagonal, self.compact = tensor.diagonal, tensor.compact
        self.rows, self.cols = part.rows, part.cols
        self.structured = pattern is not None or nz_rows is not None or nz_cols is not None or tensor.diagonal
        self._transposed = None
        self._words = None

    def words(self) -> np.ndarray:
        """(ceil(cols / 64), rows) uint64: word j of every pattern row (little-endian bits of columns
        64 j ... 64 j + 63), built once."""
        if self._words is None:
            mask = self.pattern.toarray() != 0
            packed = np.packbits(mask, axis=1, bitorder="little")
            pad = -packed.shape[1] % 8
            self._words = np.ascontiguousarray(np.pad(packed, ((0, 0), (0, pad))).view(np.uint64).T)
        return self._words

    def transposed(self) -> "_Frame":
        """The same operand seen transposed (for B's per-row counts), built once."""
        if self._transposed is None:
            self._transposed = _transposed(self)
        return self._transposed


def _diag_presence(pattern: sp.csr_matrix, d: int) -> np.ndarray:
    """(d,) whether the pattern holds entry (i, i) (explicit entries count, whatever their value)."""
    out = np.zeros(d, bool)
    coo = pattern.tocoo()
    on = (coo.row == coo.col) & (coo.row < d)
    out[coo.row[on]] = True
    return out


_BITS = ((np.arange(256)[:, None] >> np.arange(8)[None, :]) & 1).astype(np.int64)  # (256, 8): bits of a byte


def _popcount(packed: np.ndarray) -> np.ndarray:
    """(rows,) int64 set bits of each row of a (rows, bytes) uint8 array (as 64-bit words)."""
    pad = -packed.shape[1] % 8
    words = np.pad(packed, ((0, 0), (0, pad))) if pad else np.ascontiguousarray(packed)
    return np.bitwise_count(words.view(np.uint64)).sum(axis=1, dtype=np.int64)


def _lut(weights: np.ndarray) -> np.ndarray:
    """(bytes, 256) int64: for each byte position b and byte value v, the sum of ``weights[8 b + j]``
    over the bits j set in v (little-endian bit order, as the set bitmaps)."""
    n_bytes = -(-weights.size // 8)
    w = np.zeros(8 * n_bytes, np.int64)
    w[:weights.size] = weights
    return (_BITS @ w.reshape(n_bytes, 8).T).T.copy()


class _Mask:
    """Per-op-row membership of one index-set expression: packed little-endian bits (rows or 1,
    bytes) of a set of ``size``, unpacked to bool only where a general count needs it."""

    __slots__ = ("packed", "size", "_bool", "_sums")

    def __init__(self, packed: np.ndarray, size: int) -> None:
        self.packed, self.size, self._bool, self._sums = packed, size, None, {}

    @property
    def rows(self) -> int:
        return self.packed.shape[0]

    @property
    def bool(self) -> np.ndarray:
        if self._bool is None:
            self._bool = np.unpackbits(self.packed, axis=1, count=self.size, bitorder="little").view(bool)
        return self._bool

    def __and__(self, other: "_Mask") -> "_Mask":
        return _Mask(self.packed & other.packed, self.size)

    def count(self) -> np.ndarray:
        """(rows,) members."""
        if None not in self._sums:
            self._sums[None] = _popcount(self.packed)
        return self._sums[None]

    def weighted(self, lut: np.ndarray) -> np.ndarray:
        """(rows,) sum of the weights (``_lut``) of the members."""
        key = id(lut)
        if key not in self._sums:
            n_bytes = lut.shape[0]
            flat = self.packed.astype(np.intp) + (256 * np.arange(n_bytes))[None, :]
            self._sums[key] = lut.ravel()[flat].sum(axis=1)
        return self._sums[key]

    def head(self, d: int) -> np.ndarray:
        """(rows, d) bool membership of the first d indices."""
        return self.bool[:, :d]


def _and(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a & b


def _cnt(mask, size: int, r: int) -> np.ndarray:
    """(r,) members of a mask per row (``size`` when None)."""
    if mask is None:
        return np.full(r, size, np.int64)
    return np.broadcast_to(mask.count(), (r,))


def _bool(mask):
    return None if mask is None else mask.bool


@dataclass(frozen=True)
class Spread:
    """How one declared matmul's MACs are spread: over ``units`` groups of the output's ``axis``
    ("rows" or "cols") lines, ``interleaved`` or blocked, skipping the zeros of roles ``skip``."""

    axis: str
    units: int
    interleaved: bool
    skip: frozenset


class WorkModel:
    """Derives :class:`OpWork` for batches of one trace (build once per trace)."""

    def __init__(self, header: TraceHeader) -> None:
        self.header = header
        self.layout = SetLayout.of(header)
        self.static = {s.name: np.packbits(_static_mask(s.size, s.members), bitorder="little")
                       for s in header.index_sets if not s.per_step}
        self.sizes = {s.name: int(s.size) for s in header.index_sets}
        self.packed_bytes = {name: -(-size // 8) for name, size in self.sizes.items()}
        self._pair_luts: dict[tuple[int, int], np.ndarray] = {}
        #: the patterns in force (the header's, then as mask-change records apply: :meth:`apply`)
        self.patterns = dict(header.patterns)
        self._csr = {name: _csr(p) for name, p in self.patterns.items()}
        self._tensor_index = {t.name: i for i, t in enumerate(header.tensors)}
        self._luts: dict = {}
        labels = header.labels
        self._ops = []
        for decl in header.ops:
            frames = {role: [self._frame(p) for p in parts] for role, parts in (("a", decl.a), ("b", decl.b), ("z", decl.z))}
            self._ops.append((decl, frames, OP_KINDS.index(decl.kind), labels.index(decl.label)))
        per_step = {s.name for s in header.index_sets if s.per_step}

        def dynamic(e):
            return e is not None and any(name in per_step for name in set_names(e))

        #: per op: whether its work is the same at every step (no per-step set in any operand)
        self._static = [not (dynamic(decl.produces) or any(dynamic(e) for parts in frames.values() for _, f in parts
                                                            for e in (f.rows, f.cols, f.nz_rows, f.nz_cols)))
                        for decl, frames, _, _ in self._ops]

    def _frame(self, part: Part) -> tuple[int, _Frame]:
        return self._tensor_index[part.tensor], _Frame(self.header.tensor(part.tensor), part, self._csr, self._luts)

    def apply(self, change: MaskChange) -> None:
        """Let a mask-change record take effect for every batch after this call: its pattern's
        removed flat positions become zero, its added ones non-zero (``masks.apply_change``, which
        raises ``MaskChangeError`` for a record that cannot apply). Rebuilds the frames of the
        tensors declared with that pattern only."""
        name = change.pattern
        self.patterns[name] = apply_change(self.patterns[name], change)
        self._csr[name] = _csr(self.patterns[name])
        for key in [k for k in self._luts if k[0] == name]:
            del self._luts[key]
        self._pair_luts.clear()  # keyed by frame ids: rebuilt frames must not meet stale entries
        for decl, frames, _, _ in self._ops:
            for role, parts in (("a", decl.a), ("b", decl.b), ("z", decl.z)):
                frames[role] = [self._frame(p) if self.header.tensor(p.tensor).pattern == name else tf
                                for p, tf in zip(parts, frames[role])]

    # ------------------------------------------------------------------ set masks

    def _masks(self, bits: np.ndarray):
        """``for_steps(steps)`` -> ``expr(e, steps)``: the :class:`_Mask` of set expression ``e``
        (None: every index) for the batch steps ``steps`` (rows or 1), memoised."""
        n_steps = bits.shape[0]
        unions: dict[str, tuple[np.ndarray, int]] = {}

        def union(e: str) -> tuple[np.ndarray, int]:
            if e not in unions:
                out, size = None, 0
                for name in set_names(e):
                    if name in self.static:
                        m = self.static[name][None, :]
                    else:
                        at = self.layout.offset[name]
                        m = bits[:, at:at + self.packed_bytes[name]]
                    size = self.sizes[name]
                    out = m if out is None else (out | m)
                unions[e] = (out, size)
            return unions[e]

        shared: dict[str, _Mask] = {}  # masks of ops that occur at every step of the batch

        def for_steps(steps: np.ndarray):
            every = steps.size == n_steps and np.array_equal(steps, np.arange(n_steps))
            memo: dict[str, _Mask] = shared if every else {}

            def expr(e: str | None, _steps=None):
                if e is None:
                    return None
                if e not in memo:
                    packed, size = union(e)
                    memo[e] = _Mask(packed if (every or packed.shape[0] == 1) else packed[steps], size)
                return memo[e]

            return expr

        return for_steps

    # ------------------------------------------------------------------ per batch

    def batch(self, step_ids: np.ndarray, set_bits: np.ndarray, ops: dict[str, np.ndarray],
              spread: dict[int, Spread] | None = None) -> OpWork:
        """Work of the ops ``ops`` (columns step, op, ...) of the steps ``step_ids`` whose index
        sets are ``set_bits`` (steps, layout.stride). ``spread``: for declared matmuls, how their
        work is spread over units (``OpWork.busiest``; ``accel_sim.trace.spread``)."""
        n_ops = int(ops["step"].shape[0])
        step_of = np.searchsorted(step_ids, ops["step"]) if n_ops else np.zeros(0, np.int64)
        for_steps = self._masks(set_bits)
        out = {name: np.zeros(n_ops, np.int64) for name in ("m", "k", "n", "dense", "effectual", "index_count",
                                                             "scale_dense", "scale_effectual")}
        kind = np.zeros(n_ops, np.int8)
        label = np.zeros(n_ops, np.int16)
        accumulate = np.zeros(n_ops, bool)
        per_element = np.ones(n_ops, np.int64)
        parts: list[PartWork] = []
        busiest = np.full(n_ops, -1.0)
        op_ids = ops["op"]
        for oid in np.unique(op_ids).tolist() if n_ops else []:
            rows = np.flatnonzero(op_ids == oid)
            decl, frames, kind_code, label_code = self._ops[oid]
            kind[rows], label[rows], accumulate[rows] = kind_code, label_code, decl.accumulate
            per_element[rows] = 1 if decl.kind in MATMUL_KINDS else decl.per_element
            steps = step_of[rows]
            if self._static[oid]:  # no per-step set involved: one row's work holds for all
                res = self._op(decl, frames, steps[:1], for_steps(steps[:1]))
                res = {k: (v if k == "parts" else np.broadcast_to(v, rows.shape)) for k, v in res.items()}
                res["parts"] = [(t, role, np.broadcast_to(d, rows.shape), np.broadcast_to(nz, rows.shape), st)
                                for t, role, d, nz, st in res["parts"]]
            else:
                res = self._op(decl, frames, steps, for_steps(steps))
            for name, values in res.items():
                if name != "parts":
                    out[name][rows] = values
            if spread and oid in spread and decl.kind in MATMUL_KINDS:
                at = steps[:1] if self._static[oid] else steps
                busiest[rows] = self._busiest(frames, at, for_steps(at), spread[oid])
            for t, role, dense, nonzero, structured in res["parts"]:
                parts.append(PartWork(rows, t, role, np.broadcast_to(dense, rows.shape),
                                      np.broadcast_to(nonzero, rows.shape), structured, oid))
        return OpWork(
            step=ops["step"], op=op_ids, kind=kind, label=label, accumulate=accumulate, per_element=per_element,
            parts=parts, busiest=busiest, **out)

    def _line_work(self, frames, steps: np.ndarray, expr, how: "Spread"):
        from accel_sim.trace.spread import line_work, transposed_frames

        (_, fa), (_, fb) = frames["a"][0], frames["b"][0]
        use_a, use_b = ROLE_A in how.skip, ROLE_B in how.skip
        if how.axis == "cols":
            fa, fb = transposed_frames(fa, fb)
            use_a, use_b = use_b, use_a
        return line_work(self, fa, fb, steps, expr, steps.shape[0], use_a, use_b)

    def _busiest(self, frames, steps: np.ndarray, expr, how: "Spread") -> np.ndarray:
        from accel_sim.trace.spread import busiest

        return busiest(*self._line_work(frames, steps, expr, how), how.units, how.interleaved)

    def pe_loads(self, step_ids: np.ndarray, set_bits: np.ndarray, ops: dict[str, np.ndarray],
                 spread: dict[int, Spread]) -> dict[int, np.ndarray]:
        """{op row: (units,) MACs each PE does} for the rows of ``ops`` that are declared matmuls
        in ``spread`` (the pairs the mapping spreads: a scaled op's scale pass, spread evenly, and
        diagonal extras aside); the max of a row is its ``OpWork.busiest``. Memory: rows x units,
        meant for a few steps."""
        from accel_sim.trace.spread import group_loads

        step_of = np.searchsorted(step_ids, ops["step"])
        for_steps = self._masks(set_bits)
        out = {}
        for oid, how in spread.items():
            rows = np.flatnonzero(ops["op"] == oid)
            decl, frames, _, _ = self._ops[oid]
            if not rows.size or decl.kind not in MATMUL_KINDS:
                continue
            steps = step_of[rows]
            work, lines = self._line_work(frames, steps, for_steps(steps), how)
            loads = np.zeros((rows.size, how.units))
            got = group_loads(work, lines, how.units, how.interleaved)
            loads[:, :got.shape[1]] = got
            out.update(zip(rows.tolist(), loads))
        return out

    def _op(self, decl: OpDecl, frames, steps: np.ndarray, expr) -> dict:
        r = steps.shape[0]
        part_rows = []
        for role_name, role in (("a", ROLE_A), ("b", ROLE_B), ("z", ROLE_Z)):
            for t, f in frames[role_name]:
                dense, nonzero = self._count(f, steps, expr, r)
                part_rows.append([t, role, dense, nonzero, f.structured])
        index_count = np.zeros(r, np.int64)
        seen = set()
        for role_name in ("a", "b", "z"):
            for _, f in frames[role_name]:
                for e in (f.rows, f.cols):
                    if e is not None and e not in seen and any(n not in self.static for n in set_names(e)):
                        seen.add(e)
                        index_count += _cnt(expr(e, steps), 0, r)
        pe = decl.per_element
        if decl.kind in MATMUL_KINDS:
            (ta, fa), (tb, fb), (tz, fz) = frames["a"][0], frames["b"][0], frames["z"][0]
            m = _cnt(expr(fa.rows, steps), fa.shape[0], r)
            k = _cnt(expr(fa.cols, steps), fa.shape[1], r)
            n = _cnt(expr(fb.cols, steps), fb.shape[1], r)
            effectual = self._pairs(fa, fb, fz, steps, expr, r)
            dense = m * k * n
            scale_dense = scale_effectual = np.zeros(r, np.int64)
            if decl.scale:  # z <- s * z + a @ b: one multiply per element of z
                scale_dense, scale_effectual = m * n, np.broadcast_to(part_rows[2][3], (r,))
                dense = dense + scale_dense
                effectual = effectual + scale_effectual
            # a matmul's operands are dense tiles on a dense datapath: domains m x k, k x n, m x n
            part_rows[0][2], part_rows[1][2], part_rows[2][2] = m * k, k * n, m * n
            return {"m": m, "k": k, "n": n, "dense": dense, "effectual": effectual, "index_count": index_count,
                    "scale_dense": scale_dense, "scale_effectual": scale_effectual, "parts": part_rows}
        roles = ROLE_Z if decl.kind == "elementwise" else ROLE_A
        dense = sum((p[2] for p in part_rows if p[1] == roles), np.zeros(r, np.int64)) * pe
        nonzero = sum((p[3] for p in part_rows if p[1] == roles), np.zeros(r, np.int64)) * pe
        if decl.kind == "index_decode":
            nonzero = dense
            index_count = index_count + _cnt(expr(decl.produces, steps), 0, r)
        one, zero = np.ones(r, np.int64), np.zeros(r, np.int64)
        return {"m": dense // pe, "k": one, "n": one, "dense": dense, "effectual": nonzero,
                "index_count": index_count, "scale_dense": zero, "scale_effectual": zero, "parts": part_rows}

    def _count(self, f: _Frame, steps, expr, r: int) -> tuple[np.ndarray, np.ndarray]:
        """(dense, nonzero) elements of a part's domain, per op row."""
        rs, cs = expr(f.rows, steps), expr(f.cols, steps)
        rn, cn = _and(rs, expr(f.nz_rows, steps)), _and(cs, expr(f.nz_cols, steps))
        R, C = f.shape
        nonzero = self._entries(f, rn, cn, r) + self._diag_extra(f, rs, cs, rn, cn, r)
        if f.compact:
            dense = self._entries(f, rs, cs, r) + self._diag_extra(f, rs, cs, rs, cs, r)
        else:
            dense = _cnt(rs, R, r) * _cnt(cs, C, r)
        return dense, nonzero

    @staticmethod
    def _entries(f: _Frame, rm, cm, r: int) -> np.ndarray:
        """Entries of the frame's pattern (or of the full shape) inside rows ``rm`` x cols ``cm``."""
        R, C = f.shape
        if f.pattern is None:
            return _cnt(rm, R, r) * _cnt(cm, C, r)
        if rm is None and cm is None:
            return np.full(r, f.nnz, np.int64)
        if rm is None:
            return np.broadcast_to(cm.weighted(f.colcnt_lut), (r,)).copy()
        if cm is None:
            return np.broadcast_to(rm.weighted(f.rowcnt_lut), (r,)).copy()
        per_col = _row_mask_times_pattern(rm.bool, f.pattern)  # (rows, C): pattern entries in rm, per column
        return np.broadcast_to((per_col * cm.bool).sum(axis=1, dtype=np.int64), (r,)).copy()

    @staticmethod
    def _diag_extra(f: _Frame, rs, cs, rn, cn, r: int) -> np.ndarray:
        """Diagonal entries inside the slice (rs x cs) not already counted as non-zero (rn x cn)."""
        if not f.diagonal:
            return np.zeros(r, np.int64)
        d = min(f.shape)
        rs, cs, rn, cn = (None if m is None else m.head(d) for m in (rs, cs, rn, cn))
        in_slice = _and(rs, cs)
        base = f.pdiag if f.pattern is not None else np.ones(d, bool)
        counted = _and(base[None, :], _and(rn, cn))
        extra = ~counted if in_slice is None else (in_slice & ~counted)
        return np.broadcast_to(extra.sum(axis=1, dtype=np.int64), (r,)).copy()

    def _colnz(self, f: _Frame, steps, expr, r: int) -> np.ndarray:
        """(r or 1, C) non-zeros of the frame's domain in each column."""
        rs, cs = expr(f.rows, steps), expr(f.cols, steps)
        rn, cn = _and(rs, expr(f.nz_rows, steps)), _and(cs, expr(f.nz_cols, steps))
        R, C = f.shape
        if f.pattern is None:
            col = _cnt(rn, R, 1 if rn is None else rn.rows)[:, None] * np.ones((1, C), np.int64)
        elif rn is None:
            col = f.colcnt[None, :]
        else:
            col = _row_mask_times_pattern(rn.bool, f.pattern)
        if cn is not None:
            col = col * cn.bool
        if f.diagonal:
            d = min(R, C)
            rs, cs, rn, cn = (None if m is None else m.head(d) for m in (rs, cs, rn, cn))
            in_slice = _and(rs, cs)
            base = f.pdiag if f.pattern is not None else np.ones(d, bool)
            counted = _and(base[None, :], _and(rn, cn))
            extra = ~counted if in_slice is None else (in_slice & ~counted)
            col = np.array(np.broadcast_to(col, (max(col.shape[0], extra.shape[0]), C)), np.int64)
            col[:, :d] += extra
        return col

    def _pairs(self, fa: _Frame, fb: _Frame, fz: _Frame, steps, expr, r: int) -> np.ndarray:
        """Effectual multiply-accumulates of Z = A @ B per op row."""
        K = fa.shape[1]
        if K == 1 and fz.structured and not fa.diagonal and not fb.diagonal:
            rows_a = self._nonzero_vector(fa, steps, expr, along_rows=True)
            cols_b = self._nonzero_vector(fb, steps, expr, along_rows=False)
            rs, cs = expr(fz.rows, steps), expr(fz.cols, steps)
            rm = _pack(_and(_bool(_and(rs, expr(fz.nz_rows, steps))), rows_a), fz.shape[0])
            cm = _pack(_and(_bool(_and(cs, expr(fz.nz_cols, steps))), cols_b), fz.shape[1])
            rs2 = _pack(_and(_bool(rs), rows_a), fz.shape[0])
            cs2 = _pack(_and(_bool(cs), cols_b), fz.shape[1])
            return self._entries(fz, rm, cm, r) + self._diag_extra(fz, rs2, cs2, rm, cm, r)
        fbt = fb.transposed()
        a, b = self._factor(fa, expr, r), self._factor(fbt, expr, r)
        if a is not None and b is not None:  # sum_k s_a w_a(k) s_b w_b(k) over k in both masks
            (sa, wa, ma), (sb, wb, mb) = a, b
            key = (id(fa), id(fbt))
            if key not in self._pair_luts:
                self._pair_luts[key] = _lut(wa * wb)
            mask = _and(ma, mb)
            total = np.full(r, int((wa * wb).sum())) if mask is None else np.broadcast_to(
                mask.weighted(self._pair_luts[key]), (r,))
            return total * sa * sb
        col_a = self._colnz(fa, steps, expr, r)
        row_b = self._colnz(fbt, steps, expr, r)
        return np.broadcast_to((col_a * row_b).sum(axis=1, dtype=np.int64), (r,)).copy()

    @staticmethod
    def _factor(f: _Frame, expr, r: int):
        """The frame's non-zeros per column as s * w(k) * [k in mask] (per-row scalar s, static
        weights w, a mask over the columns), or None when they do not factor so."""
        if f.diagonal:
            return None
        rs, cs = expr(f.rows), expr(f.cols)
        rn, cn = _and(rs, expr(f.nz_rows)), _and(cs, expr(f.nz_cols))
        if f.pattern is None:
            return _cnt(rn, f.shape[0], r), np.ones(f.shape[1], np.int64), cn
        if rn is None:
            return np.ones(r, np.int64), f.colcnt, cn
        return None

    def _nonzero_vector(self, f: _Frame, steps, expr, along_rows: bool):
        """For a column (m x 1) or row (1 x n) operand: (r or 1, length) bool non-zero mask (None: all)."""
        rs, cs = expr(f.rows, steps), expr(f.cols, steps)
        rn, cn = _and(rs, expr(f.nz_rows, steps)), _and(cs, expr(f.nz_cols, steps))
        vec, other = (rn, cn) if along_rows else (cn, rn)
        vec = _bool(vec)
        if f.pattern is not None:
            present = (f.rowcnt if along_rows else f.colcnt) > 0
            vec = _and(vec, present[None, :])
        if other is not None:  # the single column / row itself may be excluded
            vec = (np.ones((1, f.shape[0] if along_rows else f.shape[1]), bool) if vec is None else vec) & other.head(1)
        return vec


def _transposed(f: _Frame) -> _Frame:
    """The same operand seen transposed (for B's per-row counts)."""
    g = object.__new__(_Frame)
    g.__dict__.update(f.__dict__)
    g._transposed = f
    g._words = None
    g.shape = (f.shape[1], f.shape[0])
    g.nz_rows, g.nz_cols, g.rows, g.cols = f.nz_cols, f.nz_rows, f.cols, f.rows
    if f.pattern is not None:
        g.pattern = f.pattern.T.tocsr()
        g.colcnt, g.rowcnt, g.colcnt_lut, g.rowcnt_lut = f.rowcnt, f.colcnt, f.rowcnt_lut, f.colcnt_lut
    return g


def _csr(p: Pattern) -> sp.csr_matrix:
    """A pattern as a scipy CSR matrix of int8 ones."""
    return sp.csr_matrix((np.ones(p.nnz, np.int8), p.indices, p.indptr), shape=p.shape)


def _pack(mask, size: int):
    """A bool (rows, size) array as a :class:`_Mask` (None stays None)."""
    return None if mask is None else _Mask(np.packbits(mask, axis=1, bitorder="little"), size)


def _row_mask_times_pattern(rm: np.ndarray, pattern: sp.csr_matrix) -> np.ndarray:
    """(rows, C) int64: for each mask row, the pattern's entries in the masked rows, per column."""
    return np.asarray((pattern.T @ rm.T.astype(np.int64)).T, np.int64)


def _static_mask(size: int, members: np.ndarray) -> np.ndarray:
    mask = np.zeros(size, bool)
    mask[members] = True
    return mask
