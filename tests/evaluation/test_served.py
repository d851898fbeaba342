"""What people are served, scored: each path's figures against lists worked out by hand."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from reelrank.config import RatingModelConfig, TrainingConfig, preset
from reelrank.data.encoding.encoded import EncodedRatings, UserRatings
from reelrank.data.splits import split_ratings
from reelrank.evaluation.served import (
    _popularity_percentile,
    evaluate_liked_counts,
    evaluate_served,
    scorable_test,
)
from reelrank.experiment.run import evaluate_recommender, train_recommender
from reelrank.recommender.recommender import Recommender
from reelrank.types import Ratings

FAST = TrainingConfig(batch_size=256, epochs=3)


@pytest.fixture(scope="module")
def two_stage(ratings: Ratings) -> Recommender:
    config = preset("two-stage")
    return train_recommender(
        ratings,
        dataclasses.replace(
            config, rating=RatingModelConfig(), training=FAST, retrieval_training=FAST
        ),
    )


def test_every_path_is_reported_with_both_relevances(two_stage: Recommender) -> None:
    metrics = two_stage.metrics
    for path in ("known_user", "liked", "similar"):
        for k in (10, 20, 50, 100):
            for name in ("recall", "ndcg", "hit_rate"):
                assert 0.0 <= metrics[f"{path}/{name}@{k}"] <= 1.0
                assert f"{path}/4+/{name}@{k}" in metrics
        assert 0.0 < metrics[f"{path}/coverage@10"] <= 1.0
        assert 0.0 <= metrics[f"{path}/popularity_percentile@10"] <= 100.0
        assert metrics[f"{path}/users"] > 0
    assert metrics["known_user/recall@100"] >= metrics["known_user/recall@10"]


def test_the_liked_path_scores_what_recommend_for_liked_serves(
    two_stage: Recommender, ratings: Ratings
) -> None:
    """Recall@10 of the liked path, worked out from `recommend_for_liked` called as a person
    would: with the titles of each test user's training movies rated 4 or more."""
    config = two_stage.config
    train, test = split_ratings(ratings, config.split, seed=config.training.seed)
    recalls = []
    for user in np.unique(test.user_id):
        mine = train.user_id == user
        liked = train.movie_title[mine & (train.user_rating >= 4)]
        if not len(liked):
            continue
        wanted = set(test.movie_title[test.user_id == user])
        served = {r.movie_title for r in two_stage.recommend_for_liked(list(liked), 10)}
        recalls.append(len(served & wanted) / len(wanted))
    assert two_stage.metrics["liked/users"] == len(recalls)
    assert two_stage.metrics["liked/recall@10"] == pytest.approx(np.mean(recalls))


def test_the_rating_4_relevance_counts_only_liked_held_out_movies(
    two_stage: Recommender, ratings: Ratings
) -> None:
    config = two_stage.config
    _, test = split_ratings(ratings, config.split, seed=config.training.seed)
    encoded = EncodedRatings.encode(test, two_stage.catalog.vocabs)
    low = encoded.take(encoded.rating < 4)
    figures = evaluate_served(two_stage, low)
    assert "known_user/recall@10" in figures
    assert not any("/4+/" in key for key in figures)  # nobody has a liked held-out movie


def test_popularity_percentile_hand_worked() -> None:
    # Movies 1..4 rated 3, 1, 1 and 0 times: percentiles 87.5, 50, 50 and 12.5.
    seen = UserRatings(
        indptr=np.array([0, 0, 3, 5]),
        movie_idx=np.array([1, 2, 3, 1, 1]),
        rating=np.ones(5, dtype=np.float32),
    )
    assert _popularity_percentile(seen, 5).tolist() == [0.0, 87.5, 50.0, 50.0, 12.5]


@pytest.fixture(scope="module")
def own_test(two_stage: Recommender, ratings: Ratings) -> EncodedRatings:
    test, dropped = scorable_test(two_stage, ratings)
    assert dropped == 0  # a split's own test rows were never trained on
    return test


def test_liked_counts_are_opt_in(two_stage: Recommender, own_test: EncodedRatings) -> None:
    assert not any(key.startswith("liked@") for key in two_stage.metrics)
    figures = evaluate_served(two_stage, own_test, liked_counts=(1, 3, 10))
    for count in (1, 3, 10):
        assert figures[f"liked@{count}/users"] > 0
        for name in ("recall", "ndcg", "hit_rate"):
            assert 0.0 <= figures[f"liked@{count}/{name}@10"] <= 1.0
        assert f"liked@{count}/coverage@10" in figures
    # The other paths' figures are those `train` saved (on the same test rows).
    others = {k: v for k, v in figures.items() if not k.startswith("liked@")}
    assert others == pytest.approx({k: two_stage.metrics[k] for k in others})
    assert evaluate_liked_counts(two_stage, own_test, (1, 3, 10)) == pytest.approx(
        {k: v for k, v in figures.items() if k.startswith("liked@")}
    )


