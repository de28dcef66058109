"""What a trace declares once, in its header (schema ``rtrl-trace/2``): tensors, their static
non-zero patterns, the per-step index sets, and the ops its rows refer to. Numpy only.

* :class:`Pattern` — a static non-zero pattern (e.g. a weight mask) as CSR: which entries can be
  non-zero at all.
* :class:`IndexSet` — a named set of indices into one dimension: per step (``members`` None: each
  step record carries it, e.g. ``fired``) or static (``members`` given, e.g. the kept columns).
* :class:`Tensor` — name, kind, logical shape (rows x cols), element type and structure:
  ``pattern`` (static non-zeros), ``rows`` / ``cols`` (set expressions: only these rows / columns can
  be non-zero this step), ``diagonal`` (the diagonal is non-zero regardless) and ``compact`` (only the
  pattern's entries exist at all: no hardware pays for the others, e.g. an influence scatter whose
  masked columns were never stored).
* :class:`Part` — one tensor as an op operand: ``rows`` / ``cols`` slice it (set expressions: the op
  only touches these rows / columns), ``transpose`` flips it.
* :class:`OpDecl` — one op of the vocabulary of this trace: kind, label, operands ``a``, ``b`` and
  output ``z`` (tuples of parts), ``accumulate`` (z is read-modify-written), ``scale`` (a matmul
  that accumulates scales z element-wise on that pass: z <- s * z + a @ b, one multiply per element
  of z), ``per_element`` (operations per element) and, for ``index_decode``, the set it ``produces``.

A set expression is set names joined by ``|`` (their union), e.g. ``"fired|support"``; None means
every index. :func:`validate_header` checks all cross references and shapes; the simulator derives
every op's work from these declarations and each step's index sets (``accel_sim.trace.work``).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

SCHEMA_VERSION = "rtrl-trace/2"
OLD_SCHEMAS = ("rtrl-trace/1",)


class OpKind(str, Enum):
    """Generic operations the simulator knows how to cost (their work is derived in ``work``)."""

    GEMM = "gemm"  # Z (m x n) = A (m x k) @ B (k x n), computed densely by the learner
    SPMM = "spmm"  # the same product, computed over the non-zeros by the learner
    ELEMENTWISE = "elementwise"  # Z's elements from A and B: per_element operations per element of Z
    SCATTER = "scatter"  # A's elements added (accumulate) or written into Z
    GATHER = "gather"  # A's elements read into Z
    REDUCTION = "reduction"  # A's elements reduced into Z
    INDEX_DECODE = "index_decode"  # A read and compared, producing the index set ``produces``


MATMUL_KINDS = ("gemm", "spmm")
OP_KINDS = tuple(k.value for k in OpKind)


class Label(str, Enum):
    """What an op is for, in RTRL terms (reports group by label). Traces of other workloads may
    use labels of their own."""

    ACTIVE_SET = "active_set"
    INPUT_PROJECTION = "input_projection"
    RECURRENT_PRODUCT = "recurrent_product"
    GATES = "gates"
    JACOBIAN_BUILD = "jacobian_build"
    INFLUENCE_SPARSE_UPDATE = "influence_sparse_update"
    IMMEDIATE_SCATTER = "immediate_scatter"
    GRADIENT_CONTRACTION = "gradient_contraction"
    READOUT = "readout"
    BPTT_HISTORY = "bptt_history"
    BPTT_BACKWARD = "bptt_backward"
    WEIGHT_UPDATE = "weight_update"
    SYNTHETIC = "synthetic"


LABELS = tuple(lbl.value for lbl in Label)


class TensorKind(str, Enum):
    """What a tensor is (hardware configs place tensors by kind). Other kinds are allowed."""

    WEIGHTS = "weights"
    INFLUENCE = "influence"
    STATE = "state"
    GRADIENTS = "gradients"
    INPUT = "input"
    ACTIVATIONS = "activations"
    HISTORY = "history"


TENSOR_KINDS = tuple(t.value for t in TensorKind)
METHODS = ("sparse_rtrl", "dense_rtrl", "bptt", "synthetic")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
#: Largest number of elements of one tensor (keeps every derived count inside int64).
MAX_ELEMENTS = 2**31


class HeaderError(ValueError):
    """A header that breaks the rules of this module (the reader adds the file name)."""


@dataclass(frozen=True, eq=False)
class Pattern:
    """A static non-zero pattern of a ``shape`` = (rows, cols) matrix, CSR: row i's non-zero
    columns are ``indices[indptr[i]:indptr[i + 1]]`` (sorted, distinct)."""

    shape: tuple[int, int]
    indptr: np.ndarray  # int64 (rows + 1,)
    indices: np.ndarray  # int64 (nnz,)

    @property
    def nnz(self) -> int:
        return int(self.indices.size)

    @classmethod
    def from_mask(cls, mask: np.ndarray) -> "Pattern":
        """The pattern of a boolean (rows, cols) array's True entries."""
        mask = np.asarray(mask, bool)
        if mask.ndim != 2:
            raise HeaderError(f"a pattern mask must be 2-D, got shape {mask.shape}")
        rows, cols = np.nonzero(mask)
        indptr = np.zeros(mask.shape[0] + 1, np.int64)
        np.cumsum(np.bincount(rows, minlength=mask.shape[0]), out=indptr[1:])
        return cls((int(mask.shape[0]), int(mask.shape[1])), indptr, cols.astype(np.int64))

    def to_mask(self) -> np.ndarray:
        mask = np.zeros(self.shape, bool)
        mask[self.row_of_entry(), self.indices] = True
        return mask

    def row_of_entry(self) -> np.ndarray:
        """(nnz,) row index of each entry."""
        return np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))

    def to_json(self) -> dict:
        return {"shape": list(self.shape), "indptr": self.indptr.tolist(), "indices": self.indices.tolist()}

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Pattern) and self.shape == other.shape
                and np.array_equal(self.indptr, other.indptr) and np.array_equal(self.indices, other.indices))


