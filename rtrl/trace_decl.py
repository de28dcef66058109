"""What each learner records in a trace (``rtrl-trace/2``): its tensors, the weight masks as static
patterns, the per-step index sets and the ops, declared once per learner.

Per-step index sets (``StepSets``): ``fired`` and ``support`` (units of s_{t-1} that fired / lie
in the pseudo-derivative support; the Jacobian's active set A is their union), ``input_nz``
(non-zero entries of x_t), ``fired_out`` and ``support_out`` (the same for the new state s_t,
which the readout and the gradient contraction use), for sparse RTRL ``reached`` (the columns of
its influence matrix reached since the sequence start, ``rtrl.reach``: the update and the
contraction sweep only those) and, for BPTT, ``history_row`` (the history slot a step writes or
its backward pass reads).

Patterns: ``W_in`` (the three input masks stacked, 3n x n_in), ``R`` (the recurrent masks
stacked, 3n x n), ``G`` (their union, n x n: the sparsity of ds_t/dy_{t-1}).

Sparse RTRL's tensors hold only what it stores (``influence`` n x P over the unmasked parameters;
the Jacobian's values ``G`` and the immediate influence entries as ``compact`` tensors: entries
outside their pattern do not exist), and its ops are sliced to the active rows and columns. Dense
RTRL stores and multiplies everything, so its zeros are declared as structure instead: the
Jacobian ``J`` is non-zero only in G's pattern, in active columns and on the diagonal; its
influence matrix (n x P over all parameters) only in the ``kept`` columns. BPTT declares its
history (``history_steps`` rows) and records its backward pass as one trace step per stored step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accel_sim.trace.header import IndexSet, Label, OpDecl, OpKind, Part, Pattern, Tensor
from rtrl.model import BIASES, EGRU, INPUT_WEIGHTS, MASKED, RECURRENT_WEIGHTS

ACTIVE = "fired|support"
ACTIVE_OUT = "fired_out|support_out"
REACHED = "reached"
#: n-vectors BPTT stores per step beside x_t: s_{t-1}, the gates (rtrl.cell.Gates: 9), dL_t/ds_t.
HISTORY_VECTORS = 11

#: Op names per method, in declaration order (an op row's ``op`` is the position here).
OPS = {
    "sparse_rtrl": ("active_set", "input_projection", "recurrent_product", "gates", "jacobian_build",
                    "influence_update", "influence_update_dense", "immediate_scatter", "readout", "readout_grad",
                    "readout_backprop", "contraction", "weight_update"),
    "dense_rtrl": ("active_set", "input_projection", "recurrent_product", "gates", "jacobian_build",
                   "influence_update", "immediate_scatter", "readout", "readout_grad", "readout_backprop",
                   "contraction", "weight_update"),
    "bptt": ("active_set", "input_projection", "recurrent_product", "gates", "readout", "readout_grad",
             "readout_backprop", "history_write", "backward_deltas", "backward_recurrent", "backward_grad_input",
             "backward_grad_recurrent", "backward_grad_bias", "weight_update"),
}


def op_ids(method: str) -> dict[str, int]:
    """Op name -> the id its rows carry, for ``method``."""
    return {name: i for i, name in enumerate(OPS[method])}


@dataclass(frozen=True)
class Declarations:
    """The header tables of one learner's trace."""

    tensors: tuple[Tensor, ...]
    patterns: dict[str, Pattern]
    index_sets: tuple[IndexSet, ...]
    ops: tuple[OpDecl, ...]


