"""Typed containers for sequence tasks: one :class:`Sequence`, a :class:`Dataset` of them, a :class:`Task`.

Shapes: ``xs`` is (T, n_in) float32 (one input vector per step); ``targets`` is (T,) int64 holding a
class index at steps that carry a loss and ``-1`` (:data:`NO_TARGET`) everywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

NO_TARGET = -1


@dataclass(frozen=True)
class Sequence:
    """One input stream with its labels: ``xs`` (T, n_in) float32, ``targets`` (T,) int64."""

    xs: np.ndarray
    targets: np.ndarray

    @property
    def n_steps(self) -> int:
        return int(self.xs.shape[0])


@dataclass(frozen=True)
class Dataset:
    """N sequences of equal length: ``xs`` (N, T, n_in) float32, ``targets`` (N, T) int64."""

    xs: np.ndarray
    targets: np.ndarray

    def __post_init__(self) -> None:
        if self.xs.ndim != 3 or self.targets.ndim != 2 or self.xs.shape[:2] != self.targets.shape:
            raise ValueError(f"dataset shapes disagree: xs {self.xs.shape}, targets {self.targets.shape}")

    def __len__(self) -> int:
        return int(self.xs.shape[0])

    def __getitem__(self, index: int) -> Sequence:
        return Sequence(self.xs[index], self.targets[index])

    def __iter__(self) -> Iterator[Sequence]:
        for i in range(len(self)):
            yield self[i]

    @property
    def n_steps(self) -> int:
        """Sequence length T (steps)."""
        return int(self.xs.shape[1])

    @property
    def n_labelled_steps(self) -> int:
        """Number of (sequence, step) pairs that carry a loss."""
        return int(np.count_nonzero(self.targets >= 0))


@dataclass(frozen=True)
class Task:
    """A named, seeded task with a train/test split.

    ``n_in``: input features per step; ``n_out``: classes; ``n_steps``: sequence length T.
    ``options``: the resolved options it was built with (seed included), JSON-safe.
    """

    name: str
    n_in: int
    n_out: int
    train: Dataset
    test: Dataset
    options: dict = field(default_factory=dict)
    description: str = ""

    @property
    def n_steps(self) -> int:
        return self.train.n_steps


def make_dataset(xs: np.ndarray, targets: np.ndarray) -> Dataset:
    """Build a Dataset, fixing dtypes (float32 inputs, int64 targets) and contiguity."""
    return Dataset(np.ascontiguousarray(xs, dtype=np.float32), np.ascontiguousarray(targets, dtype=np.int64))


def split(xs: np.ndarray, targets: np.ndarray, test_fraction: float, rng: np.random.Generator) -> tuple[Dataset, Dataset]:
    """Shuffle N sequences with ``rng`` and split them; returns (train, test)."""
    n = xs.shape[0]
    order = rng.permutation(n)
    n_test = int(round(n * test_fraction))
    test_idx, train_idx = np.sort(order[:n_test]), np.sort(order[n_test:])
    return make_dataset(xs[train_idx], targets[train_idx]), make_dataset(xs[test_idx], targets[test_idx])


def last_step_targets(labels: np.ndarray, n_steps: int) -> np.ndarray:
    """(N,) class labels -> (N, T) targets with the label at the last step and -1 elsewhere."""
    targets = np.full((labels.shape[0], n_steps), NO_TARGET, dtype=np.int64)
    targets[:, -1] = labels
    return targets