@dataclass(frozen=True, eq=False)
class IndexSet:
    """Indices into one dimension of ``size``. ``members`` None: given per step by each step
    record; otherwise static (sorted, distinct)."""

    name: str
    size: int
    members: np.ndarray | None = None
    about: str = ""

    @property
    def per_step(self) -> bool:
        return self.members is None

    def to_json(self) -> dict:
        return {"name": self.name, "size": self.size,
                "members": None if self.members is None else self.members.tolist(), "about": self.about}

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, IndexSet) and (self.name, self.size, self.about) == (other.name, other.size, other.about)
                and ((self.members is None and other.members is None)
                     or (self.members is not None and other.members is not None
                         and np.array_equal(self.members, other.members))))


@dataclass(frozen=True)
class Tensor:
    """A tensor the trace's ops read or write (see the module docstring for its structure)."""

    name: str
    kind: str
    shape: tuple[int, int]
    dtype: str = ""  # element type; "" = the trace's dtype
    pattern: str | None = None
    rows: str | None = None
    cols: str | None = None
    diagonal: bool = False
    compact: bool = False

    @property
    def elements(self) -> int:
        return self.shape[0] * self.shape[1]


@dataclass(frozen=True)
class Part:
    """One tensor as (part of) an operand, optionally sliced to rows / cols set expressions."""

    tensor: str
    rows: str | None = None
    cols: str | None = None
    transpose: bool = False


@dataclass(frozen=True)
class OpDecl:
    """One declared op (op rows refer to it by its position in :attr:`TraceHeader.ops`)."""

    name: str
    kind: str
    label: str
    a: tuple[Part, ...] = ()
    b: tuple[Part, ...] = ()
    z: tuple[Part, ...] = ()
    accumulate: bool = False
    scale: bool = False
    per_element: int = 1
    produces: str | None = None


@dataclass(frozen=True)
class TraceHeader:
    """The static description of a trace: provenance, the model it came from (RTRL dimensions;
    0 for other workloads) and the declarations above."""

    method: str
    dtype: str
    seed: int
    tensors: tuple[Tensor, ...]
    ops: tuple[OpDecl, ...]
    patterns: dict[str, Pattern] = field(default_factory=dict)
    index_sets: tuple[IndexSet, ...] = ()
    n_in: int = 0
    n_hidden: int = 0
    n_out: int = 0
    weight_density: float = 1.0
    n_influence_columns: int = 0  # P, columns of the influence matrix as stored (0: none)
    provenance: dict[str, str] = field(default_factory=dict)
    schema: str = SCHEMA_VERSION

    def tensor(self, name: str) -> Tensor:
        for t in self.tensors:
            if t.name == name:
                return t
        raise KeyError(name)

    def op_id(self, name: str) -> int:
        """Position of the op declared as ``name`` (the value op rows carry)."""
        for i, op in enumerate(self.ops):
            if op.name == name:
                return i
        raise KeyError(f"no op named {name!r} in this trace's header")

    @property
    def step_sets(self) -> tuple[IndexSet, ...]:
        """The per-step index sets, in the order step records store them."""
        return tuple(s for s in self.index_sets if s.per_step)

    @property
    def labels(self) -> tuple[str, ...]:
        """Every label of this trace: the RTRL labels, then the ops' own ones."""
        extra = [op.label for op in self.ops if op.label not in LABELS]
        return LABELS + tuple(dict.fromkeys(extra))


