"""Per-step time of sparse vs dense RTRL, beside the ideal speed-up from operation counts and
the memory floor (2 x bytes of the stored influence matrix / measured copy bandwidth); then, at
n_hidden 128 and density 0.1, each implementation of the sparse step against the same dense run;
then, at the model's default threshold and pseudo-derivative, the speed-up through ``gradients()``
on 12-step sequences (learner construction included) and through the online learner, with
independent and shared recurrent masks, the recorded work against the per-step count
(n P_r + nnz(G[:, A]) P_r or n |A| P_r + immediate influence + contraction; P_r the reached columns)
and the asymptote 3 alpha rho^2 n^4, and what fill-in skipping gains on 8-, 12- and 200-step sequences.

Run: .venv/bin/python benchmarks/bench_rtrl.py   (writes its section of benchmarks/RESULTS.md)
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_section  # noqa: E402

import inspect  # noqa: E402

from accel_sim.trace.schema import ListRecorder  # noqa: E402
from rtrl import EGRU, gradients, make_learner  # noqa: E402
from rtrl.sparse_rtrl import uses_dense_block  # noqa: E402
from rtrl.trace_decl import OPS  # noqa: E402
from rtrl.kernels import compiled, native  # noqa: E402
from rtrl.sparse_rtrl import SparseRTRL  # noqa: E402

N_IN, N_OUT = 16, 10
_DEFAULTS = inspect.signature(EGRU).parameters
PSEUDO = tuple(_DEFAULTS["pseudo_derivative"].default)  # the model's defaults: what users get
THRESHOLD = _DEFAULTS["threshold_mean"].default


def inputs(steps: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 1, (steps, N_IN)).astype(np.float32)


def time_steps(learner, xs, warmup: int = 5) -> tuple[float, float]:
    """Median seconds per step over xs, and the mean active fraction |A|/n."""
    for x in xs[:warmup]:
        learner.step(x, -1)
    times, active = [], []
    for i, x in enumerate(xs[warmup:]):
        t0 = time.perf_counter()
        out = learner.step(x, 1 if i % 8 == 7 else -1)
        times.append(time.perf_counter() - t0)
        active.append(out.n_active)
    return float(np.median(times)), float(np.mean(active))


def macs_per_step(model, method: str, xs) -> float:
    rec = ListRecorder()
    learner = make_learner(model, method, recorder=rec)
    for i, x in enumerate(xs):
        learner.step(x, 1 if i % 8 == 7 else -1)
    return sum(r.macs for r in rec.ops) / len(xs)


def copy_bandwidth(nbytes: int) -> float:
    """Bytes/s numpy reaches copying an array of nbytes (read + write counted)."""
    a = np.ones(nbytes // 4, np.float32)
    b = np.empty_like(a)
    reps = max(20, int(2e9 // max(nbytes, 1)) // 20)
    best = np.inf
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(reps):
            np.copyto(b, a)
        best = min(best, (time.perf_counter() - t0) / reps)
    return 2 * nbytes / best


def implementation(learner) -> str:
    """Which code ran the sparse step: the C update (with its vector width), numba, or scipy."""
    step = getattr(learner, "_compiled", None)
    if step is None:
        return f"generic ({learner.kernels}: scipy CSR / BLAS)"
    if step.implementation == "c":
        return f"compiled: numba forward + C update ({8 * native.load().vector_bytes}-bit vectors)"
    return "compiled: numba forward + numba update"


def implementations(model) -> list[tuple[str, SparseRTRL]]:
    """Sparse learners for every implementation available here."""
    out = [("generic", SparseRTRL(model, kernels="generic"))]
    if compiled.AVAILABLE:
        if native.load() is not None:
            out.append(("compiled, C update", SparseRTRL(model, kernels="compiled")))
        with native.disabled():  # the numba update, as where no C compiler is found
            out.append(("compiled, numba update", SparseRTRL(model, kernels="compiled")))
    return out


def main() -> None:
    # One BLAS thread for both learners: a like-for-like single-core comparison, and far less
    # noisy on a shared 2-core machine than oversubscribed BLAS threads.
    with threadpool_limits(limits=1):
        run()


def run() -> None:
    rows, sparse_impl = [], ""
    for n in (64, 128):
        for density in (1.0, 0.25, 0.1):
            model = EGRU(N_IN, n, N_OUT, weight_density=density, threshold_mean=THRESHOLD,
                         pseudo_derivative=PSEUDO, seed=0)
            sparse = make_learner(model, "sparse_rtrl")
            dense = make_learner(model, "dense_rtrl")
            sparse_impl = implementation(sparse)
            t_sparse, act = time_steps(sparse, inputs(205))
            t_dense, _ = time_steps(dense, inputs(25 if n == 128 else 60))
            ideal = macs_per_step(model, "dense_rtrl", inputs(40)) / macs_per_step(model, "sparse_rtrl", inputs(40))
            floor = 2 * sparse.M.nbytes / copy_bandwidth(sparse.M.nbytes)
            rows.append((n, density, act / n, t_dense * 1e3, t_sparse * 1e3, t_dense / t_sparse, ideal,
                         floor * 1e3, t_sparse / floor, sparse.M.nbytes / 2**20))
            print(f"n={n} density={density}: dense {t_dense*1e3:.2f} ms, sparse {t_sparse*1e3:.3f} ms, "
                  f"speed-up {t_dense/t_sparse:.1f}x (ideal {ideal:.0f}x), sparse/floor {t_sparse/floor:.2f}",
                  flush=True)
    per_impl = compare_implementations()
    defaults_lines = defaults_section()
    lines = [
        "## RTRL step time: sparse vs dense (`benchmarks/bench_rtrl.py`)",
        "",
        f"Sparse step: {sparse_impl}. "
        f"Single thread (BLAS limited to 1 thread for both), float32, n_in = {N_IN}, n_out = {N_OUT}, threshold mean {THRESHOLD}, pseudo-derivative "
        f"(gamma, eps) = {PSEUDO}, Gaussian input, one loss every 8 steps. Median step time. "
        "Ideal speed-up = recorded dense MACs / recorded sparse MACs per step. Memory floor = "
        "2 x bytes of the stored sparse influence matrix / numpy copy bandwidth on an array of that size, "
        "measured in the same run.",
        "",
        "| n_hidden | weight density | active fraction | dense ms/step | sparse ms/step | speed-up | ideal speed-up | memory floor ms | sparse / floor | M stored (MiB) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append("| {} | {} | {:.3f} | {:.2f} | {:.3f} | {:.1f}x | {:.0f}x | {:.3f} | {:.2f} | {:.2f} |".format(*r))
    lines += ["", f"Each sparse implementation at n_hidden 128, density 0.1, against the dense learner, interleaved "
              f"({ROUNDS} rounds of dense, then each sparse implementation; medians over the rounds; the speed-up's "
              "range is over the rounds' own ratios):", "",
              "| sparse implementation | sparse ms/step | dense ms/step | speed-up (median) | speed-up range | sparse / memory floor |",
              "|---|---|---|---|---|---|"]
    lines += [f"| {c.name} | {1e3 * c.sparse_s:.3f} | {1e3 * c.dense_s:.2f} | {c.ratio:.1f}x | "
              f"{min(c.round_ratios):.1f}-{max(c.round_ratios):.1f}x | {c.sparse_s / c.floor_s:.2f} |" for c in per_impl]
    main_row = next(r for r in rows if r[0] == 128 and r[1] == 0.1)
    default_name = ("compiled, C update" if "C update" in sparse_impl
                    else "compiled, numba update" if sparse_impl.startswith("compiled") else "generic")
    default = next(c for c in per_impl if c.name == default_name)
    lines += ["", f"Targets at n_hidden 128, density 0.1 ({default.name}): sparse >= 50x faster than dense: "
              f"{'met' if default.ratio >= 50 else 'missed'} (median {default.ratio:.1f}x over {ROUNDS} interleaved rounds, "
              f"{min(default.round_ratios):.1f}-{max(default.round_ratios):.1f}x; {main_row[5]:.1f}x in the single-shot "
              f"first table); sparse within 3x of the memory floor: "
              f"{'met' if main_row[8] <= 3 else 'missed'} ({main_row[8]:.2f}x)."]
    write_section("rtrl", "\n".join(lines + [""] + defaults_lines))


ROUNDS = 5


@dataclass(frozen=True)
class Comparison:
    """One sparse implementation against the dense learner: medians over the interleaved rounds
    (seconds per step) and each round's own dense / sparse ratio."""

    name: str
    sparse_s: float
    dense_s: float
    floor_s: float
    round_ratios: list[float]

    @property
    def ratio(self) -> float:
        return float(np.median(self.round_ratios))


