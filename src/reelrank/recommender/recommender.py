"""`Recommender`: the one object a user, the CLI or the server holds.

It owns the trained models, the catalogue (`Catalog`: ids and titles as
people use them) and each user's training ratings, and serves lists: for a known user, for someone
from movies they liked, and movies like one movie. Artifacts: `reelrank.artifacts.parts`.

It is long (about 500 lines) on purpose: every path a person is served (known user, cold user, liked
movies, similar, scores) lives in this one class, array form and `Recommendation` form side by
side, so the CLI, the API and the evaluation of served lists run the same code. What is separate
by concept already lives elsewhere: list arrays and checks in `lists`, explanations in
`explanations`, filters in `data.catalog`, movies added after training in `live_movies`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reelrank.artifacts import parts as artifacts
from reelrank.artifacts.parts import RecommenderParts
from reelrank.config import ExperimentConfig
from reelrank.data.catalog.catalog import Catalog, ListFilter, MovieInfo
from reelrank.data.encoding.encoded import UserRatings
from reelrank.errors import ReelrankError
from reelrank.index import BruteForceIndex, Index
from reelrank.models.rating.base import RatingModel
from reelrank.models.retrieval.base import RetrievalModel
from reelrank.models.retrieval.popularity import Popularity
from reelrank.recommender.explanations import Explainer, liked_mask, liked_movies
from reelrank.recommender.lists import (
    ListOrder,
    Recommendation,
    ServedLists,
    best_rated,
    check_k,
    check_offset,
    check_order,
    most_popular,
    recommendations,
    top_by_score,
    varied_popular,
)
from reelrank.recommender.live_movies import CONTENT_TRUST, LiveMovies, MovieRow, RatingRow

# Largest users x movies score table a Recommender keeps in memory (float32: 100 MB); the same
# cap holds for each table behind "because you liked" (see `Explainer`).
MAX_CACHED = 25_000_000
# (user, movie) pairs the rating model rates at once.
PREDICT_BATCH = 65_536


class Recommender:
    """Trained models plus everything needed to use them by id and title.

    Build one with `reelrank.experiment.run.train_recommender` or `Recommender.load(path)`.
    """

    def __init__(
        self,
        *,
        config: ExperimentConfig,
        catalog: Catalog,
        seen: UserRatings,
        rater: RatingModel | None,
        retrieval: RetrievalModel | None = None,
        index: Index | None = None,
        metrics: dict[str, Any] | None = None,
        data_info: dict[str, Any] | None = None,
    ) -> None:
        if rater is None and retrieval is None:
            raise ValueError("a Recommender needs a rating model, a retrieval model or both")
        if (retrieval is None) != (index is None):
            raise ValueError("a retrieval model and its index come together")
        self.config = config
        self.catalog = catalog
        self.seen = seen
        self.rater = rater.eval() if rater is not None else None
        self.retrieval = retrieval.eval() if retrieval is not None else None
        self.index = index
        self.device = torch.device("cpu")
        self.metrics = dict(metrics or {})
        self.data_info = dict(data_info or {})
        # Movies added since training (`with_movies`), and the trained recommender they extend.
        self.live: LiveMovies | None = None
        self._trained: Recommender = self
        # Known users' retrieval scores, computed once when the catalogue is small enough: a
        # request then reads one row instead of multiplying its query with every movie vector.
        self._user_scores: torch.Tensor | None = None
        n_users = catalog.users.size
        cells = n_users * catalog.movies.size
        if retrieval is not None and isinstance(index, BruteForceIndex) and cells <= MAX_CACHED:
            with torch.no_grad():
                self._user_scores = retrieval.score_all(torch.arange(n_users))
        # How often each movie was rated in training, for users with too little history.
        counts = np.bincount(seen.movie_idx, minlength=catalog.movies.size)
        self._log_popularity = np.log1p(counts).astype(np.float64)
        # (lowest, highest) training rating: the scale people rate on, read by every write the
        # service checks, so found once here rather than over all ratings per request.
        ratings = seen.rating
        self.rating_scale = (
            (float(ratings.min()), float(ratings.max())) if len(ratings) else (1.0, 5.0)
        )
        if rater is not None:
            # A "typical user" for people not in the data: the mean of the known users' vectors.
            self._typical_user = rater.typical_user()
        # Popularity ranks the same movies for everyone: no liked movie explains its lists.
        self._explainer = (
            None
            if retrieval is None or isinstance(retrieval, Popularity)
            else Explainer(retrieval, max_cached=MAX_CACHED)
        )

    @torch.no_grad()
    def to(self, device: torch.device | str) -> Recommender:
        """Compute on `device` from now on (in place; returns self): the models, the index's
        vectors and the cached scores move there, and lists still come back as numpy arrays on
        the CPU. An artifact always saves and loads from the CPU."""
        device = torch.device(device)
        for model in (self.rater, self.retrieval):
            if model is not None:
                model.to(device)
        if self.index is not None:
            self.index = self.index.to(device)
        if self._user_scores is not None:
            self._user_scores = self._user_scores.to(device)
        if self.rater is not None:
            self._typical_user = self._typical_user.to(device)
        if self._explainer is not None and self.retrieval is not None:
            # Its tables are kept on the device they were computed on: start them afresh.
            self._explainer = Explainer(self.retrieval, max_cached=MAX_CACHED)
        self.device = device
        return self

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        """An int index array as an int64 tensor on this recommender's device."""
        return torch.tensor(array, dtype=torch.int64, device=self.device)

    @property
    def two_stage(self) -> bool:
        """Whether recommendations go through retrieval and then ranking."""
        return self.retrieval is not None and self.rater is not None

    def with_movies(
        self,
        movies: Sequence[MovieRow],
        ratings: Sequence[RatingRow] = (),
        histories: Mapping[str, Sequence[RatingRow]] | None = None,
        *,
        trust: float = CONTENT_TRUST,
    ) -> Recommender:
        """This recommender serving the store's movies too: those added since training (in
        search, filters, `similar` and lists at once, see `live_movies`), with the data set's
        movies edited or taken down as stored. `ratings` are the stored ratings of the added
        movies, which refine them; `histories` the stored ratings of their raters the data set
        does not know; `trust` how many raters' worth the content vector counts (`refine`).
        Returns a new recommender sharing the models; each call starts from the trained one, so
        the store's whole movie table is passed every time."""
        from reelrank.recommender.added_movies import grow  # a cycle otherwise

        return grow(self._trained, movies, ratings, histories or {}, trust=trust)

    def _grown(self, catalog: Catalog, live: LiveMovies | None, counts: np.ndarray) -> Recommender:
        """A copy sharing the models, with a grown `catalog`, its `live` movies and the
        stored rating `counts` of the added ones (for popularity)."""
        grown = copy.copy(self._trained)
        grown.catalog = catalog
        grown.live = live
        grown._log_popularity = np.concatenate(
            [self._trained._log_popularity, np.log1p(counts.astype(np.float64))]
        )
        return grown

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
        return self._predict(np.full(len(movie_idx), user), np.asarray(movie_idx))

    @torch.no_grad()
    def _predict(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        """Predicted ratings of `[...]` (user, movie) index pairs, any shape (user 0: a typical
        user; movie `-1`, an empty list place: `-inf`)."""
        if self.rater is None:
            raise ReelrankError("this artifact has no rating model, so it cannot predict ratings")
        shape = np.broadcast_shapes(users.shape, movies.shape)
        live = self.live
        if live is not None and (movies >= live.first).any():
            return live.rate(
                np.broadcast_to(users, shape), movies, self._predict, self.rating_scale
            )
        users_t = self._tensor(np.broadcast_to(users, shape).ravel())
        movies_t = self._tensor(np.broadcast_to(movies, shape).ravel())
        ratings = torch.full(users_t.shape, float("-inf"), device=self.device)
        for part in torch.arange(len(users_t), device=self.device).split(PREDICT_BATCH):
            u, m = users_t[part], movies_t[part].clamp(min=0)
            known = u > 0
            if known.any():
                ratings[part[known]] = self.rater(u[known], m[known])
            if not known.all():
                vectors = self._typical_user.expand(int((~known).sum()), -1)
                ratings[part[~known]] = self.rater.rate(vectors, m[~known])
        ratings[movies_t < 0] = float("-inf")
        return ratings.cpu().numpy().reshape(shape)

    def score(self, user_id: str | int, titles: Sequence[str]) -> list[Recommendation]:
        """Predicted ratings of the given titles (or movie ids) for a user, in the order given."""
        if not titles:
            raise ReelrankError("no movies to score: give at least one title")
        user = self.catalog.user_index(user_id)
        movie_idx = np.array([self.catalog.resolve_movie(t) for t in titles], dtype=np.int64)
        return recommendations(self.catalog, movie_idx, self.predict(user, movie_idx))

    def recommend(
        self,
        user_id: str | int,
        k: int = 10,
        *,
        include_seen: bool = False,
        offset: int = 0,
        only: ListFilter | None = None,
        order: ListOrder = "relevance",
    ) -> list[Recommendation]:
        """The top `k` movies for a known user, already-rated ones left out unless `include_seen`;
        `offset` skips the first places (the next page), `only` narrows the list (genres, years).

        Two-stage, `order` (`ListOrder`) "relevance": retrieval's best matches in its order, each
        with its predicted rating; "predicted_rating": retrieval's `config.candidates` best
        re-ordered by predicted rating. One model alone orders by its own score. Each movie names
        the liked movie that did most to bring it (`explanations`). A user with too
        little history gets the most popular movies, in that order and unexplained.
        """
        user = self.catalog.user_index(user_id)
        lists = self.recommend_many(
            np.array([user]),
            check_offset(offset) + k,
            include_seen=include_seen,
            only=only,
            order=order,
        )
        personal = not self._too_little_history(np.array([user]))[0]
        liked = liked_movies(self.seen, user) if personal else None
        return self._as_recommendations(lists, 0, skip=offset, liked=liked)

    @torch.no_grad()
    def recommend_many(
        self,
        user_idx: np.ndarray,
        k: int = 10,
        *,
        include_seen: bool = False,
        only: ListFilter | None = None,
        order: ListOrder = "relevance",
    ) -> ServedLists:
        """`recommend` for many known users at once, by model index (`[q]` ints > 0): the same
        lists, as arrays, without explanations. Evaluation scores these, so it measures what
        people are served."""
        k = self._list_length(k)
        order = check_order(order, has_rater=self.rater is not None)
        users = np.asarray(user_idx, dtype=np.int64).reshape(-1)
        if users.size and (users.min() < 1 or users.max() >= self.catalog.users.size):
            raise ReelrankError(f"user indices must lie in 1..{self.catalog.users.size - 1}")
        blocked = self._blocked(only)
        exclude = [
            blocked if include_seen else np.union1d(self.seen.movies_of(int(u)), blocked)
            for u in users
        ]
        cold = self._too_little_history(users)
        if not cold.any():
            return self._personal_lists(users, exclude, k, order)
        popular = self._popular_lists([e for e, c in zip(exclude, cold, strict=True) if c], k)
        if cold.all():
            return popular
        warm = [e for e, c in zip(exclude, cold, strict=True) if not c]
        return ServedLists.merge(cold, popular, self._personal_lists(users[~cold], warm, k, order))

    def _list_length(self, k: int) -> int:
        """`k`, checked, and no longer than the catalogue: a list never holds more places than
        there are movies, so a huge `k` costs no more than the whole catalogue."""
        return min(check_k(k), self.catalog.movies.size - 1)

    def _blocked(self, only: ListFilter | None) -> np.ndarray:
        """The movie indices a filter leaves out, and the movies taken down."""
        hidden = np.flatnonzero(self.catalog.hidden).astype(np.int64)
        if only is None or not only.active:
            return hidden
        return np.union1d(only.blocked(self.catalog.table), hidden)

    def popular_instead(self, user_id: str | int) -> str | None:
        """Why a known user is served the most popular movies instead of a personal list (too
        little training history: fewer than `config.min_history` ratings), or None."""
        user = self.catalog.user_index(user_id)
        if not self._too_little_history(np.array([user]))[0]:
            return None
        rated = len(self.seen.movies_of(user))
        had = "no ratings" if rated == 0 else f"only {rated} rating{'s' * (rated > 1)}"
        return (
            f"user {user_id} has {had} in the training data, too few for a personal list: "
            "these are the most popular movies"
        )

    def _too_little_history(self, users: np.ndarray) -> np.ndarray:
        """`[q]` bool: which users have fewer training ratings than `config.min_history`."""
        return np.diff(self.seen.indptr)[users] < self.config.min_history

    def _popular_lists(self, exclude: list[np.ndarray], k: int) -> ServedLists:
        """The most-rated movies in training, one list per entry of `exclude` (the movies to
        leave out of it), with a typical user's predicted ratings."""
        movies, top = most_popular(self._log_popularity, exclude, k)
        ratings = None if self.rater is None else self._predict(np.zeros_like(movies), movies)
        return ServedLists(movies, top, ratings, None).padded(k)

    @torch.no_grad()
    def _personal_lists(
        self, users: np.ndarray, exclude: list[np.ndarray], k: int, order: ListOrder
    ) -> ServedLists:
        """The lists of `[q]` users with a training history, each without its `exclude`d movies
        (see `recommend_many`)."""
        if self.retrieval is None:
            assert self.rater is not None
            trained = [e[e < self.catalog.trained] for e in exclude]
            return best_rated(self.rater, users, trained, self.catalog.trained, k)
        # In retrieval's order the list is its top k; re-ordered, its top `candidates`.
        n = k if order == "relevance" else max(k, self.config.candidates)
        live = self.live
        if self._user_scores is not None:
            scores = self._user_scores[self._tensor(users)]
            if live is not None:
                queries = self.retrieval.user_embedding(self._tensor(users))
                scores = torch.cat([scores, queries @ live.vectors.T], dim=1)
            else:
                scores = scores.clone()
            for row, movies in enumerate(exclude):
                scores[row, self._tensor(movies)] = float("-inf")
            top, rows = torch.topk(scores, min(n, scores.shape[1]), dim=1)
            rows = rows.masked_fill(top == float("-inf"), -1)
        else:
            queries = self.retrieval.user_embedding(self._tensor(users))
            top, rows = self._search(queries, n, exclude)
        return self._stage_two(users, rows.cpu().numpy(), top.cpu().numpy(), k, order).padded(k)

    def _search(
        self, queries: torch.Tensor, n: int, exclude: list[np.ndarray]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The index's `n` best movies for `[q, dim]` queries, without each row's `exclude`d
        ones, and the movies added since training among them where they score higher."""
        assert self.index is not None
        first = self.catalog.trained
        top, rows = self.index.search(queries, n, exclude=[e[e < first] for e in exclude])
        live = self.live
        if live is None:
            return top, rows
        return live.merged(queries, top, rows, exclude, n)

    def recommend_for_liked(
        self,
        liked: Sequence[str | int],
        k: int = 10,
        *,
        offset: int = 0,
        only: ListFilter | None = None,
        order: ListOrder = "relevance",
    ) -> list[Recommendation]:
        """Recommendations for someone who is not in the data, from movies they liked (titles or
        MovieLens ids): the liked movies are folded into a user vector, no retraining.

        `order="relevance"` (the default): by that vector's retrieval score.
        `order="predicted_rating"`: retrieval's `config.candidates` best matches re-ordered by a
        typical user's predicted rating (the rating model has no row for a new person), as for
        known users. The predicted rating shown is that typical user's. Each movie names the
        liked movie that did most to bring it (`because_title`).
        """
        if not liked:
            raise ReelrankError("no liked movies given: name at least one movie you liked")
        history = np.array(
            list(dict.fromkeys(self.catalog.resolve_movie(m) for m in liked)), np.int64
        )
        lists = self.recommend_for_history(
            history, check_offset(offset) + k, only=only, order=order
        )
        return self._as_recommendations(lists, 0, skip=offset, liked=history)

    def recommend_for_ratings(
        self,
        movie_idx: np.ndarray,
        ratings: np.ndarray,
        k: int = 10,
        *,
        offset: int = 0,
        only: ListFilter | None = None,
        order: ListOrder = "relevance",
        user_id: str | None = None,
    ) -> list[Recommendation]:
        """A list for someone's whole rating history (`[h]` movie indices, oldest first, and
        their `[h]` ratings), computed now: the movies they liked (rated `LIKED_RATING` or
        more; where none, those at their highest rating if that is above the scale's middle)
        are folded in as in `recommend_for_liked`, and every movie they rated is left out, so a
        low rating never pulls similar movies up. With nothing liked: the most popular movies
        they have not rated. A model without a retrieval stage cannot fold a history in: it
        rates for `user_id` where the data has them (else a typical user), their rated movies
        left out."""
        movies = np.asarray(movie_idx, dtype=np.int64)
        ratings = np.asarray(ratings, dtype=np.float64)
        liked = movies[liked_mask(ratings, self.rating_scale)]
        k_all = check_offset(offset) + k
        if self.retrieval is None:
            assert self.rater is not None
            user = 0  # a typical user, for someone the data does not have
            if user_id is not None and user_id in self.catalog.users:
                user = self.catalog.user_index(user_id)
            exclude = np.union1d(movies, self._blocked(only))
            n_rows, n = self.catalog.trained, self._list_length(k_all)
            exclude = exclude[exclude < n_rows]
            rated = best_rated(self.rater, np.array([user]), [exclude], n_rows, n)
            return self._as_recommendations(rated, 0, skip=offset)
        if not len(liked):
            exclude = np.union1d(movies, self._blocked(only))
            popular = self._popular_lists([exclude], self._list_length(k_all))
            return self._as_recommendations(popular, 0, skip=offset)
        lists = self.recommend_for_history(
            liked, k_all, only=only, order=order, also_exclude=movies, recent_first=True
        )
        return self._as_recommendations(lists, 0, skip=offset, liked=liked)

    def check_rating(self, rating: float) -> None:
        """Refuse a rating off the scale the training ratings were given on."""
        low, high = self.rating_scale
        if not low <= rating <= high:
            raise ReelrankError(f"a rating must lie in {low:g}..{high:g}, got {rating:g}")

    def movies_to_rate(self, k: int = 12, *, exclude: Sequence[str] = ()) -> list[MovieInfo]:
        """Movies to offer someone who has rated little, so the next list can be personal: ones
        many people rated (so most have seen them), of varied genres (so each rating tells
        something new); `exclude` (MovieLens ids or titles) are left out, e.g. those rated."""
        check_k(k)
        left_out = np.array([self.catalog.resolve_movie(m) for m in exclude], dtype=np.int64)
        left_out = np.union1d(left_out, self._blocked(None))
        picked = varied_popular(self._log_popularity, self.catalog.table.genres, k, left_out)
        return [self.catalog.info(int(movie)) for movie in picked]

    @torch.no_grad()
    def recommend_for_history(
        self,
        history_idx: np.ndarray,
        k: int = 10,
        *,
        only: ListFilter | None = None,
        order: ListOrder = "relevance",
        also_exclude: np.ndarray | None = None,
        recent_first: bool = False,
    ) -> ServedLists:
        """`recommend_for_liked` by movie index (`[h]` ints > 0): one list, as arrays;
        `also_exclude` leaves out more movies (the ones rated but not liked). With
        `recent_first`, `history_idx` is in the order it was liked, and its last
        `config.recent_likes` movies weigh `config.recent_weight` times more."""
        k = self._list_length(k)
        order = check_order(order, has_rater=self.rater is not None)
        if self.retrieval is None or self.index is None:
            raise ReelrankError(
                "this artifact has no retrieval model; train one with --preset two-stage"
            )
        history = np.asarray(history_idx, dtype=np.int64)
        # A movie added since training is read as its nearest trained one.
        readable = history if self.live is None else self.live.proxy(history)
        query = self.retrieval.fold_in(self._tensor(readable))
        recent, weight = self.config.recent_likes, self.config.recent_weight
        if recent_first and recent and weight and len(np.unique(history)) > recent:
            # The same scale either way: a history no longer than the window is unchanged.
            lately = self.retrieval.fold_in(self._tensor(readable[-recent:]))
            query = (query + weight * lately) / (1.0 + weight)
        exclude = np.union1d(history, self._blocked(only))
        if also_exclude is not None:
            exclude = np.union1d(exclude, np.asarray(also_exclude, dtype=np.int64))
        n = k if order == "relevance" else max(k, self.config.candidates)
        top, rows = self._search(query[None, :], n, [exclude])
        return self._stage_two(
            np.zeros(1, np.int64), rows.cpu().numpy(), top.cpu().numpy(), k, order
        )

    def similar(self, title_or_id: str | int, k: int = 10) -> list[Recommendation]:
        """The movies most like one movie: those the retrieval model recommends to someone who
        liked just that movie, with their retrieval scores (no rating is predicted)."""
        return self._as_recommendations(
            self.similar_to(self.catalog.resolve_movie(title_or_id), k), 0
        )

    @torch.no_grad()
    def similar_to(self, movie_idx: int, k: int = 10) -> ServedLists:
        """`similar` by movie index: one list, as arrays."""
        k = self._list_length(k)
        if self.retrieval is None or self.index is None:
            raise ReelrankError("this artifact has no retrieval model; train --preset two-stage")
        movie = np.array([movie_idx])
        readable = movie if self.live is None else self.live.proxy(movie)
        query = self.retrieval.fold_in(self._tensor(readable))
        exclude = np.union1d(movie, self._blocked(None))
        top, rows = self._search(query[None, :], k, [exclude])
        scores = top.cpu().numpy()
        return ServedLists(rows.cpu().numpy(), scores, None, scores)

    def _stage_two(
        self,
        users: np.ndarray,
        candidates: np.ndarray,
        retrieval_scores: np.ndarray,
        k: int,
        order: ListOrder,
    ) -> ServedLists:
        """Retrieval's `[q, n]` candidates (`-1`: none), best first, for `[q]` users (0: a
        typical user): the first k in retrieval order with their predicted ratings alongside, or
        the k with the highest predicted ratings (`order`)."""
        if self.rater is None:
            return ServedLists(
                candidates[:, :k], retrieval_scores[:, :k], None, retrieval_scores[:, :k]
            )
        if order == "relevance":
            kept, scores = candidates[:, :k], retrieval_scores[:, :k]
            return ServedLists(kept, scores, self._predict(users[:, None], kept), scores)
        ratings = self._predict(users[:, None], candidates)
        return top_by_score(candidates, ratings, retrieval_scores, k)

    def prepare_explanations(self) -> None:
        """Do now the one-off work behind "because you liked" (every movie folded in alone, when
        the catalogue is small enough to keep them), so no request pays for it; a server calls
        this at start-up. Without it the work is done as lists need it (see `Explainer`)."""
        if self._explainer is not None:
            self._explainer.prepare()

    def _as_recommendations(
        self, lists: ServedLists, row: int, *, skip: int = 0, liked: np.ndarray | None = None
    ) -> list[Recommendation]:
        """Row `row` of `lists` from place `skip` on, as people see it; each movie explained by
        one of the `liked` movie indices (oldest first) where given."""
        places = slice(skip, None)
        movies = lists.movies[row, places]
        found = movies >= 0
        ratings, scores = lists.predicted_rating, lists.retrieval_score
        because = None
        if liked is not None and self._explainer is not None:
            # Only trained movies explain, and are explained: the models know those alone.
            listed, trained = movies[found], self.catalog.trained
            because = np.full(len(listed), -1, dtype=np.int64)
            known = listed < trained
            because[known] = self._explainer.because(liked[liked < trained], listed[known])
        return recommendations(
            self.catalog,
            movies[found],
            None if ratings is None else ratings[row, places][found],
            None if scores is None else scores[row, places][found],
            because,
        )

    # -- artifacts ------------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write this recommender as an artifact directory (atomically)."""
        parts = RecommenderParts(
            config=self.config,
            catalog=self.catalog,
            seen=self.seen,
            rater=self.rater,
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
