"""Area, power and the real-time rate are sweep objectives and constraints like any other metric:
a spec naming them validates, the feasible set is exactly the rows meeting the real-time rate, and
no winner is beaten on every objective by another feasible point."""

from __future__ import annotations

import numpy as np

from codesign.report.analysis import analyse
from codesign.report.build import build_report
from codesign.store import ResultStore
from codesign.sweep import load_spec, run_sweep
from tests.codesign.codesign_helpers import write_spec

OBJECTIVES = [{"metric": "power_mw", "goal": "min"}, {"metric": "area_mm2", "goal": "min"},
              {"metric": "test_accuracy", "goal": "max"}]


def test_power_area_and_realtime_as_objectives_and_constraints(tmp_path):
    (tmp_path / "probe").mkdir()
    probe = run_sweep(load_spec(write_spec(tmp_path / "probe")), tmp_path / "probe_out", progress=False)
    rates = sorted(r["realtime_steps_per_s"] for r in ResultStore(probe.store_path).rows())
    rate = float(np.median(rates))  # a real-time requirement about half the points meet
    spec = load_spec(write_spec(tmp_path, name="rt", objectives=OBJECTIVES,
                                constraints=[{"metric": "realtime_steps_per_s", "min": rate}]))
    summary = run_sweep(spec, tmp_path / "out", progress=False)
    store = ResultStore(summary.store_path)
    rows = store.rows()
    an = analyse(rows, store.models(), {"spec_json": store.get_meta("spec_json") or ""})
    assert an.realtime_rate == rate
    assert an.feasible == [r["realtime_steps_per_s"] >= rate for r in rows]
    assert 0 < an.n_feasible < len(rows)
    feasible = [r for r, ok in zip(rows, an.feasible) if ok]
    sign = {"min": 1.0, "max": -1.0}
    for w in an.winners:
        mine = np.array([sign[o["goal"]] * float(w.row[o["metric"]]) for o in OBJECTIVES])
        for other in feasible:
            theirs = np.array([sign[o["goal"]] * float(other[o["metric"]]) for o in OBJECTIVES])
            assert not (np.all(theirs <= mine) and np.any(theirs < mine)), (w.objective, other["point_key"])
    files = build_report(summary.store_path, tmp_path / "report")
    md = files.markdown.read_text()
    assert "learns in real time at" in md and "| yes |" in md and "| no |" in md
