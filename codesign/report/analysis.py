"""What a report says, computed from the stored rows (no plotting, no formatting).

Typed results: the feasible set under the spec's constraints, the Pareto front over its
objectives, the winners (one per objective, chosen among the Pareto-optimal points only, with the
reason), the headline (the best sparse-RTRL model on its fastest config), the KPI table for BPTT,
dense RTRL and sparse RTRL and the real-time rate the spec asks for. Units follow the row columns
(pJ, seconds, bytes, mm², mW, steps/s, fraction).

The learning state is the one :mod:`codesign.columns` defines (bytes the simulated config stores
for the influence matrix or BPTT's history, datatype and format metadata included), and its
verdict (fits on chip / spills to DRAM) is the row's ``learning_state_fits_on_chip``: this module
reads both and never recomputes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from codesign.report.units import fmt_metric

METHOD_ORDER = ("bptt", "dense_rtrl", "sparse_rtrl")
METHOD_NAMES = {"bptt": "BPTT", "dense_rtrl": "dense RTRL", "sparse_rtrl": "sparse RTRL"}
DEFAULT_OBJECTIVES = [
    {"metric": "energy_per_sample_pj", "goal": "min"},
    {"metric": "latency_per_step_s", "goal": "min"},
    {"metric": "test_accuracy", "goal": "max"},
]


@dataclass(frozen=True)
class Winner:
    objective: str
    goal: str
    row: dict[str, Any]
    reason: str


REALTIME_METRIC = "realtime_steps_per_s"


def state_bytes(row: dict[str, Any]) -> float:
    """The learning state of a row as the config stores it (bytes; :mod:`codesign.columns`).
    Rows written before that definition carry it as ``memory_bytes_learning_state``."""
    if "learning_state_levels" not in row and isinstance(row.get("memory_bytes_learning_state"), (int, float)):
        return float(row["memory_bytes_learning_state"])
    return _value(row, "learning_state_bytes")


def fits_on_chip(row: dict[str, Any]) -> bool | None:
    """The row's verdict: True fits on chip, False spills to DRAM, None unknown."""
    v = row.get("learning_state_fits_on_chip", row.get("influence_fits_on_chip"))
    return None if v is None else bool(v)


def verdict(row: dict[str, Any]) -> str:
    return {True: "fits on chip", False: "spills to DRAM", None: "?"}[fits_on_chip(row)]


def who(row: dict[str, Any]) -> str:
    """``config / method n=.. rho=..``: one point, for the report's text."""
    return (f"{row.get('config')} / {METHOD_NAMES.get(row.get('method'), row.get('method'))} "
            f"n={row.get('n_hidden')} ρ={float(row.get('weight_density') or 0):g}")


@dataclass(frozen=True)
class Headline:
    """The best sparse-RTRL model (highest accuracy) on its fastest feasible config."""

    row: dict[str, Any]
    n_configs: int


@dataclass(frozen=True)
class KpiRow:
    """One model point of the KPI table. Times in seconds, memory in bytes, accuracy 0-1."""

    method: str
    task: str
    n_hidden: int
    weight_density: float
    config: str
    sim_time_per_step_s: float
    host_step_time_ms: float | None
    learning_state_bytes: int  # as stored on ``config`` (codesign.columns)
    learning_state_fits: bool | None
    bptt_state_bytes: int
    test_accuracy: float
    trained_sequences: int
    update_every: str = "?"  # "step" or "sequence"
    influence_fill_mean: float = float("nan")  # fraction of M non-zero, mean over the traced steps (RTRL)
    influence_fill_end: float = float("nan")  # the same after a sequence's last step
    energy_per_step_pj: float = float("nan")
    pseudo_derivative_width: float = float("nan")


