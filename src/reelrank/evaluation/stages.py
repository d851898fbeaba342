"""Evaluation: runs trained models over a held-out split and returns metric dicts.

Runs once after training, vectorised; the metric arithmetic itself lives in `reelrank.metrics`.
"""

from __future__ import annotations

import numpy as np
import torch

from reelrank import metrics
from reelrank.data.encoding.encoded import EncodedRatings, UserRatings
from reelrank.index import BruteForceIndex
from reelrank.models.rating.base import RatingModel
from reelrank.models.retrieval.base import RetrievalModel


def evaluate_ratings(
    model: RatingModel, test: EncodedRatings, *, batch_size: int = 4096
) -> dict[str, float]:
    """The seed's `model.evaluate` dict for a rating model, plus mean absolute error.

    Keys: `root_mean_squared_error`, `loss` (MSE), `regularization_loss`, `total_loss`,
    `mean_absolute_error`.
    """
    if len(test) == 0:
        raise ValueError("the test split is empty: choose a split that holds out some ratings")
    predictions = model.predict(test.user_idx, test.movie_idx, batch_size=batch_size)
    mse = float(np.mean((predictions.astype(np.float64) - test.rating) ** 2))
    regularization = 0.0  # the seed's model has no regularisation terms
    return {
        "root_mean_squared_error": metrics.rmse(test.rating, predictions),
        "loss": mse,
        "regularization_loss": regularization,
        "total_loss": mse + regularization,
        "mean_absolute_error": metrics.mae(test.rating, predictions),
    }


FACTORIZED_KS = (1, 5, 10, 50, 100)
RANKING_KS = (10, 100)


SCORES_PER_BATCH = 1 << 24


def sample_test_users(
    test: EncodedRatings, max_users: int | None, seed: int
) -> tuple[EncodedRatings, np.ndarray, int]:
    """`(test rows of the sampled users, their sorted indices, how many test users there were)`:
    at most `max_users` test users, drawn with `seed`, or all of them (and 0) when there are no
    more. The retrieval metrics and the served lists draw the same sample through this."""
    users = np.unique(test.user_idx)
    if max_users is None or len(users) <= max_users:
        return test, users, 0
    chosen = np.sort(np.random.default_rng(seed).choice(users, size=max_users, replace=False))
    return test.take(np.isin(test.user_idx, chosen)), chosen, len(users)


@torch.no_grad()
def evaluate_retrieval(
    model: RetrievalModel,
    seen: UserRatings,
    test: EncodedRatings,
    *,
    batch_size: int = 4096,
    max_users: int | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """The retrieval stage's own metrics (not the served list's), in one vectorised pass.

    - `factorized_top_k/top_{k}_categorical_accuracy` (TFRS): for every test rating, is its movie
      among the top k of all movies for that user? Seen movies stay in, as in TFRS.
    - `retrieval/recall@k`, `retrieval/ndcg@k`, `retrieval/hit_rate@k`: each test user's top 100
      of all movies with their training movies (`seen`) excluded, against their test movies.

    Ties are scored pessimistically. Test ratings of users or movies the model does not know
    (index 0) cannot be scored: they are dropped and counted in `retrieval/unknown_test_ratings`.
    With more than `max_users` test users, only the ratings of a sample of that many (drawn with
    `seed`, as the served lists' sample is) are scored, and `retrieval/sampled_users_of` says of
    how many: scoring every movie for 5M test ratings at MovieLens 25M's shape would take hours.
    """
    known = (test.user_idx > 0) & (test.movie_idx > 0)
    test = test.take(known)
    if len(test) == 0:
        raise ValueError(
            "no test rating of a known user and movie: choose a split that holds out some ratings"
        )
    test, _, sampled_from = sample_test_users(test, max_users, seed)
    model.eval()
    vectors = model.all_movie_embeddings()
    movies = vectors[1:]  # row 0 is the unknown movie, never a candidate
    # At most ~16M scores at a time: 4096 users x 62k movies would be a gigabyte per batch.
    batch_size = max(1, min(batch_size, SCORES_PER_BATCH // max(1, len(movies))))
    users = torch.from_numpy(test.user_idx).to(vectors.device)
    ranks = []
    for start in range(0, len(test), batch_size):
        rows = slice(start, start + batch_size)
        # Each user once per batch: a heavy user's test ratings come in a run, and a history
        # model's vector costs their whole history.
        batch_users, inverse = torch.unique(users[rows], return_inverse=True)
        scores = (model.user_embedding(batch_users) @ movies.T)[inverse]
        ranks.append(metrics.pessimistic_rank(scores.cpu().numpy(), test.movie_idx[rows] - 1))
    rank = np.concatenate(ranks)
    out = {
        f"factorized_top_k/top_{k}_categorical_accuracy": float(np.mean(rank < k))
        for k in FACTORIZED_KS
    }

    test_users = np.unique(test.user_idx)
    index = BruteForceIndex(vectors)
    exclude = [seen.movies_of(u) for u in test_users]
    queries = model.user_embedding(torch.from_numpy(test_users).to(vectors.device))
    scores, top = index.search(queries, max(RANKING_KS), exclude=exclude, batch_size=batch_size)
    held_out = test.by_user(seen.n_users)
    relevant = [np.unique(held_out.movies_of(u)) for u in test_users]
    indptr = np.r_[0, np.cumsum([len(r) for r in relevant])]
    list_metrics = metrics.ranking_metrics(
        top.cpu().numpy(),
        indptr,
        np.concatenate(relevant),
        ks=RANKING_KS,
        top_scores=scores.cpu().numpy(),
    )
    out |= {f"retrieval/{name}": value for name, value in list_metrics.items()}
    out["retrieval/unknown_test_ratings"] = int((~known).sum())
    if sampled_from:
        out["retrieval/sampled_users_of"] = sampled_from
    return out
