"""What a report says, computed from the stored rows (no plotting, no formatting).

Typed results: the feasible set under the spec's constraints, the Pareto front over its
objectives, the winners (one per objective, with the reason) and the KPI table for BPTT, dense
RTRL and sparse RTRL. Units follow the row columns (pJ, seconds, bytes, fraction).
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
    learning_state_bytes: int
    bptt_state_bytes: int
    test_accuracy: float
    trained_sequences: int


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


def _winner(rows: list[dict[str, Any]], feasible: list[bool], obj: dict[str, str]) -> Winner | None:
    metric, goal = obj["metric"], obj["goal"]
    cand = [r for r, ok in zip(rows, feasible) if ok and _value(r, metric) == _value(r, metric)]
    if not cand:
        return None
    cand.sort(key=lambda r: _value(r, metric) * (1 if goal == "min" else -1))
    best = cand[0]
    b = _value(best, metric)
    word = "lowest" if goal == "min" else "highest"
    reason = f"{word} {metric} ({fmt_metric(metric, b)}) of {len(cand)} feasible points"
    others = [r for r in cand[1:] if r.get("config") != best.get("config") or r.get("model_key") != best.get("model_key")]
    if others:
        nxt = _value(others[0], metric)
        who = f"{others[0].get('config')} ({METHOD_NAMES.get(others[0].get('method'), others[0].get('method'))})"
        if nxt == b:
            reason += f"; ties with {who}"
        elif b != 0 and nxt == nxt:
            rel = abs(nxt - b) / abs(b) * 100
            reason += f"; next best, {who}, is {rel:.1f}% {'higher' if nxt > b else 'lower'}"
    if best.get("influence_fits_on_chip") == 1:
        reason += "; learning state fits on chip"
    elif best.get("influence_fits_on_chip") == 0:
        reason += "; learning state spills to DRAM"
    return Winner(metric, goal, best, reason)


def _kpi_rows(rows: list[dict[str, Any]], models: dict[str, dict[str, Any]]) -> list[KpiRow]:
    """One row per model point, priced on a common reference config (the most-used base config)."""
    if not rows:
        return []
    configs = [r["config"] for r in rows]
    counts = {c: configs.count(c) for c in configs}
    preferred = [c for c in counts if "skipping" in c] or list(counts)
    reference = max(preferred, key=lambda c: counts[c])
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
            learning_state_bytes=int(_value(r, "learning_state_bytes")),
            bptt_state_bytes=int(_value(r, "bptt_state_bytes")), test_accuracy=_value(r, "test_accuracy"),
            trained_sequences=int(_value(r, "trained_sequences")) if r.get("trained_sequences") is not None else 0,
        ))
    rank = {m: i for i, m in enumerate(METHOD_ORDER)}
    out.sort(key=lambda k: (rank.get(k.method, 9), k.n_hidden, -k.weight_density))
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
    an.winners = [w for w in (_winner(rows, feasible, o) for o in objectives) if w is not None]
    an.kpis = _kpi_rows(rows, {m["model_key"]: m for m in models})
    return an
