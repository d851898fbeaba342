"""Evaluation of what people are served: the lists `Recommender` returns, scored on a test split.

A model's own metrics say how a stage does; these say what a person gets. Each path is scored
through the same code that serves it (`recommend_many`, `recommend_for_history`, `similar_to`):

- `known_user`: the list `recommend --user` / `GET /users/{id}/recommendations` serves each test
  user (their training movies left out);
- `liked`: the list `recommend --liked` / the web page serves someone who names the test user's
  training movies rated 4 or more;
- `similar`: the list `similar` serves for the test user's latest training movie rated 4 or more.

For each path: `{path}/recall@k`, `{path}/ndcg@k`, `{path}/hit_rate@k` for k in 10, 20, 50, 100,
with every held-out movie of the user relevant, and the same under `{path}/4+/...` with only the
held-out movies rated 4 or more relevant; `{path}/coverage@10`, the share of the catalogue that
appears in anyone's top 10; `{path}/popularity_percentile@10`, the mean popularity percentile (0:
least rated in training, 100: most) of the movies in the top 10s; `{path}/users`, how many lists
were scored. Ties in a list's order are scored pessimistically (`metrics.pessimistic_hits`).

Quality against how many liked movies someone names (opt-in: `liked_counts=LIKED_COUNTS`, or
`evaluate_liked_counts`): `liked@{n}/...`, the same figures as `liked/...` for the list served
from only the user's latest `n` training movies rated 4 or more (by rating time; the latest 1 are
among the latest 3, those among the latest 10). `liked/...` is the "all of them" point. Users with
fewer than `n` liked movies are left out of `liked@{n}`; `liked@{n}/users` says how many are
scored, so each `n` is averaged over its own users. As on the `liked` path, only held-out movies
are relevant: a training movie the list shows that was not given counts as a miss.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from reelrank import metrics
from reelrank.data.encoding.encoded import EncodedRatings, UserRatings
from reelrank.data.interactions import Interactions, as_interactions
from reelrank.data.splits import split_rows
from reelrank.errors import ReelrankError
from reelrank.evaluation.stages import sample_test_users
from reelrank.recommender.lists import ServedLists
from reelrank.recommender.recommender import Recommender
from reelrank.types import Ratings

SERVED_KS = (10, 20, 50, 100)
LIKED_RATING = 4.0  # "liked": rated 4 or 5 stars
BEYOND_K = 10  # coverage and popularity are read off the first 10 places, the ones people see
LIKED_COUNTS = (1, 3, 10)  # how many liked movies `liked@{n}` gives; `liked` gives all


def evaluate_served(
    recommender: Recommender,
    test: EncodedRatings,
    *,
    ks: tuple[int, ...] = SERVED_KS,
    liked_counts: Sequence[int] = (),
    max_users: int | None = None,
) -> dict[str, float]:
    """Every path's figures (see the module docstring) on `test`, encoded with the recommender's
    vocabularies, and `liked@{n}/...` for each n of `liked_counts`. Test ratings of unknown users
    or movies (index 0) are left out. With more than `max_users` test users, a sample of that
    many (fixed by the training seed) is scored; `served/sampled_users_of` then says of how many."""
    run = _Scoring.of(recommender, test, ks, max_users)
    out = run.score("known_user", run.users, recommender.recommend_many(run.users, run.width))
    if run.sampled_from:
        out["served/sampled_users_of"] = run.sampled_from
    if recommender.retrieval is None or len(run.fans) == 0:
        return out  # liked movies and similar movies need a retrieval model, and someone's likes
    out |= run.score("liked", run.fans, run.liked_lists(run.fans, None))
    # The latest liked movie: `seen` lists each user's training ratings oldest first.
    similar = _stack(run.fans, lambda u: recommender.similar_to(int(run.liked[u][-1]), run.width))
    out |= run.score("similar", run.fans, similar)
    return out | run.liked_counts(liked_counts)


def evaluate_liked_counts(
    recommender: Recommender,
    test: EncodedRatings,
    counts: Sequence[int] = LIKED_COUNTS,
    *,
    ks: tuple[int, ...] = SERVED_KS,
) -> dict[str, float]:
    """Only the `liked@{n}/...` figures of `evaluate_served`, for each n of `counts`: to add them
    to an evaluation made without them. Empty for a recommender without a retrieval model."""
    if recommender.retrieval is None:
        return {}
    return _Scoring.of(recommender, test, ks).liked_counts(counts)


def scorable_test(
    recommender: Recommender, ratings: Ratings | Interactions, split: str | None = None
) -> tuple[EncodedRatings, int]:
    """The test part of `split` (default: the recommender's own) that `evaluate_recommender`
    scores, encoded, and how many of its rows were dropped as trained on (another split of the
    same data overlaps the training rows). `ratings` must be the data the recommender was trained
    on (a model that recorded their fingerprint is checked)."""
    config = recommender.config
    ratings = as_interactions(ratings)
    trained_on_data = recommender.data_info.get("ratings_sha256")
    if trained_on_data is not None and trained_on_data != ratings.fingerprint():
        raise ReelrankError(
            "this model was trained on other ratings than the ones given (their fingerprints "
            "differ), so its training rows cannot be told apart from test rows; evaluate it on "
            "the data it was trained on"
        )
    seed = config.training.seed
    train_rows, _ = split_rows(ratings, config.split, seed=seed)
    _, test_rows = split_rows(ratings, split or config.split, seed=seed)
    trained_on = np.isin(test_rows, train_rows)
    test = EncodedRatings.encode(ratings.take(test_rows[~trained_on]), recommender.catalog.vocabs)
    if len(test) == 0:
        raise ReelrankError(
            f"every test rating of split {split or config.split!r} was in this model's training "
            f"data (it was trained on split {config.split!r}, seed {seed}); evaluate on its "
            "own split or retrain on the one you want to test"
        )
    return test, int(trained_on.sum())


@dataclass(frozen=True, eq=False)
class _Scoring:
    """What every path's scoring shares: the test users, their held-out and liked movies."""

    recommender: Recommender
    held_out: UserRatings
    users: np.ndarray  # [u] the test users' indices
    liked: dict[int, np.ndarray]  # each test user's training movies rated 4+, oldest first
    fans: np.ndarray  # [f] the test users with at least one liked movie
    popularity: np.ndarray
    ks: tuple[int, ...]
    sampled_from: int = 0  # the test users the sample `users` was drawn from (0: no sample)

    @property
    def width(self) -> int:
        return max(self.ks)

    @classmethod
    def of(
        cls,
        recommender: Recommender,
        test: EncodedRatings,
        ks: tuple[int, ...],
        max_users: int | None = None,
    ) -> _Scoring:
        test = test.take((test.user_idx > 0) & (test.movie_idx > 0))
        if len(test) == 0:
            raise ValueError(
                "no test rating of a known user and movie to score the served lists on"
            )
        seen = recommender.seen
        seed = recommender.config.training.seed
        test, users, sampled_from = sample_test_users(test, max_users, seed)
        # A table without ratings (views: every rating 1) likes everything it holds.
        threshold = min(LIKED_RATING, float(seen.rating.max())) if len(seen.rating) else 0.0
        liked = {int(u): _liked(seen, int(u), threshold) for u in users}
        return cls(
            recommender=recommender,
            held_out=test.by_user(seen.n_users),
            users=users,
            liked=liked,
            fans=np.array([u for u in users if len(liked[int(u)])], dtype=np.int64),
            popularity=_popularity_percentile(seen, recommender.catalog.movies.size),
            ks=ks,
            sampled_from=sampled_from,
        )

    def score(self, path: str, users: np.ndarray, lists: ServedLists) -> dict[str, float]:
        # A catalogue smaller than the largest k serves shorter lists: empty places are misses.
        lists = lists.padded(self.width)
        return _path_metrics(path, users, lists, self.held_out, self.ks, self.popularity)

    def liked_lists(self, users: np.ndarray, count: int | None) -> ServedLists:
        """The liked path's list for each of `users`, from their latest `count` liked movies (all
        of them when None)."""
        first = 0 if count is None else -count
        return _stack(
            users,
            lambda u: self.recommender.recommend_for_history(self.liked[u][first:], self.width),
        )

    def liked_counts(self, counts: Sequence[int]) -> dict[str, float]:
        out: dict[str, float] = {}
        for count in counts:
            if count < 1:
                raise ValueError(f"a liked-movie count must be at least 1, got {count}")
            users = np.array([u for u in self.fans if len(self.liked[int(u)]) >= count], np.int64)
            path = f"liked@{count}"
            out[f"{path}/users"] = 0
            if len(users):
                out |= self.score(path, users, self.liked_lists(users, count))
        return out


def _liked(seen: UserRatings, user: int, threshold: float) -> np.ndarray:
    """The user's training movies rated `threshold` or more, oldest first."""
    return seen.movies_of(user)[seen.ratings_of(user) >= threshold]


def _stack(users: np.ndarray, one: Callable[[int], ServedLists]) -> ServedLists:
    """Single-query lists, one per user, stacked into one `[users, k]` set."""
    lists = [one(int(u)) for u in users]
    return ServedLists(
        movies=np.concatenate([x.movies for x in lists]),
        order_score=np.concatenate([x.order_score for x in lists]),
        predicted_rating=None,
        retrieval_score=None,
    )


def _path_metrics(
    path: str,
    users: np.ndarray,
    lists: ServedLists,
    held_out: UserRatings,
    ks: tuple[int, ...],
    popularity: np.ndarray,
) -> dict[str, float]:
    out: dict[str, float] = {f"{path}/users": len(users)}
    for prefix, min_rating in ((path, None), (f"{path}/4+", LIKED_RATING)):
        relevant = [_relevant(held_out, int(u), min_rating) for u in users]
        indptr = np.r_[0, np.cumsum([len(r) for r in relevant])].astype(np.int64)
        if indptr[-1] == 0:
            continue  # nobody has a held-out movie at this rating
        scored = metrics.ranking_metrics(
            lists.movies,
            indptr,
            np.concatenate(relevant),
            ks=ks,
            top_scores=lists.order_score,
        )
        out |= {f"{prefix}/{name}": value for name, value in scored.items()}
    first = lists.movies[:, :BEYOND_K]
    shown = first[first > 0]
    out[f"{path}/coverage@{BEYOND_K}"] = len(np.unique(shown)) / (len(popularity) - 1)
    out[f"{path}/popularity_percentile@{BEYOND_K}"] = (
        float(popularity[shown].mean()) if len(shown) else 0.0
    )
    return out


def _relevant(held_out: UserRatings, user: int, min_rating: float | None) -> np.ndarray:
    movies = held_out.movies_of(user)
    if min_rating is not None:
        movies = movies[held_out.ratings_of(user) >= min_rating]
    return np.unique(movies)


def _popularity_percentile(seen: UserRatings, n_rows: int) -> np.ndarray:
    """`[n_rows]` each movie's percentile of training rating counts among the known movies (ties
    share the middle of their span); row 0, the unknown movie, is 0."""
    counts = np.bincount(seen.movie_idx, minlength=n_rows)[1:]
    order = np.sort(counts)
    below = np.searchsorted(order, counts, side="left")
    up_to = np.searchsorted(order, counts, side="right")
    return np.r_[0.0, 100.0 * (below + up_to) / (2 * len(counts))]
