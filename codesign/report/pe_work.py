"""Work over the PEs, from the Perfetto timelines in a report folder (``accel-sim timeline`` writes
them; ``make demo`` puts one beside its report): the per-PE MACs of the window's heaviest steps
(``otherData.heaviest_steps``, ``accel_sim.engine.pe_loads``) and the PE array's utilisation per
step over the window (the ``pe_array_utilization`` / ``pe_work_utilization`` counters). A table and
a figure; nothing when no timeline in the folder carries them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from codesign.report.tables import Table  # noqa: E402

UTILISATION = ("pe_array_utilization", "pe_work_utilization")


@dataclass(frozen=True)
class TimelineWork:
    """One timeline file's PE work: ``name`` (file name), ``heaviest`` (the JSON of each heaviest
    step: step, array_cycles, imbalance, loads (MACs per PE), ops), ``utilisation``: counter name ->
    (times in µs, busy fractions 0-1) per step."""

    name: str
    heaviest: list[dict]
    utilisation: dict[str, tuple[np.ndarray, np.ndarray]]


def read_timelines(folder: str | Path) -> list[TimelineWork]:
    """The ``*.perfetto.json`` files of ``folder`` that carry heaviest steps (unreadable ones are skipped)."""
    out = []
    for path in sorted(Path(folder).glob("*.perfetto.json")):
        try:
            doc = json.loads(path.read_text())
            heaviest = doc.get("otherData", {}).get("heaviest_steps") or []
            series: dict[str, list[tuple[float, float]]] = {}
            for e in doc.get("traceEvents", []):
                if e.get("ph") == "C" and e.get("name") in UTILISATION:
                    series.setdefault(e["name"], []).append((float(e["ts"]), float(e["args"]["value"])))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        if heaviest:
            util = {k: (np.array([t for t, _ in v]), np.array([x for _, x in v])) for k, v in series.items()}
            out.append(TimelineWork(path.name, heaviest, util))
    return out


def pe_work_table(tw: TimelineWork) -> Table:
    rows = []
    for s in tw.heaviest:
        loads = np.asarray(s["loads"], float)
        worst = max(s["ops"], key=lambda o: o["busiest"])
        rows.append([str(s["step"]), f"{s['array_cycles']:,.0f}", f"{loads.max():,.0f} (PE {int(loads.argmax())})",
                     f"{loads.mean():,.1f}", f"{int((loads == 0).sum())} of {loads.size}", f"{s['imbalance']:.2f}",
                     f"{worst['op']} ({worst['busiest']:,.0f} on its busiest PE)"])
    return Table(["step", "PE-array cycles", "busiest PE [MACs]", "mean PE [MACs]", "idle PEs",
                  "imbalance (busiest / mean, MAC-weighted)", "worst op"], rows)


def pe_work_figure(tw: TimelineWork) -> Figure:
    """Left: MACs per PE in each heaviest step (PEs sorted by load, so the skew shows); right:
    the PE array's busy fraction per step over the window."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
    for s in tw.heaviest:
        loads = np.sort(np.asarray(s["loads"], float))[::-1]
        axes[0].plot(np.arange(loads.size), loads, drawstyle="steps-mid", label=f"step {s['step']}")
        axes[0].axhline(loads.mean(), lw=0.8, ls=":", color=axes[0].lines[-1].get_color())
    axes[0].set_xlabel("PE, heaviest first [rank]")
    axes[0].set_ylabel("MACs in the step [MACs]")
    axes[0].set_title("Per-PE work of the heaviest steps (dotted: mean)")
    axes[0].legend(fontsize=8)
    names = {"pe_array_utilization": "array busy", "pe_work_utilization": "net of PEs idling behind the busiest"}
    for key, (t, v) in tw.utilisation.items():
        axes[1].step(t, v * 100, where="post", label=names.get(key, key))
    axes[1].set_xlabel("simulated time [µs]")
    axes[1].set_ylabel("PE array utilisation per step [%]")
    axes[1].set_title("Utilisation over time")
    if tw.utilisation:
        axes[1].legend(fontsize=8)
    for ax in axes:
        ax.grid(True, alpha=0.25)
    fig.suptitle(tw.name, fontsize=9)
    fig.tight_layout()
    return fig
