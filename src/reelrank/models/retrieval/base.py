"""The retrieval-model interface (`RetrievalModel`) and the small helpers its models share.

The models live by concept: `two_tower` (`TwoTower`), `popularity` (`Popularity`), `item_item`
(`EASE`, `EDLAE`) and `blend` (`Blend`); `factory` builds any of them by the configured kind.

Models see contiguous integer indices only: index 0 is the unknown/padding user or movie, the known
ones are `1..n` (vocabulary rows `n + 1`, like Keras' `StringLookup(mask_token=None)`).

Every retrieval model is a `RetrievalModel` and factorises its scores as a dot product of a query
(user) vector and an item (movie) vector, so the index and the recommender treat them all alike:

- `user_embedding(user_idx [b]) -> [b, d]` and `movie_embedding(movie_idx [b]) -> [b, d]`
- `all_movie_embeddings() -> [n_movies + 1, d]`: the vectors to build an index from (row = index)
- `fold_in(history_movie_idx [h]) -> [d]`: a query vector for someone not in the data; every model
  raises the same `ValueError` for a history with no known movie (see `known_history`)
- `fold_in_each(movie_idx [m]) -> [m, d]`: `fold_in([i])` for each movie at once (what someone who
  liked just that movie gets; explanations use it)
- `forward(user_idx [b], movie_idx [b]) -> [b]` scores, and `score_all(user_idx [b]) ->
  [b, n_movies + 1]` / `score_history(history [h]) -> [n_movies + 1]` against the whole catalogue,
  column 0 (the unknown movie) set to `-inf`.

Saving and rebuilding: `model.state_dict()` is the fitted state and goes to safetensors as is.
`from_state_dict(config, state_dict)` rebuilds a model from its `RetrievalModelConfig` plus that
state dict: sizes come from the stored tensors' shapes, and loading is strict. The one thing a
state dict leaves out is each user's training movies (`UserHistories`), which the recommender
stores anyway: the item-item models take them back as `user_histories=`.
"""

from __future__ import annotations

import abc
import itertools
from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor, nn

from reelrank.config import RetrievalModelConfig

__all__ = [
    "RetrievalModel",
    "UserHistories",
    "index_vector",
    "known_history",
    "known_movies",
    "state_rows",
]

# Each user's training movies as CSR: user u's are `movie_idx[indptr[u]:indptr[u + 1]]`, with
# `indptr` int64 `[n_users + 2]` (one row per user index, 0 = unknown included) and `movie_idx`
# int64 `[nnz]`.
UserHistories = tuple[Tensor, Tensor]


