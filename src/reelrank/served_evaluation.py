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
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from reelrank import metrics
from reelrank.data.encoding import EncodedRatings, UserRatings
from reelrank.recommender import Recommender
from reelrank.served_lists import ServedLists

SERVED_KS = (10, 20, 50, 100)
LIKED_RATING = 4.0  # "liked": rated 4 or 5 stars
BEYOND_K = 10  # coverage and popularity are read off the first 10 places, the ones people see


def evaluate_served(
    recommender: Recommender, test: EncodedRatings, *, ks: tuple[int, ...] = SERVED_KS
) -> dict[str, float]:
    """Every path's figures (see the module docstring) on `test`, encoded with the recommender's
    vocabularies. Test ratings of unknown users or movies (index 0) are left out."""
    test = test.take((test.user_idx > 0) & (test.movie_idx > 0))
    if len(test) == 0:
        raise ValueError("no test rating of a known user and movie to score the served lists on")
    seen = recommender.seen
    held_out = test.by_user(seen.n_users)
    users = np.unique(test.user_idx)
    width = max(ks)
    popularity = _popularity_percentile(seen, recommender.catalog.movies.size)
    out: dict[str, float] = {}

    def report(path: str, users: np.ndarray, lists: ServedLists) -> None:
        out.update(_path_metrics(path, users, lists, held_out, ks, popularity))

    report("known_user", users, recommender.recommend_many(users, width))
    if recommender.retrieval is None:
        return out  # liked movies and similar movies need a retrieval model
    liked = {int(u): _liked(seen, int(u)) for u in users}
    fans = np.array([u for u in users if len(liked[int(u)])], dtype=np.int64)
    if len(fans) == 0:
        return out
    report(
        "liked", fans, _stack(fans, lambda u: recommender.recommend_for_history(liked[u], width))
    )
    # The latest liked movie: `seen` lists each user's training ratings oldest first.
    report(
        "similar", fans, _stack(fans, lambda u: recommender.similar_to(int(liked[u][-1]), width))
    )
    return out


def _liked(seen: UserRatings, user: int) -> np.ndarray:
    """The user's training movies rated 4 or more, oldest first."""
    return seen.movies_of(user)[seen.ratings_of(user) >= LIKED_RATING]


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
