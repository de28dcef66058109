"""What a grown weight's influence misses when rewiring happens inside a sequence (issue 20).

Exact learning through the switched graph starts a grown weight's influence column at zero (it did
not exist before: ``Learner.rewired``). The counterfactual where it had always existed at value
zero keeps the column dense RTRL computed for it before the rewiring (dense RTRL tracks masked-out
entries too). Both run the same forward (a grown weight joins at value 0), so their grown columns
differ by D_t = J_t D_{t-1}: the history, carried through the state Jacobian.

Per task, a model trained online with sparse RTRL (n_hidden 64, density 0.25, one epoch, float64)
runs dense RTRL over test sequences; it is rewired (20 % of each matrix, smallest out, random in)
inside the sequence, and an exact and a counterfactual learner continue from there. Reported:

* the influence: ||M_cf[:, grown] - M_exact[:, grown]||_F / ||M_cf[:, grown]||_F at k steps after a
  rewiring at step ``TAU`` (1 at k = 0, where the exact columns are zero);
* the gradient: the grown weights' gradient at the label (the last step), relative difference
  ||g_cf - g_exact|| / ||g_cf||, for a rewiring k steps before the label (sequences whose gradient
  is zero there, no unit active at the label, are left out).

Medians (and maxima) over ``N_SEQ`` test sequences. Writes the ``rewiring-history`` section of
benchmarks/RESULTS.md. Run: .venv/bin/python benchmarks/bench_rewire_history.py  (about a minute;
``--quick`` to smoke-test)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._results import write_section  # noqa: E402
from rtrl.dense_rtrl import DenseRTRL  # noqa: E402
from rtrl.model import EGRU  # noqa: E402
from rtrl.online import RunSettings, build_task, fit_task  # noqa: E402
from rtrl.rewire import rewire  # noqa: E402

QUICK = "--quick" in sys.argv
N_SEQ = 2 if QUICK else 8
FRACTION = 0.2
TAU = 8  # the influence curve's rewiring step
KS = (0, 1, 2, 4, 8, 16, 32, 48)
TASKS = {"sine": {"n_steps": 64, "n_train": 40 if QUICK else 300, "n_test": N_SEQ},
         "digits-events": {"n_train": 40 if QUICK else 300}}  # 32 steps, +-1 delta events


def clone(model: EGRU) -> EGRU:
    """A copy of ``model`` (same masks and parameters) that rewiring may change."""
    twin = EGRU(model.n_in, model.n_hidden, model.n_out, weight_density=model.weight_density,
                threshold_mean=model.threshold_mean, pseudo_derivative=model.pseudo_derivative,
                seed=model.seed, dtype=model.dtype)
    twin.set_masks(model.masks)
    twin.set_params({k: np.array(v) for k, v in model.params.items()})
    return twin


def fork(base: DenseRTRL, model: EGRU, seed: int) -> tuple[DenseRTRL, DenseRTRL, np.ndarray]:
    """Rewire a clone of ``model`` now; (exact, counterfactual, grown columns of the dense layout)."""
    twin = clone(model)
    edits = rewire(twin, FRACTION, np.random.default_rng(seed))
    cf = DenseRTRL(twin)
    cf.set_state(base.get_state())  # the dense layout does not depend on the masks: every column kept
    exact = cf.rewired(edits)  # grown columns zeroed
    grown = np.concatenate([cf.layout.start[e.name] + e.added for e in edits])
    return exact, cf, grown


def relative(cf: np.ndarray, exact: np.ndarray) -> float:
    scale = np.linalg.norm(cf)
    return float(np.linalg.norm(cf - exact) / scale) if scale > 0 else float("nan")


def measure(model: EGRU, xs: np.ndarray, targets: np.ndarray, seed: int) -> tuple[dict, dict]:
    """One sequence: {k: influence difference k steps after a rewiring at TAU},
    {k: gradient difference at the last step for a rewiring k steps before it}."""
    T = len(xs)
    label_starts = {T - k: k for k in KS if 0 < k < T}  # rewired after T - k steps
    base, forks, curve = DenseRTRL(model), {}, {}
    for t in range(T + 1):
        if t == TAU or t in label_starts:
            forks[t] = fork(base, model, seed * 1000 + t)
        if TAU in forks and t - TAU in KS:
            exact, cf, grown = forks[TAU]
            curve[t - TAU] = relative(cf.M[:, grown], exact.M[:, grown])
        if t < T:
            for learner in (base, *(l for trio in forks.values() for l in trio[:2])):
                learner.step(xs[t], int(targets[t]))
    at_label = {k: relative(forks[s][1]._grad[forks[s][2]], forks[s][0]._grad[forks[s][2]])
                for s, k in label_starts.items()}
    return curve, at_label


def trained_model(task_name: str) -> tuple[EGRU, object]:
    settings = RunSettings(task=task_name, task_options=TASKS[task_name], n_hidden=64, weight_density=0.25,
                           epochs=1, dtype="float64")
    return fit_task(settings).model, build_task(settings).test


def summary(values: list[dict], ks) -> list[str]:
    out = []
    for k in ks:
        v = np.array([d[k] for d in values if k in d and np.isfinite(d[k])])
        out.append(f"{np.median(v):.3g} ({v.max():.3g})" if v.size else "–")
    return out


def main() -> None:
    lines = ["## A grown weight's missing history (`benchmarks/bench_rewire_history.py`)", "",
             f"Rewiring inside a sequence ({FRACTION:.0%} of each matrix: smallest out, random in, at value 0); "
             "exact (the switched graph: grown columns start at zero) vs the counterfactual where grown weights had "
             "existed at value zero from the sequence start (dense RTRL keeping their columns). Models trained online "
             "one epoch with sparse RTRL (n_hidden 64, density 0.25, default activity settings, float64); "
             f"median (max) over {N_SEQ} test sequences.", "",
             f"Influence of the grown weights, ‖M_cf − M_exact‖ / ‖M_cf‖ over their columns, k steps after a "
             f"rewiring at step {TAU}:", "",
             "| task | " + " | ".join(f"k = {k}" for k in KS) + " |", "|---|" + "---|" * len(KS)]
    grad_rows, rates = [], []
    with threadpool_limits(limits=1):
        for name in TASKS:
            model, test = trained_model(name)
            results = [measure(model, test.xs[i], test.targets[i], i) for i in range(N_SEQ)]
            T = test.xs.shape[1]
            at8, at16 = (np.median([r[0][k] for r in results]) for k in (8, 16))
            rates.append(f"×{(at16 / at8) ** (1 / 8):.2f} ({name})")
            lines.append(f"| {name} ({T} steps) | " + " | ".join(summary([r[0] for r in results], KS)) + " |")
            gks = [k for k in KS if 0 < k < T]
            grad_rows.append((name, T, gks, summary([r[1] for r in results], gks)))
            print(lines[-1], flush=True)
    lines += ["", "Per step from k = 8 to 16 the median difference shrinks by " + ", ".join(rates) + ".",
              "", "Gradient of the grown weights at the label (the last step), ‖g_cf − g_exact‖ / ‖g_cf‖, for a "
              "rewiring k steps before it (sequences with no unit active at the label, whose gradient is zero there, left "
              "out):", ""]
    for name, T, gks, cells in grad_rows:
        lines += [f"| {name} ({T} steps) | " + " | ".join(f"k = {k}" for k in gks) + " |",
                  "|---|" + "---|" * len(gks), "| | " + " | ".join(cells) + " |", ""]
    print("\n".join(lines))
    if not QUICK:
        write_section("rewiring-history", "\n".join(lines))


if __name__ == "__main__":
    main()
