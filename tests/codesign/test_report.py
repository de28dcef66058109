"""Reports: Pareto front against brute force, every plot axis carries a unit, the HTML is
self-contained, the Markdown/CSV are complete; a real headless browser renders the plots."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codesign.cli import main
from codesign.report.analysis import analyse, pareto_mask
from codesign.report.plots import FIGURES
from codesign.store import ResultStore
from codesign.sweep import load_spec, run_sweep
from tests.codesign.codesign_helpers import write_spec

# figures drawn from columns only the simulator's result gives (codesign/columns.py: memory per
# level, utilisation and stalls); the synthetic evaluator's rows do not carry them yet
SIMULATOR_ONLY = {"utilisation_stalls", "memory_per_level", "bptt_vs_rtrl", "influence_fill"}  # need real rows
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


@pytest.fixture(scope="module")
def store_path(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    spec = load_spec(write_spec(folder, constraints=[{"metric": "test_accuracy", "min": 0.7}]))
    summary = run_sweep(spec, folder / "out", workers=1, progress=False)
    return summary.store_path


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=25))
def test_pareto_mask_matches_brute_force(points):
    values = np.array(points, float)
    mask = pareto_mask(values)
    for i, p in enumerate(values):
        dominated = any(np.all(q <= p) and np.any(q < p) for q in values)
        assert mask[i] == (not dominated)
    assert mask.any()  # a finite set always has a non-dominated point


def test_front_respects_constraints_and_winners_are_optimal(store_path):
    with ResultStore(store_path) as store:
        rows, models = store.rows(), store.models()
        meta = {k: store.get_meta(k) or "" for k in ("spec_name", "spec_json")}
    an = analyse(rows, models, meta)
    assert an.constraints == [{"metric": "test_accuracy", "min": 0.7, "max": None}]
    assert an.feasible == [r["test_accuracy"] >= 0.7 for r in rows]
    assert 0 < an.n_feasible < len(rows)
    assert all(f for f, p in zip(an.feasible, an.pareto) if p)
    feasible = [r for r, f in zip(rows, an.feasible) if f]
    for w in an.winners:
        values = [r[w.objective] for r in feasible]
        assert w.row[w.objective] == (min(values) if w.goal == "min" else max(values))
        assert w.reason
    # KPI table: one row per model point, all three methods present
    assert {k.method for k in an.kpis} == {"bptt", "dense_rtrl", "sparse_rtrl"}
    assert len(an.kpis) == len({r["model_key"] for r in rows})


def test_every_plot_axis_has_a_unit(store_path):
    with ResultStore(store_path) as store:
        an = analyse(store.rows(), store.models(), {"spec_json": store.get_meta("spec_json") or ""})
    import matplotlib.pyplot as plt

    for name, (make, _title) in FIGURES.items():
        fig = make(an)
        if fig is None and name in SIMULATOR_ONLY:
            continue
        assert fig is not None, name
        for ax in fig.axes:
            if ax.get_label() == "<colorbar>":
                assert re.search(r"\[.+\]", ax.get_ylabel()), (name, "colorbar", ax.get_ylabel())
                continue
            for label in (ax.get_xlabel(), ax.get_ylabel()):
                if label:  # shared axes may leave one empty
                    assert re.search(r"\[.+\]", label) or label.startswith(("hardware config", "model point")), (name, label)
            assert ax.get_xlabel(), (name, "x axis unlabelled")
        plt.close(fig)


def test_report_cli_writes_self_contained_html_markdown_and_csv(store_path, tmp_path):
    out = tmp_path / "rep"
    assert main(["report", str(store_path), "--out", str(out)]) == 0
    html = (out / "index.html").read_text()
    # self-contained: no external resources at all, every image inline; links only to the report's
    # own files beside it (and the Perfetto viewer)
    assert not re.search(r"""src\s*=\s*['"](?!data:)""", html) and "<link" not in html
    links = re.findall(r"""href\s*=\s*['"]([^'"]*)""", html)
    assert "results.csv" in links
    assert all(link.startswith("https://") or (out / link).is_file() for link in links), links
    assert len(FIGURES) - len(SIMULATOR_ONLY) <= html.count("data:image/png;base64,") <= len(FIGURES)
    assert "<script" not in html
    md = (out / "report.md").read_text()
    for heading in ("KPIs", "Winning configs", "Pareto front", "energy", "Memory per level", "Hardware configs",
                    "Real time"):
        assert heading.lower() in md.lower()
    for png in re.findall(r"\]\((plots/[^)]+)\)", md):
        assert (out / png).stat().st_size > 1000
    with open(out / "results.csv") as fh:
        assert len(list(csv.DictReader(fh))) == ResultStore(store_path).count()


def test_report_of_missing_or_empty_store_exits_2(tmp_path, capsys):
    assert main(["report", str(tmp_path / "none.sqlite"), "--out", str(tmp_path / "r")]) == 2
    ResultStore(tmp_path / "empty.sqlite").close()
    assert main(["report", str(tmp_path / "empty.sqlite"), "--out", str(tmp_path / "r")]) == 2
    assert "no finished points" in capsys.readouterr().err


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium); "
                    "the headless-browser check of index.html needs it")
