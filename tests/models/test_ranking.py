import pytest
import torch

from reelrank.config import RankingModelConfig
from reelrank.models.ranking import RankingModel


def test_seed_architecture_and_keras_init() -> None:
    torch.manual_seed(0)
    model = RankingModel(RankingModelConfig(), n_users=943, n_movies=1664)
    assert model.user_embedding.weight.shape == (944, 32)
    assert model.movie_embedding.weight.shape == (1665, 32)
    dims = [
        (m.in_features, m.out_features) for m in model.ratings if isinstance(m, torch.nn.Linear)
    ]
    assert dims == [(64, 256), (256, 64), (64, 1)]
    assert model.user_embedding.weight.abs().max() <= 0.05
    first = model.ratings[0]
    assert isinstance(first, torch.nn.Linear)
    limit = (6 / (64 + 256)) ** 0.5  # glorot-uniform bound
    assert first.weight.abs().max() <= limit and torch.all(first.bias == 0)
    out = model(torch.tensor([1, 2]), torch.tensor([3, 0]))
    assert out.shape == (2,)


def test_rejects_empty_vocabularies() -> None:
    with pytest.raises(ValueError, match="at least one user"):
        RankingModel(RankingModelConfig(), n_users=0, n_movies=3)
