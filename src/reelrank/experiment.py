"""An experiment end to end: split the ratings, train the configured models, evaluate, and wrap
them in a `Recommender`. The CLI's `train` and `evaluate` and the benchmarks call this."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from reelrank.config import ExperimentConfig
from reelrank.data.encoding import Catalog, EncodedRatings, Vocabularies
from reelrank.data.splits import split_ratings
from reelrank.evaluation import evaluate_ranking
from reelrank.models.ranking import RankingModel
from reelrank.recommender import Recommender, SeenRatings
from reelrank.training import ProgressCallback, fit_ranking
from reelrank.types import Ratings, ReelrankError


@dataclass(frozen=True)
class SplitData:
    """A split, encoded with the vocabularies of the whole data set (as the seed builds them)."""

    vocabs: Vocabularies
    train: EncodedRatings
    test: EncodedRatings
    catalog: Catalog


def prepare(ratings: Ratings, config: ExperimentConfig) -> SplitData:
    """Build vocabularies and catalogue from all ratings, split, and encode both parts."""
    if len(ratings) == 0:
        raise ReelrankError("the ratings table is empty: nothing to train on")
    vocabs = Vocabularies.from_ratings(ratings)
    train, test = split_ratings(ratings, config.split, seed=config.training.seed)
    return SplitData(
        vocabs=vocabs,
        train=EncodedRatings.encode(train, vocabs),
        test=EncodedRatings.encode(test, vocabs),
        catalog=Catalog.from_ratings(ratings, vocabs.movies),
    )


def seen_ratings(train: EncodedRatings, vocabs: Vocabularies) -> SeenRatings:
    indptr, movie_idx, rating = train.by_user(vocabs.users.size)
    return SeenRatings(indptr=indptr, movie_idx=movie_idx, rating=rating)


def new_ranking_model(config: ExperimentConfig, vocabs: Vocabularies) -> RankingModel:
    """A freshly initialised ranking model; the same seed gives the same weights."""
    if config.ranking is None:
        raise ReelrankError(f"preset {config.preset!r} has no ranking model")
    torch.manual_seed(config.training.seed)
    return RankingModel(config.ranking, n_users=len(vocabs.users), n_movies=len(vocabs.movies))


def train_recommender(
    ratings: Ratings,
    config: ExperimentConfig,
    *,
    on_progress: ProgressCallback | None = None,
    data_info: dict[str, Any] | None = None,
) -> Recommender:
    """Train every model `config` names on its split, evaluate on the held-out part, and return
    the `Recommender` (its `metrics` hold the evaluation)."""
    data = prepare(ratings, config)
    ranking = new_ranking_model(config, data.vocabs)
    fit_ranking(ranking, data.train, config.training, on_progress=on_progress)
    metrics: dict[str, Any] = {}
    if len(data.test):
        metrics = evaluate_ranking(ranking, data.test, batch_size=config.training.eval_batch_size)
    metrics["train_ratings"] = len(data.train)
    metrics["test_ratings"] = len(data.test)
    return Recommender(
        config=config,
        vocabs=data.vocabs,
        catalog=data.catalog,
        seen=seen_ratings(data.train, data.vocabs),
        ranking=ranking,
        metrics=metrics,
        data_info=data_info,
    )


def evaluate_recommender(
    recommender: Recommender, ratings: Ratings, split: str | None = None
) -> dict[str, Any]:
    """Evaluate a trained recommender on the test part of `split` (default: its own split).

    Ratings of users or titles the model does not know fall into the unknown slot, as in the seed.
    """
    config = recommender.config
    _, test = split_ratings(ratings, split or config.split, seed=config.training.seed)
    encoded = EncodedRatings.encode(test, recommender.vocabs)
    metrics: dict[str, Any] = dict(
        evaluate_ranking(recommender.ranking, encoded, batch_size=config.training.eval_batch_size)
    )
    metrics["test_ratings"] = len(encoded)
    return metrics