def compare_implementations() -> list[Comparison]:
    """Each implementation at n = 128, density 0.1 against dense RTRL; rounds interleave them so
    the shared machine's load hits them alike."""
    model = EGRU(N_IN, 128, N_OUT, weight_density=0.1, threshold_mean=THRESHOLD, pseudo_derivative=PSEUDO, seed=0)
    dense = make_learner(model, "dense_rtrl")
    learners = implementations(model)
    times: dict[str, list[float]] = {name: [] for name, _ in learners}
    dense_times, floors = [], []
    for _ in range(ROUNDS):
        dense_times.append(time_steps(dense, inputs(25))[0])
        for name, learner in learners:
            learner.reset()
            times[name].append(time_steps(learner, inputs(205))[0])
        floors.append(2 * learners[0][1].M.nbytes / copy_bandwidth(learners[0][1].M.nbytes))
    out = [Comparison(name, float(np.median(ts)), float(np.median(dense_times)), float(np.median(floors)),
                      [d / t for d, t in zip(dense_times, ts)]) for name, ts in times.items()]
    for c in out:
        print(f"n=128 density=0.1 {c.name}: sparse {c.sparse_s * 1e3:.3f} ms, dense {c.dense_s * 1e3:.2f} ms, "
              f"speed-up {c.ratio:.1f}x (rounds {min(c.round_ratios):.1f}-{max(c.round_ratios):.1f}x)", flush=True)
    return out


