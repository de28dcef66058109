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
from codesign.report.plots import FIGURES
from codesign.report.tables import Table, kpi_table, pareto_table, winners_table
from codesign.store import ResultStore, write_csv

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1180px;color:#222;
padding:0 1rem;background:#fafafa}
h1{margin-bottom:.2rem}.sub{color:#666;margin-top:0}
section{background:#fff;border:1px solid #e3e3e3;border-radius:8px;padding:1rem 1.4rem;margin:1.2rem 0}
table{border-collapse:collapse;font-size:.86rem;width:100%}th,td{border-bottom:1px solid #eee;padding:.35rem .5rem;
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


def _figures(an: Analysis, plot_dir: Path) -> dict[str, tuple[str, Path, bytes]]:
    plot_dir.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, (make, title) in FIGURES.items():
        fig = make(an)
        if fig is None:
            continue
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
        plt.close(fig)
        path = atomic_write_bytes(plot_dir / f"{name}.png", buf.getvalue())
        out[name] = (title, path, buf.getvalue())
    return out


def _headline(an: Analysis) -> list[tuple[str, str]]:
    """The three KPIs of the best sparse-RTRL model, as (label, value with unit)."""
    sparse = [k for k in an.kpis if k.method == "sparse_rtrl"] or an.kpis
    if not sparse:
        return []
    k = max(sparse, key=lambda k: k.test_accuracy)
    from codesign.report.units import fmt_bytes, fmt_time

    return [
        ("compute time per step", f"{fmt_time(k.sim_time_per_step_s)} on {k.config}"),
        ("memory of the learning state", fmt_bytes(k.learning_state_bytes)),
        ("test accuracy", f"{k.test_accuracy * 100:.1f} % ({k.task})"),
    ]


def _sections(an: Analysis) -> list[tuple[str, str, Table | None, str | None]]:
    """(title, intro text, table or None, figure name or None) in report order."""
    cons = "; ".join(
        f"{c['metric']}" + (f" ≥ {c['min']:g}" if c.get("min") is not None else "")
        + (f" ≤ {c['max']:g}" if c.get("max") is not None else "") for c in an.constraints) or "none"
    objs = ", ".join(f"{o['goal']} {o['metric']}" for o in an.objectives)
    return [
        ("KPIs: BPTT vs dense RTRL vs sparse RTRL",
         "Compute time per step is simulated on the reference config; host time is the measured numpy step on "
         "this machine; memory is the learning state as stored (influence matrix, or BPTT's history).",
         kpi_table(an), None),
        ("Winning configs", f"Objectives: {objs}. Constraints: {cons}. {an.n_feasible} of {len(an.rows)} points "
         "are feasible.", winners_table(an), None),
        ("Pareto front", "Points no other feasible point beats on every objective (ringed in red).",
         pareto_table(an), "pareto_energy_latency"),
        ("Where the energy goes", "For the most accurate sparse-RTRL model on every config; per step.", None,
         "energy_breakdown"),
        ("Cost vs sparsity", "Activity sparsity (units firing) and parameter sparsity (weight density).", None,
         "cost_vs_sparsity"),
        ("Does the influence matrix fit on chip?", "Learning state of each model point against each config's "
         "total on-chip SRAM: above a line, it spills to DRAM every step.", None, "footprint_vs_sram"),
    ]


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
        md.append("**Sparse RTRL, best model:** " + "; ".join(f"{k}: {v}" for k, v in head) + "\n")
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
    md.append(f"## Files\n\n{_files_note(len(rows), timeline, _md_link)}\n")
    body.append(f"<section><h2>Files</h2><p>{_files_note(len(rows), timeline, _html_link)}</p></section>")

    html_path = atomic_write_text(
        out_dir / "index.html",
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>" + "".join(body) + "</body></html>"
    )
    md_path = atomic_write_text(out_dir / "report.md", "\n".join(md))
    return ReportFiles(out_dir, html_path, md_path, csv_path, {k: v[1] for k, v in figs.items()})
