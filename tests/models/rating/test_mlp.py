"""The rating model: the seed's architecture, Keras init from an explicit generator, predict."""

import numpy as np
import pytest
import torch

from reelrank.config import RatingModelConfig
from reelrank.models.rating.mlp import RatingMLP


def _model(seed: int = 0, n_users: int = 943, n_movies: int = 1664) -> RatingMLP:
    generator = torch.Generator().manual_seed(seed)
    return RatingMLP(RatingModelConfig(), n_users=n_users, n_movies=n_movies, generator=generator)


def test_seed_architecture_and_keras_init() -> None:
    model = _model()
    assert model.user_embedding.weight.shape == (944, 32)
    assert model.movie_embedding.weight.shape == (1665, 32)
    dims = [
        (m.in_features, m.out_features) for m in model.ratings if isinstance(m, torch.nn.Linear)
    ]
    assert dims == [(64, 256), (256, 64), (64, 1)]
    assert model.user_embedding.weight.abs().max() <= 0.05
    assert model.user_embedding.weight.abs().max() > 0.04  # uniform over ±0.05, not a narrow normal
    first = model.ratings[0]
    assert isinstance(first, torch.nn.Linear)
    limit = (6 / (64 + 256)) ** 0.5  # glorot-uniform bound
    assert first.weight.abs().max() <= limit and torch.all(first.bias == 0)
    assert first.weight.abs().max() > 0.9 * limit
    out = model(torch.tensor([1, 2]), torch.tensor([3, 0]))
    assert out.shape == (2,)


def test_the_generator_alone_decides_the_weights() -> None:
    model = _model(seed=5, n_users=20, n_movies=30)
    torch.manual_seed(123)  # the global generator must not matter
    again = _model(seed=5, n_users=20, n_movies=30)
    for (name, a), b in zip(model.state_dict().items(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    other = _model(seed=6, n_users=20, n_movies=30)
    assert not torch.equal(other.user_embedding.weight, model.user_embedding.weight)


def test_predict_matches_forward_in_any_batch_size() -> None:
    model = _model(n_users=20, n_movies=30)
    users = np.array([0, 1, 5, 20, 7, 7, 3])
    movies = np.array([0, 30, 2, 9, 9, 1, 4])
    with torch.no_grad():
        expected = model(torch.from_numpy(users), torch.from_numpy(movies)).numpy()
    for batch_size in (1, 3, 4096):
        predicted = model.predict(users, movies, batch_size=batch_size)
        assert predicted.dtype == np.float32 and predicted.shape == (7,)
        np.testing.assert_allclose(predicted, expected, rtol=1e-5, atol=1e-7)
    assert model.predict(users[:0], movies[:0]).shape == (0,)
    assert model.training  # predict leaves the mode alone
    with pytest.raises(ValueError, match="batch_size"):
        model.predict(users, movies, batch_size=0)
    with pytest.raises(ValueError, match="one length"):
        model.predict(users, movies[:-1])


def test_rejects_empty_vocabularies() -> None:
    with pytest.raises(ValueError, match="at least one user"):
        RatingMLP(RatingModelConfig(), n_users=0, n_movies=3)


@pytest.mark.parametrize("hidden_dims", [(256, 64), (8,), ()])
@pytest.mark.parametrize("max_cells", [1, 50, 1 << 24])
def test_rate_grid_is_rate_on_every_pair(hidden_dims: tuple[int, ...], max_cells: int) -> None:
    config = RatingModelConfig(embedding_dim=4, hidden_dims=hidden_dims)
    model = RatingMLP(
        config, n_users=6, n_movies=9, generator=torch.Generator().manual_seed(1)
    ).eval()
    users = torch.tensor([1, 4, 6])
    movies = torch.tensor([0, 9, 2, 2, 5])
    with torch.no_grad():
        vectors = model.user_embedding(users)
        expected = torch.stack([model.rate(v.expand(len(movies), -1), movies) for v in vectors])
        grid = model.rate_grid(vectors, movies, max_cells=max_cells)
    torch.testing.assert_close(grid, expected, rtol=1e-5, atol=1e-6)
    assert model.rate_grid(vectors[:0], movies).shape == (0, len(movies))
