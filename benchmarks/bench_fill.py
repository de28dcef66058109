"""How fast the influence matrix fills in: the fraction of non-zero entries of M (n x P) after
each step since the sequence start, over all of M and per parameter group, for trained sparse-RTRL
models at the model's default activity settings; and the share of columns that still hold at most
one non-zero (the unit's own row: nothing has propagated yet).

Two workloads: 8-step digits sequences (the default task) and 200-step sequences (digits-events
with 25 steps per row). The fill bounds what skipping the zeros of M could save: with exact
zero-skipping, the work on M would scale with its non-zeros instead of n x P. Then what the
learner's column skipping (``rtrl.reach``) gains in time on the same sequences.

Writes the ``fill`` section of benchmarks/RESULTS.md.
Run: .venv/bin/python benchmarks/bench_fill.py   (about 1 minute on 2 cores; ``--quick`` to smoke-test)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._results import write_section  # noqa: E402
from rtrl.fill import GROUPS, checkpoints, influence_fill  # noqa: E402
from rtrl.online import RunSettings, build_task, fit_task  # noqa: E402
from benchmarks.bench_rtrl import sequence_time  # noqa: E402

QUICK = "--quick" in sys.argv
WORKLOADS = {  # name: (task, task options for training, sequences measured)
    "digits, 8 steps": ("digits", {"n_train": 60 if QUICK else 0}, 5 if QUICK else 40),
    "digits-events, 200 steps": ("digits-events", {"steps_per_row": 25, "n_train": 10 if QUICK else 150}, 2 if QUICK else 6),
}


def skipping_gain(model, xs: np.ndarray, targets: np.ndarray) -> tuple[float, float, float]:
    """(mean reached fraction of M's columns, s/step with skipping, s/step without) of sparse RTRL
    over the sequences ``xs`` (N, T, n_in), reset at each start; best of 3 alternating runs."""
    seqs = list(zip(xs, targets))
    runs = {True: [], False: []}
    for _ in range(3):
        for skip in (True, False):
            runs[skip].append(sequence_time(model, seqs, skip))
    return runs[True][0][1], min(t for t, _ in runs[True]), min(t for t, _ in runs[False])


def main() -> None:
    lines = ["## Fill-in of the influence matrix (`benchmarks/bench_fill.py`)", "",
             "Sparse RTRL at the model's defaults (threshold 0.3, pseudo-derivative (0.3, 0.15)), n_hidden 128, "
             "weight density 0.1, trained online for 1 epoch on each task, then run over test sequences "
             "(M starts at zero at each sequence start). Fill: fraction of non-zero entries of M after the step; "
             "'<= 1 non-zero': fraction of M's columns holding at most one (their unit's own row). An exact "
             "zero-skipping update would do work in proportion to the fill, so 1 / fill bounds its gain.", ""]
    timing = []
    header = "| workload | active | step | fill (all of M) | W | R | biases | thresholds | columns with <= 1 non-zero | 1 / fill |"
    lines += [header, "|---" * (header.count("|") - 1) + "|"]
    with threadpool_limits(limits=1):
        for name, (task, options, sequences) in WORKLOADS.items():
            settings = RunSettings(task=task, task_options=options, n_hidden=128, weight_density=0.1, epochs=1,
                                   seed=0)
            result = fit_task(settings)
            test = build_task(settings).test
            fill = influence_fill(result.model, test.xs[:sequences], test.targets[:sequences])
            total, groups, single, alpha = fill.total, fill.groups, fill.single, fill.active
            T = total.size
            for step in checkpoints(T):
                i = step - 1
                lines.append(f"| {name} | {alpha:.3f} | {step} | {total[i]:.3f} | "
                             + " | ".join(f"{groups[g][i]:.3f}" for g in GROUPS)
                             + f" | {single[i]:.3f} | {1 / max(total[i], 1e-12):.1f}x |")
            timing.append((name, *skipping_gain(result.model, test.xs[:sequences], test.targets[:sequences])))
            mean = float(total.mean())
            lines.append(f"| {name} | {alpha:.3f} | mean over the {T} steps | {mean:.3f} | "
                         + " | ".join(f"{groups[g].mean():.3f}" for g in GROUPS)
                         + f" | {single.mean():.3f} | {1 / max(mean, 1e-12):.1f}x |")
            print(f"{name}: mean fill {mean:.3f}, active {alpha:.3f}", flush=True)
    lines += ["", "What the learner's column skipping (`rtrl.reach`: only columns of M reached since the sequence start "
              "are swept) gains on the same test sequences: mean time per step (best of 3 alternating runs, one "
              "thread), with skipping vs sweeping every column (`skip_unreached=False`):", "",
              "| workload | mean reached columns | ms/step, skipping | ms/step, every column | gain |", "|---|---|---|---|---|"]
    for name, reached, t_skip, t_all in timing:
        lines.append(f"| {name} | {100 * reached:.0f} % | {t_skip * 1e3:.3f} | {t_all * 1e3:.3f} | {t_all / t_skip:.2f}x |")
    print("\n".join(lines))
    if not QUICK:
        write_section("fill", "\n".join(lines))


if __name__ == "__main__":
    main()
