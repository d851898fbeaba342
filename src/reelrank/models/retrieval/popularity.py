"""`Popularity`: the same list for everyone, the most-rated movies first (the baseline)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from reelrank.config import RetrievalModelConfig
from reelrank.models.retrieval.base import RetrievalModel, index_vector, known_history, state_rows

__all__ = ["Popularity"]


class Popularity(RetrievalModel):
    """Same list for everyone: the most-rated movies. Score = `log(1 + count)`.

    Factorised as `user_embedding -> ones [batch, 1]` and `movie_embedding -> log(1 + count)
    [batch, 1]` so it goes through the same index as the learned models. `log(1 + count)` rather
    than `log(count)` keeps never-rated movies finite (they rank last, ties among themselves).

    Fitted state: the `counts` buffer (`[n_movies + 1]` int64), set by `fit`.
    """

    counts: Tensor

    def __init__(self, *, n_movies: int) -> None:
        super().__init__()
        if n_movies < 1:
            raise ValueError(f"n_movies must be >= 1, got {n_movies}")
        self.n_movies = n_movies
        self.register_buffer("counts", torch.zeros(n_movies + 1, dtype=torch.long))

    def fit(self, movie_idx: Tensor) -> Popularity:
        """Count `[n_interactions]` training movie indices; returns self."""
        movie_idx = index_vector("movie_idx", movie_idx, self.n_movies)
        counts = torch.bincount(movie_idx.to(self.counts.device), minlength=self.n_movies + 1)
        self.counts.copy_(counts)
        return self

    def _log_counts(self) -> Tensor:
        return torch.log1p(self.counts.to(torch.float32))

    def user_embedding(self, user_idx: Tensor) -> Tensor:
        """`[batch]` -> `[batch, 1]` ones: every user gets the same scores."""
        return torch.ones(user_idx.shape[0], 1, device=self.counts.device)

    def movie_embedding(self, movie_idx: Tensor) -> Tensor:
        """`[batch]` -> `[batch, 1]` log(1 + count)."""
        return self._log_counts()[movie_idx].unsqueeze(-1)

    def all_movie_embeddings(self) -> Tensor:
        """`[n_movies + 1, 1]` log(1 + count)."""
        return self._log_counts().unsqueeze(-1)

    def fold_in(self, history_movie_idx: Tensor) -> Tensor:
        """`[1]` ones: the scores ignore the history, but it is checked like every model's (no
        known movie is a `ValueError`), so swapping models never changes which inputs fail."""
        known_history(history_movie_idx, self.n_movies)
        return torch.ones(1, device=self.counts.device)

    @classmethod
    def from_state_dict(
        cls, config: RetrievalModelConfig, state_dict: Mapping[str, Tensor]
    ) -> Popularity:
        """Rebuild from `config` and `state_dict()` (n_movies from the counts' shape); strict."""
        model = cls(n_movies=state_rows(state_dict, "counts") - 1)
        model.load_state_dict(dict(state_dict), strict=True)
        return model
