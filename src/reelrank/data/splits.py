"""Train/test splits: pure functions of arrays that return `(train_rows, test_rows)` index arrays.

Split specs as the CLI writes them: `random:0.8`, `fold:1` .. `fold:5`, `temporal:0.8`,
`leave-last:1`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from reelrank.data.interactions import Interactions
from reelrank.errors import ReelrankError
from reelrank.types import Ratings

SPLIT_HELP = "random:FRACTION (e.g. random:0.8), fold:1..5, temporal:FRACTION or leave-last:N"


@dataclass(frozen=True)
class SplitSpec:
    """A parsed split spec: `kind` is random, fold, temporal or leave-last."""

    kind: str
    value: float

    def __str__(self) -> str:
        value = int(self.value) if self.kind in ("fold", "leave-last") else self.value
        return f"{self.kind}:{value}"


def parse_split(spec: str) -> SplitSpec:
    """Parse and check a split spec string; bad specs raise with the accepted forms."""
    kind, sep, raw = spec.partition(":")
    try:
        value = float(raw) if sep else float("nan")
    except ValueError:
        value = float("nan")
    if kind in ("random", "temporal") and 0.0 < value < 1.0:
        return SplitSpec(kind, value)
    if kind == "fold" and value in (1, 2, 3, 4, 5):
        return SplitSpec(kind, value)
    if kind == "leave-last" and value >= 1 and value == int(value):
        return SplitSpec(kind, value)
    raise ReelrankError(f"invalid split {spec!r}; expected {SPLIT_HELP}")


def split_random(n: int, *, train_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded shuffle of `n` rows cut at `train_fraction` (the seed's 80/20 with seed 42)."""
    order = np.random.default_rng(seed).permutation(n)
    cut = round(n * train_fraction)
    return np.sort(order[:cut]), np.sort(order[cut:])


def split_fold(n: int, *, fold: int, n_folds: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """GroupLens' canonical folds (`mku.sh`): fold i tests on the i-th block of rows in file order.

    For MovieLens 100k this gives u1..u5: test rows (i-1)*20000 .. i*20000 of `u.data`.
    """
    if not 1 <= fold <= n_folds:
        raise ValueError(f"fold must be within 1..{n_folds}, got {fold}")
    bounds = np.linspace(0, n, n_folds + 1).round().astype(np.int64)
    rows = np.arange(n)
    test = (rows >= bounds[fold - 1]) & (rows < bounds[fold])
    return rows[~test], rows[test]


def split_temporal(
    timestamps: np.ndarray, *, train_fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    """One global time cut: the earliest `train_fraction` of ratings train, the rest test."""
    order = np.argsort(timestamps, kind="stable")
    cut = round(len(order) * train_fraction)
    return np.sort(order[:cut]), np.sort(order[cut:])


def split_leave_last_n(
    user_ids: np.ndarray, timestamps: np.ndarray, *, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each user's `n` latest ratings test, the rest train; users with <= n ratings all train."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rows = np.arange(len(user_ids))
    # Sort by user, then time, then row, so "latest" is well defined even with equal timestamps.
    order = np.lexsort((rows, timestamps, user_ids))
    _, group, counts = np.unique(user_ids[order], return_inverse=True, return_counts=True)
    position = np.arange(len(order)) - (np.cumsum(counts) - counts)[group]
    from_end = counts[group] - 1 - position  # 0 for each user's latest rating
    test_sorted = (from_end < n) & (counts[group] > n)
    return np.sort(order[~test_sorted]), np.sort(order[test_sorted])


Table = TypeVar("Table", Ratings, Interactions)


def split_ratings(ratings: Table, spec: str | SplitSpec, *, seed: int) -> tuple[Table, Table]:
    """Split a ratings table by a spec (see `SPLIT_HELP`)."""
    train, test = split_rows(ratings, spec, seed=seed)
    return ratings.take(train), ratings.take(test)


def split_rows(
    ratings: Ratings | Interactions, spec: str | SplitSpec, *, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The `(train_rows, test_rows)` index arrays of a spec (see `SPLIT_HELP`)."""
    spec = parse_split(spec) if isinstance(spec, str) else spec
    if spec.kind == "random":
        return split_random(len(ratings), train_fraction=spec.value, seed=seed)
    if spec.kind == "fold":
        return split_fold(len(ratings), fold=int(spec.value))
    if isinstance(ratings, Interactions) and not ratings.timed:
        raise ReelrankError(
            f"split {spec} orders ratings by time, and these ratings have no timestamps; map a "
            "timestamp column or choose random:FRACTION or fold:1..5"
        )
    if spec.kind == "temporal":
        return split_temporal(ratings.timestamp, train_fraction=spec.value)
    users = ratings.user if isinstance(ratings, Interactions) else ratings.user_id
    return split_leave_last_n(users, ratings.timestamp, n=int(spec.value))
