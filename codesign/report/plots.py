"""The report's figures (matplotlib, Agg). Each function takes the analysis and returns a Figure,
or None when the rows lack what it needs. Every axis is labelled with its unit."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from codesign.report.analysis import METHOD_NAMES, Analysis  # noqa: E402
from codesign.report.units import bytes_unit, energy_unit, time_unit  # noqa: E402

COMPONENTS = ("mac", "register", "sram", "dram", "index", "interconnect", "leakage")
MARKERS = {"sparse_rtrl": "o", "dense_rtrl": "s", "bptt": "^"}


def _col(rows: list[dict[str, Any]], key: str) -> np.ndarray:
    out = []
    for r in rows:
        try:
            out.append(float(r.get(key)))
        except (TypeError, ValueError):
            out.append(np.nan)
    return np.array(out, float)


def pareto_energy_latency(an: Analysis) -> Figure | None:
    rows = an.rows
    # both axes per step (energy per sample / steps per sample keeps the order of a fixed-length task)
    e, t, acc = _col(rows, "energy_per_step_pj"), _col(rows, "latency_per_step_s"), _col(rows, "test_accuracy")
    ok = np.isfinite(e) & np.isfinite(t)
    if not ok.any():
        return None
    ediv, ename = energy_unit(e[ok])
    tdiv, tname = time_unit(t[ok])
    fig, ax = plt.subplots(figsize=(7.5, 5.0))
    sc = None
    for method, marker in MARKERS.items():
        sel = ok & np.array([r["method"] == method for r in rows])
        if sel.any():
            sc = ax.scatter(t[sel] / tdiv, e[sel] / ediv, c=acc[sel] * 100, cmap="viridis", vmin=np.nanmin(acc) * 100,
                            vmax=max(np.nanmax(acc) * 100, np.nanmin(acc) * 100 + 1e-6), marker=marker, s=46,
                            edgecolors="none", label=METHOD_NAMES[method], alpha=0.9)
    front = ok & np.array(an.pareto)
    if front.any():
        ax.scatter(t[front] / tdiv, e[front] / ediv, s=130, facecolors="none", edgecolors="crimson", linewidths=1.6,
                   label="Pareto-optimal (all objectives)")
        # the 2-D energy/latency front among feasible points, as a staircase
        feas = ok & np.array(an.feasible)
        order = np.argsort(t[feas])
        tt, ee = t[feas][order], e[feas][order]
        best, xs, ys = np.inf, [], []
        for x, y in zip(tt, ee):
            if y < best:
                best = y
                xs.append(x)
                ys.append(y)
        ax.step(np.array(xs) / tdiv, np.array(ys) / ediv, where="post", color="crimson", lw=1, alpha=0.6)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"latency per step [{tname}]")
    ax.set_ylabel(f"energy per step [{ename}]")
    ax.set_title("Energy vs latency per step, coloured by test accuracy")
    if sc is not None:
        fig.colorbar(sc, ax=ax, label="test accuracy [%]")
    legend = ax.legend(fontsize=8, loc="best")
    for handle in legend.legend_handles[:-1] if front.any() else legend.legend_handles:
        handle.set_color("dimgrey")  # marker shape = method; colour = accuracy (colour bar)
    ax.grid(True, which="both", alpha=0.25)
    fig.tight_layout()
    return fig


def _reference_rows(an: Analysis) -> list[dict[str, Any]]:
    """One row per config for the headline model (the most accurate sparse-RTRL model)."""
    if an.headline is None:
        return []
    best_model = an.headline.row["model_key"]
    chosen, seen = [], set()
    for r in an.rows:
        if r["model_key"] == best_model and r["config"] not in seen:
            seen.add(r["config"])
            chosen.append(r)
    return chosen[:16]


def energy_breakdown(an: Analysis) -> Figure | None:
    rows = _reference_rows(an)
    if not rows:
        return None
    labels = sorted({k[len("label_energy_pj_"):] for r in rows for k in r if k.startswith("label_energy_pj_")})
    found = {k[len("energy_pj_"):] for r in rows for k in r if k.startswith("energy_pj_")}
    components = [c for c in COMPONENTS if c in found] + sorted(found - set(COMPONENTS))
    steps = np.array([float(r.get("trace_input_steps") or r["trace_steps"]) for r in rows])  # per input step
    comp = np.array([[float(r.get(f"energy_pj_{c}", 0) or 0) for c in components] for r in rows]) / steps[:, None]
    lab = np.array([[float(r.get(f"label_energy_pj_{lb}", 0) or 0) for lb in labels] for r in rows]) / steps[:, None]
    div, name = energy_unit(comp.sum(axis=1))
    names = [r["config"] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.45 * len(rows) + 2.4), sharey=True)
    y = np.arange(len(rows))
    for ax, data, parts, title in ((axes[0], comp, components, "by component"), (axes[1], lab, labels, "by RTRL label")):
        left = np.zeros(len(rows))
        cmap = plt.get_cmap("tab20" if len(parts) > 10 else "tab10")
        for j, part in enumerate(parts):
            ax.barh(y, data[:, j] / div, left=left, color=cmap(j % cmap.N), label=part)
            left += data[:, j] / div
        ax.set_xlabel(f"energy per step [{name}]")
        ax.set_title(f"Energy {title}")
        ax.legend(fontsize=7, loc="lower right")
        ax.grid(True, axis="x", alpha=0.25)
    axes[0].set_yticks(y, names, fontsize=8)
    axes[0].set_ylabel("hardware config")
    r0 = rows[0]
    fig.suptitle(f"{METHOD_NAMES.get(r0['method'], r0['method'])}, n_hidden={r0['n_hidden']}, "
                 f"weight density={float(r0['weight_density']):g}", fontsize=10)
    fig.tight_layout()
    return fig


def _trend(ax, x: np.ndarray, y: np.ndarray, color, log_y: bool) -> str | None:
    """Least-squares line y = a + b x (on log y for a log axis) over the finite points; draws it
    and returns its label, or None with fewer than two distinct x."""
    ok = np.isfinite(x) & np.isfinite(y) & ((y > 0) if log_y else True)
    if ok.sum() < 2 or np.unique(x[ok]).size < 2:
        return None
    yy = np.log(y[ok]) if log_y else y[ok]
    b, a = np.polyfit(x[ok], yy, 1)
    xs = np.linspace(x[ok].min(), x[ok].max(), 50)
    ys = np.exp(a + b * xs) if log_y else a + b * xs
    ax.plot(xs, ys, color=color, lw=1.2, ls="--", alpha=0.8)
    return f"x{np.exp(b * 10):.2f} per +10 points" if log_y else f"{b:.3g} per point"


def _active(rows: list[dict[str, Any]]) -> np.ndarray:
    """Active fraction (fired or in the pseudo-derivative support) per row, in %."""
    act = _col(rows, "activity_active")
    fallback = _col(rows, "activity_support")
    return np.where(np.isfinite(act), act, fallback) * 100


def cost_vs_activity(an: Analysis) -> Figure | None:
    rows = an.rows
    if not rows:
        return None
    cyc, en = _col(rows, "cycles_per_step"), _col(rows, "energy_per_step_pj")
    act, dens = _active(rows), _col(rows, "weight_density") * 100
    if not np.isfinite(act).any():
        return None
    ediv, ename = energy_unit(en)
    configs = sorted({r["base_config"] for r in rows})
    cmap = plt.get_cmap("tab10")
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    for (i, (yv, ylabel)) in enumerate(((cyc, "cycles per step [cycles]"), (en / ediv, f"energy per step [{ename}]"))):
        for j, (xv, xlabel) in enumerate(((act, "active fraction: units fired or in the support, per step [%]"),
                                          (dens, "parameter (weight) density [%]"))):
            ax = axes[i, j]
            for c_i, cfg in enumerate(configs):
                in_cfg = np.array([r["base_config"] == cfg for r in rows])
                for method, marker in MARKERS.items():
                    sel = in_cfg & np.array([r["method"] == method for r in rows])
                    if sel.any():
                        ax.scatter(xv[sel], yv[sel], color=cmap(c_i % 10), marker=marker, s=30, alpha=0.85,
                                   label=f"{cfg} / {METHOD_NAMES[method]}" if (i, j) == (0, 0) else None)
                sparse = in_cfg & np.array([r["method"] == "sparse_rtrl" for r in rows])
                label = _trend(ax, xv[sparse], yv[sparse], cmap(c_i % 10), log_y=True)
                if label and (i, j) == (0, 0):
                    ax.plot([], [], color=cmap(c_i % 10), ls="--", label=f"{cfg} sparse-RTRL trend ({label})")
            ax.set_yscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.grid(True, which="both", alpha=0.25)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=3, frameon=False)
    fig.suptitle(f"Cost vs active fraction and weight density: all {len(rows)} points\n(marker: method, colour: "
                 "base config; dashed: least-squares trend of log cost over the sparse-RTRL points)", fontsize=10)
    fig.tight_layout(rect=(0, 0.04 + 0.025 * ((len(labels) + 2) // 3), 1, 1))
    return fig


def utilisation_and_stalls(an: Analysis) -> Figure | None:
    """Per config (headline model): busy fraction per resource, and the array's idle cycles by cause
    as a share of all cycles."""
    rows = _reference_rows(an)
    rows = [r for r in rows if any(k.startswith("utilization.") for k in r)]
    if not rows:
        return None
    resources = sorted({k[len("utilization."):] for r in rows for k in r if k.startswith("utilization.")})
    causes = sorted({k[len("stall_cycles."):] for r in rows for k in r if k.startswith("stall_cycles.")})
    names = [r["config"] for r in rows]
    y = np.arange(len(rows))
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.5 * len(rows) * max(1, len(resources) / 4) + 2.6), sharey=True)
    h = 0.8 / max(len(resources), 1)
    cmap = plt.get_cmap("tab10")
    for j, res in enumerate(resources):
        v = np.array([float(r.get(f"utilization.{res}", 0) or 0) for r in rows]) * 100
        axes[0].barh(y - 0.4 + h * (j + 0.5), v, height=h * 0.95, color=cmap(j % 10), label=res)
    axes[0].set_xlabel("busy fraction of all cycles [%]")
    axes[0].set_title("Utilisation by resource")
    axes[0].legend(fontsize=7, loc="lower right")
    cycles = _col(rows, "cycles")
    left = np.zeros(len(rows))
    for j, cause in enumerate(causes):
        v = np.array([float(r.get(f"stall_cycles.{cause}", 0) or 0) for r in rows]) / np.maximum(cycles, 1) * 100
        axes[1].barh(y, v, left=left, color=cmap(j % 10), label=cause)
        left += v
    axes[1].set_xlabel("array idle cycles by cause, share of all cycles [%]")
    axes[1].set_title("Stalls by cause")
    if causes:
        axes[1].legend(fontsize=7, loc="lower right")
    for ax in axes:
        ax.grid(True, axis="x", alpha=0.25)
    axes[0].set_yticks(y, names, fontsize=8)
    axes[0].set_ylabel("hardware config")
    r0 = rows[0]
    fig.suptitle(f"{METHOD_NAMES.get(r0['method'], r0['method'])}, n_hidden={r0['n_hidden']}, "
                 f"weight density={float(r0['weight_density']):g}", fontsize=10)
    fig.tight_layout()
    return fig


def _outer_level(r: dict[str, Any]) -> str | None:
    levels = [lv.strip() for lv in str(r.get("learning_state_levels") or "").split(">") if lv.strip()]
    return levels[0] if levels else None


def memory_per_level(an: Analysis) -> Figure | None:
    """Per config and model point, a bar at the learning state's outermost level: the other tensors
    resident there (grey) with the learning state on top, and that level's own capacity as a line.
    The simulator keeps a level's tensors smallest-first while they fit, so a bar that ends above
    its line is one that spills (hatched: the row's verdict)."""
    rows = [r for r in an.rows if _outer_level(r) and r.get(f"sram.{_outer_level(r)}.capacity_bytes") is not None]
    if not rows:
        return None
    configs = list(dict.fromkeys(r["config"] for r in rows))
    models: dict[str, dict[str, Any]] = {}
    for r in rows:
        models.setdefault(r["model_key"], r)
    mkeys = sorted(models, key=lambda k: (models[k]["method"], int(models[k]["n_hidden"]),
                                          float(models[k]["weight_density"]), int(models[k].get("trained_sequences") or 0)))
    cell = {(r["config"], r["model_key"]): r for r in rows}
    values = []
    for r in rows:
        lv = _outer_level(r)
        values += [float(r[f"sram.{lv}.capacity_bytes"]), float(r.get(f"sram.{lv}.resident_bytes") or 0)]
    div, name = bytes_unit(values)
    fig, ax = plt.subplots(figsize=(max(8.0, 1.5 * len(configs) + 3), 6.2))
    width = 0.8 / max(len(mkeys), 1)
    cmap = plt.get_cmap("tab10")
    other_label = "other tensors resident at that level"
    for j, key in enumerate(mkeys):
        m = models[key]
        for i, c in enumerate(configs):
            r = cell.get((c, key))
            if r is None:
                continue
            lv = _outer_level(r)
            x = i - 0.4 + width * (j + 0.5)
            ls = float(r.get(f"sram.{lv}.learning_state_bytes") or 0)
            resident = float(r.get(f"sram.{lv}.resident_bytes") or 0)
            spilled = r.get("learning_state_fits_on_chip", r.get("influence_fits_on_chip")) == 0
            others = max(resident - (0.0 if spilled else ls), 0.0)
            ax.bar(x, others / div, width=width * 0.95, color="lightgrey", label=other_label)
            other_label = None
            ax.bar(x, ls / div, bottom=others / div, width=width * 0.95, color=cmap(j % 10),
                   hatch="//" if spilled else None, edgecolor="black" if spilled else None,
                   label=(f"{METHOD_NAMES.get(m['method'], m['method'])} n={m['n_hidden']} "
                          f"ρ={float(m['weight_density']):g} ({m.get('trained_sequences', '?')} seq)") if i == 0 else None)
            cap = float(r[f"sram.{lv}.capacity_bytes"])
            ax.hlines(cap / div, x - width / 2, x + width / 2, colors="black", linewidths=2.2,
                      label="capacity of the bar's level" if (i, j) == (0, 0) else None)
    ticks = []
    for c in configs:
        lvs = list(dict.fromkeys(_outer_level(r) for r in rows if r["config"] == c))
        ticks.append(f"{c}\n(level: {', '.join(lvs)})")
    ax.set_xticks(range(len(configs)), ticks, rotation=20, ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.set_xlabel("hardware config and the level the learning state is mapped to (hatched: spills to DRAM)")
    ax.set_ylabel(f"bytes at that level, as stored on the config [{name}]")
    ax.set_title("Learning state (influence matrix / BPTT history) at its level vs that level's capacity")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=3, frameon=False)
    ax.grid(True, axis="y", which="both", alpha=0.25)
    fig.tight_layout()
    return fig


def bptt_vs_rtrl(an: Analysis) -> Figure | None:
    """Memory, latency of an updating step and energy per step vs BPTT's window W on the reference
    config: BPTT updating every step (k = 1) and once per window (k = W), sparse RTRL flat."""
    if not an.regimes:
        return None
    g = an.regimes[0]
    w = np.unique(np.geomspace(1, 4096, 64).round())
    sec = 1.0 / g.clock_hz
    panels = [
        ("learning state [KiB]", w * g.history_bytes_per_step / 1024, None, g.rtrl_bytes / 1024, g.memory_window),
        ("latency of an updating step [µs]", g.bptt_update_cycles(w) * sec * 1e6, None,
         g.rtrl.cycles * sec * 1e6, g.latency_window),
        ("energy per step [nJ]", g.bptt_energy_per_step(w) / 1e3, g.bptt_energy_per_step(w, w) / 1e3,
         g.rtrl.energy_pj / 1e3, g.energy_window),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for ax, (ylabel, bptt, per_window, rtrl, cross) in zip(axes, panels):
        ax.loglog(w, bptt, color="tab:blue", label="BPTT, update every step (k = 1)")
        if per_window is not None:
            ax.loglog(w, per_window, color="tab:blue", ls=":", label="BPTT, update once per window (k = W)")
        ax.axhline(rtrl, color="tab:red", label="sparse RTRL (any k)")
        if 1 < cross < w[-1]:
            ax.axvline(cross, color="grey", ls="--", lw=0.8)
            ax.annotate(f"W = {cross:.3g}", (cross, rtrl), textcoords="offset points", xytext=(4, 6), fontsize=8)
        if g.spill_window < w[-1]:
            ax.axvspan(g.spill_window, w[-1], color="0.9", zorder=0, label="BPTT history spills (costs rise further)")
        ax.set_xlabel("BPTT window W [steps]")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.25)
    handles, labels = axes[2].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=4, frameon=False)
    fig.suptitle(f"Sparse RTRL vs BPTT on {g.config} as the window grows (model from the simulated traces)", fontsize=10)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def influence_fill(an: Analysis) -> Figure | None:
    """Fraction of the influence matrix that is non-zero after each step since the sequence start,
    one line per RTRL model point (its traced sequences), with 1 / fill on the right axis."""
    seen, curves = set(), []
    for r in an.rows:
        if r["model_key"] in seen or r.get("influence_fill_mean") is None:
            continue
        seen.add(r["model_key"])
        steps = sorted(int(k.split("_")[-1]) for k in r if k.startswith("influence_fill.step_"))
        if steps:
            label = (f"{METHOD_NAMES.get(r['method'], r['method'])} n={r['n_hidden']} ρ={float(r['weight_density']):g} "
                     f"eps={float(r.get('pseudo_derivative_width', float('nan'))):g}")
            curves.append((label, steps, [100 * float(r[f"influence_fill.step_{k}"]) for k in steps]))
    if not curves:
        return None
    fig, ax = plt.subplots(figsize=(8, 4.2))
    for label, steps, fill in curves:
        ax.plot(steps, np.maximum(fill, 1e-3), marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("step since the sequence start")
    ax.set_ylabel("non-zero entries of M [% of n × P]")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("Influence-matrix fill on the traced sequences (an exact zero-skipping update would do 1 / fill less work)",
                 fontsize=9)
    fig.tight_layout()
    return fig


FIGURES = {
    "pareto_energy_latency": (pareto_energy_latency, "Pareto front: energy per step vs latency per step"),
    "energy_breakdown": (energy_breakdown, "Energy breakdown by component and by RTRL label"),
    "utilisation_stalls": (utilisation_and_stalls, "Utilisation by resource and stalls by cause, per config"),
    "cost_vs_activity": (cost_vs_activity, "Cycles and energy vs active fraction and weight density"),
    "memory_per_level": (memory_per_level, "Learning state at its level vs that level's capacity"),
    "bptt_vs_rtrl": (bptt_vs_rtrl, "Sparse RTRL vs BPTT: memory, update latency and energy vs the window"),
    "influence_fill": (influence_fill, "Influence-matrix fill vs step since the sequence start"),
}
