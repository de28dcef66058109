"""Does rewiring the masks pay? Fixed vs rewired masks at equal density (rtrl/rewire.py: every
400 steps, which falls on sequence ends for both tasks here (8- and 10-step sequences), drop the
smallest weights, grow as many at random), sparse RTRL online on
digits and copy, weight density 0.1 and 0.25, 3 seeds: test accuracy, active fraction, per-step
time, and the simulated energy per sample of the trained model on `sparse_skipping` (L0, 8 test
sequences recorded); and what one rewiring costs there (energy and cycles per event, from a
recorded training run that rewires after every sequence's last step: accel_sim/engine/rewiring.py).
What a rewiring inside a sequence leaves out of a grown weight's influence:
benchmarks/bench_rewire_history.py.

Writes the ``rewiring`` section of benchmarks/RESULTS.md.
Run: .venv/bin/python benchmarks/bench_rewiring.py   (about 3 minutes on 2 cores; ``--quick`` to smoke-test)
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from accel_sim import load_config, simulate_file  # noqa: E402
from benchmarks._results import write_section  # noqa: E402
from codesign.tracing import open_trace_writer  # noqa: E402
from rtrl import make_learner  # noqa: E402
from rtrl.online import RunSettings, build_task, fit_task  # noqa: E402

QUICK = "--quick" in sys.argv
ROOT = Path(__file__).resolve().parent.parent
SEEDS = (0,) if QUICK else (0, 1, 2)
TASKS = {"digits": {"n_train": 40 if QUICK else 600}, "copy": {"n_train": 20 if QUICK else 300}}
DENSITIES = (0.1, 0.25)
REWIRE = {"rewire_every": 400, "rewire_fraction": 0.2}
TRACED = 8  # test sequences recorded and simulated


@dataclasses.dataclass(frozen=True)
class Run:
    task: str
    density: float
    rewired: bool
    seed: int
    accuracy: float
    active: float
    step_ms: float
    energy_per_sample_pj: float
    rewire_events: int
    event_pj: float = float("nan")  # one rewiring's energy on sparse_skipping (rewired runs)
    event_cycles: float = float("nan")


def rewiring_event_cost(settings, trained, task) -> tuple[float, float]:
    """(pJ, cycles) per rewiring on sparse_skipping (L0): a copy of the ``trained`` model trained on
    6 sequences of the task, rewiring after every sequence's last step (rewire_every = its length),
    recorded and simulated."""
    from rtrl.online import OnlineTrainer, TrainConfig
    from rtrl.online.run import make_model

    model = make_model(settings, task)
    model.set_masks(trained.masks)
    model.set_params({k: np.array(v) for k, v in trained.params.items()})
    data = task.train
    config = load_config(ROOT / "hw_configs" / "sparse_skipping.yaml")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rw.arrows"
        sub = type(data)(data.xs[:6], data.targets[:6])
        with open_trace_writer(path, model, "sparse_rtrl", history_steps=data.xs.shape[1]) as writer:
            trainer = OnlineTrainer(model, make_learner(model, "sparse_rtrl"),
                                    TrainConfig(epochs=1, lr=1e-3, rewire_every=data.xs.shape[1],
                                                rewire_fraction=REWIRE["rewire_fraction"],
                                                shuffle=False), recorder=writer)
            trainer.fit(sub)
        result = simulate_file(str(path), config, "L0")
    label = result.by_label.get("rewiring", {})
    events = max(int(label.get("events", 0)), 1)
    return float(label.get("energy_pj", 0.0)) / events, float(result.stall_cycles.get("rewiring", 0.0)) / events


def simulated_energy(model, data) -> float:
    """pJ per sample of sparse RTRL over ``TRACED`` test sequences on sparse_skipping (L0)."""
    config = load_config(ROOT / "hw_configs" / "sparse_skipping.yaml")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.arrows"
        xs, targets = data.xs[:TRACED], data.targets[:TRACED]
        with open_trace_writer(path, model, "sparse_rtrl", history_steps=xs.shape[1]) as writer:
            learner = make_learner(model, "sparse_rtrl", recorder=writer)
            for seq_x, seq_t in zip(xs, targets):
                learner.reset()
                for x, t in zip(seq_x, seq_t):
                    learner.step(x, int(t))
        result = simulate_file(str(path), config, "L0")
    return float(result.energy_pj["total"]) / len(xs)


def run(task: str, density: float, rewired: bool, seed: int) -> Run:
    settings = RunSettings(task=task, task_options=TASKS[task], n_hidden=64, weight_density=density,
                           epochs=1 if QUICK else 2, seed=seed, **(REWIRE if rewired else {}))
    result = fit_task(settings)
    k = result.kpis
    energy = simulated_energy(result.model, build_task(settings).test)
    event = rewiring_event_cost(settings, result.model, build_task(settings)) if rewired else (float("nan"),) * 2
    out = Run(task, density, rewired, seed, k.test_accuracy, k.activity_active, k.step_time_ms, energy,
              k.rewire_events, *event)
    print(f"  {task} rho={density} {'rewired' if rewired else 'fixed'} seed={seed}: acc {100 * out.accuracy:.1f} %, "
          f"active {out.active:.3f}, {out.step_ms:.3f} ms/step, {out.energy_per_sample_pj / 1e6:.3f} µJ/sample, "
          f"{out.rewire_events} rewirings", flush=True)
    return out


def main() -> None:
    with threadpool_limits(limits=1):
        runs = [run(t, d, r, s) for t in TASKS for d in DENSITIES for r in (False, True) for s in SEEDS]
    lines = ["## Fixed vs rewired masks (`benchmarks/bench_rewiring.py`)", "",
             f"Sparse RTRL online, n_hidden 64, the model's default activity settings, {1 if QUICK else 2} epochs "
             f"(Adam, lr 0.01) on digits ({TASKS['digits']['n_train']} training sequences) and copy "
             f"({TASKS['copy']['n_train']}); rewired: every {REWIRE['rewire_every']} steps (on a sequence end for both "
             f"tasks), {REWIRE['rewire_fraction']:.0%} of each matrix's weights replaced (smallest out, random in); "
             f"mean ± std over seeds {', '.join(map(str, SEEDS))}. Energy: the trained model's sparse-RTRL trace of "
             f"{TRACED} test sequences on `sparse_skipping`, L0. Per rewiring: energy and cycles of one event there "
             "(changed weights written, the CSR index rebuilt; a training run rewiring after every sequence's last step).", "",
             "| task | density | masks | accuracy % | active | ms/step | energy per sample | rewirings | per rewiring |",
             "|---|---|---|---|---|---|---|---|---|"]
    for task in TASKS:
        for d in DENSITIES:
            for rewired in (False, True):
                rs = [r for r in runs if (r.task, r.density, r.rewired) == (task, d, rewired)]
                acc = 100 * np.array([r.accuracy for r in rs])
                lines.append(f"| {task} | {d} | {'rewired' if rewired else 'fixed'} | {acc.mean():.1f} ± {acc.std():.1f} | "
                             f"{np.mean([r.active for r in rs]):.3f} | {np.mean([r.step_ms for r in rs]):.3f} | "
                             f"{np.mean([r.energy_per_sample_pj for r in rs]) / 1e6:.3f} µJ | "
                             f"{np.mean([r.rewire_events for r in rs]):.0f} | "
                             + (f"{np.mean([r.event_pj for r in rs]) / 1e3:.1f} nJ, {np.mean([r.event_cycles for r in rs]):.0f} cycles |"
                                if rewired else "– |"))
    verdicts = []
    for task in TASKS:
        for d in DENSITIES:
            fixed = np.mean([r.accuracy for r in runs if (r.task, r.density, r.rewired) == (task, d, False)])
            rew = np.mean([r.accuracy for r in runs if (r.task, r.density, r.rewired) == (task, d, True)])
            verdicts.append(f"{task} ρ {d}: {100 * (rew - fixed):+.1f} points")
    lines += ["", "Accuracy of rewired minus fixed masks: " + "; ".join(verdicts) + "."]
    print("\n".join(lines))
    if not QUICK:
        write_section("rewiring", "\n".join(lines))


if __name__ == "__main__":
    main()