def set_names(expr: str | None) -> tuple[str, ...]:
    """The set names of a set expression (``"a|b"`` -> ``("a", "b")``; None -> ())."""
    return () if expr is None else tuple(part.strip() for part in expr.split("|"))


def validate_header(h: TraceHeader) -> TraceHeader:
    """Check every rule of the header; raises :class:`HeaderError` naming the first problem."""
    problems: list[str] = []

    def need(ok: bool, problem: str) -> bool:
        if not ok:
            problems.append(problem)
        return ok

    need(isinstance(h.method, str) and bool(_NAME.match(h.method)), f"method {h.method!r} is not a name")
    need(isinstance(h.dtype, str) and bool(h.dtype), f"dtype {h.dtype!r} must be a non-empty string")
    for name in ("seed", "n_in", "n_hidden", "n_out", "n_influence_columns"):
        v = getattr(h, name)
        need(_is_int(v) and (v >= 0 or name == "seed"), f"{name} must be a non-negative integer, got {v!r}")
    wd = h.weight_density
    need(isinstance(wd, (int, float)) and not isinstance(wd, bool) and 0.0 <= wd <= 1.0,
         f"weight_density must be a number in [0, 1], got {wd!r}")
    need(isinstance(h.provenance, dict) and all(isinstance(k, str) and isinstance(v, str)
                                                for k, v in h.provenance.items()),
         "provenance must map strings to strings")
    if problems:
        raise HeaderError("; ".join(problems))

    for name, p in h.patterns.items():
        _check_pattern(name, p)
    sets: dict[str, IndexSet] = {}
    for s in h.index_sets:
        _check_name(s.name, "index set")
        if s.name in sets:
            raise HeaderError(f"index set {s.name!r} declared twice")
        if not (_is_int(s.size) and 0 < s.size <= MAX_ELEMENTS):
            raise HeaderError(f"index set {s.name!r}: size must be a positive integer, got {s.size!r}")
        if s.members is not None:
            m = s.members
            if m.ndim != 1 or (m.size and (int(m.min()) < 0 or int(m.max()) >= s.size or np.any(np.diff(m) <= 0))):
                raise HeaderError(f"index set {s.name!r}: members must be sorted distinct indices in [0, {s.size})")
        sets[s.name] = s

    def check_expr(expr: str | None, size: int, where: str) -> None:
        if expr is None:
            return
        if not isinstance(expr, str) or not expr:
            raise HeaderError(f"{where}: a set expression must be a non-empty string, got {expr!r}")
        for name in set_names(expr):
            if name not in sets:
                raise HeaderError(f"{where}: unknown index set {name!r}")
            if sets[name].size != size:
                raise HeaderError(f"{where}: index set {name!r} has size {sets[name].size}, the dimension has {size}")

    tensors: dict[str, Tensor] = {}
    for t in h.tensors:
        _check_name(t.name, "tensor")
        where = f"tensor {t.name!r}"
        if t.name in tensors:
            raise HeaderError(f"{where} declared twice")
        _check_name(t.kind, f"{where}: kind")
        if not (isinstance(t.shape, tuple) and len(t.shape) == 2 and all(_is_int(d) and d > 0 for d in t.shape)):
            raise HeaderError(f"{where}: shape must be two positive integers, got {t.shape!r}")
        if t.elements > MAX_ELEMENTS:
            raise HeaderError(f"{where}: {t.elements} elements exceed the limit {MAX_ELEMENTS}")
        if not isinstance(t.dtype, str):
            raise HeaderError(f"{where}: dtype must be a string")
        if t.pattern is not None:
            if t.pattern not in h.patterns:
                raise HeaderError(f"{where}: unknown pattern {t.pattern!r}")
            if h.patterns[t.pattern].shape != t.shape:
                raise HeaderError(f"{where}: pattern {t.pattern!r} has shape {h.patterns[t.pattern].shape}, "
                                  f"the tensor {t.shape}")
        if t.compact and t.pattern is None:
            raise HeaderError(f"{where}: compact needs a pattern")
        if not (isinstance(t.diagonal, bool) and isinstance(t.compact, bool)):
            raise HeaderError(f"{where}: diagonal and compact must be true or false")
        check_expr(t.rows, t.shape[0], f"{where}: rows")
        check_expr(t.cols, t.shape[1], f"{where}: cols")
        tensors[t.name] = t

    op_names: set[str] = set()
    for op in h.ops:
        _check_name(op.name, "op")
        where = f"op {op.name!r}"
        if op.name in op_names:
            raise HeaderError(f"{where} declared twice")
        op_names.add(op.name)
        if op.kind not in OP_KINDS:
            raise HeaderError(f"{where}: unknown kind {op.kind!r} (kinds: {', '.join(OP_KINDS)})")
        _check_name(op.label, f"{where}: label")
        if not (_is_int(op.per_element) and 1 <= op.per_element <= 2**20):
            raise HeaderError(f"{where}: per_element must be an integer in [1, 2^20], got {op.per_element!r}")
        if not (isinstance(op.accumulate, bool) and isinstance(op.scale, bool)):
            raise HeaderError(f"{where}: accumulate and scale must be true or false")
        if op.scale and not (op.accumulate and op.kind in MATMUL_KINDS):
            raise HeaderError(f"{where}: scale applies to a matmul that accumulates")
        shapes = {}
        for role in ("a", "b", "z"):
            for i, part in enumerate(getattr(op, role)):
                pw = f"{where}: {role}[{i}]"
                if not isinstance(part, Part) or part.tensor not in tensors:
                    raise HeaderError(f"{pw}: unknown tensor {getattr(part, 'tensor', part)!r}")
                r, c = tensors[part.tensor].shape
                if part.transpose:
                    r, c = c, r
                if not isinstance(part.transpose, bool):
                    raise HeaderError(f"{pw}: transpose must be true or false")
                check_expr(part.rows, r, f"{pw}: rows")
                check_expr(part.cols, c, f"{pw}: cols")
                shapes[(role, i)] = (r, c)
        _check_op_shape(op, where, shapes)
        if op.kind == "index_decode":
            if op.produces is None:
                raise HeaderError(f"{where}: an index_decode op names the set it produces")
            for name in set_names(op.produces):
                if name not in sets:
                    raise HeaderError(f"{where}: produces unknown index set {name!r}")
        elif op.produces is not None:
            raise HeaderError(f"{where}: only index_decode ops produce index sets")
    return h


