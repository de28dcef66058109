"""Run a sweep: train each model point once, replay its trace on every hardware point, store
each finished point at once, resume what a killed run left.

Flow: expand the spec into points; skip those already in the store; for each model point whose
trace is not yet recorded queue a model task, and when it finishes (or right away, if a
previous run recorded it) queue its hardware tasks; the queue hands tasks to the backend as
worker threads can take them (:mod:`codesign.sweep.dispatch`). Tasks get values, never paths (see
:mod:`codesign.sweep.tasks`): the validated config as a dict, the trace as bytes shared once per
model point. This process alone writes: the store (each row one transaction, so a point key can
never be written twice) and the traces, in the output folder's ``traces/``.

A failed point is not stored. Its :class:`PointFailure` says whether a rerun can help:
``input`` (a ValueError such as ConfigError/InputError: the point's input is bad), ``transient``
(the backend's I/O / lost-worker failures) or ``internal`` (anything else: a bug).
"""

from __future__ import annotations

import shutil
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codesign.atomic import atomic_write_bytes
from codesign.report.units import count
from codesign.store import ResultStore
from codesign.sweep.backends import make_backend
from codesign.sweep.dispatch import LONG, SHORT, Job, TaskQueue
from codesign.sweep.points import ModelPoint, SweepPoint, expand
from codesign.sweep.progress import Progress
from codesign.sweep.spec import SweepSpec
from codesign.sweep.tasks import ModelOutput, hardware_config, hardware_task, model_task

STORE_NAME = "results.sqlite"


@dataclass(frozen=True)
class PointFailure:
    """Points that were not computed: ``points`` of them from point ``index`` on (a failed model
    point fails all of its hardware points), ``what`` names them, ``cause`` is ``Type: message``,
    ``kind`` is ``input`` (rerunning cannot help), ``transient`` (a rerun may) or ``internal`` (a bug)."""

    index: int
    points: int
    what: str
    cause: str
    kind: str

    def line(self) -> str:
        return f"{self.what}: {self.cause}"


def failure_kind(exc: BaseException, transient: tuple[type[BaseException], ...]) -> str:
    if isinstance(exc, (ValueError, MemoryError)):  # bad input, or sizes beyond the worker's memory
        return "input"
    return "transient" if isinstance(exc, transient) else "internal"


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
    failures: list[PointFailure] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        return [f.line() for f in self.failures]

    def failed_by(self, kind: str) -> list[PointFailure]:
        return [f for f in self.failures if f.kind == kind]

    def lines(self) -> list[str]:
        rate = self.computed / self.wall_seconds if self.wall_seconds > 0 else 0.0
        out = [
            f"sweep {self.spec_name}: {count(self.total_points, 'point')}, {self.already_done} already in the store, "
            f"{self.computed} computed now ({count(self.models_trained, 'model point')} trained), {self.failed} failed",
            f"wall time {self.wall_seconds:.1f} s ({rate:.2f} points/s) on {self.backend}",
            f"store: {self.store_path}",
        ]
        return out + [f"failed ({f.kind}): {f.line()}" for f in self.failures[:10]]


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
    """Run (or resume) ``spec`` with results in ``out_dir`` (store, traces). Only this process
    reads the spec's files and writes results; workers get and return values."""
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
    """Relative training cost of a model point (docs/model.md §3: RTRL ~ n^4 per step, sparse ~ rho^2 n^4,
    BPTT ~ n^2), times the sequences trained; only used to order work, never reported."""
    n, rho = float(model.n_hidden), float(model.weight_density)
    per_step = {"dense_rtrl": n**4, "sparse_rtrl": max(rho * rho, 0.05) * n**4, "bptt": 30 * n**2}.get(model.method, n**4)
    return per_step * model.epochs * float(model.train_sequences or 1500)


def trace_path_for(out_dir: Path, model_key: str) -> Path:
    """Where the client keeps a model point's trace (written by this process, never by a worker)."""
    return Path(out_dir) / "traces" / f"{model_key}.arrows"


