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
from reelrank.data.encoding import Catalog, EncodedRatings, Vocabularies
from reelrank.data.titles import AmbiguousTitleError, TitleMatcher
from reelrank.data.vocabulary import Vocabulary
from reelrank.index import BruteForceIndex, FaissIndex, Index, index_from_state
from reelrank.models.factory import retrieval_model_from_state_dict
from reelrank.models.ranking import RankingModel
from reelrank.models.retrieval import RetrievalModel
from reelrank.models.two_tower import TwoTower
from reelrank.types import GENRES, ArtifactError, ReelrankError, UnknownIdError

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
        return {
            "movie_id": self.movie_id,
            "movie_title": self.movie_title,
            "predicted_rating": self.predicted_rating,
            "retrieval_score": self.retrieval_score,
        }


@dataclass(frozen=True)
class MovieInfo:
    """A catalogue entry as people see it."""

    movie_id: str
    movie_title: str
    year: int | None
    genres: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "movie_id": self.movie_id,
            "movie_title": self.movie_title,
            "year": self.year,
            "genres": self.genres,
        }


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
        self.vocabs = vocabs
        self.catalog = catalog
        self.seen = seen
        self.ranking = ranking.eval() if ranking is not None else None
        self.retrieval = retrieval.eval() if retrieval is not None else None
        self.index = index
        self.metrics = dict(metrics or {})
        self.data_info = dict(data_info or {})
        self.titles = TitleMatcher(vocabs.movies.terms.tolist())
        # Movie rows by MovieLens id, for lookups like "50" → "Star Wars (1977)".
        self._row_of_id = {
            movie_id: vocabs.movies.number(title, missing="unknown")
            for movie_id, title in catalog.id_to_title.items()
        }
        # Known users' retrieval scores, computed once when the catalogue is small enough: a
        # request then reads one row instead of multiplying its query with every movie vector.
        self._user_scores: torch.Tensor | None = None
        cells = vocabs.users.size * vocabs.movies.size
        if retrieval is not None and isinstance(index, BruteForceIndex) and cells <= MAX_CACHED:
            with torch.no_grad():
                self._user_scores = retrieval.score_all(torch.arange(vocabs.users.size))
        if ranking is not None:
            # A "typical user" for people not in the data: the mean of the known users' vectors.
            with torch.no_grad():
                self._typical_user = ranking.user_embedding.weight[1:].mean(dim=0)

    @property
    def two_stage(self) -> bool:
        """Whether recommendations go through retrieval and then ranking."""
        return self.retrieval is not None and self.ranking is not None

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
        """The model index of a movie title, matched forgivingly (case, articles, missing year).

        Unknown titles raise `UnknownIdError` with close titles; ambiguous ones
        `AmbiguousTitleError` listing the candidates.
        """
        return self.titles.match(title)

    def resolve_movie(self, title_or_id: str | int) -> int:
        """The model index of a MovieLens movie id ("50") or a title (see `movie_index`)."""
        key = str(title_or_id).strip()
        row = self._row_of_id.get(key)
        if row:
            return row
        if key.isdigit():
            raise UnknownIdError(
                f"unknown movie id {key!r}: MovieLens ids here run 1..{self._max_id()}"
            )
        return self.movie_index(key)

    def _max_id(self) -> int:
        return max((int(i) for i in self._row_of_id if i.isdigit()), default=0)

    def movie_info(self, title_or_id: str | int) -> MovieInfo:
        """Id, title, year and genres of one movie."""
        return self._info(self.resolve_movie(title_or_id))

    def _info(self, row: int) -> MovieInfo:
        year = int(self.catalog.year[row])
        return MovieInfo(
            movie_id=self.movie_id(row),
            movie_title=self.movie_title(row),
            year=year or None,
            genres=[g for g, on in zip(GENRES, self.catalog.genres[row], strict=True) if on],
        )

    def search_movies(self, query: str, limit: int = 10) -> list[MovieInfo]:
        """Movies whose titles match a search-box query, best first (empty query: none)."""
        if limit <= 0:
            raise ReelrankError(f"limit must be a positive integer, got {limit}")
        return [self._info(entry.index) for entry in self.titles.search(query, limit)]

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

    def seen_as_encoded(self) -> EncodedRatings:
        """The training ratings this recommender excludes, as encoded arrays."""
        counts = np.diff(self.seen.indptr)
        return EncodedRatings(
            user_idx=np.repeat(np.arange(len(counts)), counts),
            movie_idx=self.seen.movie_idx,
            rating=self.seen.rating,
            timestamp=np.zeros(len(self.seen.movie_idx), dtype=np.int64),
        )

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
        user = self.user_index(user_id)
        movie_idx = np.array([self.resolve_movie(t) for t in titles], dtype=np.int64)
        return self._recommendations(movie_idx, self.predict(user, movie_idx))

    def recommend(
        self, user_id: str | int, k: int = 10, *, include_seen: bool = False
    ) -> list[Recommendation]:
        """The top `k` movies for a known user, already-rated ones left out unless `include_seen`.

        Two-stage: retrieval finds `config.candidates` movies, ranking orders them by predicted
        rating. With one model only, that model scores every movie.
        """
        check_k(k)
        user = self.user_index(user_id)
        exclude = np.zeros(0, dtype=np.int64) if include_seen else self.seen.movies_of(user)
        if self.retrieval is None:
            candidates = np.setdiff1d(np.arange(1, self.movies.size), exclude, assume_unique=True)
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
        history = np.array(list(dict.fromkeys(self.resolve_movie(m) for m in liked)), np.int64)
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
        movie = self.resolve_movie(title_or_id)
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
                movie_id=self.movie_id(int(m)),
                movie_title=self.movie_title(int(m)),
                predicted_rating=None if ratings is None else float(ratings[i]),
                retrieval_score=None if retrieval_scores is None else float(retrieval_scores[i]),
            )
            for i, m in enumerate(movie_idx)
        ]

    # -- artifacts ------------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write this recommender as an artifact directory (atomically)."""
        tensors: dict[str, torch.Tensor] = {}
        if self.ranking is not None:
            tensors |= {f"ranking.{k}": v for k, v in self.ranking.state_dict().items()}
        index_config: dict[str, Any] | None = None
        if self.retrieval is not None and self.index is not None:
            tensors |= {f"retrieval.{k}": v for k, v in self.retrieval.state_dict().items()}
            index_tensors, index_config = self.index.state()
            tensors |= {f"index.{k}": v for k, v in index_tensors.items()}
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
            "index": index_config,
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
        retrieval, index = None, None
        if config.retrieval is not None:
            state = _prefixed(tensors, "retrieval.")
            try:
                retrieval = retrieval_model_from_state_dict(
                    config.retrieval,
                    state,
                    user_histories=(
                        torch.from_numpy(seen.indptr),
                        torch.from_numpy(seen.movie_idx),
                    ),
                )
                # The index's vectors are the model's own: the artifact stores them only once.
                with torch.no_grad():
                    vectors = retrieval.eval().all_movie_embeddings()
                index = index_from_state(
                    _prefixed(tensors, "index."),
                    contents.config.get("index") or {},
                    vectors=vectors,
                )
            except (ValueError, RuntimeError, KeyError, ImportError) as error:
                raise ArtifactError(
                    f"{where}: the retrieval model cannot be rebuilt: {error}"
                ) from None
        ranking = None
        if config.ranking is not None:
            ranking = RankingModel(config.ranking, n_users=len(users), n_movies=len(movies))
            if config.shared_embeddings and isinstance(retrieval, TwoTower):
                ranking.share_embeddings(
                    retrieval.user_tower.id_embedding, retrieval.movie_tower.id_embedding
                )
            load_strict(ranking, _prefixed(tensors, "ranking."), where, "ranking")
        if ranking is None and retrieval is None:
            raise ArtifactError(f"{where} configures neither a ranking nor a retrieval model")
        if tensors:
            raise ArtifactError(f"{where} has unexpected tensors: {sorted(tensors)[:5]}")
        return cls(
            config=config,
            vocabs=Vocabularies(users, movies),
            catalog=catalog,
            seen=seen,
            ranking=ranking,
            retrieval=retrieval,
            index=index,
            metrics=contents.metrics,
            data_info=contents.config.get("data", {}),
        )


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


def build_index(retrieval: RetrievalModel, kind: str) -> Index:
    """An index over the retrieval model's movie vectors: exact ("brute_force") or "hnsw"."""
    with torch.no_grad():
        vectors = retrieval.all_movie_embeddings()
    if kind == "brute_force":
        return BruteForceIndex(vectors)
    if kind == "hnsw":
        return FaissIndex(vectors)
    raise ReelrankError(f"unknown index {kind!r}; choose 'brute_force' or 'hnsw'")


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


__all__ = [
    "AmbiguousTitleError",
    "MovieInfo",
    "Recommendation",
    "Recommender",
    "SeenRatings",
    "UnknownIdError",
    "build_index",
    "check_k",
]
