"""Dense GEMM on a systolic array: folds, compute cycles and operand SRAM traffic (closed forms).

C (m x n) = A (m x k) @ B (k x n) on an R x C array. Each dataflow keeps one operand (or the
output) stationary and maps two dimensions onto rows and columns; the third runs in time:

=========  =========  =========  ========  ==========================================
dataflow   rows       cols       time (T)  fill + drain per fold
=========  =========  =========  ========  ==========================================
os         m          n          k         R + C - 2
ws         k          n          m         2R + C - 2 (R cycles to preload the weights)
is         k          m          n         2R + C - 2 (R cycles to preload the inputs)
=========  =========  =========  ========  ==========================================

folds = ceil(rows_dim / R) * ceil(cols_dim / C). ``fold_overlap=False`` (SCALE-Sim):
cycles = folds * (T + fill_drain) - 1. ``fold_overlap=True`` (ZigZag): cycles = folds * T.
T is divided by ``macs_per_cycle`` (each PE does that many MACs of the time loop per cycle).

Operand traffic in words (SCALE-Sim's counts, with the true ofmap writes):
os: A m*k*ceil(n/C), B k*n*ceil(m/R), C writes m*n;
ws: A m*k*ceil(n/C), B k*n, C writes m*n*ceil(k/R) (partial sums per K-fold), reads m*n*(ceil(k/R)-1);
is: A m*k, B k*n*ceil(m/C), C writes m*n*ceil(k/R), reads m*n*(ceil(k/R)-1).
All functions take numpy int64 arrays (one entry per op) and return arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GemmCost:
    """Per-op arrays. ``cycles``: PE-array cycles; the rest are words (elements)."""

    folds: np.ndarray
    cycles: np.ndarray
    a_read_words: np.ndarray
    b_read_words: np.ndarray
    c_write_words: np.ndarray
    c_read_words: np.ndarray


def _ceil_div(a: np.ndarray, b: int | np.ndarray) -> np.ndarray:
    return -(-a // b)


def gemm_cost(m, k, n, rows: int, cols: int, dataflow: str, fold_overlap: bool,
              macs_per_cycle: int = 1) -> GemmCost:
    """Closed-form cost of dense GEMMs of shapes (m, k, n) (arrays or ints)."""
    m, k, n = (np.asarray(x, dtype=np.int64) for x in (m, k, n))
    if dataflow == "os":
        row_dim, col_dim, time_dim, fill = m, n, k, rows + cols - 2
        a = m * k * _ceil_div(n, cols)
        b = k * n * _ceil_div(m, rows)
        c_w, c_r = m * n, np.zeros_like(m)
    elif dataflow == "ws":
        row_dim, col_dim, time_dim, fill = k, n, m, 2 * rows + cols - 2
        kf = _ceil_div(k, rows)
        a, b, c_w, c_r = m * k * _ceil_div(n, cols), k * n, m * n * kf, m * n * (kf - 1)
    elif dataflow == "is":
        row_dim, col_dim, time_dim, fill = k, m, n, 2 * rows + cols - 2
        kf = _ceil_div(k, rows)
        a, b, c_w, c_r = m * k, k * n * _ceil_div(m, cols), m * n * kf, m * n * (kf - 1)
    else:
        raise ValueError(f"unknown dataflow {dataflow!r}")
    folds = _ceil_div(row_dim, rows) * _ceil_div(col_dim, cols)
    t = _ceil_div(time_dim, macs_per_cycle)
    if fold_overlap:
        cycles = folds * t
    else:
        cycles = np.maximum(folds * (t + fill) - 1, 0)
    empty = (m == 0) | (k == 0) | (n == 0)
    cycles = np.where(empty, 0, cycles)
    return GemmCost(folds, cycles, a, b, c_w, c_r)