@dataclass
class Analysis:
    rows: list[dict[str, Any]]
    objectives: list[dict[str, str]]
    constraints: list[dict[str, Any]]
    feasible: list[bool]
    pareto: list[bool]
    winners: list[Winner] = field(default_factory=list)
    kpis: list[KpiRow] = field(default_factory=list)
    spec_name: str = "sweep"
    headline: Headline | None = None
    realtime_rate: float | None = None  # steps/s the spec's real-time constraint asks for
    regimes: list = field(default_factory=list)  # codesign.regime.Regime per config with a BPTT / RTRL pair
    reference_config: str | None = None  # the config the KPI table prices every model on

    @property
    def front(self) -> list[dict[str, Any]]:
        return [r for r, p in zip(self.rows, self.pareto) if p]

    def config_rows(self) -> list[dict[str, Any]]:
        """One row per config label (its first), in row order."""
        seen: dict[str, dict[str, Any]] = {}
        for r in self.rows:
            seen.setdefault(r["config"], r)
        return list(seen.values())

    @property
    def n_feasible(self) -> int:
        return int(sum(self.feasible))


def _value(row: dict[str, Any], metric: str) -> float:
    v = row.get(metric)
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def constraint_holds(row: dict[str, Any], c: dict[str, Any]) -> bool:
    v = _value(row, c["metric"])
    if v != v:
        return False
    return (c.get("min") is None or v >= c["min"]) and (c.get("max") is None or v <= c["max"])


def pareto_mask(values: np.ndarray) -> np.ndarray:
    """values (n_points, n_objectives), all to be minimised → bool mask of non-dominated rows."""
    n = values.shape[0]
    mask = np.ones(n, bool)
    for i in range(n):
        if not np.all(np.isfinite(values[i])):
            mask[i] = False
            continue
        dominated = np.all(values <= values[i], axis=1) & np.any(values < values[i], axis=1)
        mask[i] = not dominated.any()
    return mask


def _signed(rows: list[dict[str, Any]], objectives: list[dict[str, str]]) -> np.ndarray:
    cols = []
    for obj in objectives:
        v = np.array([_value(r, obj["metric"]) for r in rows], float)
        cols.append(v if obj["goal"] == "min" else -v)
    return np.stack(cols, axis=1) if cols else np.zeros((len(rows), 0))


