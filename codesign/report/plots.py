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
    e, t, acc = _col(rows, "energy_per_sample_pj"), _col(rows, "latency_per_step_s"), _col(rows, "test_accuracy")
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
    ax.set_ylabel(f"energy per sample [{ename}]")
    ax.set_title("Energy vs latency, coloured by test accuracy")
    if sc is not None:
        fig.colorbar(sc, ax=ax, label="test accuracy [%]")
    legend = ax.legend(fontsize=8, loc="best")
    for handle in legend.legend_handles[:-1] if front.any() else legend.legend_handles:
        handle.set_color("dimgrey")  # marker shape = method; colour = accuracy (colour bar)
    ax.grid(True, which="both", alpha=0.25)
    fig.tight_layout()
    return fig


def _reference_rows(an: Analysis) -> list[dict[str, Any]]:
    """One row per config for the best-accuracy sparse-RTRL model (else any model)."""
    rows = [r for r in an.rows if r.get("method") == "sparse_rtrl"] or an.rows
    best_model = max(rows, key=lambda r: (float(r.get("test_accuracy") or 0), r["model_key"]))["model_key"]
    chosen, seen = [], set()
    for r in an.rows:
        if r["model_key"] == best_model and r["config"] not in seen:
            seen.add(r["config"])
            chosen.append(r)
    return chosen[:16]


def energy_breakdown(an: Analysis) -> Figure | None:
    rows = _reference_rows(an) if an.rows else []
    if not rows:
        return None
    labels = sorted({k[len("label_energy_pj_"):] for r in rows for k in r if k.startswith("label_energy_pj_")})
    found = {k[len("energy_pj_"):] for r in rows for k in r if k.startswith("energy_pj_")}
    components = [c for c in COMPONENTS if c in found] + sorted(found - set(COMPONENTS))
    steps = _col(rows, "trace_steps")
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


def cost_vs_sparsity(an: Analysis) -> Figure | None:
    rows = an.rows
    if not rows:
        return None
    cyc, en = _col(rows, "cycles_per_step"), _col(rows, "energy_per_step_pj")
    act, dens = _col(rows, "activity_fired") * 100, _col(rows, "weight_density") * 100
    ediv, ename = energy_unit(en)
    configs = sorted({r["base_config"] for r in rows})
    cmap = plt.get_cmap("tab10")
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    for (i, (yv, ylabel)) in enumerate(((cyc, "cycles per step [cycles]"), (en / ediv, f"energy per step [{ename}]"))):
        for j, (xv, xlabel) in enumerate(((act, "activity: units firing per step [%]"),
                                          (dens, "parameter (weight) density [%]"))):
            ax = axes[i, j]
            for c_i, cfg in enumerate(configs):
                for method, marker in MARKERS.items():
                    sel = np.array([r["base_config"] == cfg and r["method"] == method for r in rows])
                    if sel.any():
                        ax.scatter(xv[sel], yv[sel], color=cmap(c_i % 10), marker=marker, s=30, alpha=0.85,
                                   label=f"{cfg} / {METHOD_NAMES[method]}" if (i, j) == (0, 0) else None)
            ax.set_yscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.grid(True, which="both", alpha=0.25)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=3, frameon=False)
    fig.suptitle("Cost vs activity and parameter density (marker: method, colour: base config)")
    fig.tight_layout(rect=(0, 0.04 + 0.025 * ((len(labels) + 2) // 3), 1, 1))
    return fig


def _stored_footprint(r: dict[str, Any]) -> float:
    """Learning state as the config stores it (its datatype), else as the learner stores it."""
    for key in ("memory_bytes_influence", "memory_bytes_history"):
        v = r.get(key)
        if isinstance(v, (int, float)) and v > 0:
            return float(v)
    return float(r.get("learning_state_bytes") or 0)


def footprint_vs_sram(an: Analysis) -> Figure | None:
    rows = an.rows
    if not rows:
        return None
    configs = sorted({r["config"] for r in rows}, key=lambda c: float(next(
        r.get("sram_capacity_bytes") or 0 for r in rows if r["config"] == c)))
    models: dict[str, dict[str, Any]] = {}
    for r in rows:
        models.setdefault(r["model_key"], r)
    mkeys = sorted(models, key=lambda k: (models[k]["method"], int(models[k]["n_hidden"]),
                                          float(models[k]["weight_density"]), int(models[k].get("trained_sequences") or 0)))
    cell = {(r["config"], r["model_key"]): r for r in rows}
    caps = [float(next(r.get("sram_capacity_bytes") or 0 for r in rows if r["config"] == c)) for c in configs]
    values = [_stored_footprint(r) for r in rows] + caps
    div, name = bytes_unit(values)
    fig, ax = plt.subplots(figsize=(max(8.0, 1.3 * len(configs) + 3), 6.0))
    width = 0.8 / max(len(mkeys), 1)
    cmap = plt.get_cmap("tab10")
    for j, key in enumerate(mkeys):
        m = models[key]
        xs, ys, hatch = [], [], []
        for i, c in enumerate(configs):
            r = cell.get((c, key))
            if r is None:
                continue
            xs.append(i - 0.4 + width * (j + 0.5))
            ys.append(_stored_footprint(r) / div)
            hatch.append(r.get("influence_fits_on_chip") == 0)
        bars = ax.bar(xs, ys, width=width * 0.95, color=cmap(j % 10),
                      label=f"{METHOD_NAMES.get(m['method'], m['method'])} n={m['n_hidden']} "
                            f"ρ={float(m['weight_density']):g} ({m.get('trained_sequences', '?')} seq)")
        for bar, spilled in zip(bars, hatch):
            if spilled:
                bar.set_hatch("//")
                bar.set_edgecolor("black")
    for i, cap in enumerate(caps):
        ax.hlines(cap / div, i - 0.45, i + 0.45, colors="black", linewidths=2.2,
                  label="on-chip SRAM capacity" if i == 0 else None)
    ax.set_xticks(range(len(configs)), configs, rotation=20, ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.set_xlabel("hardware config (hatched: spills to DRAM)")
    ax.set_ylabel(f"learning state as stored on the config [{name}]")
    ax.set_title("Influence-matrix / BPTT-history footprint vs each config's SRAM capacity")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=3, frameon=False)
    ax.grid(True, axis="y", which="both", alpha=0.25)
    fig.tight_layout()
    return fig


FIGURES = {
    "pareto_energy_latency": (pareto_energy_latency, "Pareto front: energy per sample vs latency per step"),
    "energy_breakdown": (energy_breakdown, "Energy breakdown by component and by RTRL label"),
    "cost_vs_sparsity": (cost_vs_sparsity, "Cycles and energy vs activity and parameter density"),
    "footprint_vs_sram": (footprint_vs_sram, "Influence-matrix footprint vs SRAM capacity"),
}
