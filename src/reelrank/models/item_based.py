"""Item-item retrieval models fitted in closed form: `EASE` and `EDLAE` (the retrieval winner).

Both score a user as `x_u · W[:, i]`: `x_u` is the user's row of the training interaction matrix
`X` (`[n_movies + 1]`, 1 where the user rated the movie) and `W` an item-item weight matrix
(`[n_movies + 1, n_movies + 1]`). In the common `RetrievalModel` interface the query vector is
`x_u` (dimension `n_movies + 1`) and the movie vectors are the columns of `W`, so one
`BruteForceIndex` over `all_movie_embeddings()` (= `Wᵀ`) serves these models like any other.

- `EASE` (Steck 2019): `W = argmin ||X - XW||² + λ||W||²` with `diag(W) = 0`, i.e.
  `P = (XᵀX + λI)⁻¹`, `W = I - P·diag(1/diag(P))`.
- `EDLAE` (Steck 2020, "Autoencoders that don't overfit towards the identity"): the same closed
  form with a per-movie penalty `λ + p/(1-p)·count_i` (dropout-emphasised denoising with dropout
  rate `p`), optionally plus a low-rank term `w·VVᵀ` from the top right-singular vectors of `X`
  (rank `r`, a PureSVD item-item matrix), scaled so both parts give scores of the same spread.
  The sum is one matrix `W`, so the query vector stays `x_u`.

"Movies like X": `score_history(tensor([x]))` (row `x` of `W`: how much liking `x` raises each
movie's score) is the natural item-item similarity; it includes `x` itself only through the
low-rank part (EASE/EDLAE rows have a zero diagonal), so exclude the query movie in the index.

Models see contiguous integer indices only (0 = unknown/padding movie or user); they never read
data files. Nothing is excluded here: seen movies get ordinary scores and the index filters them.
Everything needed at inference is in two buffers, `user_items` (`X`, float32 `[n_users + 1,
n_movies + 1]`) and `item_weights` (`W`, float32 `[n_movies + 1, n_movies + 1]`), so
`state_dict()` round-trips through safetensors; `cls(n_users=..., n_movies=...)` builds the empty
module to `load_state_dict(..., strict=True)` into (or use `from_state_dict`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

import numpy as np
import torch
from torch import Tensor

from reelrank.config import RetrievalModelConfig
from reelrank.models.retrieval import RetrievalModel

__all__ = [
    "EASE",
    "EDLAE",
    "ItemItemModel",
    "edlae_weights",
    "interaction_matrix",
    "low_rank_weights",
]

IndexLike = Tensor | np.ndarray
M = TypeVar("M", bound="ItemItemModel")


def interaction_matrix(
    user_idx: IndexLike,
    movie_idx: IndexLike,
    *,
    n_users: int,
    n_movies: int,
    weights: IndexLike | None = None,
    dtype: torch.dtype = torch.float64,
) -> Tensor:
    """`X [n_users + 1, n_movies + 1]` from `[n]` (user, movie) index pairs.

    Entries are 1 (or `weights [n]`, the largest where a pair repeats); pairs seen twice count once.
    """
    users = _index_vector("user_idx", user_idx, n_users)
    movies = _index_vector("movie_idx", movie_idx, n_movies)
    if users.shape != movies.shape:
        raise ValueError(
            f"user_idx and movie_idx must have the same length, got {users.numel()} and "
            f"{movies.numel()}"
        )
    x = torch.zeros(n_users + 1, n_movies + 1, dtype=dtype)
    if weights is None:
        x[users, movies] = 1.0
        return x
    values = torch.as_tensor(weights, dtype=dtype).reshape(-1)
    if values.shape != users.shape:
        raise ValueError(f"weights must have one value per interaction ({users.numel()})")
    flat = x.view(-1)
    flat.scatter_reduce_(0, users * (n_movies + 1) + movies, values, reduce="amax")
    return x


def edlae_weights(x: Tensor, *, l2: float, dropout: float = 0.0) -> Tensor:
    """EASE/EDLAE item-item weights `[m, m]` (zero diagonal) from `X [users, m]`.

    Penalty on movie i: `l2 + dropout/(1-dropout)·G_ii` with `G = XᵀX`; `dropout=0` is EASE.
    Movies nobody rated (and the padding column) get a penalty of at least 1 so `G` inverts.
    """
    if l2 < 0 or not 0.0 <= dropout < 1.0:
        raise ValueError(f"need l2 >= 0 and 0 <= dropout < 1, got l2={l2}, dropout={dropout}")
    gram = x.T @ x
    penalty = l2 + (dropout / (1.0 - dropout)) * gram.diagonal()
    gram.diagonal().add_(penalty.clamp(min=1.0))
    p = torch.linalg.inv(gram)
    w = p / -p.diagonal().unsqueeze(0)  # column j divided by -P_jj
    w.fill_diagonal_(0.0)
    return w


def low_rank_weights(x: Tensor, *, rank: int) -> Tensor:
    """PureSVD item-item matrix `VVᵀ [m, m]` from the top `rank` right-singular vectors of X."""
    rank = min(rank, *x.shape)
    _, _, vh = torch.linalg.svd(x, full_matrices=False)
    v = vh[:rank].T
    return v @ v.T


class ItemItemModel(RetrievalModel):
    """Scores `x_u · W[:, i]` with `x_u` a row of the stored interactions and `W` item-item weights.

    `__init__` builds an empty (zero) model of the right shapes; subclasses' `fit` classmethods
    build fitted ones. See the module docstring for the vector conventions.
    """

    user_items: Tensor
    item_weights: Tensor

    def __init__(self, *, n_users: int, n_movies: int) -> None:
        super().__init__()
        if n_users < 1 or n_movies < 1:
            raise ValueError(f"n_users and n_movies must be >= 1, got {n_users} and {n_movies}")
        self.n_users = n_users
        self.n_movies = n_movies
        self.register_buffer("user_items", torch.zeros(n_users + 1, n_movies + 1))
        self.register_buffer("item_weights", torch.zeros(n_movies + 1, n_movies + 1))

    @classmethod
    def _from_parts(cls: type[M], x: Tensor, w: Tensor) -> M:
        model = cls(n_users=x.shape[0] - 1, n_movies=x.shape[1] - 1)
        model.user_items.copy_(x.to(torch.float32))
        model.item_weights.copy_(w.to(torch.float32))
        return model

    def user_embedding(self, user_idx: Tensor) -> Tensor:
        """`[batch]` user indices -> `[batch, n_movies + 1]` rows of X (user 0: all zeros)."""
        return self.user_items[user_idx]

    def movie_embedding(self, movie_idx: Tensor) -> Tensor:
        """`[batch]` movie indices -> `[batch, n_movies + 1]` columns of W."""
        return self.item_weights[:, movie_idx].T

    def all_movie_embeddings(self) -> Tensor:
        """`[n_movies + 1, n_movies + 1]`: Wᵀ, row = movie index."""
        return self.item_weights.T

    def fold_in(self, history_movie_idx: Tensor) -> Tensor:
        """`[history]` movie indices -> `[n_movies + 1]` multi-hot query, exactly a user's row.

        Index 0 (unknown movie) entries are dropped; at least one known movie is required.
        """
        if history_movie_idx.ndim != 1:
            raise ValueError(
                f"history must be a 1-D tensor of movie indices, got shape "
                f"{tuple(history_movie_idx.shape)}"
            )
        history = _index_vector("history", history_movie_idx, self.n_movies)
        history = history[history > 0].to(self.item_weights.device)
        if history.numel() == 0:
            raise ValueError(
                "fold_in needs at least one known movie (index > 0); use popularity for someone "
                "with no known history"
            )
        query = torch.zeros(self.n_movies + 1, device=self.item_weights.device)
        query[history] = 1.0
        return query

    @classmethod
    def from_state_dict(
        cls, config: RetrievalModelConfig | None, state_dict: Mapping[str, Tensor]
    ) -> ItemItemModel:
        """Rebuild from `state_dict()` alone (sizes from `user_items`' shape); strict.

        `config` is accepted for the common interface; nothing in it is needed to score.
        """
        if "user_items" not in state_dict:
            raise ValueError(
                f"state dict has no 'user_items'; is it the state dict of a {cls.__name__}?"
            )
        n_users, n_movies = (int(s) - 1 for s in state_dict["user_items"].shape)
        model = cls(n_users=n_users, n_movies=n_movies)
        model.load_state_dict(dict(state_dict), strict=True)
        return model


class EASE(ItemItemModel):
    """Embarrassingly Shallow Autoencoder (Steck 2019); the reference item-item model."""

    @classmethod
    def fit(
        cls,
        user_idx: IndexLike,
        movie_idx: IndexLike,
        *,
        n_users: int,
        n_movies: int,
        l2: float = 500.0,
        weights: IndexLike | None = None,
    ) -> EASE:
        """Fit on `[n]` training (user, movie) index pairs; `l2` is EASE's λ. Solved in float64."""
        if not l2 > 0:
            raise ValueError(f"l2 must be positive, got {l2}")
        x = interaction_matrix(
            user_idx, movie_idx, n_users=n_users, n_movies=n_movies, weights=weights
        )
        return cls._from_parts(x, edlae_weights(x, l2=l2))


class EDLAE(ItemItemModel):
    """Dropout-emphasised denoising linear autoencoder plus an optional low-rank term.

    Defaults are tuned on MovieLens 100k (validation split carved from the training rows; see
    `benchmarks/retrieval_research.py`): `l2=300`, `dropout=0.75`, `low_rank=20`,
    `low_rank_weight=0.25`. With `low_rank=0` it is plain EDLAE; with `dropout=0` too, EASE.
    """

    @classmethod
    def fit(
        cls,
        user_idx: IndexLike,
        movie_idx: IndexLike,
        *,
        n_users: int,
        n_movies: int,
        l2: float = 300.0,
        dropout: float = 0.75,
        low_rank: int = 20,
        low_rank_weight: float = 0.25,
        weights: IndexLike | None = None,
    ) -> EDLAE:
        """Fit on `[n]` training (user, movie) index pairs. Solved in float64.

        `W = W_edlae + low_rank_weight · (σ_edlae / σ_lowrank) · VVᵀ`, where σ is the standard
        deviation of each part's training scores `XW` over known users and movies: the weight is
        relative, so it means the same at any data size.
        """
        if low_rank < 0 or low_rank_weight < 0:
            raise ValueError(
                f"low_rank and low_rank_weight must be >= 0, got {low_rank} and {low_rank_weight}"
            )
        x = interaction_matrix(
            user_idx, movie_idx, n_users=n_users, n_movies=n_movies, weights=weights
        )
        w = edlae_weights(x, l2=l2, dropout=dropout)
        if low_rank > 0 and low_rank_weight > 0:
            low = low_rank_weights(x, rank=low_rank)
            spread = _score_spread(x, w) / _score_spread(x, low).clamp(min=1e-12)
            w = w + (low_rank_weight * spread) * low
        return cls._from_parts(x, w)


def _score_spread(x: Tensor, w: Tensor) -> Tensor:
    """Standard deviation of the scores `X W` over known users and movies (row/col 0 left out)."""
    return (x[1:] @ w[:, 1:]).std()


def _index_vector(name: str, idx: IndexLike, n: int) -> Tensor:
    """A 1-D int64 CPU tensor of indices in `[0, n]`, or a ValueError saying what was wrong."""
    t = torch.as_tensor(idx)
    if t.ndim != 1 or t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise ValueError(f"{name} must be a 1-D integer array, got {t.dtype} {tuple(t.shape)}")
    t = t.to(device="cpu", dtype=torch.long)
    if t.numel() and (int(t.min()) < 0 or int(t.max()) > n):
        raise ValueError(f"{name} must lie in [0, {n}]")
    return t
