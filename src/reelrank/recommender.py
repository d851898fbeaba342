"""`Recommender`: the one object a user, the CLI or the server holds.

It speaks the user's language (user ids and movie titles), owns the trained models, the movie
catalogue and each user's already-rated movies, and saves to / loads from an artifact directory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reelrank import artifacts
from reelrank.artifacts import ArtifactContents
from reelrank.config import ExperimentConfig
from reelrank.data.encoding import Catalog, Vocabularies
from reelrank.data.vocabulary import Vocabulary
from reelrank.models.ranking import RankingModel
from reelrank.types import ArtifactError, ReelrankError, UnknownIdError


@dataclass(frozen=True)
class Recommendation:
    """One recommended movie: its ids, the predicted rating and (two-stage) the retrieval score."""

    movie_id: str
    movie_title: str
    score: float
    retrieval_score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "movie_id": self.movie_id,
            "movie_title": self.movie_title,
            "score": self.score,
        }
        if self.retrieval_score is not None:
            out["retrieval_score"] = self.retrieval_score
        return out


@dataclass(frozen=True, eq=False)
class SeenRatings:
    """Each user's training ratings as CSR: user u's are `movie_idx[indptr[u]:indptr[u+1]]`."""

    indptr: np.ndarray  # [n_users + 2]: one row per user index, 0 (unknown) included
    movie_idx: np.ndarray  # [nnz] int64
    rating: np.ndarray  # [nnz] float32

    def movies_of(self, user: int) -> np.ndarray:
        return self.movie_idx[self.indptr[user] : self.indptr[user + 1]]

    def ratings_of(self, user: int) -> np.ndarray:
        return self.rating[self.indptr[user] : self.indptr[user + 1]]


class Recommender:
    """Trained models plus everything needed to use them by id and title.

    Build one with `reelrank.experiment.train_recommender` or `Recommender.load(path)`.
    """

    def __init__(
        self,
        *,
        config: ExperimentConfig,
        vocabs: Vocabularies,
        catalog: Catalog,
        seen: SeenRatings,
        ranking: RankingModel | None,
        metrics: dict[str, Any] | None = None,
        data_info: dict[str, Any] | None = None,
    ) -> None:
        if ranking is None:
            raise ValueError("a Recommender needs a ranking model")
        self.config = config
        self.vocabs = vocabs
        self.catalog = catalog
        self.seen = seen
        self.ranking = ranking.eval()
        self.metrics = dict(metrics or {})
        self.data_info = dict(data_info or {})

    # -- ids and titles -------------------------------------------------------------------------

    @property
    def users(self) -> Vocabulary:
        return self.vocabs.users

    @property
    def movies(self) -> Vocabulary:
        return self.vocabs.movies

    def user_index(self, user_id: str | int) -> int:
        """The model index of a user id; unknown ids raise `UnknownIdError` with close matches."""
        return self.users.number(str(user_id), missing="error")

    def movie_index(self, title: str) -> int:
        """The model index of a movie title; unknown titles raise with close titles suggested."""
        return self.movies.number(title, missing="error")

    def movie_title(self, index: int) -> str:
        return self.movies.term(index)

    def movie_id(self, index: int) -> str:
        return str(self.catalog.movie_id[index])

    def rated_movies(self, user_id: str | int) -> list[tuple[str, str, float]]:
        """A user's training ratings as (movie_id, title, rating), best rated first."""
        user = self.user_index(user_id)
        movies, ratings = self.seen.movies_of(user), self.seen.ratings_of(user)
        order = np.argsort(-ratings, kind="stable")
        return [
            (self.movie_id(int(m)), self.movie_title(int(m)), float(r))
            for m, r in zip(movies[order], ratings[order], strict=True)
        ]

    # -- scoring --------------------------------------------------------------------------------

    @torch.no_grad()
    def predict(self, user: int, movie_idx: np.ndarray) -> np.ndarray:
        """Predicted ratings `[n]` of movie indices for one user index."""
        movies = torch.as_tensor(movie_idx, dtype=torch.int64)
        users = torch.full_like(movies, user)
        return self.ranking(users, movies).numpy()

    def score(self, user_id: str | int, titles: Sequence[str]) -> list[Recommendation]:
        """Predicted ratings of the given titles for a user, in the order given."""
        if not titles:
            raise ReelrankError("no movies to score: give at least one title")
        user = self.user_index(user_id)
        movie_idx = np.array([self.movie_index(t) for t in titles], dtype=np.int64)
        return self._recommendations(movie_idx, self.predict(user, movie_idx))

    def recommend(
        self, user_id: str | int, k: int = 10, *, include_seen: bool = False
    ) -> list[Recommendation]:
        """The `k` movies with the highest predicted rating for a user.

        Movies the user already rated are left out unless `include_seen`.
        """
        check_k(k)
        user = self.user_index(user_id)
        candidates = np.arange(1, self.movies.size, dtype=np.int64)
        if not include_seen:
            candidates = np.setdiff1d(candidates, self.seen.movies_of(user), assume_unique=True)
        scores = self.predict(user, candidates)
        top = np.argsort(-scores, kind="stable")[:k]
        return self._recommendations(candidates[top], scores[top])

    def _recommendations(
        self,
        movie_idx: np.ndarray,
        scores: np.ndarray,
        retrieval_scores: np.ndarray | None = None,
    ) -> list[Recommendation]:
        return [
            Recommendation(
                movie_id=self.movie_id(int(m)),
                movie_title=self.movie_title(int(m)),
                score=float(s),
                retrieval_score=None if retrieval_scores is None else float(retrieval_scores[i]),
            )
            for i, (m, s) in enumerate(zip(movie_idx, scores, strict=True))
        ]

    # -- artifacts ------------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write this recommender as an artifact directory (atomically)."""
        tensors = {f"ranking.{k}": v for k, v in self.ranking.state_dict().items()}
        tensors |= {
            "seen.indptr": torch.from_numpy(self.seen.indptr),
            "seen.movie_idx": torch.from_numpy(self.seen.movie_idx),
            "seen.rating": torch.from_numpy(self.seen.rating),
            "catalog.genres": torch.from_numpy(self.catalog.genres.astype(np.uint8)),
            "catalog.year": torch.from_numpy(self.catalog.year),
        }
        config = {
            "experiment": self.config.to_dict(),
            "sizes": {"n_users": len(self.users), "n_movies": len(self.movies)},
            "data": self.data_info,
        }
        documents = {
            "vocab_users.json": self.users.to_json(),
            "vocab_movies.json": self.movies.to_json(),
            "catalog.json": {
                "movie_id": self.catalog.movie_id.tolist(),
                "id_to_title": self.catalog.id_to_title,
            },
        }
        return artifacts.save_artifact(
            path, ArtifactContents(config, tensors, documents, self.metrics)
        )

    @classmethod
    def load(cls, path: str | Path) -> Recommender:
        """Load an artifact; missing, extra or mis-shaped tensors are an `ArtifactError`."""
        contents = artifacts.load_artifact(path)
        where = Path(path)
        try:
            config = ExperimentConfig.from_dict(contents.config["experiment"])
            sizes = contents.config["sizes"]
            users = Vocabulary.from_json(contents.documents["vocab_users.json"])
            movies = Vocabulary.from_json(contents.documents["vocab_movies.json"])
            catalog_doc = contents.documents["catalog.json"]
        except (KeyError, TypeError, ValueError, ReelrankError) as error:
            raise ArtifactError(f"{where} has an invalid config or vocabulary: {error}") from None
        if (len(users), len(movies)) != (sizes.get("n_users"), sizes.get("n_movies")):
            raise ArtifactError(f"{where}: vocabulary sizes do not match config.json sizes")
        tensors = dict(contents.tensors)
        catalog = Catalog(
            movie_id=np.asarray(catalog_doc.get("movie_id", []), dtype=str),
            genres=_take(tensors, "catalog.genres", where).numpy().astype(bool),
            year=_take(tensors, "catalog.year", where).numpy(),
            id_to_title=dict(catalog_doc.get("id_to_title", {})),
        )
        if len(catalog.movie_id) != movies.size or len(catalog.genres) != movies.size:
            raise ArtifactError(f"{where}: the catalogue does not match the title vocabulary")
        seen = SeenRatings(
            indptr=_take(tensors, "seen.indptr", where).numpy(),
            movie_idx=_take(tensors, "seen.movie_idx", where).numpy(),
            rating=_take(tensors, "seen.rating", where).numpy(),
        )
        if len(seen.indptr) != users.size + 1:
            raise ArtifactError(
                f"{where}: the seen-ratings table does not match the user vocabulary"
            )
        if config.ranking is None:
            raise ArtifactError(f"{where} has no ranking model configured")
        ranking = RankingModel(config.ranking, n_users=len(users), n_movies=len(movies))
        load_strict(ranking, _prefixed(tensors, "ranking."), where, "ranking")
        if tensors:
            raise ArtifactError(f"{where} has unexpected tensors: {sorted(tensors)[:5]}")
        return cls(
            config=config,
            vocabs=Vocabularies(users, movies),
            catalog=catalog,
            seen=seen,
            ranking=ranking,
            metrics=contents.metrics,
            data_info=contents.config.get("data", {}),
        )


