"""CuPy ElementwiseKernels for the per-unit step math of ``rtrl.cell`` (events and gates).

On the GPU each numpy expression in ``rtrl.cell`` would be its own kernel launch (about 40 per
step); these fuse them into two launches. Their numpy twins are ``rtrl.cell.events`` and
``rtrl.cell.gates`` themselves (the CPU path), which call into this module only for CuPy arrays.
Importing this module imports CuPy. All arrays (n,), dtype T = float32 or float64.
"""

from __future__ import annotations

import cupy

EVENTS_BODY = """
    const T v = s - thr;
    o = v > (T)0 ? (T)1 : (T)0;
    const T h = (T)1 - fabs(v) / eps;
    dH = gamma * (h > (T)0 ? h : (T)0);
    y = o * s;
    c = s - o * thr;
    dy = o + s * dH;
    dc = (T)1 - thr * dH;
    dy_thr = -s * dH;
    dc_thr = -o + thr * dH;
"""

GATES_BODY = """
    u = (T)0.5 * ((T)1 + tanh((T)0.5 * (wx_u + ry_u + b_u)));
    r = (T)0.5 * ((T)1 + tanh((T)0.5 * (wx_r + ry_r + b_r)));
    hz = ry_z + b_rz;
    z = tanh(wx_z + r * hz + b_z);
    s = u * c_prev + ((T)1 - u) * z;
    d_z = ((T)1 - u) * ((T)1 - z * z);
    d_u = (c_prev - z) * u * ((T)1 - u);
    d_r = d_z * hz * r * ((T)1 - r);
    diag = u * dc_prev;
"""

EVENTS_IN, EVENTS_OUT = "T s, T thr, T gamma, T eps", "T o, T dH, T y, T c, T dy, T dc, T dy_thr, T dc_thr"
GATES_IN = "T wx_u, T wx_r, T wx_z, T ry_u, T ry_r, T ry_z, T b_u, T b_r, T b_z, T b_rz, T c_prev, T dc_prev"
GATES_OUT = "T u, T r, T z, T hz, T s, T d_u, T d_r, T d_z, T diag"

_events = cupy.ElementwiseKernel(EVENTS_IN, EVENTS_OUT, EVENTS_BODY, "rtrl_events")
_gates = cupy.ElementwiseKernel(GATES_IN, GATES_OUT, GATES_BODY, "rtrl_gates")


def events(s, thr, gamma: float, eps: float) -> tuple:
    """(o, dH, y, c, dy, dc, dy_thr, dc_thr) of state ``s`` against ``thr`` (see rtrl.cell.Events)."""
    dtype = s.dtype
    return _events(s, thr, dtype.type(gamma), dtype.type(eps))


def gates(wx, ry, b_u, b_r, b_z, b_rz, c_prev, dc_prev) -> tuple:
    """(u, r, z, hz, s, d_u, d_r, d_z, diag) from ``wx``, ``ry`` (3, n) (see rtrl.cell.Gates)."""
    return _gates(wx[0], wx[1], wx[2], ry[0], ry[1], ry[2], b_u, b_r, b_z, b_rz, c_prev, dc_prev)
