"""The report's tables as data (header + rows of strings), rendered to HTML or Markdown."""

from __future__ import annotations

import html
from dataclasses import dataclass

from typing import Any

from codesign.report.analysis import METHOD_NAMES, Analysis, fits_on_chip, state_bytes, verdict
from codesign.report.units import fmt_area, fmt_bytes, fmt_energy, fmt_power, fmt_rate, fmt_time


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]

    def markdown(self) -> str:
        if not self.rows:
            return "_(no rows)_\n"
        esc = [[c.replace("|", "\\|") for c in row] for row in self.rows]
        lines = ["| " + " | ".join(self.header) + " |", "|" + "---|" * len(self.header)]
        lines += ["| " + " | ".join(r) + " |" for r in esc]
        return "\n".join(lines) + "\n"

    def html(self) -> str:
        if not self.rows:
            return "<p><em>(no rows)</em></p>"
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.header)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in self.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _f(row: dict[str, Any], key: str) -> float:
    try:
        return float(row.get(key))
    except (TypeError, ValueError):
        return float("nan")


def _method(row: dict[str, Any]) -> str:
    return METHOD_NAMES.get(row.get("method"), str(row.get("method")))


def kpi_table(an: Analysis) -> Table:
    header = ["trained on", "updates", "method", "task", "n_hidden", "weight density", "eps",
              "compute time per step (simulated)", "energy per step", "on config", "host time per step",
              "learning state as stored on the config", "influence fill (mean / end)", "test accuracy"]
    rows = []
    for k in an.kpis:
        state = fmt_bytes(k.learning_state_bytes) + {True: " (fits on chip)", False: " (spills to DRAM)"}.get(
            k.learning_state_fits, "")
        rows.append([
            f"{k.trained_sequences} sequences" if k.trained_sequences else "?",
            {"step": "every step", "sequence": "per sequence"}.get(k.update_every, k.update_every),
            METHOD_NAMES.get(k.method, k.method), k.task, str(k.n_hidden), f"{k.weight_density:g}",
            f"{k.pseudo_derivative_width:g}", fmt_time(k.sim_time_per_step_s), fmt_energy(k.energy_per_step_pj),
            k.config, "n/a" if k.host_step_time_ms is None else f"{k.host_step_time_ms:.3g} ms",
            state, "n/a" if k.influence_fill_mean != k.influence_fill_mean else
            f"{100 * k.influence_fill_mean:.1f} % / {100 * k.influence_fill_end:.1f} %",
            f"{k.test_accuracy * 100:.1f} %",
        ])
    return Table(header, rows)


def winners_table(an: Analysis) -> Table:
    header = ["objective", "winner (config / method)", "model", "energy per step", "latency per step",
              "test accuracy", "why it wins"]
    rows = []
    for w in an.winners:
        r = w.row
        rows.append([
            f"{w.goal} {w.objective}", f"{r['config']} / {_method(r)}",
            f"n_hidden={r['n_hidden']}, density={float(r['weight_density']):g}",
            fmt_energy(_f(r, "energy_per_step_pj")), fmt_time(_f(r, "latency_per_step_s")),
            f"{_f(r, 'test_accuracy') * 100:.1f} %", w.reason,
        ])
    return Table(header, rows)


def pareto_table(an: Analysis, limit: int = 15) -> Table:
    header = ["config", "method", "n_hidden", "weight density", "energy per step", "latency per step",
              "test accuracy", "area", "average power", "learning state", "on chip?"]
    rows = []
    front = sorted(an.front, key=lambda r: _f(r, "energy_per_step_pj"))
    for r in front[:limit]:
        rows.append([
            r["config"], _method(r), str(r["n_hidden"]), f"{float(r['weight_density']):g}",
            fmt_energy(_f(r, "energy_per_step_pj")), fmt_time(_f(r, "latency_per_step_s")),
            f"{_f(r, 'test_accuracy') * 100:.1f} %", fmt_area(_f(r, "area_mm2")), fmt_power(_f(r, "power_mw")),
            fmt_bytes(state_bytes(r)), verdict(r),
        ])
    return Table(header, rows)


def _levels(r: dict[str, Any]) -> list[str]:
    """The SRAM levels a row's columns describe (``sram.<level>.capacity_bytes``), in column order."""
    return [k[len("sram."):-len(".capacity_bytes")] for k in r if k.startswith("sram.") and k.endswith(".capacity_bytes")]


def _level_text(r: dict[str, Any], lv: str) -> str:
    size, cap = r.get(f"sram.{lv}.size_bytes"), r.get(f"sram.{lv}.capacity_bytes")
    text = f"{lv}: {fmt_bytes(float(size if size is not None else cap))}"
    if r.get(f"sram.{lv}.scope") == "pe_local":
        text += f" per PE ({fmt_bytes(float(cap))} in all)"
    if r.get(f"sram.{lv}.banks") is not None:
        text += f", {r[f'sram.{lv}.banks']} banks x {r.get(f'sram.{lv}.width_bytes')} B"
    return text