def _describe(kind: str, what: Any) -> str:
    if kind == "model":
        m = what
        return (f"model point {m.key} ({m.task} {m.method} n_hidden={m.n_hidden} "
                f"weight_density={m.weight_density:g} seed={m.seed})")
    return f"point {what.index} {what.key} ({what.hardware.label} {what.hardware.fidelity})"


def _drive(spec: SweepSpec, todo: list[SweepPoint], out_dir: Path, store: ResultStore, backend: Any,
           bar: Progress, summary: SweepSummary) -> None:
    evaluator = spec.evaluator.model_dump()
    groups: dict[str, list[SweepPoint]] = defaultdict(list)
    for p in todo:
        groups[p.model.key].append(p)
    queue = TaskQueue(backend)  # what runs when: codesign.sweep.dispatch
    configs: dict[tuple[str, Any], dict[str, Any] | None] = {}  # validated once per base config + overrides
    shared: dict[str, Any] = {}  # model key -> its trace as shared with the workers, while still needed
    left: Counter[str] = Counter()  # model key -> hardware tasks queued or running

    def fail(kind: str, what: Any, points: int, exc: BaseException) -> None:
        index = groups[what.key][0].index if kind == "model" else what.index
        summary.failures.append(PointFailure(index, points, _describe(kind, what), f"{type(exc).__name__}: {exc}",
                                             failure_kind(exc, backend.transient)))
        summary.failed += points
        bar.update(0, failed=points)

    def config_for(p: SweepPoint) -> dict[str, Any] | None:
        key = (p.hardware.config, p.hardware.overrides)
        if key not in configs:
            configs[key] = hardware_config(evaluator, spec.config_path(p.hardware.config), p.hardware)
        return configs[key]

    def queue_hardware(model_key: str, model_result: dict[str, Any], trace: bytes) -> None:
        try:
            shared[model_key] = backend.share(trace)
        except backend.transient as exc:  # e.g. the cluster is gone
            fail("model", groups[model_key][0].model, len(groups[model_key]), exc)
            return
        for p in groups[model_key]:
            try:
                config = config_for(p)
            except (ValueError, OSError) as exc:  # a config (with these overrides) that does not load
                fail("hardware", p, 1, exc)
                continue
            queue.push(SHORT, "hw", p, hardware_task, evaluator, p, config, model_result, shared[model_key])
            left[model_key] += 1
        if not left[model_key]:
            del shared[model_key]

    def hardware_done(p: SweepPoint) -> None:
        left[p.model.key] -= 1
        if not left[p.model.key]:
            del shared[p.model.key]  # the workers may drop this trace now

    def failed(job: Job, exc: BaseException) -> None:
        if job.kind == "model":
            fail("model", groups[job.what][0].model, len(groups[job.what]), exc)
        else:
            fail("hardware", job.what, 1, exc)
            hardware_done(job.what)

    bar.start()
    # longest first: the costliest model points start at once, so no worker idles at the end
    for model_key, pts in sorted(groups.items(), key=lambda kv: -estimated_cost(kv[1][0].model)):
        known = store.get_model(model_key)
        trace_path = trace_path_for(out_dir, model_key)
        if known is not None and trace_path.is_file():
            queue_hardware(model_key, known, trace_path.read_bytes())
        else:
            queue.push(LONG, "model", model_key, model_task, evaluator, pts[0].model)

    while queue:
        for job, exc in queue.dispatch():
            failed(job, exc)
        if not queue.in_flight:
            continue
        for job, fut in queue.finished():
            what = job.what
            try:
                result = fut.result()
            except Exception as exc:  # noqa: BLE001 - a failed point is reported, not stored
                failed(job, exc)
                continue
            if job.kind == "model":
                output: ModelOutput = result
                # the trace first: a model in the store always has its trace beside it
                atomic_write_bytes(trace_path_for(out_dir, what), output.trace)
                store.put_model(what, groups[what][0].model.params(), output.result)
                summary.models_trained += 1
                queue_hardware(what, output.result, output.trace)
            else:
                if store.put_point(what.key, what.index, what.model.key, result):
                    summary.computed += 1
                bar.update(1)
                hardware_done(what)
    summary.failures.sort(key=lambda f: f.index)
