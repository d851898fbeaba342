"""Evaluation metrics: pure, keyword-only functions of numpy arrays (no torch, no state).

Rating metrics compare predicted with true ratings. Ranking metrics read a `[users, K]` matrix of
recommended item indices (best first, -1 for "no item") against each user's relevant items, given
as CSR arrays `(indptr [users+1], indices [nnz])`: user `u`'s relevant items are
`indices[indptr[u]:indptr[u+1]]`. Users without relevant items are left out of the averages.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root mean squared error of `[n]` predictions."""
    y_true, y_pred = _paired(y_true, y_pred)
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute error of `[n]` predictions."""
    y_true, y_pred = _paired(y_true, y_pred)
    return float(np.mean(np.abs(y_true - y_pred)))


def _paired(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(y_true, dtype=np.float64).ravel()
    b = np.asarray(y_pred, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"y_true has {a.size} values but y_pred has {b.size}")
    if a.size == 0:
        raise ValueError("cannot compute a metric of zero predictions")
    return a, b


def factorized_top_k_accuracy(
    scores: np.ndarray, targets: np.ndarray, *, ks: Iterable[int] = (1, 5, 10, 50, 100)
) -> dict[int, float]:
    """TFRS' `FactorizedTopK` accuracy: is the held-out item among the top k of all candidates?

    `scores` is `[queries, items]` (every candidate, seen ones included), `targets` `[queries]` the
    column of each query's held-out item. Ties are scored pessimistically (unlike
    `tf.math.in_top_k`, which counts a tie at the boundary as a hit): a target tied with other
    candidates ranks behind all of them, so a model that scores everything alike hits nothing.
    """
    scores = np.asarray(scores)
    targets = np.asarray(targets)
    if scores.ndim != 2 or targets.shape != (scores.shape[0],):
        raise ValueError(
            f"expected scores [q, n] and targets [q], got {scores.shape}, {targets.shape}"
        )
    rank = pessimistic_rank(scores, targets)
    return {k: float(np.mean(rank < _positive(k))) for k in ks}


def pessimistic_rank(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """`[q]` 0-based rank of each query's target column among `[q, n]` scores, behind every
    other candidate that scores at least as high (ties count against the target)."""
    target_scores = np.take_along_axis(scores, targets[:, None], axis=1)
    return np.sum(scores >= target_scores, axis=1) - 1


def hit_matrix(top_items: np.ndarray, indptr: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """`[users, K]` bool: whether each recommended item is relevant for its user."""
    top_items = np.asarray(top_items, dtype=np.int64)
    n_users = top_items.shape[0]
    if len(indptr) != n_users + 1:
        raise ValueError(f"indptr has {len(indptr)} entries; expected users + 1 = {n_users + 1}")
    width = int(max(top_items.max(initial=0), np.max(indices, initial=0))) + 1
    # One integer key per (user, item) pair makes membership a single vectorised isin.
    users_of_relevant = np.repeat(np.arange(n_users, dtype=np.int64), np.diff(indptr))
    relevant_keys = users_of_relevant * width + np.asarray(indices, dtype=np.int64)
    top_keys = np.arange(n_users, dtype=np.int64)[:, None] * width + top_items
    return np.isin(top_keys, relevant_keys) & (top_items >= 0)


def pessimistic_hits(hits: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """`[users, K]` hits with ties scored pessimistically, from hits and the list's `[users, K]`
    scores (best first; `-inf` for empty places).

    Within a run of equal scores the order is arbitrary, so a run's hits are moved to its last
    places. A run that reaches the end of a full list may continue past it, among items the list
    does not show, so its hits are dropped. A model that scores every item alike hits nothing.
    """
    hits = np.asarray(hits, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    if hits.shape != scores.shape:
        raise ValueError(f"hits {hits.shape} and scores {scores.shape} must have the same shape")
    n_users, width = hits.shape
    if width == 0:
        return hits.copy()
    starts = np.ones_like(hits)
    starts[:, 1:] = scores[:, 1:] != scores[:, :-1]
    run = np.arange(n_users)[:, None] * width + np.cumsum(starts, axis=1) - 1  # [u, K] run ids
    positions = np.broadcast_to(np.arange(width), hits.shape)
    run_end = np.zeros(n_users * width, dtype=np.int64)
    np.maximum.at(run_end, run.ravel(), positions.ravel())
    run_hits = np.bincount(run.ravel(), weights=hits.ravel(), minlength=n_users * width)
    end, count = run_end[run], run_hits[run].astype(np.int64)
    moved = positions > end - count  # the run's last `count` places
    full = np.isfinite(scores[:, -1])[:, None]
    open_ended = (end == width - 1) & (scores == scores[:, -1:]) & full
    return moved & ~open_ended


def recall_at_k(hits: np.ndarray, n_relevant: np.ndarray, *, k: int) -> float:
    """Mean over users with relevant items of (relevant items in the top k) / (relevant items)."""
    hits, n_relevant = _scored_users(hits, n_relevant, k)
    return float(np.mean(hits[:, :k].sum(axis=1) / n_relevant))


def hit_rate_at_k(hits: np.ndarray, n_relevant: np.ndarray, *, k: int) -> float:
    """Share of users with relevant items who have at least one in their top k."""
    hits, _ = _scored_users(hits, n_relevant, k)
    return float(np.mean(hits[:, :k].any(axis=1)))


def ndcg_at_k(hits: np.ndarray, n_relevant: np.ndarray, *, k: int) -> float:
    """Mean NDCG@k with binary relevance; the ideal DCG puts min(relevant, k) hits first."""
    hits, n_relevant = _scored_users(hits, n_relevant, k)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hits[:, :k] * discounts[: hits[:, :k].shape[1]]).sum(axis=1)
    ideal = np.cumsum(discounts)[np.minimum(n_relevant, k) - 1]
    return float(np.mean(dcg / ideal))


def _scored_users(
    hits: np.ndarray, n_relevant: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    _positive(k)
    n_relevant = np.asarray(n_relevant, dtype=np.int64)
    if hits.shape[0] != n_relevant.shape[0]:
        raise ValueError(f"hits has {hits.shape[0]} users but n_relevant has {n_relevant.shape[0]}")
    keep = n_relevant > 0
    if not keep.any():
        raise ValueError("no user has a relevant item; nothing to evaluate")
    return hits[keep].astype(np.float64), n_relevant[keep]


def ranking_metrics(
    top_items: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    *,
    ks: Iterable[int] = (10, 100),
    top_scores: np.ndarray | None = None,
) -> dict[str, float]:
    """`recall@k`, `ndcg@k` and `hit_rate@k` for each k, from top-K lists (K >= max(ks)).

    With `top_scores` (the lists' `[users, K]` scores), ties are scored pessimistically (see
    `pessimistic_hits`); without, the lists' order is taken as given.
    """
    hits = hit_matrix(top_items, indptr, indices)
    if top_scores is not None:
        hits = pessimistic_hits(hits, top_scores)
    n_relevant = np.diff(indptr)
    out: dict[str, float] = {}
    for k in ks:
        if k > top_items.shape[1]:
            raise ValueError(f"k={k} needs top-{k} lists but only {top_items.shape[1]} were given")
        out[f"recall@{k}"] = recall_at_k(hits, n_relevant, k=k)
        out[f"ndcg@{k}"] = ndcg_at_k(hits, n_relevant, k=k)
        out[f"hit_rate@{k}"] = hit_rate_at_k(hits, n_relevant, k=k)
    return out


def _positive(k: int) -> int:
    if k <= 0:
        raise ValueError(f"k must be a positive integer, got {k}")
    return k
