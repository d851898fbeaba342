"""`Recommender`: the one object a user, the CLI or the server holds.

It owns the trained models, the catalogue (`reelrank.data.catalog.Catalog`: ids and titles as
people use them) and each user's training ratings, and serves lists: for a known user, for someone
from movies they liked, and movies like one movie. Artifacts: `reelrank.artifacts`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reelrank import artifacts
from reelrank.artifacts import RecommenderParts
from reelrank.config import ExperimentConfig
from reelrank.data.catalog import Catalog
from reelrank.data.encoding import UserRatings
from reelrank.index import BruteForceIndex, Index
from reelrank.models.ranking import RankingModel
from reelrank.models.retrieval import RetrievalModel
from reelrank.types import ReelrankError

# Largest users x movies score table a Recommender keeps in memory (float32: 100 MB).
MAX_CACHED = 25_000_000


@dataclass(frozen=True)
class Recommendation:
    """One recommended or scored movie, with every number labelled by what it is.

    `predicted_rating` is the ranking model's rating on the 1..5 scale (None without a ranking
    model). `retrieval_score` is the retrieval stage's score, a dot product that only orders one
    list (None without a retrieval model); for `similar` it is how strongly liking the query movie
    points to this one.
    """

    movie_id: str
    movie_title: str
    predicted_rating: float | None = None
    retrieval_score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Recommender:
    """Trained models plus everything needed to use them by id and title.

    Build one with `reelrank.experiment.train_recommender` or `Recommender.load(path)`.
    """

    def __init__(
        self,
        *,
        config: ExperimentConfig,
        catalog: Catalog,
        seen: UserRatings,
        ranking: RankingModel | None,
        retrieval: RetrievalModel | None = None,
        index: Index | None = None,
        metrics: dict[str, Any] | None = None,
        data_info: dict[str, Any] | None = None,
    ) -> None:
        if ranking is None and retrieval is None:
            raise ValueError("a Recommender needs a ranking model, a retrieval model or both")
        if (retrieval is None) != (index is None):
            raise ValueError("a retrieval model and its index come together")
        self.config = config
        self.catalog = catalog
        self.seen = seen
        self.ranking = ranking.eval() if ranking is not None else None
        self.retrieval = retrieval.eval() if retrieval is not None else None
        self.index = index
        self.metrics = dict(metrics or {})
        self.data_info = dict(data_info or {})
        # Known users' retrieval scores, computed once when the catalogue is small enough: a
        # request then reads one row instead of multiplying its query with every movie vector.
        self._user_scores: torch.Tensor | None = None
        n_users = catalog.users.size
        cells = n_users * catalog.movies.size
        if retrieval is not None and isinstance(index, BruteForceIndex) and cells <= MAX_CACHED:
            with torch.no_grad():
                self._user_scores = retrieval.score_all(torch.arange(n_users))
        if ranking is not None:
            # A "typical user" for people not in the data: the mean of the known users' vectors.
            with torch.no_grad():
                self._typical_user = ranking.user_embedding.weight[1:].mean(dim=0)

    @property
    def two_stage(self) -> bool:
        """Whether recommendations go through retrieval and then ranking."""
        return self.retrieval is not None and self.ranking is not None

    def rated_movies(self, user_id: str | int) -> list[tuple[str, str, float]]:
        """A user's training ratings as (movie_id, title, rating), best rated first."""
        user = self.catalog.user_index(user_id)
        movies, ratings = self.seen.movies_of(user), self.seen.ratings_of(user)
        order = np.argsort(-ratings, kind="stable")
        return [
            (self.catalog.movie_id(int(m)), self.catalog.movie_title(int(m)), float(r))
            for m, r in zip(movies[order], ratings[order], strict=True)
        ]

    # -- scoring --------------------------------------------------------------------------------

    @torch.no_grad()
    def predict(self, user: int, movie_idx: np.ndarray) -> np.ndarray:
        """Predicted ratings `[n]` of movie indices for one user index (0: a typical user)."""
        if self.ranking is None:
            raise ReelrankError("this artifact has no ranking model, so it cannot predict ratings")
        movies = torch.as_tensor(movie_idx, dtype=torch.int64)
        if user == 0:
            return self.ranking.rate(self._typical_user.expand(len(movies), -1), movies).numpy()
        return self.ranking(torch.full_like(movies, user), movies).numpy()

    def score(self, user_id: str | int, titles: Sequence[str]) -> list[Recommendation]:
        """Predicted ratings of the given titles (or movie ids) for a user, in the order given."""
        if not titles:
            raise ReelrankError("no movies to score: give at least one title")
        user = self.catalog.user_index(user_id)
        movie_idx = np.array([self.catalog.resolve_movie(t) for t in titles], dtype=np.int64)
        return self._recommendations(movie_idx, self.predict(user, movie_idx))

    def recommend(
        self, user_id: str | int, k: int = 10, *, include_seen: bool = False
    ) -> list[Recommendation]:
        """The top `k` movies for a known user, already-rated ones left out unless `include_seen`.

        Two-stage: retrieval finds `config.candidates` movies, ranking orders them by predicted
        rating. With one model only, that model scores every movie.
        """
        check_k(k)
        user = self.catalog.user_index(user_id)
        exclude = np.zeros(0, dtype=np.int64) if include_seen else self.seen.movies_of(user)
        if self.retrieval is None:
            candidates = np.setdiff1d(
                np.arange(1, self.catalog.movies.size), exclude, assume_unique=True
            )
            return self._rank(user, candidates, None, k)
        n = max(k, self.config.candidates)
        if self._user_scores is not None:
            retrieved = _top_excluding(self._user_scores[user], exclude, n)
        else:
            with torch.no_grad():
                query = self.retrieval.user_embedding(torch.tensor([user]))[0]
            retrieved = self._retrieve(query, exclude, n)
        return self._two_stage(user, retrieved, k)

    def recommend_for_liked(self, liked: Sequence[str | int], k: int = 10) -> list[Recommendation]:
        """Recommendations for someone who is not in the data, from movies they liked (titles or
        MovieLens ids): the liked movies are folded into a user vector, no retraining.

        Candidates are ordered by that vector's retrieval score; the predicted rating shown is a
        typical user's, as the ranking model has no row for a new person.
        """
        check_k(k)
        if not liked:
            raise ReelrankError("no liked movies given: name at least one movie you liked")
        if self.retrieval is None:
            raise ReelrankError(
                "this artifact has no retrieval model; train one with --preset two-stage"
            )
        history = np.array(
            list(dict.fromkeys(self.catalog.resolve_movie(m) for m in liked)), np.int64
        )
        with torch.no_grad():
            query = self.retrieval.fold_in(torch.from_numpy(history))
        retrieved = self._retrieve(query, history, max(k, self.config.candidates))
        return self._two_stage(0, retrieved, k, order_by_rating=False)

    def similar(self, title_or_id: str | int, k: int = 10) -> list[Recommendation]:
        """The movies most like one movie: those the retrieval model recommends to someone who
        liked just that movie. `score` is the retrieval score (no rating is predicted)."""
        check_k(k)
        if self.retrieval is None:
            raise ReelrankError("this artifact has no retrieval model; train --preset two-stage")
        movie = self.catalog.resolve_movie(title_or_id)
        with torch.no_grad():
            query = self.retrieval.fold_in(torch.tensor([movie]))
        scores, rows = self._retrieve(query, np.array([movie]), k)
        return self._recommendations(rows, None, scores)

    def _retrieve(
        self, query: torch.Tensor, exclude: np.ndarray, n: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-`n` (scores, movie rows) from the index for one `[dim]` query, minus `exclude`."""
        assert self.index is not None
        scores, rows = self.index.search(query[None, :], n, exclude=[exclude])
        found = rows[0] >= 0
        return scores[0][found].numpy(), rows[0][found].numpy()

    def _two_stage(
        self,
        user: int,
        retrieved: tuple[np.ndarray, np.ndarray],
        k: int,
        *,
        order_by_rating: bool = True,
    ) -> list[Recommendation]:
        """Rank retrieval's (scores, movie rows) for a user (0: a typical user)."""
        retrieval_scores, candidates = retrieved
        if self.ranking is None:
            return self._recommendations(candidates[:k], None, retrieval_scores[:k])
        return self._rank(user, candidates, retrieval_scores, k, order_by_rating=order_by_rating)

    def _rank(
        self,
        user: int,
        candidates: np.ndarray,
        retrieval_scores: np.ndarray | None,
        k: int,
        *,
        order_by_rating: bool = True,
    ) -> list[Recommendation]:
        """The top `k` candidates by predicted rating (or kept in retrieval order)."""
        ratings = self.predict(user, candidates)
        order = np.argsort(-ratings, kind="stable")[:k] if order_by_rating else np.arange(k)
        order = order[: len(candidates)]
        extra = None if retrieval_scores is None else retrieval_scores[order]
        return self._recommendations(candidates[order], ratings[order], extra)

    def _recommendations(
        self,
        movie_idx: np.ndarray,
        ratings: np.ndarray | None = None,
        retrieval_scores: np.ndarray | None = None,
    ) -> list[Recommendation]:
        return [
            Recommendation(
                movie_id=self.catalog.movie_id(int(m)),
                movie_title=self.catalog.movie_title(int(m)),
                predicted_rating=None if ratings is None else float(ratings[i]),
                retrieval_score=None if retrieval_scores is None else float(retrieval_scores[i]),
            )
            for i, m in enumerate(movie_idx)
        ]

    # -- artifacts ------------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write this recommender as an artifact directory (atomically)."""
        parts = RecommenderParts(
            config=self.config,
            catalog=self.catalog,
            seen=self.seen,
            ranking=self.ranking,
            retrieval=self.retrieval,
            index=self.index,
            metrics=self.metrics,
            data_info=self.data_info,
        )
        return artifacts.save_parts(path, parts)

    @classmethod
    def load(cls, path: str | Path) -> Recommender:
        """Load an artifact; a missing, corrupt or inconsistent one is an `ArtifactError`."""
        parts = artifacts.load_parts(path)
        return cls(**{f.name: getattr(parts, f.name) for f in fields(parts)})


def _top_excluding(
    scores: torch.Tensor, exclude: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Top-`n` (scores, movie rows) of one `[n_movies + 1]` score row, minus `exclude`; row 0
    (the unknown movie) is already `-inf`."""
    scores = scores.clone()
    scores[torch.from_numpy(exclude)] = float("-inf")
    top, rows = torch.topk(scores, min(n, len(scores)))
    found = top > float("-inf")
    return top[found].numpy(), rows[found].numpy()


def check_k(k: int) -> int:
    """`k` must be a positive integer."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k <= 0:
        raise ReelrankError(f"k must be a positive integer (how many movies to return), got {k}")
    return int(k)
