"""Why a movie is on a list: "because you liked Fargo (1996)".

`Explainer` names, for each movie of a served list, the liked movie that did most to put it there;
`liked_movies` says which of a known user's training movies count as liked. The recommender adds
the explanations to the movies it shows people (`Recommendation.because_title`), never to the
arrays evaluation scores, which stay fast.
"""

from __future__ import annotations

import numpy as np
import torch

from reelrank.data.encoding.encoded import UserRatings
from reelrank.models.retrieval.base import RetrievalModel

# A known user's training ratings from this many stars up are the movies they liked.
LIKED_RATING = 4.0


def liked_mask(ratings: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    """`[h]` bool: which of someone's ratings are likes. Those of `LIKED_RATING` or more; where
    there are none, those at the person's highest rating, if that lies above the middle of the
    rating `scale` (a person who rated only 1s and 2s liked nothing)."""
    if not len(ratings):
        return np.zeros(0, dtype=bool)
    best = float(ratings.max())
    middle = (scale[0] + scale[1]) / 2
    if best < LIKED_RATING and best <= middle:
        return np.zeros(len(ratings), dtype=bool)
    return np.asarray(ratings >= min(LIKED_RATING, best))


def liked_movies(seen: UserRatings, user: int) -> np.ndarray:
    """A known user's liked training movies, oldest first: those rated `LIKED_RATING` or more, or
    where there are none, those at the user's highest rating."""
    movies, ratings = seen.movies_of(user), seen.ratings_of(user)
    if not len(ratings):
        return movies
    return movies[ratings >= min(LIKED_RATING, float(ratings.max()))]


class Explainer:
    """Why each movie is on a list: the liked movie that contributed most to it.

    The contribution of a liked movie `h` to a movie `i` is the retrieval model's score of `i` for
    someone who liked only `h`: `fold_in([h]) · movie_embedding(i)`. That holds for every
    `RetrievalModel`, whatever its fold-in does. The explanation of `i` is the liked movie with
    the largest contribution (ties: the most recent); a movie never explains itself.

    Folding in movies costs a pass over the catalogue (a blend scales each query by its spread), so
    what is computed is kept, within `max_cached` cells per table: the singleton queries
    (`[n_movies + 1, dim]`) and movie vectors as they are needed, and once every movie is folded
    in, the contributions of every movie to every movie (`[n_movies + 1, n_movies + 1]`; a list
    then costs a lookup). Beyond the cap, a list's liked movies are folded in each time.
    The first list folds in its own liked movies only, so a one-off call (the CLI) pays for those
    alone; the next list that needs a movie not yet folded in completes the tables (`prepare`,
    which a server calls at start-up so that no request pays).
    """

    def __init__(self, retrieval: RetrievalModel, *, max_cached: int) -> None:
        self.retrieval = retrieval
        self.max_cached = max_cached
        self._device = retrieval.device
        n = retrieval.n_movies + 1
        self._queries: torch.Tensor | None = None  # [n, dim] singleton fold-ins, rows as needed
        self._folded = np.zeros(n, dtype=bool)  # which rows of _queries are filled
        self._cacheable: bool | None = None  # unknown until the first fold-in gives `dim`
        self._vectors: torch.Tensor | None = None  # [n, dim] movie vectors
        self._contributions: np.ndarray | None = None  # [n, n], once complete (if n * n fits)
        self._lists = 0  # lists explained so far

    @torch.no_grad()
    def because(self, history: np.ndarray, movies: np.ndarray) -> np.ndarray:
        """For `[k]` movie indices, the index among `[h]` liked movies (oldest first) that did
        most for each: `[k]` int64, `-1` where none does (no other liked movie)."""
        history = np.asarray(history, dtype=np.int64)
        movies = np.asarray(movies, dtype=np.int64)
        if not len(history) or not len(movies):
            return np.full(len(movies), -1, dtype=np.int64)
        if self._contributions is None and self._lists and not self._folded[history].all():
            self.prepare()  # not a one-off: complete the tables once
        if self._contributions is not None:
            contributions = self._contributions[np.ix_(history, movies)]
        else:
            products = self._singletons(history) @ self._movie_vectors(movies).T
            contributions = products.cpu().numpy()
        contributions[history[:, None] == movies[None, :]] = float("-inf")
        self._lists += 1
        # argmax takes the first of equal values: over the newest-first rows, the most recent.
        newest_first = contributions[::-1]
        best = np.argmax(newest_first, axis=0)
        found = np.isfinite(newest_first[best, np.arange(len(movies))])
        return np.where(found, history[::-1][best], -1)

    @torch.no_grad()
    def prepare(self) -> None:
        """Fold in every movie now and keep the tables (those within the cap)."""
        if self._contributions is not None:
            return
        if self._cacheable is None:
            self._fold(np.array([1]))
        if not self._cacheable:
            return
        self._fold(np.flatnonzero(~self._folded[1:]) + 1)
        n = self.retrieval.n_movies + 1
        if n * n <= self.max_cached:
            assert self._queries is not None
            every = self._movie_vectors(np.arange(n))
            self._contributions = (self._queries @ every.T).cpu().numpy()
            self._queries = self._vectors = None  # the contributions are all a list needs now

    def _singletons(self, movies: np.ndarray) -> torch.Tensor:
        """`[h, dim]` singleton fold-ins of `[h]` movie indices."""
        if not self._cacheable:  # too large to keep, or not known yet
            rows = self._fold(movies)
            if not self._cacheable:
                return rows
        missing = np.unique(movies[~self._folded[movies]])
        if missing.size:
            self._fold(missing)
        assert self._queries is not None
        return self._queries[self._rows(movies)]

    def _fold(self, movies: np.ndarray) -> torch.Tensor:
        """`[h, dim]` singleton fold-ins of `[h]` movies, computed now and kept if cacheable."""
        rows = self.retrieval.fold_in_each(self._rows(movies))
        n = self.retrieval.n_movies + 1
        if self._cacheable is None:
            self._cacheable = n * rows.shape[1] <= self.max_cached
            if self._cacheable:
                self._queries = rows.new_zeros(n, rows.shape[1])
        if self._cacheable:
            assert self._queries is not None
            self._queries[self._rows(movies)] = rows
            self._folded[movies] = True
        return rows

    def _movie_vectors(self, movies: np.ndarray) -> torch.Tensor:
        """`[k, dim]` movie vectors of `[k]` movie indices (all kept once one is needed, if the
        singleton queries are)."""
        if self._vectors is None and self._cacheable:
            self._vectors = self.retrieval.all_movie_embeddings()
        if self._vectors is not None:
            return self._vectors[self._rows(movies)]
        return self.retrieval.movie_embedding(self._rows(movies))

    def _rows(self, movies: np.ndarray) -> torch.Tensor:
        """Movie indices as an int64 tensor on the retrieval model's device."""
        return torch.from_numpy(np.asarray(movies, dtype=np.int64)).to(self._device)