def _check_op_shape(op: OpDecl, where: str, shapes: dict) -> None:
    if op.kind in MATMUL_KINDS:
        if not (len(op.a) == len(op.b) == len(op.z) == 1):
            raise HeaderError(f"{where}: a {op.kind} has exactly one tensor each as a, b and z")
        (m, k), (k2, n), (zm, zn) = shapes[("a", 0)], shapes[("b", 0)], shapes[("z", 0)]
        if k != k2 or (zm, zn) != (m, n):
            raise HeaderError(f"{where}: shapes do not chain: a {m}x{k}, b {k2}x{n}, z {zm}x{zn}")
        a, b, z = op.a[0], op.b[0], op.z[0]
        if a.cols != b.rows:
            raise HeaderError(f"{where}: a's cols slice {a.cols!r} differs from b's rows slice {b.rows!r}")
        if z.rows != a.rows or z.cols != b.cols:
            raise HeaderError(f"{where}: z's slices ({z.rows!r}, {z.cols!r}) must be a's rows and b's cols "
                              f"({a.rows!r}, {b.cols!r})")
    elif op.kind in ("elementwise",):
        if not op.z:
            raise HeaderError(f"{where}: an elementwise op writes z")
    elif not op.a:
        raise HeaderError(f"{where}: a {op.kind} op reads a")