class RetrievalModel(nn.Module, abc.ABC):
    """The interface every retrieval model offers; scores are `user_vector · movie_vector`.

    Inference methods (`fold_in`, `score_all`, `score_history`) build no autograd graph.
    """

    n_movies: int

    @abc.abstractmethod
    def user_embedding(self, user_idx: Tensor) -> Tensor:
        """`[batch]` user indices -> `[batch, dim]` query vectors."""

    @abc.abstractmethod
    def movie_embedding(self, movie_idx: Tensor) -> Tensor:
        """`[batch]` movie indices -> `[batch, dim]` item vectors."""

    @property
    def device(self) -> torch.device:
        """Where this model's weights (or, for closed-form models, buffers) are."""
        for tensor in itertools.chain(self.parameters(), self.buffers()):
            return tensor.device
        return torch.device("cpu")

    @abc.abstractmethod
    def all_movie_embeddings(self) -> Tensor:
        """`[n_movies + 1, dim]` item vectors of every movie index (row 0: the unknown movie)."""

    @abc.abstractmethod
    def fold_in(self, history_movie_idx: Tensor) -> Tensor:
        """`[history]` movie indices a new person liked -> `[dim]` query vector, no retraining.

        Index 0 entries are dropped; a history with no known movie is a `ValueError`.
        """

    def fold_in_each(self, movie_idx: Tensor) -> Tensor:
        """`[m]` known movie indices (> 0) -> `[m, dim]`: row j is `fold_in(movie_idx[j:j+1])`.

        Models override this with one batched computation; this default folds in one by one.
        """
        movies = known_movies(movie_idx, self.n_movies)
        if not movies.numel():
            return self.all_movie_embeddings().new_zeros(0, self.all_movie_embeddings().shape[1])
        with torch.no_grad():
            return torch.stack([self.fold_in(m[None]) for m in movies])

    @classmethod
    @abc.abstractmethod
    def from_state_dict(
        cls, config: RetrievalModelConfig, state_dict: Mapping[str, Tensor]
    ) -> RetrievalModel:
        """Rebuild a model from its config and `state_dict()` (strict: no missing/extra keys).

        The models that score a user from their training movies (item-item ones, and a blend
        holding one) take them as a further keyword, `user_histories`.
        """

    def forward(self, user_idx: Tensor, movie_idx: Tensor) -> Tensor:
        """Scores of `[batch]` (user, movie) index pairs -> `[batch]`."""
        return (self.user_embedding(user_idx) * self.movie_embedding(movie_idx)).sum(dim=-1)

    def score_all(self, user_idx: Tensor) -> Tensor:
        """`[batch]` user indices -> `[batch, n_movies + 1]` scores; column 0 is `-inf`."""
        with torch.no_grad():
            scores = self.user_embedding(user_idx) @ self.all_movie_embeddings().T
            # The unknown/padding movie must never win a top-k taken over these scores.
            scores[:, 0] = float("-inf")
            return scores

    def score_history(self, history_movie_idx: Tensor) -> Tensor:
        """`[history]` movie indices -> `[n_movies + 1]` scores for a new person (via `fold_in`).

        Column 0 is `-inf`.
        """
        with torch.no_grad():
            scores = self.all_movie_embeddings() @ self.fold_in(history_movie_idx)
            scores[0] = float("-inf")
            return scores


def index_vector(name: str, idx: Tensor | np.ndarray, n: int) -> Tensor:
    """`idx` as a 1-D int64 tensor (on its own device) of indices in `[0, n]`, or a ValueError
    saying what was wrong."""
    t = torch.as_tensor(idx)
    if t.ndim != 1 or t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise ValueError(f"{name} must be a 1-D integer array, got {t.dtype} {tuple(t.shape)}")
    t = t.to(torch.long)
    if t.numel() and (int(t.min()) < 0 or int(t.max()) > n):
        raise ValueError(f"{name} must lie in [0, {n}]")
    return t


def known_history(history_movie_idx: Tensor, n_movies: int) -> Tensor:
    """The known (non-zero) movie indices of a `[history]` tensor, range-checked.

    The one fold-in policy of every model: someone with no known movie gets a `ValueError`, never
    a made-up vector; the caller decides the fallback (popularity, say).
    """
    history = index_vector("history", history_movie_idx, n_movies)
    history = history[history > 0]
    if history.numel() == 0:
        raise ValueError(
            "fold_in needs at least one known movie (index > 0); use popularity for someone "
            "with no known history"
        )
    return history


def known_movies(movie_idx: Tensor, n_movies: int) -> Tensor:
    """`fold_in_each`'s input, checked: a 1-D tensor of known movie indices (1..n_movies)."""
    movies = index_vector("movie_idx", movie_idx, n_movies)
    if movies.numel() and int(movies.min()) < 1:
        raise ValueError("fold_in_each takes known movies only (indices > 0)")
    return movies


def state_rows(state_dict: Mapping[str, Tensor], key: str) -> int:
    """Rows of `state_dict[key]` (a size to rebuild a model with), or a ValueError naming it."""
    if key not in state_dict:
        raise ValueError(f"state dict has no {key!r}; is it the state dict of this kind of model?")
    return int(state_dict[key].shape[0])
