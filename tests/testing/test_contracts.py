"""The contract suites catch what they promise to: models broken on purpose fail them."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from reelrank.config import RatingModelConfig
from reelrank.models.rating.base import RatingModel
from reelrank.models.rating.mlp import RatingMLP
from reelrank.models.retrieval.base import RetrievalModel
from reelrank.models.retrieval.popularity import Popularity
from reelrank.testing import Subject, check_rating_model, check_retrieval_model
from reelrank.testing.contracts import (
    the_seed_alone_decides_the_weights,
    the_unknown_movie_never_wins,
)

N_USERS, N_MOVIES = 6, 9
CONFIG = RatingModelConfig(embedding_dim=4, hidden_dims=(8,))


def _mlp(seed: int) -> RatingModel:
    model = RatingMLP(
        CONFIG, n_users=N_USERS, n_movies=N_MOVIES, generator=torch.Generator().manual_seed(seed)
    )
    model.set_rating_scale(1.0, 5.0)
    return model


def _rebuilt_mlp(state: dict[str, Tensor]) -> RatingModel:
    model = RatingMLP(CONFIG, n_users=N_USERS, n_movies=N_MOVIES)
    model.load_state_dict(state, strict=True)
    return model


def _popularity(seed: int) -> RetrievalModel:
    watched = torch.randint(1, N_MOVIES + 1, (40,), generator=torch.Generator().manual_seed(0))
    return Popularity(n_movies=N_MOVIES).fit(watched)


def _rebuilt_popularity(state: dict[str, Tensor]) -> RetrievalModel:
    model = Popularity(n_movies=N_MOVIES)
    model.load_state_dict(state, strict=True)
    return model


def test_sound_models_pass() -> None:
    check_rating_model(Subject(_mlp, _rebuilt_mlp, n_users=N_USERS, n_movies=N_MOVIES))
    popularity = Subject(
        _popularity, _rebuilt_popularity, n_users=N_USERS, n_movies=N_MOVIES, learned=False
    )
    check_retrieval_model(popularity)


def test_a_model_drawn_from_the_global_generator_fails() -> None:
    def global_draw(seed: int) -> RatingModel:
        return RatingMLP(CONFIG, n_users=N_USERS, n_movies=N_MOVIES, generator=None)

    subject = Subject(global_draw, _rebuilt_mlp, n_users=N_USERS, n_movies=N_MOVIES)
    with pytest.raises(AssertionError, match="differs between builds of one seed"):
        the_seed_alone_decides_the_weights(subject)


def test_a_model_whose_unknown_movie_can_win_fails() -> None:
    class Leaky(Popularity):
        def score_all(self, user_idx: Tensor) -> Tensor:
            scores = super().score_all(user_idx)
            scores[:, 0] = 1e9
            return scores

    def leaky(seed: int) -> RetrievalModel:
        model = Leaky(n_movies=N_MOVIES)
        model.load_state_dict(_popularity(seed).state_dict())
        return model

    subject = Subject(leaky, _rebuilt_popularity, n_users=N_USERS, n_movies=N_MOVIES)
    with pytest.raises(AssertionError, match="unknown movie must score -inf"):
        the_unknown_movie_never_wins(subject)
