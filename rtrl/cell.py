"""One EGRU step, split into the pieces every learner shares (equations: docs/model.md).

All vectors have shape (n_hidden,) unless stated. Learners compute the pre-activations
themselves (dense or sparse), then call these functions, so the equations live only here.
Arrays may be numpy or CuPy; every function works in the array module of its inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtrl.backend import array_module


@dataclass(frozen=True, slots=True)
class Events:
    """Event quantities of a state s against thresholds thr.

    ``o`` flags (0/1), ``dH`` pseudo-derivative at s - thr, ``y = o*s`` the sent output,
    ``c = s - o*thr`` the reset state, ``dy = o + s*dH`` (dy/ds), ``dc = 1 - thr*dH`` (dc/ds),
    ``dy_thr = -s*dH`` (dy/dthr), ``dc_thr = -o + thr*dH`` (dc/dthr).
    """

    s: np.ndarray
    o: np.ndarray
    dH: np.ndarray
    y: np.ndarray
    c: np.ndarray
    dy: np.ndarray
    dc: np.ndarray
    dy_thr: np.ndarray
    dc_thr: np.ndarray

    @property
    def fired(self) -> np.ndarray:
        return array_module(self.o).flatnonzero(self.o)

    @property
    def support(self) -> np.ndarray:
        return array_module(self.dH).flatnonzero(self.dH)

    @property
    def active(self) -> np.ndarray:
        """A: units that fired or lie in the pseudo-derivative support (where dy != 0 may hold)."""
        return array_module(self.o).flatnonzero((self.o != 0) | (self.dH != 0))


#: On CuPy arrays, compute events and gates with one fused ElementwiseKernel each
#: (``rtrl.kernels.elementwise``; these numpy expressions are their twins).
FUSE_ON_GPU = True


def events(s: np.ndarray, thr: np.ndarray, gamma: float, eps: float) -> Events:
    xp = array_module(s)
    if xp is not np and FUSE_ON_GPU:
        from rtrl.kernels import elementwise

        return Events(s, *elementwise.events(s, thr, gamma, eps))
    v = s - thr
    o = (v > 0).astype(s.dtype)
    dH = (gamma * xp.maximum(0.0, 1.0 - xp.abs(v) / eps)).astype(s.dtype)
    return Events(
        s=s, o=o, dH=dH, y=o * s, c=s - o * thr,
        dy=o + s * dH, dc=1.0 - thr * dH, dy_thr=-s * dH, dc_thr=-o + thr * dH,
    )


@dataclass(frozen=True, slots=True)
class Gates:
    """Gate values of one step and the local derivatives of s_t.

    ``hz = R_z y + b_rz``; ``d_u = ds/da_u``, ``d_r = ds/da_r``, ``d_z = ds/da_z`` (a = pre-activation);
    ``diag = u * dc`` is the diagonal of the Jacobian ds_t/ds_{t-1}.
    """

    u: np.ndarray
    r: np.ndarray
    z: np.ndarray
    hz: np.ndarray
    s: np.ndarray
    d_u: np.ndarray
    d_r: np.ndarray
    d_z: np.ndarray
    diag: np.ndarray


def _sigmoid(a: np.ndarray, xp=np) -> np.ndarray:
    return 0.5 * (1.0 + xp.tanh(0.5 * a))


def gates(params: dict, wx: np.ndarray, ry: np.ndarray, prev: Events) -> Gates:
    """Gate step. ``wx`` and ``ry`` are (3, n): rows u, r, z of W x and R y."""
    xp = array_module(wx)
    if xp is not np and FUSE_ON_GPU:
        from rtrl.kernels import elementwise

        return Gates(*elementwise.gates(wx, ry, params["b_u"], params["b_r"], params["b_z"], params["b_rz"],
                                        prev.c, prev.dc))
    u = _sigmoid(wx[0] + ry[0] + params["b_u"], xp)
    r = _sigmoid(wx[1] + ry[1] + params["b_r"], xp)
    hz = ry[2] + params["b_rz"]
    z = xp.tanh(wx[2] + r * hz + params["b_z"])
    s = u * prev.c + (1.0 - u) * z
    d_z = (1.0 - u) * (1.0 - z * z)
    return Gates(
        u=u, r=r, z=z, hz=hz, s=s,
        d_u=(prev.c - z) * u * (1.0 - u),
        d_r=d_z * hz * r * (1.0 - r),
        d_z=d_z,
        diag=u * prev.dc,
    )


def recurrent_coefficients(g: Gates) -> np.ndarray:
    """(3, n): ds_i/dR_*[i, j] = coef[*, i] * y_j, for R_u, R_r, R_z (also the rows of G)."""
    return array_module(g.u).stack([g.d_u, g.d_r, g.d_z * g.r])


def input_coefficients(g: Gates) -> np.ndarray:
    """(3, n): ds_i/dW_*[i, k] = coef[*, i] * x_k, for W_u, W_r, W_z."""
    return array_module(g.u).stack([g.d_u, g.d_r, g.d_z])


def bias_coefficients(g: Gates) -> np.ndarray:
    """(4, n): ds_i/db_*[i] for b_u, b_r, b_z, b_rz."""
    return array_module(g.u).stack([g.d_u, g.d_r, g.d_z, g.d_z * g.r])


def dense_preactivations(params: dict, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense W x and R y, each (3, n) in gate order u, r, z (masked entries multiply as zeros)."""
    xp = array_module(y)
    wx = xp.stack([params["W_u"] @ x, params["W_r"] @ x, params["W_z"] @ x])
    ry = xp.stack([params["R_u"] @ y, params["R_r"] @ y, params["R_z"] @ y])
    return wx, ry