SEQ_LEN = 12


def sequences(count: int, steps: int, seed: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` Gaussian sequences of ``steps`` steps, a target at every 4th step and the last."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        targets = np.full(steps, -1)
        targets[3::4] = rng.integers(0, N_OUT, targets[3::4].size)
        targets[-1] = rng.integers(0, N_OUT)
        out.append((rng.normal(0, 1, (steps, N_IN)).astype(np.float32), targets))
    return out


def gradients_time(model, method: str, seqs) -> float:
    """Median seconds per step of ``gradients()`` over ``seqs`` (a fresh learner per call)."""
    times = []
    for xs, targets in seqs:
        t0 = time.perf_counter()
        gradients(model, xs, targets, method)
        times.append((time.perf_counter() - t0) / len(xs))
    return float(np.median(times))


@dataclass(frozen=True)
class CostCount:
    """Per-step work of sparse RTRL over a recorded run: MACs it recorded (all ops; the influence
    update + immediate influence + contraction), the count the code follows (n P + nnz(G[:, A]) P on the CSR path or n |A| P on
    the dense block, + immediate-influence entries + |A_t| P on steps with a target), dense RTRL's
    recorded MACs per step; mean alpha = |A|/n, the density of G's pattern, the share of dense-block steps.
    The immediate-influence and contraction terms of the count are the learner's own recorded ones
    (tests/rtrl/test_counts.py checks them against the masks)."""

    sparse_macs: float
    update_macs: float
    counted: float
    dense_macs: float
    alpha: float
    g_density: float
    dense_block_steps: float


def cost_count(model, seqs) -> CostCount:
    rec = ListRecorder()
    learner = make_learner(model, "sparse_rtrl", recorder=rec)
    for xs, targets in seqs:
        learner.reset()
        for x, t in zip(xs, targets):
            learner.step(x, int(t))
    n, P = model.n_hidden, learner.layout.n_columns
    union = model.masks["R_u"] | model.masks["R_r"] | model.masks["R_z"]
    names = OPS["sparse_rtrl"]
    by_step: dict[int, dict[str, int]] = {}
    for r in rec.ops:
        by_step.setdefault(r.step, {}).setdefault(names[r.op], 0)
        by_step[r.step][names[r.op]] += r.macs
    counted, core, alphas, dense_steps = 0.0, 0.0, [], 0
    for step in rec.steps:
        active = np.union1d(step.fired, step.support)
        g_nnz = int(union[:, active].sum())
        dense = uses_dense_block(g_nnz, n, active.size)
        dense_steps += dense
        ops = by_step[step.step]
        rest = ops.get("immediate_scatter", 0) + ops.get("contraction", 0)
        p_r = step.sets["reached"].size  # columns reached since the sequence start (rtrl.reach)
        counted += n * p_r + (n * active.size * p_r if dense else g_nnz * p_r) + rest
        core += ops.get("influence_update", 0) + ops.get("influence_update_dense", 0) + rest
        alphas.append(active.size / n)
    steps = len(rec.steps)
    dense_rec = ListRecorder()
    dense_learner = make_learner(model, "dense_rtrl", recorder=dense_rec)
    xs, targets = seqs[0]
    for x, t in zip(xs[:4], targets[:4]):
        dense_learner.step(x, int(t))
    total = sum(r.macs for r in rec.ops)
    return CostCount(total / steps, core / steps, counted / steps, sum(r.macs for r in dense_rec.ops) / 4,
                     float(np.mean(alphas)), float(union.mean()), dense_steps / steps)


def sequence_time(model, seqs, skip: bool) -> tuple[float, float]:
    """Mean seconds per step of one online sparse learner over ``seqs`` (reset at each sequence
    start, as training does), with or without fill-in skipping; and the mean reached fraction of
    M's columns per step."""
    learner = SparseRTRL(model, skip_unreached=skip)
    learner.step(seqs[0][0][0], -1)  # warm
    total, steps, reached = 0.0, 0, 0.0
    for xs, targets in seqs:
        learner.reset()
        for x, t in zip(xs, targets):
            t0 = time.perf_counter()
            learner.step(x, int(t))
            total += time.perf_counter() - t0
            reached += learner.reach.n_reached / learner.layout.n_columns
            steps += 1
    return total / steps, reached / steps


def fill_in_section(model, t_dense: float) -> list[str]:
    """Fill-in skipping at the defaults: short and long sequences, with and without it, against
    dense RTRL's step."""
    rows = []
    for T, count in ((8, 40), (SEQ_LEN, 30), (200, 3)):
        seqs = sequences(count, T, seed=3)
        runs = {skip: [] for skip in (True, False)}
        for _ in range(3):  # alternate, best of 3 each
            for skip in (True, False):
                runs[skip].append(sequence_time(model, seqs, skip))
        (t_skip, reached), (t_all, _) = (min(runs[k], key=lambda r: r[0]) for k in (True, False))
        rows.append((T, count, reached, t_skip, t_all))
        print(f"fill-in T={T}: skip {t_skip * 1e3:.3f} ms/step, all columns {t_all * 1e3:.3f}, reached {reached:.3f}",
              flush=True)
    lines = ["", "Fill-in skipping (`rtrl.reach`): the online learner reset at each sequence start (Gaussian input, a "
             "target every 4th step), mean time per step over the sequences (best of 3 alternating runs), sweeping "
             "only the columns of M reached since the sequence start vs every column (`skip_unreached=False`); "
             "dense RTRL's online step as above.", "",
             "| sequence length | sequences | mean reached columns | sparse ms/step, skipping | sparse ms/step, all columns "
             "| gain from skipping | dense / sparse (skipping) |", "|---|---|---|---|---|---|---|"]
    for T, count, reached, t_skip, t_all in rows:
        lines.append(f"| {T} | {count} | {100 * reached:.0f} % | {t_skip * 1e3:.3f} | {t_all * 1e3:.3f} | "
                     f"{t_all / t_skip:.2f}x | {t_dense / t_skip:.1f}x |")
    eight = rows[0]
    lines += ["", f"Target: >= 100x faster than dense RTRL with fill-in skipping on 8-step sequences: "
              f"{'met' if t_dense / eight[3] >= 100 else 'missed'} ({t_dense / eight[3]:.1f}x)."]
    return lines


def defaults_section() -> list[str]:
    """Speed-up at the defaults through gradients() and the online learner, independent vs
    shared recurrent masks, and the cost count against measured work."""
    rows = []
    for shared in (False, True):
        model = EGRU(N_IN, 128, N_OUT, weight_density=0.1, threshold_mean=THRESHOLD, pseudo_derivative=PSEUDO,
                     seed=0, shared_masks=shared)
        short = sequences(7, SEQ_LEN)
        gradients(model, *short[0], "sparse_rtrl")  # warm: compiled kernels loaded
        g_sparse = gradients_time(model, "sparse_rtrl", short)
        g_dense = gradients_time(model, "dense_rtrl", short[:3])
        online = make_learner(model, "sparse_rtrl")
        t_online, _ = time_steps(online, inputs(405))
        dense = make_learner(model, "dense_rtrl")
        t_dense, _ = time_steps(dense, inputs(25))
        t0 = time.perf_counter()
        make_learner(model, "sparse_rtrl")
        build = time.perf_counter() - t0
        cost = cost_count(model, sequences(4, 50, seed=2))
        rows.append((shared, g_sparse, g_dense, t_online, t_dense, build, cost))
        print(f"defaults shared={shared}: gradients() sparse {g_sparse * 1e3:.3f} ms/step, dense {g_dense * 1e3:.2f}; "
              f"online sparse {t_online * 1e3:.3f} ms, dense {t_dense * 1e3:.2f}; build {build * 1e3:.1f} ms; "
              f"alpha {cost.alpha:.3f}", flush=True)
    gamma, eps = PSEUDO
    lines = [
        f"At the model's defaults (threshold mean {THRESHOLD}, pseudo-derivative (gamma, eps) = ({gamma}, {eps})), "
        f"n_hidden 128, weight density 0.1, Gaussian input, single thread. `gradients()`: median per-step time of "
        f"one call on a {SEQ_LEN}-step sequence (a target every 4th step), learner construction included; online: "
        "median step of one long run (as above). Build: one `make_learner` call.",
        "",
        "| recurrent masks | sparse gradients() ms/step | dense gradients() ms/step | speed-up gradients() | "
        "sparse online ms/step | dense online ms/step | speed-up online | gradients() / online step | build ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for shared, g_s, g_d, t_s, t_d, build, _ in rows:
        lines.append(f"| {'shared' if shared else 'independent'} | {g_s * 1e3:.3f} | {g_d * 1e3:.2f} | {g_d / g_s:.1f}x | "
                     f"{t_s * 1e3:.3f} | {t_d * 1e3:.2f} | {t_d / t_s:.1f}x | {g_s / t_s:.2f} | {build * 1e3:.1f} |")
    lines += ["", "Recorded work per step against the count the code follows and the asymptote (4 sequences of 50 "
              "steps; alpha = mean |A|/n; rho_G = density of G's pattern, the union of the recurrent masks):", "",
              "| recurrent masks | alpha | rho_G | dense-block steps | sparse MACs/step (all ops) | update + immediate + "
              "contraction | counted | recorded / counted | dense MACs/step | dense / sparse (MACs) | 1 / (alpha rho_G^2) "
              "| 1 / (alpha rho^2) | speed-up online (time) |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for shared, _, _, t_s, t_d, _, c in rows:
        lines.append(f"| {'shared' if shared else 'independent'} | {c.alpha:.3f} | {c.g_density:.3f} | "
                     f"{100 * c.dense_block_steps:.0f} % | {c.sparse_macs / 1e6:.2f} M | {c.update_macs / 1e6:.2f} M | "
                     f"{c.counted / 1e6:.2f} M | {c.update_macs / c.counted:.3f} | {c.dense_macs / 1e6:.0f} M | "
                     f"{c.dense_macs / c.sparse_macs:.1f}x | {1 / (c.alpha * c.g_density ** 2):.0f}x | "
                     f"{1 / (c.alpha * 0.1 ** 2):.0f}x | {t_d / t_s:.1f}x |")
    plain = rows[0]
    fill_model = EGRU(N_IN, 128, N_OUT, weight_density=0.1, threshold_mean=THRESHOLD, pseudo_derivative=PSEUDO, seed=0)
    lines += fill_in_section(fill_model, plain[4])
    lines += ["", f"Target at the defaults (independent masks): sparse >= 50x faster than dense through gradients() "
              f"on {SEQ_LEN}-step sequences: {'met' if plain[2] / plain[1] >= 50 else 'missed'} "
              f"({plain[2] / plain[1]:.1f}x); through the online learner: "
              f"{'met' if plain[4] / plain[3] >= 50 else 'missed'} ({plain[4] / plain[3]:.1f}x). gradients() per step "
              f"<= 1.5x the online step: {'met' if plain[1] / plain[3] <= 1.5 else 'missed'} ({plain[1] / plain[3]:.2f}x)."]
    return lines


if __name__ == "__main__":
    main()
