import dataclasses

import numpy as np
import pytest

from reelrank.config import preset
from reelrank.data.catalog.catalog import ListFilter
from reelrank.errors import ReelrankError, UnknownIdError
from reelrank.experiment.run import train_recommender
from reelrank.recommender.recommender import Recommender
from reelrank.types import Ratings


def test_recommend_excludes_seen_unless_asked(recommender: Recommender) -> None:
    seen = {title for _, title, _ in recommender.rated_movies("5")}
    recs = recommender.recommend("5", 10)
    assert len(recs) == 10
    assert not seen & {r.movie_title for r in recs}
    scores = [r.predicted_rating for r in recs]
    assert scores == sorted(scores, reverse=True)
    with_seen = recommender.recommend("5", len(recommender.catalog.movies), include_seen=True)
    assert seen <= {r.movie_title for r in with_seen}


def test_a_ranking_model_alone_orders_by_predicted_rating_either_way(
    recommender: Recommender,
) -> None:
    assert recommender.retrieval is None
    by_rating = recommender.recommend("5", 10, order="predicted_rating")
    assert by_rating == recommender.recommend("5", 10, order="relevance")
    assert all(r.because_title is None for r in by_rating)  # no retrieval model to say why
    with pytest.raises(ReelrankError, match="order must be 'relevance'"):
        recommender.recommend("5", 10, order="rating")  # type: ignore[arg-type]


def test_k_larger_than_catalogue_returns_every_unseen_movie(recommender: Recommender) -> None:
    n_unseen = len(recommender.catalog.movies) - len(recommender.rated_movies("5"))
    assert len(recommender.recommend("5", 10_000)) == n_unseen


def test_score_matches_recommend(recommender: Recommender) -> None:
    top = recommender.recommend("5", 1)[0]
    scored = recommender.score("5", [top.movie_title])[0]
    assert scored.predicted_rating == pytest.approx(top.predicted_rating)
    assert scored.movie_id == top.movie_id


@pytest.mark.parametrize("k", [0, -1])
def test_bad_k(recommender: Recommender, k: int) -> None:
    with pytest.raises(ReelrankError, match="k must be a positive integer"):
        recommender.recommend("5", k)


def test_unknown_user_and_title(recommender: Recommender) -> None:
    with pytest.raises(UnknownIdError, match="unknown user_id '9999'"):
        recommender.recommend("9999")
    title = recommender.catalog.movies.term(1)
    with pytest.raises(UnknownIdError, match="Did you mean"):
        recommender.score("5", [title[:-2] + "9)"])
    with pytest.raises(ReelrankError, match="no movies to score"):
        recommender.score("5", [])


def test_users_with_too_little_history_get_the_most_popular_movies(ratings: Ratings) -> None:
    counts = {u: int((ratings.user_id == u).sum()) for u in set(ratings.user_id.tolist())}
    # About half the users have fewer training ratings than this: they are "cold".
    threshold = int(np.median(list(counts.values())) * 0.8)
    config = dataclasses.replace(preset("ease"), min_history=threshold)
    mixed = train_recommender(ratings, config)
    personal = train_recommender(ratings, dataclasses.replace(config, min_history=0))
    seen = np.diff(mixed.seen.indptr)
    users = np.arange(1, mixed.catalog.users.size)
    cold = seen[users] < threshold
    assert cold.any() and not cold.all()
    lists = mixed.recommend_many(users, 5)
    expected = personal.recommend_many(users, 5)
    # Warm users keep their personal lists; cold ones get popularity, their own movies left out.
    assert np.array_equal(lists.movies[~cold], expected.movies[~cold])
    counts_in_training = np.bincount(mixed.seen.movie_idx, minlength=mixed.catalog.movies.size)
    for row in np.flatnonzero(cold):
        own = set(mixed.seen.movies_of(int(users[row])).tolist())
        popular = [
            m for m in np.argsort(-counts_in_training[1:], kind="stable") + 1 if m not in own
        ]
        assert lists.movies[row].tolist() == popular[:5]
    user_id = mixed.catalog.users.term(int(users[np.flatnonzero(cold)[0]]))
    assert "too few for a personal list" in (mixed.popular_instead(user_id) or "")
    assert [r.retrieval_score for r in mixed.recommend(user_id, 3)] == [None] * 3
    assert [r.because_title for r in mixed.recommend(user_id, 3)] == [None] * 3
    warm_id = mixed.catalog.users.term(int(users[np.flatnonzero(~cold)[0]]))
    assert mixed.popular_instead(warm_id) is None
    assert all(r.because_title is not None for r in mixed.recommend(warm_id, 3))


def test_pages_and_filters_narrow_the_same_ranking(ratings: Ratings) -> None:
    ease = train_recommender(ratings, preset("ease"))
    full = ease.recommend("5", 1000)
    assert ease.recommend("5", 5, offset=5) == full[5:10]
    genre = next(g for g in full[0].genres if g != "unknown")
    comedy_or_not = ease.recommend("5", 8, only=ListFilter((genre.lower(),)))
    assert comedy_or_not == [r for r in full if genre in r.genres][:8]
    years = ListFilter(year_from=1990, year_to=1995)
    assert (
        ease.recommend("5", 8, only=years)
        == [r for r in full if r.year is not None and 1990 <= r.year <= 1995][:8]
    )
    liked = [full[0].movie_title]
    every = ease.recommend_for_liked(liked, 1000)
    assert (
        ease.recommend_for_liked(liked, 4, offset=2, only=years)
        == [r for r in every if r.year is not None and 1990 <= r.year <= 1995][2:6]
    )


def test_bad_filters_and_offsets_say_what_to_do(recommender: Recommender) -> None:
    with pytest.raises(ReelrankError, match="unknown genre 'Cartoons'; choose from Action"):
        ListFilter(("Cartoons",))
    assert recommender.recommend("5", 3, only=ListFilter(year_from=2000, year_to=1990)) == []
    with pytest.raises(ReelrankError, match="offset must be a whole number >= 0"):
        recommender.recommend("5", 3, offset=-1)