def test_html_report_renders_in_headless_chromium(store_path, tmp_path):
    out = tmp_path / "rep"
    assert main(["report", str(store_path), "--out", str(out)]) == 0
    shot = tmp_path / "shot.png"
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
             f"--user-data-dir={tmp_path / 'profile'}"]
    uri = (out / "index.html").resolve().as_uri()
    dom = subprocess.run(flags + ["--dump-dom", uri], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert len(FIGURES) - len(SIMULATOR_ONLY) <= dom.stdout.count("<img") <= len(FIGURES)
    proc = subprocess.run(flags + [f"--screenshot={shot}", "--window-size=1280,10000", uri],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    import matplotlib.image as mpimg

    img = mpimg.imread(shot)[..., :3]
    assert img.shape[0] >= 2000 and img.shape[1] >= 1200
    # the plots are there: many strongly coloured pixels (the page itself is grey on white)
    spread = img.max(axis=2) - img.min(axis=2)
    assert int((spread > 0.3).sum()) > 5000


def test_report_shows_the_per_pe_work_of_a_timeline_beside_it(store_path, tmp_path, capsys):
    """A timeline in the report folder (as make demo writes it) adds the heaviest steps' per-PE
    work: a table of the steps the timeline kept and a figure whose axes carry units."""
    import json

    from codesign.report.pe_work import pe_work_figure, read_timelines

    out = tmp_path / "rep"
    out.mkdir()
    root = Path(__file__).resolve().parents[2]
    assert main(["timeline", str(root / "traces" / "sparse_rtrl_h16.arrows"), "--config",
                 str(root / "hw_configs" / "sparse_skipping.yaml"), "--out", str(out / "t.perfetto.json")]) == 0
    capsys.readouterr()
    heaviest = json.loads((out / "t.perfetto.json").read_text())["otherData"]["heaviest_steps"]
    assert main(["report", str(store_path), "--out", str(out)]) == 0
    md = (out / "report.md").read_text()
    section = md[md.index("## Work over the PEs"):md.index("## Files")]
    for s in heaviest:
        assert f"| {s['step']} | {s['array_cycles']:,.0f} | {max(s['loads']):,.0f} (PE " in section
    assert (out / "plots" / "pe_work.png").stat().st_size > 1000
    (tw,) = read_timelines(out)
    fig = pe_work_figure(tw)
    for ax in fig.axes:
        assert all(re.search(r"\[.+\]", label) for label in (ax.get_xlabel(), ax.get_ylabel())), ax.get_title()
    assert {"pe_array_utilization", "pe_work_utilization"} <= set(tw.utilisation)
