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


def footprint_vs_sram(an: Analysis) -> Figure | None:
    rows = an.rows
    if not rows:
        return None
    models: dict[str, dict[str, Any]] = {}
    for r in rows:
        models.setdefault(r["model_key"], r)
    mrows = sorted(models.values(), key=lambda r: (r["method"], int(r["n_hidden"]), float(r["weight_density"])))
    caps: dict[str, float] = {}
    for r in rows:
        cap = r.get("sram_capacity_bytes")
        if cap is not None:
            caps[r["config"]] = float(cap)
    state = _col(mrows, "learning_state_bytes")
    div, name = bytes_unit(list(state) + list(caps.values()))
    fig, ax = plt.subplots(figsize=(9, 5))
    x = np.arange(len(mrows))
    colors = [{"sparse_rtrl": "tab:green", "dense_rtrl": "tab:orange", "bptt": "tab:blue"}.get(r["method"], "grey")
              for r in mrows]
    ax.bar(x, state / div, color=colors)
    ax.set_xticks(x, [f"{METHOD_NAMES.get(r['method'], r['method'])}\nn={r['n_hidden']} ρ={float(r['weight_density']):g}"
                      for r in mrows], fontsize=7, rotation=30, ha="right")
    cmap = plt.get_cmap("tab10")
    for i, (cfg, cap) in enumerate(sorted(caps.items(), key=lambda kv: kv[1])[:10]):
        ax.axhline(cap / div, color=cmap(i % 10), ls="--", lw=1.2, label=f"SRAM of {cfg}: {cap / div:.3g} {name}")
    ax.set_yscale("log")
    ax.set_ylabel(f"learning state (influence matrix / BPTT history) [{name}]")
    ax.set_xlabel("model point")
    ax.set_title("Learning-state footprint vs each config's on-chip SRAM capacity")
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(True, axis="y", which="both", alpha=0.25)
    fig.tight_layout()
    return fig


FIGURES = {
    "pareto_energy_latency": (pareto_energy_latency, "Pareto front: energy per sample vs latency per step"),
    "energy_breakdown": (energy_breakdown, "Energy breakdown by component and by RTRL label"),
    "cost_vs_sparsity": (cost_vs_sparsity, "Cycles and energy vs activity and parameter density"),
    "footprint_vs_sram": (footprint_vs_sram, "Influence-matrix footprint vs SRAM capacity"),
}
