"""Every rating model kind passes the rating contract of `reelrank.testing.contracts` (the same
ratings through `forward`, `rate`, `rate_grid` and `predict`; a safetensors round trip; unknown
ids within the scale; the seed alone decides; clipped outside training only), plus the
factory's refusals, the seed config's draw order and the ensemble's blend."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pytest
import torch

from reelrank.config import RatingComponent, RatingModelConfig, TrainingConfig
from reelrank.models.rating.base import RatingModel
from reelrank.models.rating.ensemble import Ensemble, least_squares_weights
from reelrank.models.rating.factory import (
    feature_names,
    needs_histories,
    new_rating_model,
    rating_model_for_state,
)
from reelrank.testing.contracts import RATING_CHECKS, Subject

N_USERS, N_MOVIES = 12, 20
FEATURES = RatingModelConfig(
    biases=True,
    user_features=("gender", "age", "occupation", "zip_prefix", "active_time"),
    movie_features=("genres", "year"),
)
KINDS: dict[str, RatingModelConfig] = {
    "seed": RatingModelConfig(),
    "seed-biased": RatingModelConfig(biases=True),
    "features": FEATURES,
    "dcn": dataclasses.replace(FEATURES, cross_layers=2),
    "mf": RatingModelConfig(kind="mf", embedding_dim=8, l2=0.1),
    "svdpp": RatingModelConfig(kind="mf", embedding_dim=8, l2=0.1, implicit=True),
    "autorec": RatingModelConfig(kind="autorec", hidden_dims=(16,), l2=1.0),
    "ensemble": RatingModelConfig(
        kind="ensemble",
        components=(
            RatingComponent(RatingModelConfig(kind="mf", embedding_dim=4)),
            RatingComponent(RatingModelConfig(kind="autorec", hidden_dims=(8,))),
            RatingComponent(RatingModelConfig(biases=True, hidden_dims=(8,))),
        ),
    ),
}


def _tables() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    users = {
        name: torch.randint(0, 4, (N_USERS + 1,), generator=g)
        for name in ("gender", "age", "occupation", "zip_prefix", "active_time")
    }
    genres = (torch.rand(N_MOVIES + 1, 5, generator=g) > 0.6).float()
    year = torch.randint(0, 6, (N_MOVIES + 1,), generator=g)
    return {**users, "genres": genres, "year": year}


def _histories() -> tuple[torch.Tensor, torch.Tensor]:
    counts = torch.tensor([0] + [3] * N_USERS)  # row 0, the unknown user, has none
    indptr = torch.zeros(N_USERS + 2, dtype=torch.int64)
    indptr[1:] = torch.cumsum(counts, 0)
    movies = torch.arange(int(counts.sum())) % N_MOVIES + 1
    return indptr, movies


def _model(name: str, seed: int = 0) -> RatingModel:
    config = KINDS[name]
    model = new_rating_model(
        config,
        n_users=N_USERS,
        n_movies=N_MOVIES,
        tables=_tables() if feature_names(config) else None,
        histories=_histories() if needs_histories(config) else None,
        generator=torch.Generator().manual_seed(seed),
    )
    model.set_rating_scale(1.0, 5.0)
    if hasattr(model, "codes"):  # an AutoRec's codes come from training ratings: any will do
        model.codes.uniform_(0, 1, generator=torch.Generator().manual_seed(seed))
    return model.eval()


def _subject(name: str) -> Subject[RatingModel]:
    def rebuild(state: dict[str, torch.Tensor]) -> RatingModel:
        model = rating_model_for_state(KINDS[name], state, n_users=N_USERS, n_movies=N_MOVIES)
        model.load_state_dict(state, strict=True)
        return model

    return Subject(lambda seed: _model(name, seed), rebuild, n_users=N_USERS, n_movies=N_MOVIES)


@pytest.mark.parametrize("check", RATING_CHECKS, ids=lambda check: check.__name__)
@pytest.mark.parametrize("name", list(KINDS))
def test_every_kind_passes_the_rating_contract(
    name: str, check: Callable[[Subject[RatingModel]], None]
) -> None:
    check(_subject(name))


def test_out_of_range_indices_are_refused() -> None:
    model = _model("mf")
    with pytest.raises(ValueError, match=r"user indices must lie in 0\.\.12"):
        model.predict(np.array([13]), np.array([1]))
    with pytest.raises(ValueError, match="movie indices"):
        model.predict(np.array([1]), np.array([-1]))


def test_unknown_kind_and_feature_are_named() -> None:
    with pytest.raises(ValueError, match="unknown rating model kind 'gbdt'"):
        new_rating_model(RatingModelConfig(kind="gbdt"), n_users=2, n_movies=2)
    bad = RatingModelConfig(user_features=("shoe_size",))
    with pytest.raises(ValueError, match="unknown user feature 'shoe_size'"):
        new_rating_model(bad, n_users=2, n_movies=2, tables={})
    with pytest.raises(ValueError, match="needs the users' training histories"):
        new_rating_model(KINDS["svdpp"], n_users=2, n_movies=2)
    nested = RatingModelConfig(kind="ensemble", components=(RatingComponent(KINDS["ensemble"]),))
    with pytest.raises(ValueError, match="cannot be ensembles"):
        new_rating_model(nested, n_users=2, n_movies=2)


def test_the_seed_config_draws_exactly_the_seed_weights() -> None:
    """Options are drawn after the seed's weights: turning them on leaves the seed's alone."""
    plain = _model("seed", seed=4)
    biased = _model("seed-biased", seed=4)
    for name in ("user_embedding.weight", "movie_embedding.weight", "ratings.0.weight"):
        torch.testing.assert_close(plain.state_dict()[name], biased.state_dict()[name])


def test_ensemble_blends_its_models_raw_ratings() -> None:
    model = _model("ensemble")
    assert isinstance(model, Ensemble)
    model.set_blend([0.5, 0.25, 0.25, 0.1])
    users, movies = torch.tensor([1, 2, 0, 5, 12]), torch.tensor([3, 0, 4, 20, 1])
    with torch.no_grad():
        parts = [
            m.raw_rate(m.user_vectors(users), movies)  # type: ignore[operator]
            for m in model.models
        ]
        expected = (0.5 * parts[0] + 0.25 * parts[1] + 0.25 * parts[2] + 0.1).clamp(1, 5)
        torch.testing.assert_close(model(users, movies), expected)
    with pytest.raises(ValueError, match="need 4 blend weights"):
        model.set_blend([1.0])


def test_least_squares_weights_recover_a_known_blend() -> None:
    rng = np.random.default_rng(0)
    predictions = rng.normal(3, 1, size=(500, 2))
    targets = 0.7 * predictions[:, 0] + 0.2 * predictions[:, 1] + 0.3
    weights = least_squares_weights(predictions, targets, ridge=0.0)
    np.testing.assert_allclose(weights, [0.7, 0.2, 0.3], atol=1e-8)
    with pytest.raises(ValueError, match="more validation ratings"):
        least_squares_weights(predictions[:2], targets[:2])


def test_training_config_round_trips_through_components() -> None:
    component = RatingComponent(KINDS["mf"], TrainingConfig(optimizer="adam", patience=2))
    assert component.training.patience == 2