def declarations(model: EGRU, method: str, history_steps: int = 0) -> Declarations:
    """The declarations of ``model`` learning with ``method``; BPTT needs ``history_steps`` (the
    most steps it stores before a backward pass: the update window or sequence length)."""
    if method not in OPS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(OPS)}")
    n, n_in, n_out = model.n_hidden, model.n_in, model.n_out
    masks = model.masks
    w_in = np.vstack([masks[k] for k in INPUT_WEIGHTS])
    r = np.vstack([masks[k] for k in RECURRENT_WEIGHTS])
    g = masks["R_u"] | masks["R_r"] | masks["R_z"]
    patterns = {"W_in": Pattern.from_mask(w_in), "R": Pattern.from_mask(r), "G": Pattern.from_mask(g)}
    sets = [IndexSet("fired", n, about="units of s_{t-1} that fired (o = 1)"),
            IndexSet("support", n, about="units of s_{t-1} in the pseudo-derivative support (dH/dv > 0)"),
            IndexSet("input_nz", n_in, about="non-zero entries of x_t"),
            IndexSet("fired_out", n, about="units of s_t that fired"),
            IndexSet("support_out", n, about="units of s_t in the pseudo-derivative support")]
    tensors = [
        Tensor("x", "input", (n_in, 1), rows="input_nz"),
        Tensor("s", "state", (n, 1)),
        Tensor("y", "state", (n, 1), rows="fired"),
        Tensor("y_out", "state", (n, 1), rows="fired_out"),
        Tensor("W_in", "weights", (3 * n, n_in), pattern="W_in"),
        Tensor("R", "weights", (3 * n, n), pattern="R"),
        Tensor("b", "weights", (5, n)),  # b_u b_r b_z b_rz thr
        Tensor("W_o", "weights", (n_out, n)),
        Tensor("b_o", "weights", (n_out, 1)),
        Tensor("wx", "activations", (3 * n, 1)),
        Tensor("ry", "activations", (3 * n, 1)),
        Tensor("gates", "activations", (5, n)),  # gate values and local derivatives
        Tensor("logits", "activations", (n_out, 1)),
        Tensor("g_out", "activations", (n_out, 1)),  # dL/dlogits
        Tensor("dl_ds", "activations", (n, 1), rows=ACTIVE_OUT),
        Tensor("grad_W_o", "gradients", (n_out, n)),
        Tensor("grad_b_o", "gradients", (n_out, 1)),
    ]
    common = [
        OpDecl("input_projection", (OpKind.SPMM if method == "sparse_rtrl" else OpKind.GEMM).value,
               Label.INPUT_PROJECTION.value, a=(Part("W_in"),), b=(Part("x"),), z=(Part("wx"),)),
        OpDecl("recurrent_product", (OpKind.SPMM if method == "sparse_rtrl" else OpKind.GEMM).value,
               Label.RECURRENT_PRODUCT.value, a=(Part("R"),), b=(Part("y"),), z=(Part("ry"),)),
        OpDecl("gates", "elementwise", Label.GATES.value, a=(Part("wx"), Part("ry")), b=(Part("b"),),
               z=(Part("gates"), Part("s")), per_element=2),
    ]
    readout = [
        OpDecl("readout", "gemm", Label.READOUT.value, a=(Part("W_o"),), b=(Part("y_out"),), z=(Part("logits"),)),
        OpDecl("readout_grad", "gemm", Label.READOUT.value, a=(Part("g_out"),), b=(Part("y_out", transpose=True),),
               z=(Part("grad_W_o"),), accumulate=True),
        OpDecl("readout_backprop", "gemm", Label.READOUT.value, a=(Part("W_o", transpose=True),), b=(Part("g_out"),),
               z=(Part("dl_ds"),)),
    ]
    weights = (Part("W_in"), Part("R"), Part("b"), Part("W_o"), Part("b_o"))
    if method != "sparse_rtrl":
        tensors.append(Tensor("events", "activations", (2, n)))  # o and dH of every unit
    if method == "bptt":
        return _bptt(tensors, patterns, sets, common, readout, weights, n, n_in, history_steps)
    P = model.n_recurrent_params(masked_only=method == "sparse_rtrl")
    update = OpDecl("weight_update", "elementwise", Label.WEIGHT_UPDATE.value,
                    a=(Part("grad"), Part("grad_W_o"), Part("grad_b_o")), z=weights, accumulate=True)
    if method == "sparse_rtrl":
        sets.append(IndexSet("reached", P, about="influence columns reached since the sequence start "
                                                 "(the others are zero: rtrl.reach)"))
        tensors += [
            Tensor("G", "activations", (n, n), pattern="G", compact=True),
            Tensor("influence", "influence", (n, P)),
            Tensor("grad", "gradients", (1, P)),
            Tensor("imm_in", "activations", (3 * n, n_in), pattern="W_in", compact=True, cols="input_nz"),
            Tensor("imm_rec", "activations", (3 * n, n), pattern="R", compact=True, cols="fired"),
            Tensor("imm_b", "activations", (4, n)),
            Tensor("imm_thr", "activations", (n, n), pattern="G", compact=True),
            Tensor("imm_thr_diag", "activations", (n, 1)),
        ]
        ops = [
            OpDecl("active_set", "index_decode", Label.ACTIVE_SET.value, a=(Part("s"),), produces=ACTIVE),
            *common,
            OpDecl("jacobian_build", "elementwise", Label.JACOBIAN_BUILD.value, a=(Part("R", cols=ACTIVE),),
                   b=(Part("gates"),), z=(Part("G", cols=ACTIVE),), per_element=4),
            # M <- diag(u c') M + G[:, A] diag(y'_A) M[A]: the diagonal scale rides on the accumulate pass
            *(OpDecl(name, kind, Label.INFLUENCE_SPARSE_UPDATE.value, a=(Part("G", cols=ACTIVE),),
                     b=(Part("influence", rows=ACTIVE, cols=REACHED),), z=(Part("influence", cols=REACHED),),
                     accumulate=True, scale=True)
              for name, kind in (("influence_update", "spmm"), ("influence_update_dense", "gemm"))),
            OpDecl("immediate_scatter", "scatter", Label.IMMEDIATE_SCATTER.value,
                   a=(Part("imm_in"), Part("imm_rec"), Part("imm_b"), Part("imm_thr", cols=ACTIVE),
                      Part("imm_thr_diag", rows=ACTIVE)), z=(Part("influence"),), accumulate=True),
            *readout,
            OpDecl("contraction", "gemm", Label.GRADIENT_CONTRACTION.value,
                   a=(Part("dl_ds", transpose=True, cols=ACTIVE_OUT),),
                   b=(Part("influence", rows=ACTIVE_OUT, cols=REACHED),), z=(Part("grad", cols=REACHED),),
                   accumulate=True),
            update,
        ]
    else:
        kept = _kept_columns(model)
        sets.append(IndexSet("kept", P, members=kept, about="influence columns of unmasked parameters"))
        tensors += [
            Tensor("J", "activations", (n, n), pattern="G", cols=ACTIVE, diagonal=True),
            Tensor("influence", "influence", (n, P), cols="kept"),
            Tensor("grad", "gradients", (1, P), cols="kept"),
            Tensor("imm_in", "activations", (3 * n, n_in), pattern="W_in", cols="input_nz"),
            Tensor("imm_rec", "activations", (3 * n, n), pattern="R", cols="fired"),
            Tensor("imm_b", "activations", (4, n)),
            Tensor("imm_thr", "activations", (n, n), pattern="G", cols=ACTIVE),
            Tensor("imm_thr_diag", "activations", (n, 1), rows=ACTIVE),
        ]
        ops = [
            OpDecl("active_set", "elementwise", Label.ACTIVE_SET.value, a=(Part("s"),), z=(Part("events"),)),
            *common,
            OpDecl("jacobian_build", "elementwise", Label.JACOBIAN_BUILD.value, a=(Part("R"),), b=(Part("gates"),),
                   z=(Part("J"),), per_element=4),
            OpDecl("influence_update", "gemm", Label.INFLUENCE_SPARSE_UPDATE.value, a=(Part("J"),),
                   b=(Part("influence"),), z=(Part("influence"),)),
            OpDecl("immediate_scatter", "scatter", Label.IMMEDIATE_SCATTER.value,
                   a=tuple(Part(name) for name in ("imm_in", "imm_rec", "imm_b", "imm_thr", "imm_thr_diag")),
                   z=(Part("influence"),), accumulate=True),
            *readout,
            OpDecl("contraction", "gemm", Label.GRADIENT_CONTRACTION.value, a=(Part("dl_ds", transpose=True),),
                   b=(Part("influence"),), z=(Part("grad"),), accumulate=True),
            update,
        ]
    return _checked(method, Declarations(tuple(tensors), patterns, tuple(sets), tuple(ops)))


