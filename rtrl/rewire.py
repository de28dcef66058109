"""Rewiring the weight masks during online learning (SET-style dynamic sparsity): drop the kept
weights of smallest magnitude and grow as many new ones at random elsewhere, in every masked
matrix, so each matrix keeps its number of kept weights.

Rewiring happens at sequence boundaries, where every learner's state starts over (the influence
matrix is zero at a sequence start): a grown weight starts at value 0 with zero influence, a
dropped weight is zeroed and loses its column, and every learner stays exact against BPTT with
the same mask schedule. There is no missing history to measure: a grown weight that had "always
existed at value zero" would have zero influence at the sequence start too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtrl.backend import to_host
from rtrl.model import MASKED

GROW_MODES = ("random", "gradient")


@dataclass(frozen=True)
class RewireConfig:
    """``every``: steps between rewirings (0 = never; applied at the first sequence boundary once
    that many steps have passed since the last one); ``fraction`` of each matrix's kept weights
    replaced, in (0, 1); ``grow``: where new weights go (``random``)."""

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