def check_k(k: int) -> int:
    """`k` must be a positive integer."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k <= 0:
        raise ReelrankError(f"k must be a positive integer (how many movies to return), got {k}")
    return int(k)


def load_strict(
    module: torch.nn.Module, state: dict[str, torch.Tensor], where: Path, what: str
) -> None:
    """Load a state dict with no missing or unexpected keys and matching shapes."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ArtifactError(
            f"{where}: the {what} weights do not fit the model: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}"
        )
    for name, tensor in state.items():
        if tensor.shape != expected[name].shape:
            raise ArtifactError(
                f"{where}: {what} tensor {name!r} has shape {tuple(tensor.shape)}, "
                f"expected {tuple(expected[name].shape)}"
            )
    module.load_state_dict(state, strict=True)


def _prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Pop and return the tensors whose names start with `prefix`, with the prefix removed."""
    names = [n for n in tensors if n.startswith(prefix)]
    return {n[len(prefix) :]: tensors.pop(n) for n in names}


def _take(tensors: dict[str, torch.Tensor], name: str, where: Path) -> torch.Tensor:
    try:
        return tensors.pop(name)
    except KeyError:
        raise ArtifactError(f"{where} is missing tensor {name!r}; retrain the model") from None


__all__ = ["Recommendation", "Recommender", "SeenRatings", "UnknownIdError", "check_k"]
