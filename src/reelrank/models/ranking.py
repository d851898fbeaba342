"""The ranking model: predicts the rating a user gives a movie (the seed's `RankingModel`)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from reelrank.config import RankingModelConfig
from reelrank.models.initialization import keras_init_

__all__ = ["RankingModel"]


class RankingModel(nn.Module):
    """User and movie embeddings, concatenated, through ReLU dense layers to one rating.

    With the default config this is the seed exactly: Embedding(users+1, 32), Embedding(movies+1,
    32), concat → Dense 256 relu → Dense 64 relu → Dense 1. Row 0 of each table is the unknown id.
    Initialisation is Keras' (`keras_init_`), drawn from `generator`: the same seed gives the same
    weights.
    """

    def __init__(
        self,
        config: RankingModelConfig,
        *,
        n_users: int,
        n_movies: int,
        generator: torch.Generator | None = None,
    ) -> None:
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
        keras_init_(self, generator=generator)

    def forward(self, user_idx: torch.Tensor, movie_idx: torch.Tensor) -> torch.Tensor:
        """Predicted ratings `[batch]` for user and movie indices `[batch]` (int64)."""
        return self.rate(self.user_embedding(user_idx), movie_idx)

    def rate(self, user_vectors: torch.Tensor, movie_idx: torch.Tensor) -> torch.Tensor:
        """Predicted ratings `[batch]` for user vectors `[batch, dim]` (e.g. a typical user's, for
        someone not in the data) and movie indices `[batch]`."""
        features = torch.cat([user_vectors, self.movie_embedding(movie_idx)], dim=1)
        return self.ratings(features).squeeze(-1)

    @torch.no_grad()
    def rate_grid(
        self, user_vectors: torch.Tensor, movie_idx: torch.Tensor, *, max_cells: int = 1 << 24
    ) -> torch.Tensor:
        """Predicted ratings `[u, m]` of every user vector `[u, dim]` with every movie `[m]`.

        The same numbers as `rate` on every pair, for about half the work: the first layer is
        linear in the concatenation, so its user and movie halves are computed once per user and
        once per movie and added, instead of once per pair. At most `max_cells` hidden values
        are held at a time (users are taken in chunks).
        """
        if len(user_vectors) == 0:
            return user_vectors.new_zeros(0, len(movie_idx))
        first = self.ratings[0]  # a Linear over [user, movie]: the seed's Dense 256, or Dense 1
        assert isinstance(first, nn.Linear)
        dim = user_vectors.shape[1]
        from_user = user_vectors @ first.weight[:, :dim].T + first.bias  # [u, h]
        from_movie = self.movie_embedding(movie_idx) @ first.weight[:, dim:].T  # [m, h]
        chunk = max(1, max_cells // max(1, len(movie_idx) * first.out_features))
        out = user_vectors.new_empty(len(user_vectors), len(movie_idx))
        # Every layer writes into a buffer made once: allocating fresh [chunk·m, h] tensors for
        # each chunk fragments the heap, and at 62k movies that cost a gigabyte of peak memory.
        buffers: dict[int, Tensor] = {}
        for start in range(0, len(user_vectors), chunk):
            part = from_user[start : start + chunk]
            size = len(part) * len(movie_idx)
            hidden = _buffer(buffers, 0, size, first.out_features, from_user)
            torch.add(
                from_movie[None, :, :],
                part[:, None, :],
                out=hidden.view(len(part), -1, first.out_features),
            )
            layers: list[nn.Module] = list(self.ratings)[1:]
            for position, layer in enumerate(layers, start=1):
                if isinstance(layer, nn.ReLU):
                    hidden.relu_()
                elif isinstance(layer, nn.Linear):
                    result = _buffer(buffers, position, size, layer.out_features, hidden)
                    torch.addmm(layer.bias, hidden, layer.weight.T, out=result)
                    hidden = result
                else:
                    hidden = layer(hidden)
            out[start : start + len(part)] = hidden.view(len(part), -1)
        return out

    @torch.no_grad()
    def predict(
        self,
        user_idx: np.ndarray | torch.Tensor,
        movie_idx: np.ndarray | torch.Tensor,
        *,
        batch_size: int = 4096,
    ) -> np.ndarray:
        """Predicted ratings `[n]` float32 for `[n]` (user, movie) index pairs, `batch_size` pairs
        at a time so memory stays bounded; no autograd graph, the training mode is left as is."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        device = self.movie_embedding.weight.device
        users = torch.as_tensor(user_idx, dtype=torch.long, device=device)
        movies = torch.as_tensor(movie_idx, dtype=torch.long, device=device)
        if users.shape != movies.shape or users.ndim != 1:
            raise ValueError(
                f"user_idx and movie_idx must be 1-D and of one length, got shapes "
                f"{tuple(users.shape)} and {tuple(movies.shape)}"
            )
        pairs = zip(users.split(batch_size), movies.split(batch_size), strict=True)
        out = [self(u, m) for u, m in pairs]
        if not out:
            return np.zeros(0, dtype=np.float32)
        return torch.cat(out).cpu().numpy()

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


def _buffer(buffers: dict[int, Tensor], key: int, rows: int, width: int, like: Tensor) -> Tensor:
    """A `[rows, width]` view of the buffer `key`, made (or grown) on first need."""
    held = buffers.get(key)
    if held is None or held.numel() < rows * width:
        held = buffers[key] = like.new_empty(rows * width)
    return held[: rows * width].view(rows, width)
