import pytest

from reelrank.recommender import Recommender
from reelrank.types import ReelrankError, UnknownIdError


def test_recommend_excludes_seen_unless_asked(recommender: Recommender) -> None:
    seen = {title for _, title, _ in recommender.rated_movies("5")}
    recs = recommender.recommend("5", 10)
    assert len(recs) == 10
    assert not seen & {r.movie_title for r in recs}
    scores = [r.predicted_rating for r in recs]
    assert scores == sorted(scores, reverse=True)
    with_seen = recommender.recommend("5", len(recommender.catalog.movies), include_seen=True)
    assert seen <= {r.movie_title for r in with_seen}


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
