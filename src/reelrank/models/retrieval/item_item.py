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

State: `item_weights` (`W`, float32 `[n_movies + 1, n_movies + 1]`) is the only tensor in
`state_dict()`. The users' rows of `X` are not stored: each user's training movies come as CSR
(`UserHistories`, which the recommender keeps anyway as its seen ratings), held in non-persistent
buffers, and `user_embedding` builds the dense `x_u` rows for the users of a batch only. So an
artifact stores each tensor once, and nothing users x movies lives in memory between requests.
Rebuild with `from_state_dict(config, state_dict, user_histories=(indptr, movie_idx))`.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import TypeVar

import numpy as np
import torch
from torch import Tensor

from reelrank.config import RetrievalModelConfig
from reelrank.models.csr import gather_rows
from reelrank.models.retrieval.base import (
    RetrievalModel,
    UserHistories,
    index_vector,
    known_history,
    known_movies,
    state_rows,
)

__all__ = [
    "EASE",
    "EDLAE",
    "ItemItemModel",
    "edlae_weights",
    "histories_from_pairs",
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
    users, movies = _pairs(user_idx, movie_idx, n_users=n_users, n_movies=n_movies)
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


def histories_from_pairs(
    user_idx: IndexLike, movie_idx: IndexLike, *, n_users: int, n_movies: int
) -> UserHistories:
    """Each user's movies as CSR `(indptr [n_users + 2], movie_idx [n])` from `[n]` index pairs
    (in their given order within a user)."""
    users, movies = _pairs(user_idx, movie_idx, n_users=n_users, n_movies=n_movies)
    indptr = torch.zeros(n_users + 2, dtype=torch.long)
    indptr[1:] = torch.bincount(users, minlength=n_users + 1).cumsum(0)
    return indptr, movies[torch.argsort(users, stable=True)]


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
    """Scores `x_u · W[:, i]` with `x_u` built from the user's training movies and `W` item-item
    weights.

    `__init__` builds a zero-weight model for the given users' histories (to `load_state_dict`
    into); the `fit` classmethod builds a fitted one, with `W` from the subclass's `solve`. See
    the module docstring for the vector conventions and what is saved.
    """

    item_weights: Tensor
    history_indptr: Tensor
    history_movies: Tensor

    def __init__(self, *, n_movies: int, user_histories: UserHistories) -> None:
        """`user_histories`: `(indptr [n_users + 2], movie_idx [nnz])` int64, each user's training
        movies (see `UserHistories`); `n_users` is `len(indptr) - 2`."""
        super().__init__()
        if n_movies < 1:
            raise ValueError(f"n_movies must be >= 1, got {n_movies}")
        indptr, movies = _check_histories(user_histories, n_movies)
        self.n_users = len(indptr) - 2
        self.n_movies = n_movies
        self.register_buffer("item_weights", torch.zeros(n_movies + 1, n_movies + 1))
        # Not in state_dict(): the recommender saves every user's training movies already.
        self.register_buffer("history_indptr", indptr, persistent=False)
        self.register_buffer("history_movies", movies, persistent=False)

    @classmethod
    def fit(
        cls: type[M],
        config: RetrievalModelConfig,
        user_idx: IndexLike,
        movie_idx: IndexLike,
        *,
        n_users: int,
        n_movies: int,
    ) -> M:
        """Fit on `[n]` training (user, movie) index pairs with the hyper-parameters in `config`
        (see the subclass's `solve`); the pairs become the users' histories. Solved in float64."""
        x = interaction_matrix(user_idx, movie_idx, n_users=n_users, n_movies=n_movies)
        histories = histories_from_pairs(user_idx, movie_idx, n_users=n_users, n_movies=n_movies)
        model = cls(n_movies=n_movies, user_histories=histories)
        model.item_weights.copy_(cls.solve(config, x).to(torch.float32))
        return model

    @staticmethod
    @abc.abstractmethod
    def solve(config: RetrievalModelConfig, x: Tensor) -> Tensor:
        """Item-item weights `W [n_movies + 1, n_movies + 1]` from float64 `X [n_users + 1,
        n_movies + 1]` and the hyper-parameters in `config`."""

    def user_embedding(self, user_idx: Tensor) -> Tensor:
        """`[batch]` user indices -> `[batch, n_movies + 1]` rows of X, built for this batch from
        the histories (user 0 and users with no training movies: all zeros)."""
        device = self.item_weights.device
        users = index_vector("user_idx", user_idx, self.n_users).to(device)
        gathered = gather_rows(self.history_indptr, users)
        x = torch.zeros(len(users), self.n_movies + 1, device=device)
        # A repeated pair counts once.
        x[gathered.row, self.history_movies[gathered.entry]] = 1.0
        return x

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
        history = known_history(history_movie_idx, self.n_movies).to(self.item_weights.device)
        query = torch.zeros(self.n_movies + 1, device=self.item_weights.device)
        query[history] = 1.0
        return query

    def fold_in_each(self, movie_idx: Tensor) -> Tensor:
        """`[m]` known movies -> `[m, n_movies + 1]` one-hot queries, one per movie."""
        movies = known_movies(movie_idx, self.n_movies).to(self.item_weights.device)
        queries = torch.zeros(len(movies), self.n_movies + 1, device=self.item_weights.device)
        queries[torch.arange(len(movies), device=queries.device), movies] = 1.0
        return queries

    @classmethod
    def from_state_dict(
        cls: type[M],
        config: RetrievalModelConfig | None,
        state_dict: Mapping[str, Tensor],
        *,
        user_histories: UserHistories | None = None,
    ) -> M:
        """Rebuild from `state_dict()` (n_movies from `item_weights`' shape) and the users'
        training movies, which the state dict does not hold; strict.

        `config` is accepted for the common interface; nothing in it is needed to score.
        """
        if "user_items" in state_dict:
            raise ValueError(
                "this state dict holds 'user_items', the users x movies matrix older versions "
                "saved; retrain the model with this version of reelrank"
            )
        if user_histories is None:
            raise ValueError(
                f"a {cls.__name__} scores each user from their training movies, which its state "
                "dict does not hold: pass user_histories=(indptr [n_users + 2], movie_idx [nnz])"
            )
        n_movies = state_rows(state_dict, "item_weights") - 1
        model = cls(n_movies=n_movies, user_histories=user_histories)
        model.load_state_dict(dict(state_dict), strict=True)
        return model


class EASE(ItemItemModel):
    """Embarrassingly Shallow Autoencoder (Steck 2019); the reference item-item model."""

    @staticmethod
    def solve(config: RetrievalModelConfig, x: Tensor) -> Tensor:
        """EASE's `W` with `λ = config.ease_lambda` (must be positive)."""
        if not config.ease_lambda > 0:
            raise ValueError(f"ease_lambda must be positive, got {config.ease_lambda}")
        return edlae_weights(x, l2=config.ease_lambda)


class EDLAE(ItemItemModel):
    """Dropout-emphasised denoising linear autoencoder plus an optional low-rank term.

    Settings tuned on MovieLens 100k (validation split carved from the training rows; see
    `docs/retrieval_research.md`): `ease_lambda=300`, `edlae_dropout=0.75`, `low_rank=20`,
    `low_rank_weight=0.25` (the "edlae" and "two-stage" presets). With `low_rank=0` it is plain
    EDLAE; with `edlae_dropout=0` too, EASE.
    """

    @staticmethod
    def solve(config: RetrievalModelConfig, x: Tensor) -> Tensor:
        """`W = W_edlae + low_rank_weight · (σ_edlae / σ_lowrank) · VVᵀ`, where σ is the standard
        deviation of each part's training scores `XW` over known users and movies: the weight is
        relative, so it means the same at any data size. `λ = config.ease_lambda`, `p =
        config.edlae_dropout`."""
        low_rank, low_rank_weight = config.low_rank, config.low_rank_weight
        if low_rank < 0 or low_rank_weight < 0:
            raise ValueError(
                f"low_rank and low_rank_weight must be >= 0, got {low_rank} and {low_rank_weight}"
            )
        w = edlae_weights(x, l2=config.ease_lambda, dropout=config.edlae_dropout)
        if low_rank > 0 and low_rank_weight > 0:
            low = low_rank_weights(x, rank=low_rank)
            spread = _score_spread(x, w) / _score_spread(x, low).clamp(min=1e-12)
            w = w + (low_rank_weight * spread) * low
        return w


def _score_spread(x: Tensor, w: Tensor) -> Tensor:
    """Standard deviation of the scores `X W` over known users and movies (row/col 0 left out)."""
    return (x[1:] @ w[:, 1:]).std()


def _pairs(
    user_idx: IndexLike, movie_idx: IndexLike, *, n_users: int, n_movies: int
) -> tuple[Tensor, Tensor]:
    """Checked `[n]` (user, movie) index pairs as int64 CPU tensors."""
    users = index_vector("user_idx", user_idx, n_users).cpu()
    movies = index_vector("movie_idx", movie_idx, n_movies).cpu()
    if users.shape != movies.shape:
        raise ValueError(
            f"user_idx and movie_idx must have the same length, got {users.numel()} and "
            f"{movies.numel()}"
        )
    return users, movies


def _check_histories(histories: UserHistories, n_movies: int) -> UserHistories:
    """`(indptr, movie_idx)` as int64 tensors, or a ValueError saying how they are not a CSR of
    movie indices in `[0, n_movies]` over at least one user."""
    indptr = index_vector("user_histories indptr", histories[0], np.iinfo(np.int64).max)
    movies = index_vector("user_histories movie_idx", histories[1], n_movies)
    if len(indptr) < 3:
        raise ValueError(
            f"user_histories indptr must have n_users + 2 >= 3 entries, got {len(indptr)}"
        )
    if int(indptr[0]) != 0 or int(indptr[-1]) != len(movies) or bool((indptr.diff() < 0).any()):
        raise ValueError(
            "user_histories indptr must start at 0, never decrease and end at len(movie_idx) "
            f"({len(movies)}); got {int(indptr[0])} .. {int(indptr[-1])}"
        )
    return indptr, movies
