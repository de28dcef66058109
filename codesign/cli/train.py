"""``accel-sim train``: train an EGRU online on a task and print its KPIs.

Prints one KPI per line with units, or with ``--json`` one JSON object whose keys are exactly the
KPIs (rtrl.online.KPI_KEYS). Progress goes to stderr. ``--trace FILE`` records the training run
as an operation trace; ``--checkpoint``/``--resume`` save and continue runs bit-exactly.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from codesign.cli import UsageError
from codesign.outputs import output_file

MAX_HIDDEN = 16384  # RTRL costs ~n^4 per step: beyond this nothing fits in memory
#: Chosen from benchmarks/bench_activity.py (README, "Activity sparsity"): with these,
#: ``accel-sim train --task digits`` reaches >= 90 % test accuracy with a small active set.
#: Threshold and pseudo-derivative are the model's (rtrl.model.DEFAULT_*; written out here so that
#: the CLI starts without importing rtrl; a test keeps them equal).
DEFAULTS = {
    "method": "sparse_rtrl", "n_hidden": 64, "weight_density": 0.25, "threshold_mean": 0.3,
    "pseudo_derivative": (0.3, 0.15), "shared_masks": False,
    "epochs": 6, "lr": 1e-2, "lr_decay": 0.7, "optimizer": "adam", "clip_norm": 1.0, "seed": 0,
    "rewire_every": 0, "rewire_fraction": 0.1, "rewire_grow": "random",
}


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="train an EGRU online on a task and report KPIs",
                              description="Train an EGRU online on a task and print its KPIs (one per line with "
                              "units, or one JSON object with --json). --trace records the run as an operation "
                              "trace; --checkpoint / --resume save and continue runs bit-exactly.")
    p.add_argument("--task", required=True, help="task name: digits, digits-events, copy or sine")
    p.add_argument("--task-option", action="append", default=[], metavar="KEY=VALUE",
                   help="task option, repeatable (e.g. pattern_length=5, delay=2, n_train=500)")
    p.add_argument("--method", choices=("sparse_rtrl", "dense_rtrl", "bptt"),
                   help=f"learning method (default {DEFAULTS['method']})")
    p.add_argument("--hidden", type=int, help=f"hidden units (default {DEFAULTS['n_hidden']})")
    p.add_argument("--weight-density", type=float,
                   help=f"fraction of weights kept, in (0, 1] (default {DEFAULTS['weight_density']})")
    p.add_argument("--threshold-mean", type=float,
                   help=f"initial mean event threshold, in [0, 1] (default {DEFAULTS['threshold_mean']})")
    p.add_argument("--pseudo-width", type=float, metavar="EPS",
                   help="pseudo-derivative half-width eps > 0: units within eps of their threshold are in the "
                   f"support, and active (default {DEFAULTS['pseudo_derivative'][1]})")
    p.add_argument("--pseudo-gamma", type=float, metavar="GAMMA",
                   help=f"pseudo-derivative height gamma >= 0 (default {DEFAULTS['pseudo_derivative'][0]})")
    p.add_argument("--shared-masks", action="store_true", default=None,
                   help="one weight mask for the three recurrent matrices (the Jacobian then has the density of one mask)")
    p.add_argument("--epochs", type=int, help=f"passes over the training set (default {DEFAULTS['epochs']})")
    p.add_argument("--lr", type=float, help=f"initial learning rate (default {DEFAULTS['lr']})")
    p.add_argument("--lr-decay", type=float,
                   help=f"learning-rate factor applied after each epoch, in (0, 1] (default {DEFAULTS['lr_decay']})")
    p.add_argument("--optimizer", choices=("sgd", "adam"), help=f"optimiser (default {DEFAULTS['optimizer']})")
    p.add_argument("--update-every", type=int,
                   help="steps between weight updates; 0 = once per sequence (default 1, BPTT 0)")
    p.add_argument("--clip-norm", type=float,
                   help=f"max global gradient norm, 0 = no clipping (default {DEFAULTS['clip_norm']})")
    p.add_argument("--seed", type=int, help=f"seed for task, model and shuffling (default {DEFAULTS['seed']})")
    p.add_argument("--rewire-every", type=int, metavar="N",
                   help="rewire the weight masks after every N steps, inside sequences too (the learner keeps "
                   "its state): the kept weights of smallest magnitude leave, as many new ones join at value 0 "
                   "(default: fixed masks)")
    p.add_argument("--rewire-fraction", type=float, metavar="F",
                   help=f"fraction of each matrix's kept weights replaced per rewiring, in (0, 1) "
                   f"(default {DEFAULTS['rewire_fraction']})")
    p.add_argument("--rewire-grow", choices=("random", "gradient"),
                   help="where new weights go: random, or the masked-out weights of largest |gradient| at the last "
                   "update (dense_rtrl and bptt only; default random)")
    p.add_argument("--trace", metavar="FILE", help="write the training run's operation trace to FILE")
    p.add_argument("--checkpoint", metavar="FILE", help="save the trainer state to FILE (.npz)")
    p.add_argument("--checkpoint-every", type=int, default=0, metavar="N",
                   help="also checkpoint every N sequences (default 0: only at the end)")
    p.add_argument("--resume", metavar="FILE", help="continue the run saved in checkpoint FILE")
    p.add_argument("--json", action="store_true", help="print one JSON object with the KPIs")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


def _task_options(pairs: list[str]) -> dict:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--task-option expects KEY=VALUE, got {pair!r}")
        options[key.strip()] = value.strip()
    return options


def _settings(args):
    from rtrl.online import RunSettings
    from rtrl.online.checkpoint import load_checkpoint
    from rtrl.online.checkpoint_check import check_run

    given = {
        "method": args.method, "n_hidden": args.hidden, "weight_density": args.weight_density,
        "threshold_mean": args.threshold_mean, "epochs": args.epochs, "lr": args.lr, "lr_decay": args.lr_decay,
        "optimizer": args.optimizer, "update_every": args.update_every, "clip_norm": args.clip_norm,
        "seed": args.seed, "shared_masks": args.shared_masks, "rewire_every": args.rewire_every,
        "rewire_fraction": args.rewire_fraction, "rewire_grow": args.rewire_grow,
    }
    base = {"task": args.task, "task_options": _task_options(args.task_option)}
    if args.resume:  # settings come from the checkpoint; options given must agree (epochs may grow)
        stored = check_run(args.resume, load_checkpoint(args.resume)[1].get("run", {}))
        base = {**DEFAULTS, **{k: stored[k] for k in RunSettings.__dataclass_fields__ if k in stored}}
        if args.task != base.get("task"):
            raise UsageError(f"{args.resume}: checkpoint is for task {base.get('task')!r}, not {args.task!r}")
        base["pseudo_derivative"] = tuple(base.get("pseudo_derivative", DEFAULTS["pseudo_derivative"]))
    else:
        base.update(DEFAULTS)
    if args.rewire_every is not None and args.rewire_every < 1:
        raise UsageError(f"--rewire-every must be >= 1 (omit it for fixed masks), got {args.rewire_every}")
    base.update({k: v for k, v in given.items() if v is not None})
    gamma, eps = base["pseudo_derivative"]
    pseudo = (gamma if args.pseudo_gamma is None else args.pseudo_gamma, eps if args.pseudo_width is None else args.pseudo_width)
    given["pseudo_derivative"] = None if args.pseudo_gamma is None and args.pseudo_width is None else pseudo
    base["pseudo_derivative"] = pseudo
    _check(base, given, args.resume)
    return RunSettings(**base)


#: (settings key, option, test, requirement) for the numbers a run needs to make sense
_RULES = (
    ("n_hidden", "--hidden", lambda v: 1 <= v <= MAX_HIDDEN, f"lie in [1, {MAX_HIDDEN}]"),
    ("weight_density", "--weight-density", lambda v: 0.0 < v <= 1.0, "lie in (0, 1]"),
    ("threshold_mean", "--threshold-mean", lambda v: 0.0 <= v <= 1.0, "lie in [0, 1]"),
    ("epochs", "--epochs", lambda v: v >= 1, "be >= 1"),
    ("update_every", "--update-every", lambda v: v is None or v >= 0, "be >= 0 (0 = once per sequence)"),
    ("clip_norm", "--clip-norm", lambda v: v >= 0, "be >= 0 (0 = no clipping)"),
    ("seed", "--seed", lambda v: v >= 0, "be >= 0"),
    ("lr", "--lr", lambda v: v > 0, "be > 0"),
    ("lr_decay", "--lr-decay", lambda v: 0.0 < v <= 1.0, "lie in (0, 1]"),
    ("pseudo_derivative", "--pseudo-width", lambda v: math.isfinite(v[1]) and v[1] > 0, "be > 0"),
    ("pseudo_derivative", "--pseudo-gamma", lambda v: math.isfinite(v[0]) and v[0] >= 0, "be >= 0"),
    ("rewire_every", "--rewire-every", lambda v: v >= 0, "be >= 1 (omit it for fixed masks)"),
    ("rewire_fraction", "--rewire-fraction", lambda v: 0.0 < v < 1.0, "lie in (0, 1)"),
)


def _check(s: dict, given: dict, resume: str | None) -> None:
    """Refuse settings no run can use, naming the option, or the checkpoint's field if the value
    came from the checkpoint being resumed."""
    for key, option, ok, requirement in _RULES:
        if not ok(s.get(key)):
            where = f"{resume}: run.{key}:" if resume and given.get(key) is None else option
            value = s.get(key)
            if key == "pseudo_derivative":
                value = value[1] if option == "--pseudo-width" else value[0]
            raise UsageError(f"{where} must {requirement}, got {value}")


class _Progress:
    """Prints a line to stderr about every 5 s and at the end of each epoch."""

    def __init__(self, n_per_epoch: int, epochs: int) -> None:
        self.n, self.epochs, self.start, self.last = n_per_epoch, epochs, time.monotonic(), time.monotonic()

    def __call__(self, pos) -> None:
        now = time.monotonic()
        if now - self.last < 5.0 and pos.index < self.n:
            return
        self.last = now
        print(f"epoch {pos.epoch + 1}/{self.epochs}: {pos.index}/{self.n} sequences, "
              f"train loss {pos.train_loss:.4f} nats, lr {pos.lr:.3g}, {now - self.start:.1f} s",
              file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from rtrl.online import build_task, fit_task, make_model

    settings = _settings(args)
    if args.checkpoint_every < 0:
        raise UsageError(f"--checkpoint-every must be >= 0, got {args.checkpoint_every}")
    for option, path in (("--trace", args.trace), ("--checkpoint", args.checkpoint)):
        if path:  # before the run: an unwritable output must not lose its result at the end
            output_file(path, option)
    try:
        task = build_task(settings)
    except ValueError as exc:
        if not args.resume:
            raise
        raise UsageError(f"{args.resume}: run.task_options: {exc}") from None  # the options came from the file
    model = make_model(settings, task)
    progress = None if args.quiet else _Progress(len(task.train), settings.epochs)
    common = dict(prebuilt_task=task, model=model, checkpoint=args.checkpoint,
                  checkpoint_every=args.checkpoint_every, resume=args.resume, on_progress=progress)
    if args.trace:
        from accel_sim.trace.io import TraceWriter

        try:
            with TraceWriter(args.trace, _trace_header(model, settings, task)) as writer:
                result = fit_task(settings, recorder=writer, **common)
        except OSError as exc:  # the writer's temporary file is not the user's name for it
            if exc.filename is None or Path(exc.filename).name != Path(args.trace).name + ".partial":
                raise
            raise OSError(exc.errno, exc.strerror, args.trace) from None
    else:
        result = fit_task(settings, **common)
    if args.json:
        print(json.dumps(result.kpis.to_dict()))
    else:
        print(f"task {settings.task}, method {settings.method}, {settings.n_hidden} hidden units, "
              f"{settings.epochs} epochs")
        for line in result.kpis.lines():
            print(line)
        for event in result.events:
            print(f"guard: step {event.step}: {event.reason}; lr {event.lr_before:.3g} -> {event.lr_after:.3g}")
    return 0


def _trace_header(model, settings, task):
    from codesign.tracing import trace_header

    config = {**settings.to_dict(), "command": "accel-sim train", "task_description": task.description}
    return trace_header(model, settings.method, seed=settings.seed, config=config,
                        history_steps=int(task.train.xs.shape[1]))  # BPTT stores at most one sequence