def _check_pattern(name: str, p: Pattern) -> None:
    _check_name(name, "pattern")
    where = f"pattern {name!r}"
    if not (isinstance(p.shape, tuple) and len(p.shape) == 2 and all(_is_int(d) and d > 0 for d in p.shape)):
        raise HeaderError(f"{where}: shape must be two positive integers, got {p.shape!r}")
    rows, cols = p.shape
    if p.indptr.shape != (rows + 1,) or int(p.indptr[0]) != 0 or np.any(np.diff(p.indptr) < 0):
        raise HeaderError(f"{where}: indptr must have {rows + 1} non-decreasing entries from 0")
    if int(p.indptr[-1]) != p.indices.size:
        raise HeaderError(f"{where}: indptr ends at {int(p.indptr[-1])}, there are {p.indices.size} indices")
    if p.indices.size:
        if int(p.indices.min()) < 0 or int(p.indices.max()) >= cols:
            raise HeaderError(f"{where}: column index outside [0, {cols})")
        step = np.diff(p.indices)
        row_start = np.zeros(p.indices.size, bool)
        row_start[p.indptr[:-1][np.diff(p.indptr) > 0]] = True
        if np.any((step <= 0) & ~row_start[1:]):
            raise HeaderError(f"{where}: column indices of a row must be sorted and distinct")


def _check_name(name: object, what: str) -> None:
    if not (isinstance(name, str) and _NAME.match(name)):
        raise HeaderError(f"{what} name {name!r} is not a name (letters, digits, _ . -)")


def _is_int(v: object) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


# ---------------------------------------------------------------- JSON form

def header_to_json(h: TraceHeader) -> dict:
    """The header as a JSON-able dict (what the file's header metadata holds)."""
    return {
        "schema": h.schema, "method": h.method, "dtype": h.dtype, "seed": h.seed,
        "n_in": h.n_in, "n_hidden": h.n_hidden, "n_out": h.n_out, "weight_density": h.weight_density,
        "n_influence_columns": h.n_influence_columns,
        "tensors": [_drop_defaults(t, Tensor) | {"shape": list(t.shape)} for t in h.tensors],
        "patterns": {k: p.to_json() for k, p in h.patterns.items()},
        "index_sets": [s.to_json() for s in h.index_sets],
        "ops": [_op_json(op) for op in h.ops],
        "provenance": dict(h.provenance),
    }


def _drop_defaults(obj, cls) -> dict:
    """The dataclass's fields, leaving out those at their default."""
    out = {}
    for f in dataclasses.fields(cls):
        value = getattr(obj, f.name)
        if f.default is not dataclasses.MISSING and value == f.default:
            continue
        out[f.name] = value
    return out


def _op_json(op: OpDecl) -> dict:
    out = _drop_defaults(op, OpDecl)
    for role in ("a", "b", "z"):
        out.pop(role, None)
        if getattr(op, role):
            out[role] = [_drop_defaults(p, Part) for p in getattr(op, role)]
    return out


def header_from_json(d: object) -> TraceHeader:
    """Parse (and validate) the JSON form. Raises :class:`HeaderError`."""
    if not isinstance(d, dict):
        raise HeaderError("header is not a JSON object")
    fields = {"schema", "method", "dtype", "seed", "n_in", "n_hidden", "n_out", "weight_density",
              "n_influence_columns", "tensors", "patterns", "index_sets", "ops", "provenance"}
    missing, unknown = sorted(fields - set(d)), sorted(set(d) - fields)
    if missing or unknown:
        raise HeaderError(f"header fields: missing {missing}, unknown {unknown}")
    try:
        patterns = {k: _pattern(v, k) for k, v in _typed(d["patterns"], dict, "patterns").items()}
        sets = tuple(_index_set(s) for s in _typed(d["index_sets"], list, "index_sets"))
        tensors = tuple(_build(Tensor, t, "tensor", shape=True) for t in _typed(d["tensors"], list, "tensors"))
        ops = tuple(_op(o) for o in _typed(d["ops"], list, "ops"))
    except (TypeError, ValueError) as exc:
        raise HeaderError(str(exc)) from None
    wd = d["weight_density"]
    header = TraceHeader(
        method=d["method"], dtype=d["dtype"], seed=d["seed"], tensors=tensors, ops=ops, patterns=patterns,
        index_sets=sets, n_in=d["n_in"], n_hidden=d["n_hidden"], n_out=d["n_out"],
        weight_density=float(wd) if isinstance(wd, (int, float)) and not isinstance(wd, bool) else wd,
        n_influence_columns=d["n_influence_columns"], provenance=d["provenance"], schema=d["schema"])
    return validate_header(header)


def _typed(value, kind, what: str):
    if not isinstance(value, kind):
        raise HeaderError(f"{what} must be a JSON {'object' if kind is dict else 'list'}")
    return value


