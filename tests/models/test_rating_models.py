"""The rating models' shared contract: every kind rates (user vector, movie) pairs the same way
through `forward`, `rate`, `rate_grid` and `predict`; saves and rebuilds from its state; gives
the unknown user and movie finite ratings; is deterministic per seed; clips to the scale."""

from __future__ import annotations

import dataclasses

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


PAIRS = (torch.tensor([1, 2, 0, 5, 12]), torch.tensor([3, 0, 4, 20, 1]))


@pytest.mark.parametrize("name", list(KINDS))
def test_forward_rate_and_grid_agree(name: str) -> None:
    model = _model(name)
    users, movies = PAIRS
    with torch.no_grad():
        out = model(users, movies)
        vectors = model.user_vectors(users)
        assert out.shape == (5,)
        torch.testing.assert_close(model.rate(vectors, movies), out)
        grid = model.rate_grid(vectors, torch.arange(N_MOVIES + 1))
    assert grid.shape == (5, N_MOVIES + 1)
    torch.testing.assert_close(grid[torch.arange(5), movies], out, rtol=1e-5, atol=1e-5)
    predicted = model.predict(users.numpy(), movies.numpy(), batch_size=2)
    np.testing.assert_allclose(predicted, out.numpy(), rtol=1e-5, atol=1e-5)
    assert model.typical_user().shape == (vectors.shape[1],)


@pytest.mark.parametrize("name", list(KINDS))
def test_save_and_rebuild_gives_the_same_ratings(name: str) -> None:
    model = _model(name, seed=1)
    state = model.state_dict()
    rebuilt = rating_model_for_state(KINDS[name], state, n_users=N_USERS, n_movies=N_MOVIES)
    rebuilt.load_state_dict(state, strict=True)
    rebuilt.eval()
    users, movies = PAIRS
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(users, movies), model(users, movies))


@pytest.mark.parametrize("name", list(KINDS))
def test_unknown_ids_and_the_typical_user_get_ratings_within_the_scale(name: str) -> None:
    model = _model(name)
    with torch.no_grad():
        unknown = model(torch.tensor([0, 0, 3]), torch.tensor([0, 5, 0]))
        typical = model.rate(model.typical_user().expand(3, -1), torch.tensor([1, 2, 0]))
    for out in (unknown, typical):
        assert torch.isfinite(out).all()
        assert (out >= 1).all() and (out <= 5).all()


@pytest.mark.parametrize("name", list(KINDS))
def test_the_seed_alone_decides_the_weights(name: str) -> None:
    torch.manual_seed(0)
    first = _model(name, seed=7)
    torch.manual_seed(99)
    again = _model(name, seed=7)
    other = _model(name, seed=8)
    users, movies = PAIRS
    with torch.no_grad():
        torch.testing.assert_close(first(users, movies), again(users, movies))
    differs = [
        not torch.equal(a, b) for a, b in zip(first.parameters(), other.parameters(), strict=True)
    ]
    assert any(differs)


@pytest.mark.parametrize("name", list(KINDS))
def test_ratings_are_clipped_outside_training_only(name: str) -> None:
    model = _model(name)
    model.set_rating_scale(2.9, 3.0)  # narrower than anything the model predicts
    users, movies = PAIRS
    with torch.no_grad():
        clipped = model(users, movies)
        grid = model.rate_grid(model.user_vectors(users), torch.arange(N_MOVIES + 1))
        model.train()
        raw = model(users, movies)
    assert (clipped >= 2.9).all() and (clipped <= 3.0).all()
    assert (grid >= 2.9).all() and (grid <= 3.0).all()
    assert not ((raw >= 2.9) & (raw <= 3.0)).all()  # training sees the raw values


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
    users, movies = PAIRS
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
