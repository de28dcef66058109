"""Pick a readable unit for a set of values (pJ→µJ, s→µs, B→MiB) and format numbers with it."""

from __future__ import annotations

import math
from typing import Iterable

_ENERGY = [(1e-12, "pJ"), (1e-9, "nJ"), (1e-6, "µJ"), (1e-3, "mJ"), (1.0, "J")]  # unit size in joules
_TIME = [(1e-9, "ns"), (1e-6, "µs"), (1e-3, "ms"), (1.0, "s")]
_BYTES = [(1, "B"), (2**10, "KiB"), (2**20, "MiB"), (2**30, "GiB")]


def _pick(magnitude: float, table: list[tuple[float, str]]) -> tuple[float, str]:
    chosen = table[0]
    for size, name in table:
        if magnitude >= size:
            chosen = (size, name)
    return chosen


def _typical(values: Iterable[float]) -> float:
    vals = sorted(abs(v) for v in values if v == v and math.isfinite(v) and v != 0)
    return vals[len(vals) // 2] if vals else 0.0


def energy_unit(values_pj: Iterable[float]) -> tuple[float, str]:
    """→ (divide pJ values by this, unit name)."""
    size, name = _pick(_typical(values_pj) * 1e-12, _ENERGY)
    return size / 1e-12, name


def time_unit(values_s: Iterable[float]) -> tuple[float, str]:
    return _pick(_typical(values_s), _TIME)


def bytes_unit(values_b: Iterable[float]) -> tuple[float, str]:
    return _pick(_typical(values_b), _BYTES)


def fmt_energy(pj: float) -> str:
    div, name = energy_unit([pj])
    return f"{pj / div:.3g} {name}"


def fmt_time(seconds: float) -> str:
    div, name = time_unit([seconds])
    return f"{seconds / div:.3g} {name}"


def fmt_bytes(n: float) -> str:
    div, name = bytes_unit([n])
    return f"{n / div:.3g} {name}"


def fmt_area(mm2: float) -> str:
    return "n/a" if mm2 != mm2 else f"{mm2:.3g} mm²"


def fmt_power(mw: float) -> str:
    if mw != mw:
        return "n/a"
    return f"{mw / 1000:.3g} W" if mw >= 1000 else (f"{mw * 1000:.3g} µW" if 0 < mw < 0.1 else f"{mw:.3g} mW")


def fmt_rate(steps_per_s: float) -> str:
    """Steps per second with a k/M prefix (``inf`` for a zero-latency step)."""
    if steps_per_s != steps_per_s:
        return "n/a"
    if not math.isfinite(steps_per_s):
        return "unbounded"
    for size, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if steps_per_s >= size:
            return f"{steps_per_s / size:.3g} {prefix}steps/s"
    return f"{steps_per_s:.3g} steps/s"


def fmt_metric(metric: str, value: float) -> str:
    """Format a row metric with the unit its name implies."""
    if value != value:
        return "n/a"
    if metric.endswith("_pj"):
        return fmt_energy(value)
    if metric.endswith("_s"):
        return fmt_time(value)
    if metric.endswith("_bytes"):
        return fmt_bytes(value)
    if metric.startswith("area_mm2"):
        return fmt_area(value)
    if metric.startswith("power") and metric.endswith("_mw"):
        return fmt_power(value)
    if metric.endswith("_steps_per_s"):
        return fmt_rate(value)
    if metric in ("test_accuracy", "activity_fired", "activity_support", "pe_utilization"):
        return f"{value * 100:.1f} %"
    if metric.startswith("cycles"):
        return f"{value:.4g} cycles"
    return f"{value:.4g}"


def count(n: int, noun: str) -> str:
    """``1 point``, ``2 points``: a count with its noun in the right number ("model point" -> "model points")."""
    return f"{n} {noun}" + ("" if n == 1 else "s")
