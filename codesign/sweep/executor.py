"""Run a sweep: train each model point once, replay its trace on every hardware point, store
each finished point at once, resume what a killed run left.

Flow: expand the spec into points; skip those already in the store; for each model point whose
trace is not yet recorded submit a model task, and when it finishes (or right away, if a
previous run recorded it) submit its hardware tasks. The parent process is the only writer of the
store, so each row is one transaction and a point key can never be written twice.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codesign.store import ResultStore
from codesign.sweep.backends import make_backend
from codesign.sweep.points import ModelPoint, SweepPoint, expand
from codesign.sweep.progress import Progress
from codesign.sweep.spec import SweepSpec
from codesign.sweep.tasks import hardware_task, model_task

STORE_NAME = "results.sqlite"


@dataclass
class SweepSummary:
    """What a run did. Times in seconds."""

    spec_name: str
    total_points: int
    already_done: int
    computed: int
    failed: int
    models_trained: int
    wall_seconds: float
    store_path: Path
    backend: str
    errors: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        rate = self.computed / self.wall_seconds if self.wall_seconds > 0 else 0.0
        out = [
            f"sweep {self.spec_name}: {self.total_points} points, {self.already_done} already in the store, "
            f"{self.computed} computed now ({self.models_trained} model points trained), {self.failed} failed",
            f"wall time {self.wall_seconds:.1f} s ({rate:.2f} points/s) on {self.backend}",
            f"store: {self.store_path}",
        ]
        return out + [f"failed: {e}" for e in self.errors[:10]]


def open_store(spec: SweepSpec, out_dir: Path, store_path: Path | None, restart: bool) -> ResultStore:
    """Open (or create) the sweep's store; refuse one that holds another spec's results."""
    path = Path(store_path) if store_path else Path(out_dir) / STORE_NAME
    if restart:
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        shutil.rmtree(Path(out_dir) / "traces", ignore_errors=True)
    store = ResultStore(path)
    digest = store.get_meta("spec_digest")
    if digest is None:
        store.set_meta("spec_digest", spec.digest())
        store.set_meta("spec_name", spec.name)
        store.set_meta("spec_json", spec.model_dump_json(by_alias=True))
    elif digest != spec.digest():
        store.close()
        raise ValueError(
            f"{path}: holds results of a different spec or of since-edited configs ({digest}); "
            "use --restart to discard them or another --out"
        )
    return store


def run_sweep(
    spec: SweepSpec,
    out_dir: str | Path,
    workers: int = 1,
    dask: str | None = None,
    store_path: str | Path | None = None,
    restart: bool = False,
    progress: bool = True,
) -> SweepSummary:
    """Run (or resume) ``spec`` with results in ``out_dir`` (store, traces)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    points = expand(spec)
    store = open_store(spec, out_dir, store_path, restart)
    try:
        done = store.done_keys()
        todo = [p for p in points if p.key not in done]
        bar = Progress(len(points), len(points) - len(todo), enabled=progress)
        summary = SweepSummary(spec.name, len(points), len(points) - len(todo), 0, 0, 0, 0.0, store.path, "")
        if todo:
            backend = make_backend(workers, dask)
            summary.backend = backend.description
            try:
                _drive(spec, todo, out_dir, store, backend, bar, summary)
            finally:
                backend.close()
        else:
            summary.backend = "nothing to do"
        bar.finish()
    finally:
        store.close()
    summary.wall_seconds = time.perf_counter() - t0
    return summary


def estimated_cost(model: ModelPoint) -> float:
    """Relative training cost of a model point (DESIGN §4: RTRL ~ n^4 per step, sparse ~ rho^2 n^4,
    BPTT ~ n^2), times the sequences trained; only used to order work, never reported."""
    n, rho = float(model.n_hidden), float(model.weight_density)
    per_step = {"dense_rtrl": n**4, "sparse_rtrl": max(rho * rho, 0.05) * n**4, "bptt": 30 * n**2}.get(model.method, n**4)
    return per_step * model.epochs * float(model.train_sequences or 1500)


def trace_path_for(out_dir: Path, model_key: str) -> Path:
    return out_dir / "traces" / f"{model_key}.arrows"


def _drive(spec: SweepSpec, todo: list[SweepPoint], out_dir: Path, store: ResultStore, backend: Any,
           bar: Progress, summary: SweepSummary) -> None:
    evaluator = spec.evaluator.model_dump()
    groups: dict[str, list[SweepPoint]] = defaultdict(list)
    for p in todo:
        groups[p.model.key].append(p)
    pending: dict[Any, tuple[str, Any]] = {}

    def submit_hardware(model_key: str, model_result: dict[str, Any]) -> None:
        trace = str(trace_path_for(out_dir, model_key))
        for p in groups[model_key]:
            pending[backend.submit(hardware_task, evaluator, p, model_result, trace)] = ("hw", p)

    bar.start()
    # longest first: the costliest model points start at once, so no worker idles at the end
    for model_key, pts in sorted(groups.items(), key=lambda kv: -estimated_cost(kv[1][0].model)):
        known = store.get_model(model_key)
        if known is not None and trace_path_for(out_dir, model_key).is_file():
            submit_hardware(model_key, known)
        else:
            trace = str(trace_path_for(out_dir, model_key))
            pending[backend.submit(model_task, evaluator, pts[0].model, trace)] = ("model", model_key)

    while pending:
        for fut in backend.wait_first(pending):
            kind, what = pending.pop(fut)
            try:
                result = fut.result()
            except Exception as exc:  # noqa: BLE001 - a failed point is reported, not stored
                failed = groups[what] if kind == "model" else [what]
                summary.failed += len(failed)
                summary.errors.append(f"{kind} point {what if kind == 'model' else what.key}: {type(exc).__name__}: {exc}")
                bar.update(0, failed=len(failed))
                continue
            if kind == "model":
                store.put_model(what, groups[what][0].model.params(), result)
                summary.models_trained += 1
                submit_hardware(what, result)
            else:
                if store.put_point(what.key, what.index, what.model.key, result):
                    summary.computed += 1
                bar.update(1)
    if summary.failed:
        print(f"{summary.failed} points failed; rerun the sweep to retry them", file=sys.stderr)