def _bptt(tensors, patterns, sets, common, readout, weights, n: int, n_in: int, history_steps: int) -> Declarations:
    if not (isinstance(history_steps, (int, np.integer)) and history_steps >= 1):
        raise ValueError(f"a BPTT trace declares its history: history_steps must be a positive integer "
                         f"(the steps stored before a backward pass), got {history_steps!r}")
    sets = sets + [IndexSet("history_row", int(history_steps), about="the history slot of this step")]
    tensors = tensors + [
        Tensor("history", "history", (int(history_steps), n_in + HISTORY_VECTORS * n)),
        Tensor("delta", "activations", (3 * n, 1)),
        Tensor("x_saved", "activations", (1, n_in), cols="input_nz"),
        Tensor("y_saved", "activations", (1, n), cols="fired"),
        Tensor("dy", "activations", (n, 1)),
        Tensor("grad_W_in", "gradients", (3 * n, n_in), pattern="W_in"),
        Tensor("grad_R", "gradients", (3 * n, n), pattern="R"),
        Tensor("grad_b", "gradients", (5, n)),
    ]
    ops = [
        OpDecl("active_set", "elementwise", Label.ACTIVE_SET.value, a=(Part("s"),), z=(Part("events"),)),
        *common,
        *readout,
        OpDecl("history_write", "elementwise", Label.BPTT_HISTORY.value, a=(Part("x"), Part("s"), Part("gates")),
               z=(Part("history", rows="history_row"),)),
        OpDecl("backward_deltas", "elementwise", Label.BPTT_BACKWARD.value,
               a=(Part("history", rows="history_row"), Part("dy")),
               z=(Part("delta"), Part("x_saved"), Part("y_saved")), per_element=2),
        OpDecl("backward_recurrent", "gemm", Label.BPTT_BACKWARD.value, a=(Part("R", transpose=True),),
               b=(Part("delta"),), z=(Part("dy"),)),
        OpDecl("backward_grad_input", "gemm", Label.BPTT_BACKWARD.value, a=(Part("delta"),), b=(Part("x_saved"),),
               z=(Part("grad_W_in"),), accumulate=True),
        OpDecl("backward_grad_recurrent", "gemm", Label.BPTT_BACKWARD.value, a=(Part("delta"),),
               b=(Part("y_saved"),), z=(Part("grad_R"),), accumulate=True),
        OpDecl("backward_grad_bias", "elementwise", Label.BPTT_BACKWARD.value, a=(Part("delta"),),
               z=(Part("grad_b"),), accumulate=True),
        OpDecl("weight_update", "elementwise", Label.WEIGHT_UPDATE.value,
               a=(Part("grad_W_in"), Part("grad_R"), Part("grad_b"), Part("grad_W_o"), Part("grad_b_o")),
               z=weights, accumulate=True),
    ]
    return _checked("bptt", Declarations(tuple(tensors), patterns, tuple(sets), tuple(ops)))


def _checked(method: str, d: Declarations) -> Declarations:
    names = tuple(op.name for op in d.ops)
    if names != OPS[method]:  # the ids learners record must be these positions
        raise AssertionError(f"{method}: declared ops {names} differ from OPS {OPS[method]}")
    return d


def _kept_columns(model: EGRU) -> np.ndarray:
    """Columns of dense RTRL's influence matrix (every parameter) that belong to unmasked ones."""
    kept, col = [], 0
    for name in MASKED:
        mask = model.masks[name].ravel()
        kept.append(col + np.flatnonzero(mask))
        col += mask.size
    kept.append(col + np.arange((len(BIASES) + 1) * model.n_hidden))
    return np.concatenate(kept).astype(np.int64)
