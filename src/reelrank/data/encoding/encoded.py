"""From a ratings table to what models see: vocabularies, a movie table and int arrays.

Encoding happens once, vectorised; after that training batches are index slices (no per-row
Python in hot paths: docs/contributing.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reelrank.data.catalog.titles import release_year
from reelrank.data.encoding.vocabulary import Vocabulary
from reelrank.data.interactions import Interactions, as_interactions
from reelrank.types import GENRES, Ratings


@dataclass(frozen=True)
class Vocabularies:
    """The id spaces of a trained model: user ids and movie titles (the seed's two lookups)."""

    users: Vocabulary
    movies: Vocabulary

    @classmethod
    def from_ratings(cls, ratings: Ratings | Interactions) -> Vocabularies:
        """Sorted unique user ids and titles of the rated movies of the whole data set, as the
        seed builds them (movies a movies file lists but nobody rated are left out)."""
        data = as_interactions(ratings)
        return cls(
            users=Vocabulary(data.user_ids[data.rated_users()], name="user_id"),
            movies=Vocabulary(data.movies.title[data.rated_movies()], name="movie_title"),
        )


@dataclass(frozen=True, eq=False)
class EncodedRatings:
    """Ratings as contiguous integers: `user_idx`, `movie_idx` `[n]` int64, `rating` `[n]` float32,
    `timestamp` `[n]` int64. Index 0 means an id the vocabulary does not know."""

    user_idx: np.ndarray
    movie_idx: np.ndarray
    rating: np.ndarray
    timestamp: np.ndarray

    def __len__(self) -> int:
        return len(self.user_idx)

    def take(self, rows: np.ndarray) -> EncodedRatings:
        """The rows `rows` (an index array or a bool mask)."""
        return EncodedRatings(
            self.user_idx[rows], self.movie_idx[rows], self.rating[rows], self.timestamp[rows]
        )

    @classmethod
    def encode(cls, ratings: Ratings | Interactions, vocabs: Vocabularies) -> EncodedRatings:
        """Each row's vocabulary indices: ids are looked up once per user and movie, then
        gathered per row, so 25M rows take a fraction of a second."""
        data = as_interactions(ratings)
        user_index = vocabs.users.numbers(data.user_ids)
        movie_index = vocabs.movies.numbers(data.movies.title)
        return cls(
            user_idx=user_index[data.user],
            movie_idx=movie_index[data.movie],
            rating=data.rating.astype(np.float32, copy=False),
            timestamp=data.timestamp.astype(np.int64, copy=False),
        )

    def by_user(self, n_users: int) -> UserRatings:
        """Each user's ratings, oldest first, over user indices `0..n_users - 1`."""
        order = np.lexsort((self.timestamp, self.user_idx))
        counts = np.bincount(self.user_idx, minlength=n_users)
        indptr = np.r_[0, np.cumsum(counts)].astype(np.int64)
        return UserRatings(indptr, self.movie_idx[order], self.rating[order])


@dataclass(frozen=True, eq=False)
class UserRatings:
    """Each user's ratings in compressed sparse rows: user index `u` rated the movies
    `movie_idx[indptr[u]:indptr[u + 1]]` (oldest first) with `rating[...]` stars.

    `indptr` is `[n_users + 1]` int64 over user indices (row 0, the unknown user, is empty);
    `movie_idx` `[nnz]` int64, `rating` `[nnz]` float32. Built by `EncodedRatings.by_user`.
    """

    indptr: np.ndarray
    movie_idx: np.ndarray
    rating: np.ndarray

    @property
    def n_users(self) -> int:
        """User index rows, the unknown user included."""
        return len(self.indptr) - 1

    def movies_of(self, user: int) -> np.ndarray:
        return self.movie_idx[self.indptr[user] : self.indptr[user + 1]]

    def ratings_of(self, user: int) -> np.ndarray:
        return self.rating[self.indptr[user] : self.indptr[user + 1]]


@dataclass(frozen=True, eq=False)
class MovieTable:
    """The movies a model knows, aligned with the title vocabulary (row i = movie index i).

    Several MovieLens ids can share one title (the data set lists some films twice); the catalogue
    keeps the lowest id as the title's `movie_id` and maps every id to its title.
    `genres` is `[n+1, len(GENRES)]` bool, `year` `[n+1]` int64 (0 when unknown); row 0 is unknown.
    """

    movie_id: np.ndarray  # [n+1] str, "" for row 0
    genres: np.ndarray
    year: np.ndarray
    id_to_title: dict[str, str]

    @classmethod
    def from_ratings(cls, ratings: Ratings | Interactions, movies: Vocabulary) -> MovieTable:
        """The table of the rated movies whose titles `movies` knows."""
        data = as_interactions(ratings)
        rated = data.rated_movies()
        ids, titles = data.movies.movie_id[rated], data.movies.title[rated]
        rows = movies.numbers(titles)
        known = rows > 0
        rated, ids, titles, rows = rated[known], ids[known], titles[known], rows[known]
        if len(rows) == 0:
            return cls(np.full(movies.size, ""), np.zeros((movies.size, len(GENRES)), bool),
                       np.zeros(movies.size, np.int64), {})  # fmt: skip
        # Lowest numeric id first, so the first movie per title gives its canonical id.
        order = np.lexsort((_numeric(ids), rows))
        first = order[np.r_[True, rows[order][1:] != rows[order][:-1]]]
        movie_id = np.full(movies.size, "", dtype=object)
        movie_id[rows[first]] = ids[first]
        genres = np.zeros((movies.size, len(GENRES)), dtype=bool)
        genres[rows[first]] = data.movies.genres[rated[first]]
        year = np.zeros(movies.size, dtype=np.int64)
        year[1:] = [release_year(t) or 0 for t in movies.terms.tolist()]
        id_to_title = dict(zip(ids.tolist(), titles.tolist(), strict=True))
        return cls(movie_id.astype(str), genres, year, id_to_title)


def _numeric(ids: np.ndarray) -> np.ndarray:
    """Ids as numbers where they are numeric (MovieLens), else their sort position."""
    try:
        return ids.astype(np.int64)
    except ValueError:
        return np.unique(ids, return_inverse=True)[1]
