"""Data types every layer shares: the MovieLens-shaped `Ratings` table, its genres, age buckets.

Standard library and numpy only (layer 1).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

import numpy as np

# Feature names exactly as in TensorFlow Datasets' `movielens/100k-ratings`.
RATING_FEATURES: tuple[str, ...] = (
    "user_id",
    "movie_id",
    "movie_title",
    "user_rating",
    "timestamp",
    "movie_genres",
    "user_gender",
    "bucketized_user_age",
    "user_occupation_text",
    "user_zip_code",
)

# GroupLens' genre list for MovieLens 100k (u.genre), in genre-id order.
GENRES: tuple[str, ...] = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)

# TFDS `bucketized_user_age`: the lower edges of the age buckets; an age maps to the edge below it.
AGE_BUCKETS: tuple[int, ...] = (1, 18, 25, 35, 45, 50, 56)


@dataclass(frozen=True, eq=False)
class Ratings:
    """A ratings table, one row per rating, in source order (for MovieLens 100k: `u.data` order).

    Columns are numpy arrays of equal length `n`, named as in TFDS `movielens/100k-ratings`:

    - `user_id`, `movie_id`, `movie_title`: `[n]` str (numpy unicode)
    - `user_rating`: `[n]` float32, 1..5
    - `timestamp`: `[n]` int64, seconds since the epoch
    - `movie_genres`: `[n, len(GENRES)]` bool, multi-hot over `GENRES`
    - `user_gender`: `[n]` str, "M" or "F"
    - `bucketized_user_age`: `[n]` int64, lower edge of the age bucket (one of `AGE_BUCKETS`)
    - `user_occupation_text`, `user_zip_code`: `[n]` str
    """

    user_id: np.ndarray
    movie_id: np.ndarray
    movie_title: np.ndarray
    user_rating: np.ndarray
    timestamp: np.ndarray
    movie_genres: np.ndarray
    user_gender: np.ndarray
    bucketized_user_age: np.ndarray
    user_occupation_text: np.ndarray
    user_zip_code: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.user_id)
        for f in fields(self):
            column = getattr(self, f.name)
            if not isinstance(column, np.ndarray):
                raise TypeError(f"Ratings.{f.name} must be a numpy array, got {type(column)}")
            if len(column) != n:
                raise ValueError(
                    f"Ratings columns differ in length: user_id has {n} rows, "
                    f"{f.name} has {len(column)}"
                )
        if self.movie_genres.ndim != 2 or self.movie_genres.shape[1] != len(GENRES):
            raise ValueError(
                f"Ratings.movie_genres must have shape [n, {len(GENRES)}], "
                f"got {self.movie_genres.shape}"
            )

    def __len__(self) -> int:
        return len(self.user_id)

    def take(self, rows: np.ndarray) -> Ratings:
        """The rows `rows` (an int index array or a bool mask), as a new table."""
        return Ratings(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})

    def columns(self) -> dict[str, np.ndarray]:
        """The columns by TFDS feature name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def summary(self) -> dict[str, object]:
        """Counts of users, movies, ratings and distinct titles, and the first and last rating
        day (ISO dates, UTC; None for an empty table)."""

        def day(t: np.integer[Any]) -> str:
            return datetime.fromtimestamp(int(t), UTC).date().isoformat()

        stamps = self.timestamp
        return {
            "users": int(np.unique(self.user_id).size),
            "movies": int(np.unique(self.movie_id).size),
            "ratings": len(self),
            "titles": int(np.unique(self.movie_title).size),
            "first_rating": day(stamps.min()) if len(stamps) else None,
            "last_rating": day(stamps.max()) if len(stamps) else None,
        }

    def row(self, i: int) -> dict[str, Any]:
        """Row `i` as plain Python values (genres as a list of genre names)."""
        out: dict[str, Any] = {}
        for name, column in self.columns().items():
            value = column[i]
            if name == "movie_genres":
                out[name] = [g for g, on in zip(GENRES, value, strict=True) if on]
            else:
                out[name] = value.item()
        return out
