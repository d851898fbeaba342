"""`LowRankItemModel`: EASE's filter on the top singular directions, where dense does not fit."""

from __future__ import annotations

import dataclasses

import torch

from reelrank.config import RetrievalModelConfig, preset
from reelrank.experiment.run import train_recommender
from reelrank.experiment.split import prepare
from reelrank.models.retrieval.factory import dense_item_item_mb, fit_closed_form
from reelrank.models.retrieval.low_rank import LowRankItemModel
from reelrank.types import Ratings


def test_the_dense_budget_picks_the_model(ratings: Ratings) -> None:
    split = prepare(ratings, preset("ease"))
    sizes = {"n_users": len(split.vocabs.users), "n_movies": len(split.vocabs.movies)}
    pairs = (torch.from_numpy(split.train.user_idx), torch.from_numpy(split.train.movie_idx))
    roomy = RetrievalModelConfig(kind="ease", ease_lambda=10.0)
    assert not isinstance(fit_closed_form(roomy, *pairs, **sizes), LowRankItemModel)
    tight = dataclasses.replace(roomy, dense_item_item_mb=0, approx_rank=5, approx_lambda=10.0)
    low = fit_closed_form(tight, *pairs, **sizes)
    assert isinstance(low, LowRankItemModel) and low.movie_factors.shape[1] == 5
    assert float(low.spectral_filter.max()) < 1 and float(low.spectral_filter.min()) > 0
    # MovieLens 25M's shape needs far more than the default 2 GB dense; 100k's far less.
    assert dense_item_item_mb(162_541, 62_423) > 2048 > dense_item_item_mb(943, 1682)


def test_a_user_vector_is_the_sum_of_their_movies(ratings: Ratings) -> None:
    split = prepare(ratings, preset("ease"))
    seen = split.train.by_user(split.vocabs.users.size)
    histories = (torch.from_numpy(seen.indptr), torch.from_numpy(seen.movie_idx))
    config = RetrievalModelConfig(kind="ease", approx_lambda=10.0, approx_rank=8)
    model = LowRankItemModel.fit(config, histories, n_movies=len(split.vocabs.movies))
    user = 5
    movies = torch.from_numpy(seen.movies_of(user))
    expected = model.movie_factors[movies].sum(0) * model.spectral_filter
    torch.testing.assert_close(model.user_embedding(torch.tensor([user]))[0], expected)
    torch.testing.assert_close(model.fold_in(movies), expected)


def test_low_rank_lists_beat_popularity(ratings: Ratings) -> None:
    config = preset("ease")
    assert config.retrieval is not None
    low = dataclasses.replace(
        config,
        retrieval=dataclasses.replace(
            config.retrieval, dense_item_item_mb=0, approx_rank=8, approx_lambda=10.0
        ),
    )
    key = "known_user/ndcg@10"
    assert (
        train_recommender(ratings, low).metrics[key]
        > train_recommender(ratings, preset("popularity")).metrics[key]
    )
