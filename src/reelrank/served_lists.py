"""`ServedLists`: the lists a recommender serves to many queries at once, as arrays.

The recommender builds them (`Recommender.recommend_many`, `recommend_for_history`, `similar_to`)
and evaluation scores them, so what is measured is what is served.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class ServedLists:
    """The lists served to `q` queries, as arrays, best first: `movies [q, k]` movie indices (`-1`
    for an empty place), `order_score [q, k]` the score each list is sorted by (`-inf` for an
    empty place), and the numbers shown beside each movie, `predicted_rating` and
    `retrieval_score` (`[q, k]`, or None when the model has no such stage)."""

    movies: np.ndarray
    order_score: np.ndarray
    predicted_rating: np.ndarray | None
    retrieval_score: np.ndarray | None

    @staticmethod
    def merge(take_first: np.ndarray, first: ServedLists, second: ServedLists) -> ServedLists:
        """One set of lists from two of the same width: `first`'s rows where `take_first` (`[q]`
        bool) is set, `second`'s elsewhere, in order; a number only one set has is NaN in the
        other's rows."""
        width = first.movies.shape[1]

        def rows(a: np.ndarray | None, b: np.ndarray | None, fill: float) -> np.ndarray | None:
            if a is None and b is None:
                return None
            out = np.full((len(take_first), width), fill)
            out[take_first] = fill if a is None else a
            out[~take_first] = fill if b is None else b
            return out

        movies = rows(first.movies, second.movies, -1)
        order = rows(first.order_score, second.order_score, float("-inf"))
        assert movies is not None and order is not None
        return ServedLists(
            movies.astype(np.int64),
            order,
            rows(first.predicted_rating, second.predicted_rating, np.nan),
            rows(first.retrieval_score, second.retrieval_score, np.nan),
        )

    def padded(self, k: int) -> ServedLists:
        """The lists with empty places appended up to `k` columns (a catalogue smaller than k)."""
        missing = k - self.movies.shape[1]
        if missing <= 0:
            return self

        def pad(values: np.ndarray | None, fill: float) -> np.ndarray | None:
            return (
                None
                if values is None
                else np.pad(values, ((0, 0), (0, missing)), constant_values=fill)
            )

        movies = pad(self.movies, -1)
        order = pad(self.order_score, float("-inf"))
        assert movies is not None and order is not None
        return ServedLists(
            movies, order, pad(self.predicted_rating, np.nan), pad(self.retrieval_score, np.nan)
        )


def top_by_score(
    candidates: np.ndarray,
    ratings: np.ndarray,
    retrieval_scores: np.ndarray | None,
    k: int,
) -> ServedLists:
    """The `k` candidates with the highest predicted ratings (ties keep candidate order)."""
    order = np.argsort(-ratings, axis=1, kind="stable")[:, :k]
    top_ratings = np.take_along_axis(ratings, order, axis=1)
    movies = np.where(np.isfinite(top_ratings), np.take_along_axis(candidates, order, axis=1), -1)
    extra = (
        None if retrieval_scores is None else np.take_along_axis(retrieval_scores, order, axis=1)
    )
    return ServedLists(movies, top_ratings, top_ratings, extra)
