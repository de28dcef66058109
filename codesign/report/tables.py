"""The report's tables as data (header + rows of strings), rendered to HTML or Markdown."""

from __future__ import annotations

import html
from dataclasses import dataclass

from codesign.report.analysis import METHOD_NAMES, Analysis
from codesign.report.units import fmt_bytes, fmt_energy, fmt_time


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


def kpi_table(an: Analysis) -> Table:
    header = ["method", "task", "n_hidden", "weight density", "compute time per step (simulated)", "on config",
              "host time per step", "learning-state memory", "BPTT state (same length)", "test accuracy",
              "trained on"]
    rows = []
    for k in an.kpis:
        rows.append([
            METHOD_NAMES.get(k.method, k.method), k.task, str(k.n_hidden), f"{k.weight_density:g}",
            fmt_time(k.sim_time_per_step_s), k.config,
            "n/a" if k.host_step_time_ms is None else f"{k.host_step_time_ms:.3g} ms",
            fmt_bytes(k.learning_state_bytes), fmt_bytes(k.bptt_state_bytes), f"{k.test_accuracy * 100:.1f} %",
            f"{k.trained_sequences} sequences" if k.trained_sequences else "?",
        ])
    return Table(header, rows)


def winners_table(an: Analysis) -> Table:
    header = ["objective", "winner (config / method)", "model", "energy per sample", "latency per step",
              "test accuracy", "why it wins"]
    rows = []
    for w in an.winners:
        r = w.row
        rows.append([
            f"{w.goal} {w.objective}", f"{r['config']} / {METHOD_NAMES.get(r['method'], r['method'])}",
            f"n_hidden={r['n_hidden']}, density={float(r['weight_density']):g}",
            fmt_energy(float(r.get("energy_per_sample_pj", float("nan")))),
            fmt_time(float(r.get("latency_per_step_s", float("nan")))),
            f"{float(r.get('test_accuracy', float('nan'))) * 100:.1f} %", w.reason,
        ])
    return Table(header, rows)


def pareto_table(an: Analysis, limit: int = 15) -> Table:
    header = ["config", "method", "n_hidden", "weight density", "energy per sample", "latency per step",
              "test accuracy", "learning state", "fits on chip"]
    rows = []
    front = [r for r, p in zip(an.rows, an.pareto) if p]
    front.sort(key=lambda r: float(r.get("energy_per_sample_pj", 0)))
    for r in front[:limit]:
        fits = r.get("influence_fits_on_chip")
        rows.append([
            r["config"], METHOD_NAMES.get(r["method"], r["method"]), str(r["n_hidden"]), f"{float(r['weight_density']):g}",
            fmt_energy(float(r.get("energy_per_sample_pj", float("nan")))),
            fmt_time(float(r.get("latency_per_step_s", float("nan")))),
            f"{float(r.get('test_accuracy', float('nan'))) * 100:.1f} %",
            fmt_bytes(float(r.get("learning_state_bytes", 0))), {1: "yes", 0: "no (DRAM)"}.get(fits, "?"),
        ])
    return Table(header, rows)
