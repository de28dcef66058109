"""The work the simulator derives from a trace's declarations (``accel_sim.trace.work``) equals a
brute-force count over dense boolean matrices, for random patterns, restrictions, slices,
transposes, diagonals, compact tensors and per-step index sets."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from accel_sim.trace.header import IndexSet, OpDecl, Part, Pattern, Tensor, TraceHeader, set_names, validate_header
from accel_sim.trace.schema import SetLayout, TraceChunk, OpRecord
from accel_sim.trace.work import WorkModel

SIZES = (2, 3, 5)


def set_decls():
    out = []
    for d in SIZES:
        out += [IndexSet(f"a{d}", d), IndexSet(f"b{d}", d), IndexSet(f"s{d}", d, members=np.arange(0, d, 2))]
    return tuple(out)


def exprs(d):
    if d not in SIZES:
        return st.just(None)
    return st.sampled_from([None, f"a{d}", f"b{d}", f"s{d}", f"a{d}|b{d}", f"b{d}|s{d}"])


@st.composite
def tensor(draw, name, shape):
    r, c = shape
    has_pattern = draw(st.booleans())
    mask = np.array(draw(st.lists(st.booleans(), min_size=r * c, max_size=r * c)), bool).reshape(r, c)
    pattern = f"p_{name}" if has_pattern else None
    t = Tensor(name, "activations", shape, pattern=pattern, rows=draw(exprs(r)), cols=draw(exprs(c)),
               diagonal=draw(st.booleans()), compact=has_pattern and draw(st.booleans()))
    return t, ({pattern: Pattern.from_mask(mask)} if has_pattern else {})


@st.composite
def part(draw, name, shape, transpose, rows=None, cols=None, free=True):
    """A part whose *operand* shape (after transpose) is ``shape``; slices drawn when ``free``."""
    r, c = shape
    tshape = (c, r) if transpose else (r, c)
    t, patterns = draw(tensor(name, tshape))
    if free:
        rows, cols = draw(exprs(r)), draw(exprs(c))
    return Part(name, rows=rows, cols=cols, transpose=transpose), t, patterns


@st.composite
def traces(draw):
    """A header with one op of a drawn kind, and a few steps of random sets."""
    kind = draw(st.sampled_from(["gemm", "spmm", "elementwise", "scatter", "reduction", "index_decode"]))
    dim = lambda: draw(st.sampled_from(SIZES))  # noqa: E731
    tensors, patterns = [], {}

    def add(p, t, pat):
        tensors.append(t)
        patterns.update(pat)
        return p

    if kind in ("gemm", "spmm"):
        m, k, n = dim(), draw(st.sampled_from((1,) + SIZES)), dim()
        mr, kr, nr = draw(exprs(m)), (draw(exprs(k)) if k > 1 else None), draw(exprs(n))
        a = add(*draw(part("A", (m, k), draw(st.booleans()), rows=mr, cols=kr, free=False)))
        b = add(*draw(part("B", (k, n), draw(st.booleans()), rows=kr, cols=nr, free=False)))
        z = add(*draw(part("Z", (m, n), False, rows=mr, cols=nr, free=False)))
        accumulate = draw(st.booleans())
        op = OpDecl("op", kind, "synthetic", a=(a,), b=(b,), z=(z,), accumulate=accumulate,
                    scale=accumulate and draw(st.booleans()))
    else:
        parts = {role: [add(*draw(part(f"{role}{i}", (dim(), dim()), draw(st.booleans()))))
                        for i in range(draw(st.integers(1 if role == ("z" if kind == "elementwise" else "a") else 0, 2)))]
                 for role in ("a", "b", "z")}
        d = dim()
        op = OpDecl("op", kind, "synthetic", a=tuple(parts["a"]), b=tuple(parts["b"]), z=tuple(parts["z"]),
                    per_element=draw(st.integers(1, 4)),
                    produces=draw(st.sampled_from([f"a{d}", f"a{d}|b{d}"])) if kind == "index_decode" else None)
        if kind == "index_decode" and not op.a:
            return draw(traces())
    header = validate_header(TraceHeader(method="synthetic", dtype="int8", seed=0, tensors=tuple(tensors), ops=(op,),
                                         patterns=patterns, index_sets=set_decls()))
    n_steps = draw(st.integers(1, 4))
    steps = [(t, {s.name: np.array(draw(st.lists(st.booleans(), min_size=s.size, max_size=s.size)), bool)
                  for s in header.step_sets}) for t in range(n_steps)]
    return header, steps


def member(header, sets, expr, size):
    if expr is None:
        return np.ones(size, bool)
    out = np.zeros(size, bool)
    for name in set_names(expr):
        decl = next(s for s in header.index_sets if s.name == name)
        out |= sets[name] if decl.per_step else np.isin(np.arange(size), decl.members)
    return out


def brute_part(header, sets, p: Part):
    """(dense domain, non-zero) bool matrices of a part in its operand frame."""
    t = header.tensor(p.tensor)
    r, c = t.shape
    base = header.patterns[t.pattern].to_mask() if t.pattern else np.ones((r, c), bool)
    nz = base & member(header, sets, t.rows, r)[:, None] & member(header, sets, t.cols, c)[None, :]
    eye = np.eye(r, c, dtype=bool)
    if t.diagonal:
        nz |= eye
    exists = (base | (eye if t.diagonal else False)) if t.compact else np.ones((r, c), bool)
    if p.transpose:
        nz, exists = nz.T, exists.T
    rr, cc = nz.shape
    sl = member(header, sets, p.rows, rr)[:, None] & member(header, sets, p.cols, cc)[None, :]
    return exists & sl, nz & sl, sl


def brute_op(header, sets):
    (op,) = header.ops
    structured = lambda p: (lambda t: t.pattern is not None or t.rows or t.cols or t.diagonal)(header.tensor(p.tensor))  # noqa: E731
    slicing = {e for p in op.a + op.b + op.z for e in (p.rows, p.cols)
               if e is not None and any(next(s for s in header.index_sets if s.name == n).per_step
                                        for n in set_names(e))}
    index = 0
    for e in slicing:
        size = next(s.size for s in header.index_sets if s.name == set_names(e)[0])
        index += int(member(header, sets, e, size).sum())
    if op.kind in ("gemm", "spmm"):
        (_, a, sa), (_, b, sb), (_, z, sz) = (brute_part(header, sets, op.a[0]), brute_part(header, sets, op.b[0]),
                                              brute_part(header, sets, op.z[0]))
        m = int(member(header, sets, op.a[0].rows, sa.shape[0]).sum())
        k = int(member(header, sets, op.a[0].cols, sa.shape[1]).sum())
        n = int(member(header, sets, op.b[0].cols, sb.shape[1]).sum())
        ta, tb = header.tensor(op.a[0].tensor), header.tensor(op.b[0].tensor)
        if a.shape[1] == 1 and structured(op.z[0]) and not ta.diagonal and not tb.diagonal:
            effectual = int((z & (a[:, :1] & b[:1, :])).sum())
        else:
            effectual = int(np.einsum("ik,kj->", a.astype(np.int64), b.astype(np.int64)))
        dense = m * k * n
        if op.scale:
            dense += m * n
            effectual += int(z.sum())
        return dense, effectual, index
    roles = op.z if op.kind == "elementwise" else op.a
    counted = [brute_part(header, sets, p) for p in roles]
    dense = sum(int(d.sum()) for d, _, _ in counted) * op.per_element
    nonzero = sum(int(nz.sum()) for _, nz, _ in counted) * op.per_element
    if op.kind == "index_decode":
        size = next(s.size for s in header.index_sets if s.name == set_names(op.produces)[0])
        return dense, dense, index + int(member(header, sets, op.produces, size).sum())
    return dense, nonzero, index


@settings(max_examples=300, deadline=None)
@given(traces())
def test_derived_work_equals_brute_force(trace):
    header, steps = trace
    layout = SetLayout.of(header)
    chunk = TraceChunk.from_records(layout, steps, [OpRecord(t, 0) for t, _ in steps])
    w = WorkModel(header).batch(chunk.step_ids, chunk.set_bits, chunk.ops)
    for i, (_, sets) in enumerate(steps):
        dense, effectual, index = brute_op(header, sets)
        assert (int(w.dense[i]), int(w.effectual[i]), int(w.index_count[i])) == (dense, effectual, index)
        assert w.effectual[i] <= w.dense[i] or header.ops[0].kind in ("gemm", "spmm")
    (op,) = header.ops
    assert [p.rows.tolist() for p in w.parts] == [list(range(len(steps)))] * len(op.a + op.b + op.z)
    for i, (_, sets) in enumerate(steps):  # every part's domain and non-zeros
        expected = [brute_part(header, sets, p) for p in op.a + op.b + op.z]
        if op.kind not in ("gemm", "spmm"):
            assert [int(p.dense[i]) for p in w.parts] == [int(d.sum()) for d, _, _ in expected]
        assert [int(p.nonzero[i]) for p in w.parts] == [int(nz.sum()) for _, nz, _ in expected]