def hardware_table(an: Analysis) -> Table:
    """One row per config: the summary columns of :func:`codesign.columns.config_columns`, area and
    the average / peak power and the PE imbalance of the most accurate sparse-RTRL model on it (both
    depend on the work)."""
    header = ["config", "PEs", "MACs / cycle", "datatype", "clock", "node", "SRAM levels (size, banks x width)",
              "DRAM", "index units", "formats", "sparse actions", "area", "power (avg / peak)",
              "PE imbalance (busiest / mean)"]
    rows = []
    ref_model = an.headline.row["model_key"] if an.headline else None
    for r in an.config_rows():
        mine = [x for x in an.rows if x["config"] == r["config"]]
        p = next((x for x in mine if x["model_key"] == ref_model), mine[0])
        pes = f"{r['pes']} ({r.get('pe_rows')}x{r.get('pe_cols')})" if r.get("pes") is not None else "?"
        clock = f"{_f(r, 'clock_hz') / 1e6:g} MHz" if r.get("clock_hz") is not None else "?"
        dram = (f"{_f(r, 'dram_bytes_per_cycle'):g} B/cycle, {_f(r, 'dram_pj_per_bit'):.3g} pJ/bit"
                if r.get("dram_bytes_per_cycle") is not None else "?")
        index = (f"{r['index_units']} ({_f(r, 'index_per_cycle'):g} indices/cycle)"
                 if r.get("index_units") is not None else "?")
        rows.append([
            r["config"], pes, str(r.get("macs_per_cycle", "?")), str(r.get("datatype", "?")), clock,
            f"{_f(r, 'technology_nm'):g} nm" if r.get("technology_nm") is not None else "?",
            "; ".join(_level_text(r, lv) for lv in _levels(r)) or "?", dram, index, str(r.get("formats", "?")),
            str(r.get("sparse_actions", "?")), fmt_area(_f(r, "area_mm2")),
            f"{fmt_power(_f(p, 'power_mw'))} / {fmt_power(_f(p, 'power_peak_mw'))}",
            f"{_f(p, 'pe_imbalance'):.2f} (worst op {_f(p, 'pe_imbalance_worst_op'):.1f})"
            if p.get("pe_imbalance") is not None else "?",
        ])
    return Table(header, rows)


def memory_table(an: Analysis) -> Table:
    """Per config and model point: the learning state's level(s), its size there, that level's
    capacity and what else is resident there, and the verdict (the row's own)."""
    header = ["config", "model point", "learning state at", "size there", "level capacity",
              "other tensors resident there", "verdict"]
    rows = []
    for r in an.rows:
        levels = [lv.strip() for lv in str(r.get("learning_state_levels") or "").split(">") if lv.strip()]
        if not levels:
            continue
        sizes, caps, others = [], [], []
        for lv in levels:
            ls, cap = _f(r, f"sram.{lv}.learning_state_bytes"), _f(r, f"sram.{lv}.capacity_bytes")
            resident = _f(r, f"sram.{lv}.resident_bytes")
            sizes.append(fmt_bytes(ls))
            caps.append(fmt_bytes(cap))
            others.append(fmt_bytes(max(resident - (ls if fits_on_chip(r) else 0.0), 0.0)))
        rows.append([r["config"], f"{_method(r)} n={r['n_hidden']} ρ={float(r['weight_density']):g}",
                     " > ".join(levels), " > ".join(sizes), " > ".join(caps), " > ".join(others), verdict(r)])
    return Table(header, rows)


def realtime_table(an: Analysis) -> Table:
    """Per config and model point: the highest input rate every step (learning included) keeps up
    with, the rate sustained with buffered inputs, and the spec's real-time check."""
    header = ["config", "model point", "slowest step", "highest real-time rate", "sustained rate (buffered)"]
    if an.realtime_rate is not None:
        header.append(f"learns in real time at {fmt_rate(an.realtime_rate)}?")
    rows = []
    for r in an.rows:
        if r.get("realtime_steps_per_s") is None:
            continue
        line = [r["config"], f"{_method(r)} n={r['n_hidden']} ρ={float(r['weight_density']):g}",
                fmt_time(_f(r, "worst_step_latency_s")), fmt_rate(_f(r, "realtime_steps_per_s")),
                fmt_rate(_f(r, "sustained_steps_per_s"))]
        if an.realtime_rate is not None:
            line.append("yes" if _f(r, "realtime_steps_per_s") >= an.realtime_rate else "no")
        rows.append(line)
    return Table(header, rows)


def _window(w: float) -> str:
    if w == float("inf"):
        return "never"
    return "always" if w <= 1 else f"W > {w:.3g}"


def regime_table(an: Analysis) -> Table:
    """Per config: from which BPTT window W (steps) sparse RTRL needs less memory, a shorter
    updating step and less energy per step (BPTT updating every step), and where BPTT's history
    outgrows its level (codesign.regime)."""
    header = ["config", "sparse RTRL point", "sparse RTRL learning state", "BPTT history per step", "RTRL smaller from",
              "RTRL update faster from", "RTRL energy lower from (BPTT online)", "BPTT history fits up to",
              "on the traced sequences (W = their length, one update per sequence)"]
    rows = []
    for g in an.regimes:
        W = g.trace_window
        per_seq = g.bptt_energy_per_step(W, W)
        cheaper = "BPTT" if per_seq < g.rtrl.energy_pj else "sparse RTRL"
        faster = "BPTT" if g.bptt_update_cycles(W) < g.rtrl.cycles else "sparse RTRL"
        spill = g.spill_window
        rows.append([
            g.config, g.rtrl_model, fmt_bytes(g.rtrl_bytes), fmt_bytes(g.history_bytes_per_step), _window(g.memory_window),
            _window(g.latency_window), _window(g.energy_window),
            "unknown" if spill == float("inf") else f"W = {spill:,.0f}",
            f"W = {W}: {cheaper} uses less energy ({fmt_energy(per_seq)} vs {fmt_energy(g.rtrl.energy_pj)} per step); "
            f"{faster} finishes an updating step sooner",
        ])
    return Table(header, rows)
