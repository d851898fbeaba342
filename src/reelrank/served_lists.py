"""What a recommender serves: `ServedLists` (many lists at once, as arrays) and `Recommendation`
(one movie of one list, as people see it), with the checks on list arguments.

The recommender builds the lists (`Recommender.recommend_many`, `recommend_for_history`,
`similar_to`) and evaluation scores them, so what is measured is what is served.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from reelrank.types import ReelrankError


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


@dataclass(frozen=True)
class Recommendation:
    """One recommended or scored movie: its ids, year and genres, and every number labelled by
    what it is.

    `predicted_rating` is the ranking model's rating on the 1..5 scale (None without a ranking
    model). `retrieval_score` is the retrieval stage's score, a dot product that only orders one
    list (None without a retrieval model); for `similar` it is how strongly liking the query movie
    points to this one.
    """

    movie_id: str
    movie_title: str
    year: int | None = None
    genres: list[str] = field(default_factory=list)
    predicted_rating: float | None = None
    retrieval_score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def number_or_none(values: np.ndarray | None, i: int) -> float | None:
    """`values[i]` as a float, or None where there is no such number (no array, or NaN)."""
    if values is None or np.isnan(values[i]):
        return None
    return float(values[i])


def check_offset(offset: int) -> int:
    """`offset` (places to skip: the next page) must be a whole number >= 0."""
    if isinstance(offset, bool) or not isinstance(offset, int | np.integer) or offset < 0:
        raise ReelrankError(f"offset must be a whole number >= 0 (places to skip), got {offset}")
    return int(offset)


def check_k(k: int) -> int:
    """`k` must be a positive integer."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k <= 0:
        raise ReelrankError(f"k must be a positive integer (how many movies to return), got {k}")
    return int(k)
