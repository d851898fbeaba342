"""A trained recommender serving a rating store's movie table: the movies added after training
(refined by their stored ratings), edits and takedowns, as `reelrank serve` and the `store`
commands see them."""

from __future__ import annotations

from reelrank.recommender.live_movies import CONTENT_TRUST
from reelrank.recommender.recommender import Recommender
from reelrank.store.store import RatingStore


def with_store_movies(
    trained: Recommender, store: RatingStore, *, trust: float = CONTENT_TRUST
) -> Recommender:
    """`trained` serving the store's movie table: its added movies (refined by their stored
    ratings), edits and takedowns (`Recommender.with_movies`, `trust` as there)."""
    movies = store.movies.all()
    if not movies:
        return trained
    added = [m.movie_id for m in movies if m.added]
    rated = store.ratings_of_movies(added) if added else []
    known = trained.catalog.users
    # Raters the model never saw are folded in from their stored histories.
    strangers = {r.user_id for r in rated if r.user_id not in known}
    histories = {user: store.ratings_of(user) for user in strangers}
    return trained.with_movies(movies, rated, histories, trust=trust)