def _int_array(values, what: str) -> np.ndarray:
    if not isinstance(values, list) or not all(_is_int(v) for v in values):
        raise HeaderError(f"{what} must be a list of integers")
    try:
        return np.array(values, np.int64).reshape(-1)
    except OverflowError:
        raise HeaderError(f"{what}: integer out of range") from None


def _pattern(v, name: str) -> Pattern:
    v = _typed(v, dict, f"pattern {name!r}")
    if set(v) != {"shape", "indptr", "indices"}:
        raise HeaderError(f"pattern {name!r} must have exactly shape, indptr and indices")
    shape = v["shape"]
    if not (isinstance(shape, list) and len(shape) == 2 and all(_is_int(x) for x in shape)):
        raise HeaderError(f"pattern {name!r}: shape must be two integers")
    return Pattern((int(shape[0]), int(shape[1])), _int_array(v["indptr"], f"pattern {name!r} indptr"),
                   _int_array(v["indices"], f"pattern {name!r} indices"))


def _index_set(v) -> IndexSet:
    v = _typed(v, dict, "index set")
    if not set(v) <= {"name", "size", "members", "about"} or not {"name", "size"} <= set(v):
        raise HeaderError(f"index set fields must be name, size, members, about; got {sorted(v)}")
    members = v.get("members")
    if members is not None:
        members = _int_array(members, f"index set {v['name']!r} members")
    about = v.get("about", "")
    if not isinstance(about, str):
        raise HeaderError("index set about must be a string")
    return IndexSet(v["name"], v["size"], members, about)


def _build(cls, v, what: str, shape: bool = False):
    v = _typed(v, dict, what)
    names = set(cls.__dataclass_fields__)
    unknown = sorted(set(v) - names)
    if unknown:
        raise HeaderError(f"{what} has unknown fields {unknown}")
    if shape:
        s = v.get("shape")
        if not (isinstance(s, list) and len(s) == 2):
            raise HeaderError(f"{what} {v.get('name')!r}: shape must be a list of two integers")
        v = {**v, "shape": tuple(s)}
    try:
        return cls(**v)
    except TypeError as exc:
        raise HeaderError(f"{what} {v.get('name', v.get('tensor'))!r}: {exc}") from None


def _op(v) -> OpDecl:
    v = dict(_typed(v, dict, "op"))
    for role in ("a", "b", "z"):
        parts = v.get(role, [])
        v[role] = tuple(_build(Part, p, f"op {v.get('name')!r} {role} part") for p in _typed(parts, list, role))
    return _build(OpDecl, v, "op")


def _static_members(h: TraceHeader, expr: str | None, size: int) -> np.ndarray | None:
    """The indices a set expression can ever hold (sorted), or None when it is every index or
    involves a per-step set (any index may then be a member at some step)."""
    if expr is None:
        return None
    sets = {s.name: s for s in h.index_sets}
    members = []
    for name in set_names(expr):
        s = sets[name]
        if s.per_step:
            return None
        members.append(s.members)
    out = np.unique(np.concatenate(members)) if members else np.zeros(0, np.int64)
    return None if out.size == size else out


def static_entries(h: TraceHeader, t: Tensor) -> tuple[np.ndarray, np.ndarray] | None:
    """The (row, col) positions tensor ``t`` can ever hold non-zero, in row-major order, from its
    pattern, static row / column restrictions and diagonal; None when every element can."""
    rows, cols = t.shape
    rm, cm = _static_members(h, t.rows, rows), _static_members(h, t.cols, cols)
    if t.pattern is None and rm is None and cm is None:
        return None
    if t.pattern is not None:
        p = h.patterns[t.pattern]
        r, c = p.row_of_entry(), p.indices
    else:
        r_idx = np.arange(rows) if rm is None else rm
        c_idx = np.arange(cols) if cm is None else cm
        r, c = np.repeat(r_idx, c_idx.size), np.tile(c_idx, r_idx.size)
    keep = np.ones(r.size, bool)
    if t.pattern is not None and rm is not None:
        keep &= np.isin(r, rm)
    if t.pattern is not None and cm is not None:
        keep &= np.isin(c, cm)
    r, c = r[keep], c[keep]
    if t.diagonal:
        d = np.arange(min(rows, cols))
        r, c = np.concatenate([r, d]), np.concatenate([c, d])
    flat = np.unique(r.astype(np.int64) * cols + c)
    return flat // cols, flat % cols
