"""`Interactions`: a ratings (or views) table of any size, with ids stored once.

MovieLens 100k fits the wide `Ratings` table (every column per row, strings included), but 25M
ratings with a title per row would take tens of gigabytes. `Interactions` keeps one row per rating
as small integer codes (`user`, `movie` `[n]` int32, `rating` `[n]` float32, `timestamp` `[n]`
int64) and each user's and movie's strings once (`user_ids`, `movies`, optional `users`).
25M ratings take 500 MB. Every loader returns one; the wide table converts with `from_ratings`.

Codes are positions in the ids sorted as strings, the order `Vocabulary` numbers them in, so the
same data always gives the same codes, whichever loader read it, and `fingerprint` can tell it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from reelrank.errors import ReelrankError
from reelrank.types import GENRES, Ratings


@dataclass(frozen=True, eq=False)
class MovieRecords:
    """One row per movie code: `movie_id`, `title` `[m]` str; `genres` `[m, len(GENRES)]` bool."""

    movie_id: np.ndarray
    title: np.ndarray
    genres: np.ndarray

    def __len__(self) -> int:
        return len(self.movie_id)


@dataclass(frozen=True, eq=False)
class UserRecords:
    """One row per user code, where the data has demographics (MovieLens 100k and 1M):
    `gender` `[u]` str ("M"/"F"), `age` `[u]` int64 (bucket lower edge), `occupation`, `zip_code`
    `[u]` str."""

    gender: np.ndarray
    age: np.ndarray
    occupation: np.ndarray
    zip_code: np.ndarray


@dataclass(frozen=True, eq=False)
class Interactions:
    """Ratings as codes: row i says user `user_ids[user[i]]` rated movie `movies[movie[i]]`
    `rating[i]` stars at `timestamp[i]` (seconds since 1970), rows in source order.

    `explicit` is False for a table without ratings (views, clicks): `rating` is then all 1 and
    only retrieval can learn from it. `timed` is False when the source had no times: `timestamp`
    is then all 0 and time-based splits are refused.
    """

    user_ids: np.ndarray  # [u] str, sorted, unique
    movies: MovieRecords  # [m] rows, movie ids sorted as strings, unique
    user: np.ndarray  # [n] int32 in 0..u-1
    movie: np.ndarray  # [n] int32 in 0..m-1
    rating: np.ndarray  # [n] float32
    timestamp: np.ndarray  # [n] int64
    users: UserRecords | None = None
    explicit: bool = True
    timed: bool = True
    _fingerprint: list[str] = field(default_factory=list, repr=False)  # computed once

    def __post_init__(self) -> None:
        n = len(self.user)
        for name in ("movie", "rating", "timestamp"):
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"Interactions.{name} has {len(getattr(self, name))} rows, not {n}"
                )
        if self.movies.genres.shape != (len(self.movies), len(GENRES)):
            raise ValueError(f"movie genres must be [m, {len(GENRES)}] bool")

    def __len__(self) -> int:
        return len(self.user)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_movies(self) -> int:
        return len(self.movies)

    def rated_users(self) -> np.ndarray:
        """`[k]` sorted codes of the users with at least one row (a count, not a sort: 25M rows
        take milliseconds)."""
        return np.flatnonzero(np.bincount(self.user, minlength=self.n_users))

    def rated_movies(self) -> np.ndarray:
        """`[k]` sorted codes of the movies with at least one row."""
        return np.flatnonzero(np.bincount(self.movie, minlength=self.n_movies))

    def take(self, rows: np.ndarray) -> Interactions:
        """The rows `rows` (an index array or a bool mask); the id tables stay whole."""
        return replace(
            self,
            user=self.user[rows],
            movie=self.movie[rows],
            rating=self.rating[rows],
            timestamp=self.timestamp[rows],
            _fingerprint=[],
        )

    def fingerprint(self) -> str:
        """A sha256 of the rows (user id, movie id, rating, time, in order): the same data gives
        the same fingerprint whichever loader read it, so an artifact can tell its own data."""
        if not self._fingerprint:
            digest = hashlib.sha256()
            for ids, codes in ((self.user_ids, self.user), (self.movies.movie_id, self.movie)):
                digest.update("\x1f".join(ids.tolist()).encode())
                digest.update(np.ascontiguousarray(codes, dtype=np.int32).tobytes())
            digest.update(np.ascontiguousarray(self.rating, dtype=np.float32).tobytes())
            digest.update(np.ascontiguousarray(self.timestamp, dtype=np.int64).tobytes())
            self._fingerprint.append(digest.hexdigest())
        return self._fingerprint[0]

    def summary(self) -> dict[str, object]:
        """Counts of users, movies, ratings and titles, and the first and last rating day."""
        from datetime import UTC, datetime

        def day(t: Any) -> str | None:
            return datetime.fromtimestamp(int(t), UTC).date().isoformat() if self.timed else None

        n = len(self)
        return {
            "users": len(self.rated_users()),
            "movies": len(self.rated_movies()),
            "ratings": n,
            "titles": int(np.unique(self.movies.title[self.rated_movies()]).size),
            "first_rating": day(self.timestamp.min()) if n else None,
            "last_rating": day(self.timestamp.max()) if n else None,
        }

    @classmethod
    def from_ratings(cls, ratings: Ratings) -> Interactions:
        """The wide MovieLens 100k table, encoded (user demographics and genres kept)."""
        user_ids, first_of_user, user = np.unique(
            ratings.user_id.astype(str), return_index=True, return_inverse=True
        )
        movie_ids, first_of_movie, movie = np.unique(
            ratings.movie_id.astype(str), return_index=True, return_inverse=True
        )
        return cls(
            user_ids=user_ids,
            movies=MovieRecords(
                movie_id=movie_ids,
                title=ratings.movie_title[first_of_movie].astype(str),
                genres=ratings.movie_genres[first_of_movie].astype(bool),
            ),
            users=UserRecords(
                gender=ratings.user_gender[first_of_user].astype(str),
                age=ratings.bucketized_user_age[first_of_user].astype(np.int64),
                occupation=ratings.user_occupation_text[first_of_user].astype(str),
                zip_code=ratings.user_zip_code[first_of_user].astype(str),
            ),
            user=user.astype(np.int32),
            movie=movie.astype(np.int32),
            rating=ratings.user_rating.astype(np.float32),
            timestamp=ratings.timestamp.astype(np.int64),
        )


def as_interactions(data: Ratings | Interactions) -> Interactions:
    """`data` as `Interactions` (the wide table is encoded; `Interactions` pass through)."""
    return data if isinstance(data, Interactions) else Interactions.from_ratings(data)


def encode_ids(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(`[k]` str ids sorted as strings, `[n]` int32 codes) of a column of ids, numeric or not.

    Integer columns (MovieLens ids) are made unique as numbers first, which is much faster than
    sorting millions of strings, and only the distinct ids are turned into strings.
    """
    values = np.asarray(values)
    if values.dtype.kind in "iu":
        numbers, codes = np.unique(values, return_inverse=True)
        words = numbers.astype(str)
        order = np.argsort(words, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        return words[order], rank[codes].astype(np.int32)
    words, codes = np.unique(values.astype(str), return_inverse=True)
    return words, codes.astype(np.int32)


def check_explicit(data: Interactions, what: str) -> None:
    """Refuse to train a rating model on a table without ratings."""
    if not data.explicit:
        raise ReelrankError(
            f"{what} learns from star ratings, and this table has none (views or clicks); "
            "train a retrieval-only preset (e.g. --preset retrieval) or map a rating column"
        )
