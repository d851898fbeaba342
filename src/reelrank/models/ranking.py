"""The ranking model: predicts the rating a user gives a movie (the seed's `RankingModel`)."""

from __future__ import annotations

import torch
from torch import nn

from reelrank.config import RankingModelConfig


def keras_init_(module: nn.Module) -> None:
    """Initialise as Keras does: embeddings uniform ±0.05, dense glorot-uniform, zero bias.

    Matching Keras' start makes our numbers comparable with TensorFlow Recommenders'.
    """
    for sub in module.modules():
        if isinstance(sub, nn.Embedding):
            nn.init.uniform_(sub.weight, -0.05, 0.05)
        elif isinstance(sub, nn.Linear):
            nn.init.xavier_uniform_(sub.weight)
            if sub.bias is not None:
                nn.init.zeros_(sub.bias)


class RankingModel(nn.Module):
    """User and movie embeddings, concatenated, through ReLU dense layers to one rating.

    With the default config this is the seed exactly: Embedding(users+1, 32), Embedding(movies+1,
    32),
    concat → Dense 256 relu → Dense 64 relu → Dense 1. Row 0 of each table is the unknown id.
    """

    def __init__(self, config: RankingModelConfig, *, n_users: int, n_movies: int) -> None:
        super().__init__()
        if n_users < 1 or n_movies < 1:
            raise ValueError(f"need at least one user and movie, got {n_users} and {n_movies}")
        self.config = config
        self.user_embedding = nn.Embedding(n_users + 1, config.embedding_dim)
        self.movie_embedding = nn.Embedding(n_movies + 1, config.embedding_dim)
        layers: list[nn.Module] = []
        width = 2 * config.embedding_dim
        for hidden in config.hidden_dims:
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.ratings = nn.Sequential(*layers)
        keras_init_(self)

    def forward(self, user_idx: torch.Tensor, movie_idx: torch.Tensor) -> torch.Tensor:
        """Predicted ratings `[batch]` for user and movie indices `[batch]` (int64)."""
        return self.rate(self.user_embedding(user_idx), movie_idx)

    def rate(self, user_vectors: torch.Tensor, movie_idx: torch.Tensor) -> torch.Tensor:
        """Predicted ratings `[batch]` for user vectors `[batch, dim]` (e.g. a typical user's, for
        someone not in the data) and movie indices `[batch]`."""
        features = torch.cat([user_vectors, self.movie_embedding(movie_idx)], dim=1)
        return self.ratings(features).squeeze(-1)

    def share_embeddings(self, user: nn.Embedding, movie: nn.Embedding) -> None:
        """Use these tables (a two-tower model's id embeddings) instead of its own: the TFRS
        multitask model, where rating and retrieval losses train one set of embeddings."""
        for mine, theirs in ((self.user_embedding, user), (self.movie_embedding, movie)):
            if mine.weight.shape != theirs.weight.shape:
                raise ValueError(
                    f"cannot share embeddings of shape {tuple(theirs.weight.shape)} with a "
                    f"ranking model whose tables are {tuple(mine.weight.shape)}"
                )
        self.user_embedding = user
        self.movie_embedding = movie