def test_liked_at_n_scores_the_latest_n_liked_movies(
    two_stage: Recommender, ratings: Ratings, own_test: EncodedRatings
) -> None:
    """Recall@10 given the latest 3 liked movies, worked out from `recommend_for_liked` called
    as a person would, with the titles of each test user's 3 latest training movies rated 4+."""
    config = two_stage.config
    train, test = split_ratings(ratings, config.split, seed=config.training.seed)
    recalls, too_few = [], 0
    for user in np.unique(test.user_id):
        mine = np.flatnonzero((train.user_id == user) & (train.user_rating >= 4))
        if not len(mine):
            continue  # not a fan at all: on no liked path
        if len(mine) < 3:
            too_few += 1
            continue
        latest = mine[np.argsort(train.timestamp[mine], kind="stable")][-3:]
        wanted = set(test.movie_title[test.user_id == user])
        served = {
            r.movie_title
            for r in two_stage.recommend_for_liked(list(train.movie_title[latest]), 10)
        }
        recalls.append(len(served & wanted) / len(wanted))
    figures = evaluate_liked_counts(two_stage, own_test, (3,))
    assert figures["liked@3/users"] == len(recalls)
    assert figures["liked@3/users"] + too_few == two_stage.metrics["liked/users"]
    assert figures["liked@3/recall@10"] == pytest.approx(np.mean(recalls))


def test_a_count_nobody_reaches_scores_no_one(
    two_stage: Recommender, own_test: EncodedRatings
) -> None:
    figures = evaluate_liked_counts(two_stage, own_test, (100_000,))
    assert figures == {"liked@100000/users": 0}
    with pytest.raises(ValueError, match="at least 1"):
        evaluate_liked_counts(two_stage, own_test, (0,))


def test_scorable_test_is_what_evaluate_recommender_scores(
    two_stage: Recommender, ratings: Ratings
) -> None:
    test, dropped = scorable_test(two_stage, ratings, "fold:2")
    figures = evaluate_recommender(two_stage, ratings, "fold:2")
    assert dropped == figures["test_ratings_dropped_as_trained_on"] > 0
    assert len(test) == figures["test_ratings"]


def test_served_lists_of_a_seeded_sample_of_users(two_stage: Recommender, ratings: Ratings) -> None:
    config = two_stage.config
    _, test = split_ratings(ratings, config.split, seed=config.training.seed)
    encoded = EncodedRatings.encode(test, two_stage.catalog.vocabs)
    everyone = evaluate_served(two_stage, encoded)
    assert "served/sampled_users_of" not in everyone
    sample = evaluate_served(two_stage, encoded, max_users=10)
    again = evaluate_served(two_stage, encoded, max_users=10)
    assert sample["known_user/users"] == 10 and sample == again
    assert sample["served/sampled_users_of"] == everyone["known_user/users"]


def test_retrieval_metrics_on_the_same_sample_of_users(
    two_stage: Recommender, ratings: Ratings
) -> None:
    from reelrank.evaluation.stages import evaluate_retrieval

    config = two_stage.config
    _, test = split_ratings(ratings, config.split, seed=config.training.seed)
    encoded = EncodedRatings.encode(test, two_stage.catalog.vocabs)
    assert two_stage.retrieval is not None
    everyone = evaluate_retrieval(two_stage.retrieval, two_stage.seen, encoded)
    sample = evaluate_retrieval(
        two_stage.retrieval, two_stage.seen, encoded, max_users=10, seed=config.training.seed
    )
    served = evaluate_served(two_stage, encoded, max_users=10)
    assert "retrieval/sampled_users_of" not in everyone
    assert sample["retrieval/sampled_users_of"] == served["served/sampled_users_of"]
    assert sample["retrieval/recall@10"] != everyone["retrieval/recall@10"]


def test_leave_last_one_out_scores_each_users_latest_movie(ratings: Ratings) -> None:
    """The leave-last protocol: one test movie per user, their latest; HR@10 is whether the
    served list (the whole catalogue less their training movies) holds it."""
    config = dataclasses.replace(preset("ease"), split="leave-last:1")
    recommender = train_recommender(ratings, config)
    train, test = split_ratings(ratings, "leave-last:1", seed=config.training.seed)
    assert len(set(test.user_id.tolist())) == len(test)  # one movie per user
    hits, gains = [], []
    for user, movie, when in zip(test.user_id, test.movie_id, test.timestamp, strict=True):
        theirs = train.user_id == user
        assert (train.timestamp[theirs] <= when).all()  # nothing later trains
        listed = [r.movie_id for r in recommender.recommend(str(user), 10)]
        assert not set(listed) & set(train.movie_id[theirs].tolist())
        place = listed.index(movie) if movie in listed else None
        hits.append(place is not None)
        gains.append(0.0 if place is None else 1 / np.log2(place + 2))
    metrics = recommender.metrics
    assert metrics["known_user/hit_rate@10"] == pytest.approx(np.mean(hits))
    assert metrics["known_user/recall@10"] == pytest.approx(np.mean(hits))
    assert metrics["known_user/ndcg@10"] == pytest.approx(np.mean(gains))
    assert 0 < metrics["known_user/hit_rate@10"] < 1
