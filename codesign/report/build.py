"""Render a report folder from a result store: ``index.html`` (self-contained: plots embedded as
base64 PNG, inline CSS, no scripts), ``report.md`` (plots as files under ``plots/``) and
``results.csv`` (every stored row)."""

from __future__ import annotations

import base64
import datetime
import html
import io
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt

from codesign.atomic import atomic_write_bytes, atomic_write_text
from codesign.report.analysis import Analysis, analyse
from codesign.report.pe_work import pe_work_figure, pe_work_table, read_timelines
from codesign.report.plots import FIGURES
from codesign.report.tables import (Table, hardware_table, kpi_table, memory_table, pareto_table, realtime_table,
                                    regime_table,
                                    winners_table)
from codesign.store import ResultStore, write_csv

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1180px;color:#222;
padding:0 1rem;background:#fafafa}
h1{margin-bottom:.2rem}.sub{color:#666;margin-top:0}
section{background:#fff;border:1px solid #e3e3e3;border-radius:8px;padding:1rem 1.4rem;margin:1.2rem 0;overflow-x:auto}
table{border-collapse:collapse;font-size:.78rem;width:100%}th,td{border-bottom:1px solid #eee;padding:.35rem .5rem;
text-align:left;vertical-align:top}th{background:#f3f5f8}img{max-width:100%;height:auto;display:block;margin:.5rem 0}
.kpis{display:flex;gap:1rem;flex-wrap:wrap}.kpi{flex:1;min-width:220px;background:#f3f8f4;border-radius:8px;padding:.8rem}
.kpi b{font-size:1.3rem;display:block}
"""


@dataclass
class ReportFiles:
    out_dir: Path
    html: Path
    markdown: Path
    csv: Path
    plots: dict[str, Path] = field(default_factory=dict)


def _png(fig, path: Path) -> tuple[Path, bytes]:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue()), buf.getvalue()


def _figures(an: Analysis, plot_dir: Path) -> dict[str, tuple[str, Path, bytes]]:
    plot_dir.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, (make, title) in FIGURES.items():
        fig = make(an)
        if fig is None:
            continue
        out[name] = (title, *_png(fig, plot_dir / f"{name}.png"))
    return out


PE_WORK_INTRO = ("A skipping matmul is spread over the PEs by the mapping (mapping.distribution) and lasts as long "
                 "as its busiest PE. From the timeline of {name}: the MACs each PE does in the window's heaviest "
                 "steps (the most PE-array cycles; the ops the mapping spreads, from the trace's real patterns and "
                 "index sets) and the PE array's busy fraction per step over the window.")


def _headline(an: Analysis) -> list[tuple[str, str]]:
    """The KPIs of the best sparse-RTRL model on its fastest feasible config, as (label, value)."""
    if an.headline is None:
        return []
    from codesign.report.analysis import state_bytes, verdict
    from codesign.report.units import fmt_area, fmt_bytes, fmt_power, fmt_rate, fmt_time

    r, n = an.headline.row, an.headline.n_configs
    out = [
        ("compute time per step", f"{fmt_time(float(r['latency_per_step_s']))} on {r['config']} "
                                  f"(fastest of {n} config{'s' if n != 1 else ''})"),
        ("learning state as stored there", f"{fmt_bytes(state_bytes(r))}, {verdict(r)}"),
        ("test accuracy", f"{float(r['test_accuracy']) * 100:.1f} % ({r['task']})"),
    ]
    if r.get("realtime_steps_per_s") is not None:
        out.append(("learns in real time up to", fmt_rate(float(r["realtime_steps_per_s"]))))
    if r.get("power_mw") is not None and r.get("area_mm2") is not None:
        out.append(("power, area", f"{fmt_power(float(r['power_mw']))} average, {fmt_area(float(r['area_mm2']))}"))
    return out


def _sections(an: Analysis) -> list[tuple[str, str, Table | None, str | None]]:
    """(title, intro text, table or None, figure name or None) in report order."""
    cons = "; ".join(
        f"{c['metric']}" + (f" ≥ {c['min']:g}" if c.get("min") is not None else "")
        + (f" ≤ {c['max']:g}" if c.get("max") is not None else "") for c in an.constraints) or "none"
    objs = ", ".join(f"{o['goal']} {o['metric']}" for o in an.objectives)
    state = ("The learning state is what the simulated config stores for the influence matrix (RTRL) or the "
             "saved window (BPTT): stored entries in the config's datatype plus format metadata, at the tensor's "
             "level; it fits on chip when it stays resident at its outermost level, else it spills to DRAM.")
    if an.realtime_rate is not None:
        rt = (f"The spec asks for learning in real time at {an.realtime_rate:g} steps/s: every step, its learning "
              "work included, must finish within 1/R.")
    else:
        rt = ("No real-time rate is set (a constraint 'realtime_steps_per_s: {min: R}' in the spec adds the "
              "check).")
    return [
        ("Hardware configs", "Every config of the sweep: compute, each storage level, DRAM, index units, formats "
         "and sparse actions (Sparseloop's vocabulary: target action on the operands whose zeros condition it). "
         "Area in mm² at the config's node (accel_sim/hardware/area.py); power is the simulated average and peak "
         "(busiest step) for the headline model, static (leakage) included.", hardware_table(an), None),
        ("KPIs: BPTT vs dense RTRL vs sparse RTRL",
         "Compute time per step is simulated on the reference config (the learning work of each step included); "
         "host time is the measured numpy step on this machine; per step means per input step (BPTT's backward "
         "pass included). " + state + " Rows are grouped by training budget and update schedule: compare methods "
         "within a group (same sequences seen, same updates).", kpi_table(an), None),
        ("When does sparse RTRL overtake BPTT?", _regime_intro(an), regime_table(an), "bptt_vs_rtrl"),
        ("Winning configs", f"Objectives: {objs}. Constraints: {cons}. {an.n_feasible} of {len(an.rows)} points "
         f"are feasible, {sum(an.pareto)} Pareto-optimal; each winner is the best Pareto-optimal point on its "
         "objective, so no other point beats it on every objective.", winners_table(an), None),
        ("Pareto front", "Points no other feasible point beats on every objective (ringed in red). Energy and "
         "latency are per step on both axes and in the table.", pareto_table(an), "pareto_energy_latency"),
        ("Real time", "The highest input rate at which every step, its learning work included, ends before the "
         "next input arrives (1 / the slowest step), and the rate sustained when inputs are buffered (1 / the mean "
         "step). " + rt, realtime_table(an), None),
        ("Memory per level", state + " Each bar stands at the learning state's level on that config, on top of the "
         "other tensors resident there; the black line is that level's own capacity.", memory_table(an),
         "memory_per_level"),
        ("Where the energy goes", "For the headline sparse-RTRL model on every config; per step.", None,
         "energy_breakdown"),
        ("Utilisation and stalls", "For the headline sparse-RTRL model on every config: each resource's busy "
         "fraction and the PE array's idle cycles by cause.", None, "utilisation_stalls"),
        ("Cost vs activity", "Cost follows the active set: the units that fired or sit in the pseudo-derivative's "
         "support (sparse RTRL updates the influence rows of those). All points, with a fitted trend per config.",
         None, "cost_vs_activity"),
        ("Influence-matrix fill", "How much of the influence matrix M is non-zero after each step since the "
         "sequence start (M starts at zero), per RTRL model point on its traced sequences (rtrl/fill.py). The "
         "learners and the simulated hardware store and sweep all of M; the fill bounds what skipping its zeros "
         "could save.", None, "influence_fill"),
    ]


def _regime_intro(an: Analysis) -> str:
    from codesign.report.units import fmt_energy

    text = ("Online learning with dependencies W steps long: BPTT keeps W steps of history and backpropagates "
            "through all of them at every update (W / k backward steps per step when it updates every k steps); "
            "sparse RTRL's memory and work per step do not depend on W, and it can update after any step. From "
            "the simulated BPTT (updates once per sequence) and sparse-RTRL traces of the same model size on "
            "each config: BPTT's forward and per-window-step backward cost and history per step, extended "
            "linearly in W (codesign/regime.py; checked against a direct simulation of a 4x longer sequence). "
            "The model assumes the history stays at its level: past 'fits up to' BPTT costs more than shown.")
    if not an.regimes:
        return text + " This sweep has no BPTT / sparse-RTRL pair of the same size, so there is nothing to compare."
    g, W = an.regimes[0], an.regimes[0].trace_window
    bptt = g.bptt_energy_per_step(W, W)
    if bptt < g.rtrl.energy_pj:
        text += (f" Where BPTT wins, it says so: on the sweep's own {W}-step sequences with one update per "
                 f"sequence, BPTT uses less energy on {g.config} ({fmt_energy(bptt)} vs {fmt_energy(g.rtrl.energy_pj)} "
                 "per step); sparse RTRL's case is long dependencies learned online.")
    return text


def _md_link(name: str) -> str:
    return f"[{name}]({name})"


def _html_link(name: str) -> str:
    return f"<a href='{html.escape(name, quote=True)}'>{html.escape(name)}</a>"


def _files_note(n_rows: int, timelines: list[str], link) -> str:
    """The report's files, as links (``link(name)``: Markdown or HTML) relative to the report folder."""
    text = f"Raw results: {link('results.csv')} ({n_rows} {'row' if n_rows == 1 else 'rows'})."
    if timelines:
        text += f" Timeline (open it in {link('https://ui.perfetto.dev')}): " + ", ".join(link(t) for t in timelines) + "."
    return text


def _meta(store: ResultStore) -> dict[str, str]:
    return {k: store.get_meta(k) or "" for k in ("spec_name", "spec_json", "spec_digest")}


def build_report(store_path: str | Path, out_dir: str | Path, title: str | None = None) -> ReportFiles:
    """Read the store at ``store_path`` and write the report into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        with ResultStore(store_path, create=False) as store:
            rows, models, meta = store.rows(), store.models(), _meta(store)
    except sqlite3.Error as exc:
        raise ValueError(f"{store_path}: cannot read the result store ({exc})") from None
    if not rows:
        raise ValueError(f"{store_path}: the store holds no finished points yet")
    an = analyse(rows, models, meta)
    figs = _figures(an, out_dir / "plots")
    csv_path = write_csv(rows, out_dir / "results.csv")
    title = title or f"Co-design report: {an.spec_name}"
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    sub = f"{len(rows)} points, {len({r['model_key'] for r in rows})} model points, generated {stamp}"
    head = _headline(an)
    timeline = sorted(p.name for p in out_dir.glob("*.perfetto.json"))

    md = [f"# {title}\n", f"{sub}\n"]
    body = [f"<h1>{html.escape(title)}</h1><p class='sub'>{html.escape(sub)}</p>"]
    if head:
        md.append("**Sparse RTRL, best model on its fastest config:** " + "; ".join(f"{k}: {v}" for k, v in head) + "\n")
        body.append("<section><div class='kpis'>" + "".join(
            f"<div class='kpi'>{html.escape(k)}<b>{html.escape(v)}</b></div>" for k, v in head) + "</div></section>")
    for sec_title, intro, table, fig in _sections(an):
        md.append(f"## {sec_title}\n\n{intro}\n")
        part = [f"<section><h2>{html.escape(sec_title)}</h2><p>{html.escape(intro)}</p>"]
        if table is not None:
            md.append(table.markdown())
            part.append(table.html())
        if fig and fig in figs:
            ftitle, path, png = figs[fig]
            md.append(f"![{ftitle}](plots/{path.name})\n")
            data = base64.b64encode(png).decode()
            part.append(f"<img alt='{html.escape(ftitle)}' src='data:image/png;base64,{data}'>")
        body.append("".join(part) + "</section>")
    for tw in read_timelines(out_dir)[:1]:  # a timeline beside the report (make demo writes one)
        intro, table = PE_WORK_INTRO.format(name=tw.name), pe_work_table(tw)
        path, png = _png(pe_work_figure(tw), out_dir / "plots" / "pe_work.png")
        figs["pe_work"] = ("Per-PE work of the heaviest steps and utilisation over time", path, png)
        md += [f"## Work over the PEs\n\n{intro}\n", table.markdown(), f"![{figs['pe_work'][0]}](plots/{path.name})\n"]
        body.append(f"<section><h2>Work over the PEs</h2><p>{html.escape(intro)}</p>{table.html()}"
                    f"<img alt='{html.escape(figs['pe_work'][0])}' src='data:image/png;base64,"
                    f"{base64.b64encode(png).decode()}'></section>")
    md.append(f"## Files\n\n{_files_note(len(rows), timeline, _md_link)}\n")
    body.append(f"<section><h2>Files</h2><p>{_files_note(len(rows), timeline, _html_link)}</p></section>")

    html_path = atomic_write_text(
        out_dir / "index.html",
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>" + "".join(body) + "</body></html>"
    )
    md_path = atomic_write_text(out_dir / "report.md", "\n".join(md))
    return ReportFiles(out_dir, html_path, md_path, csv_path, {k: v[1] for k, v in figs.items()})
