"""Rewiring the weight masks during online learning (SET-style dynamic sparsity): drop the kept
weights of smallest magnitude and grow as many new ones elsewhere (at random, or where |gradient|
is largest), in every masked matrix, so each matrix keeps its number of kept weights.

Rewiring may happen at any step, inside a sequence too (``rtrl.online.trainer``). The learners
carry their state across the mask change (``Learner.rewired``): the state s, the loss and readout
sums, and for RTRL the influence matrix M (n x P) and gradient vector (P,), remapped column by
column between the old and the new ``InfluenceLayout`` (``column_sources``): a surviving weight
keeps its column, a grown weight's column starts at zero, a dropped weight's is discarded by
sparse RTRL (it has no column any more) and kept by dense RTRL (which tracks masked-out entries
too). What exactness means then (docs/model.md, "Rewiring the masks"): against BPTT through the
same switched graph, where a grown weight exists from its rewiring on, every column is exact,
since a grown weight's influence really is zero when it joins; against a counterfactual where it
had existed at value zero all along, its column misses the history before the rewiring
(``benchmarks/bench_rewire_history.py`` measures how fast that difference decays).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtrl.backend import to_host
from rtrl.model import BIASES, MASKED

GROW_MODES = ("random", "gradient")


@dataclass(frozen=True)
class RewireConfig:
    """``every``: steps between rewirings (0 = never; a rewiring follows the step at which that many
    steps have passed since the last one, inside a sequence or at its end); ``fraction`` of each
    matrix's kept weights replaced, in (0, 1); ``grow``: where new weights go (``random``)."""

    every: int = 0
    fraction: float = 0.1
    grow: str = "random"  # or "gradient": the free entries with the largest |gradient| (RigL)

    def __post_init__(self) -> None:
        if not isinstance(self.every, (int, np.integer)) or isinstance(self.every, bool) or self.every < 0:
            raise ValueError(f"rewire_every must be an integer >= 0 (0 = off), got {self.every!r}")
        if not (0.0 < float(self.fraction) < 1.0):
            raise ValueError(f"rewire_fraction must lie in (0, 1), got {self.fraction!r}")
        if self.grow not in GROW_MODES:
            raise ValueError(f"rewire_grow must be one of {', '.join(GROW_MODES)}, got {self.grow!r}")


@dataclass(frozen=True)
class MaskEdit:
    """One matrix's change: flat indices (row-major) of the entries that ``removed`` / ``added``."""

    name: str
    removed: np.ndarray
    added: np.ndarray


def rewire(model, fraction: float, rng: np.random.Generator, scores: dict[str, np.ndarray] | None = None
           ) -> list[MaskEdit]:
    """Rewire every masked matrix of ``model`` in place (``EGRU.set_masks``); returns the edits.
    In each matrix, k = round(fraction x kept) kept weights of smallest |w| leave (ties: lower
    flat index first) and k entries among those neither kept nor just dropped join at value 0
    (fewer if there are not enough free entries): drawn uniformly, or, with ``scores`` (per
    matrix, e.g. |gradient| of the masked-out weights), those of largest score (ties: lower flat
    index first)."""
    masks, edits = {}, []
    params = {k: to_host(v) for k, v in model.params.items()}
    for name in MASKED:
        mask = model.masks[name].ravel().copy()
        kept = np.flatnonzero(mask)
        free = np.flatnonzero(~mask)
        k = min(int(round(fraction * kept.size)), free.size)
        if k == 0:
            masks[name] = model.masks[name].copy()
            edits.append(MaskEdit(name, np.zeros(0, np.int64), np.zeros(0, np.int64)))
            continue
        magnitude = np.abs(params[name].ravel()[kept])
        removed = np.sort(kept[np.lexsort((kept, magnitude))[:k]])
        if scores is None:
            added = np.sort(rng.choice(free, size=k, replace=False))
        else:
            score = np.asarray(to_host(scores[name]), np.float64).ravel()[free]
            added = np.sort(free[np.lexsort((free, -score))[:k]])
        mask[removed] = False
        mask[added] = True
        masks[name] = mask.reshape(model.masks[name].shape)
        edits.append(MaskEdit(name, removed.astype(np.int64), added.astype(np.int64)))
    model.set_masks(masks)
    return edits


def column_sources(old, new, edits: list[MaskEdit]) -> np.ndarray:
    """(new.n_columns,) int64: for each column of the influence layout ``new`` (after a rewiring),
    the column of ``old`` (before it) whose values it keeps, or -1 where it starts at zero: the
    weights ``edits`` added (they join now; dense RTRL's layout had a column for them too, which
    is not carried). Biases and thresholds keep theirs. A weight column of ``new`` that is neither
    in ``old`` nor added, or an added entry ``new`` has no column for, raises ValueError (the edits
    do not describe the change between the layouts)."""
    added = {e.name: np.asarray(e.added, np.int64) for e in edits}
    unknown = set(added) - set(MASKED)
    if unknown:
        raise ValueError(f"rewired: edits name unknown matrices {sorted(unknown)}")
    source = np.full(new.n_columns, -1, np.int64)
    for name in MASKED:
        fan_in = new.shapes[name][1]
        new_keys = new.rows[name] * fan_in + new.srcs[name]  # flat row-major entry of each column
        old_keys = old.rows[name] * fan_in + old.srcs[name]
        grown = np.isin(new_keys, added.get(name, np.zeros(0, np.int64)))
        if int(grown.sum()) != added.get(name, np.zeros(0)).size:
            raise ValueError(f"rewired: {name}: the edits add entries the new masks have no column for")
        order = np.argsort(old_keys, kind="stable")
        at = np.minimum(np.searchsorted(old_keys[order], new_keys), max(old_keys.size - 1, 0))
        found = (old_keys[order][at] == new_keys) if old_keys.size else np.zeros(new_keys.size, bool)
        if np.any(~found & ~grown):
            raise ValueError(f"rewired: {name}: {int(np.sum(~found & ~grown))} kept entries are neither in "
                             "the old layout nor added by the edits")
        source[new.columns(name)] = np.where(found & ~grown, old.start[name] + order[at], -1)
    for name in BIASES + ("thr",):
        cols = old.columns(name)
        source[new.columns(name)] = np.arange(cols.start, cols.stop)
    return source
