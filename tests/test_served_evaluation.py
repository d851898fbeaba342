"""What people are served, scored: each path's figures against lists worked out by hand."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from reelrank.config import TrainingConfig, preset
from reelrank.data.encoding import EncodedRatings, UserRatings
from reelrank.data.splits import split_ratings
from reelrank.experiment import train_recommender
from reelrank.recommender import Recommender
from reelrank.served_evaluation import _popularity_percentile, evaluate_served
from reelrank.types import Ratings

FAST = TrainingConfig(batch_size=256, epochs=3)


@pytest.fixture(scope="module")
def two_stage(ratings: Ratings) -> Recommender:
    config = preset("two-stage")
    return train_recommender(
        ratings, dataclasses.replace(config, training=FAST, retrieval_training=FAST)
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