def _same_point(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.get("config") == b.get("config") and a.get("model_key") == b.get("model_key")


def _winner(rows: list[dict[str, Any]], pareto: list[bool], n_feasible: int, obj: dict[str, str]) -> Winner | None:
    """The best Pareto-optimal point on one objective (so never a point another beats on all)."""
    metric, goal = obj["metric"], obj["goal"]
    cand = [r for r, ok in zip(rows, pareto) if ok and _value(r, metric) == _value(r, metric)]
    if not cand:
        return None
    sign = 1 if goal == "min" else -1
    cand.sort(key=lambda r: (_value(r, metric) * sign, str(r.get("config")), str(r.get("model_key"))))
    best = cand[0]
    b = _value(best, metric)
    word = "lowest" if goal == "min" else "highest"
    reason = f"{word} {metric} ({fmt_metric(metric, b)}) of {len(cand)} Pareto-optimal points ({n_feasible} feasible)"
    others = [r for r in cand[1:] if not _same_point(r, best)]
    ties = [r for r in others if _value(r, metric) == b]
    if ties:
        if len(ties) == len(others):
            reason += f"; all {len(others) + 1} Pareto-optimal points tie on it"
        elif len(ties) <= 2:
            reason += "; ties with " + ", ".join(who(r) for r in ties)
        else:
            reason += f"; ties with {len(ties)} other points"
    rest = [r for r in others if _value(r, metric) != b]
    if rest and b != 0:
        nxt = _value(rest[0], metric)
        rel = abs(nxt - b) / abs(b) * 100
        reason += f"; next best, {who(rest[0])}, is {rel:.3g}% {'higher' if nxt > b else 'lower'}"
    fits = fits_on_chip(best)
    if fits is not None:
        reason += "; learning state " + ("fits on chip" if fits else "spills to DRAM")
    return Winner(metric, goal, best, reason)


def _headline(rows: list[dict[str, Any]], feasible: list[bool]) -> Headline | None:
    """The most accurate sparse-RTRL model (any model if none), on its fastest feasible config."""
    pool = [r for r, ok in zip(rows, feasible) if ok] or rows
    sparse = [r for r in pool if r.get("method") == "sparse_rtrl"] or pool
    if not sparse:
        return None
    best_model = max(sparse, key=lambda r: (_value(r, "test_accuracy"), str(r["model_key"])))["model_key"]
    mine = [r for r in pool if r["model_key"] == best_model]
    fastest = min(mine, key=lambda r: (_value(r, "latency_per_step_s"), str(r["config"])))
    return Headline(fastest, len({r["config"] for r in mine}))


def reference_config(rows: list[dict[str, Any]]) -> str | None:
    """The config the KPI table prices every model on: the most-used one, a skipping one first."""
    if not rows:
        return None
    configs = [r["config"] for r in rows]
    counts = {c: configs.count(c) for c in configs}
    preferred = [c for c in counts if "skipping" in c] or list(counts)
    return max(preferred, key=lambda c: counts[c])


def _kpi_rows(rows: list[dict[str, Any]], models: dict[str, dict[str, Any]]) -> list[KpiRow]:
    """One row per model point, priced on a common reference config (:func:`reference_config`)."""
    reference = reference_config(rows)
    if reference is None:
        return []
    out, seen = [], set()
    for r in rows:
        if r["model_key"] in seen or r["config"] != reference:
            continue
        seen.add(r["model_key"])
        host = models.get(r["model_key"], {}).get("host_step_time_ms")
        out.append(KpiRow(
            method=r["method"], task=r["task"], n_hidden=int(r["n_hidden"]), weight_density=float(r["weight_density"]),
            config=reference, sim_time_per_step_s=_value(r, "latency_per_step_s"),
            host_step_time_ms=None if host is None else float(host),
            learning_state_bytes=int(state_bytes(r)), learning_state_fits=fits_on_chip(r),
            bptt_state_bytes=int(_value(r, "bptt_state_bytes")), test_accuracy=_value(r, "test_accuracy"),
            trained_sequences=int(_value(r, "trained_sequences")) if r.get("trained_sequences") is not None else 0,
            update_every=str(r.get("update_every", "?")), energy_per_step_pj=_value(r, "energy_per_step_pj"),
            pseudo_derivative_width=_value(r, "pseudo_derivative_width"),
            influence_fill_mean=_value(r, "influence_fill_mean"), influence_fill_end=_value(r, "influence_fill_end"),
        ))
    rank = {m: i for i, m in enumerate(METHOD_ORDER)}
    out.sort(key=lambda k: (k.trained_sequences, k.update_every, rank.get(k.method, 9), k.n_hidden, -k.weight_density))
    return out


def _regimes(rows: list[dict[str, Any]], reference: str | None) -> list:
    """Sparse RTRL vs BPTT (codesign.regime) on every config with a matching pair, reference first."""
    from codesign.regime import pairs, regime

    configs = list(dict.fromkeys(r["config"] for r in rows))
    configs.sort(key=lambda c: c != reference)
    out = []
    for c in configs:
        pair = pairs(rows, c)
        found = regime(*pair) if pair else None
        if found is not None:
            out.append(found)
    return out


def analyse(rows: list[dict[str, Any]], models: list[dict[str, Any]], meta: dict[str, str]) -> Analysis:
    spec = json.loads(meta["spec_json"]) if meta.get("spec_json") else {}
    objectives = spec.get("objectives") or DEFAULT_OBJECTIVES
    constraints = spec.get("constraints") or []
    feasible = [all(constraint_holds(r, c) for c in constraints) for r in rows]
    signed = _signed(rows, objectives)
    signed[~np.array(feasible, bool)] = np.inf  # infeasible points dominate nothing and are never on the front
    pareto = [bool(p) for p in pareto_mask(signed)] if rows else []
    an = Analysis(rows, objectives, constraints, feasible, pareto, spec_name=meta.get("spec_name", "sweep"))
    an.winners = [w for w in (_winner(rows, pareto, an.n_feasible, o) for o in objectives) if w is not None]
    an.kpis = _kpi_rows(rows, {m["model_key"]: m for m in models})
    an.reference_config = reference_config(rows)
    an.regimes = _regimes(rows, an.reference_config)
    an.headline = _headline(rows, feasible)
    rates = [c["min"] for c in constraints if c["metric"] == REALTIME_METRIC and c.get("min") is not None]
    an.realtime_rate = float(max(rates)) if rates else None
    return an
