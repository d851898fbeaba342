"""`LowRankItemModel`: EASE's item-item model where a dense one does not fit (MovieLens 10M on).

EASE solves a ridge regression of each movie's column of X on the others: `W = (XᵀX + λI)⁻¹XᵀX`
(plus a zero-diagonal constraint). Dense, that is a `[movies, movies]` matrix and a dense X: at
MovieLens 25M, 15.5 GB and hours of inversion. With the thin SVD `X ≈ U S Vᵀ` of rank r, the same
ridge regression without the diagonal constraint is a spectral filter,

    W_r = V diag(s² / (s² + λ)) Vᵀ,

which is never formed: a user's vector is `x_u V diag(f)` `[r]` (a sum of their movies' rows of
V) and a movie's vector its row of V `[r]`, so scoring is one dot product, like every retrieval
model here. The SVD is randomized (`randomized_svd`) on the sparse X, so fitting costs a few
passes over the ratings. `benchmarks/low_rank.py` measures what the approximation costs where
both fit. A pair rated twice counts twice here (dense EASE counts it once); the loaders refuse
repeated pairs by default.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

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
from reelrank.models.retrieval.item_item import ItemItemModel

SVD_OVERSAMPLING = 10  # extra directions the randomized SVD keeps for accuracy, then drops
SVD_POWER_ITERATIONS = 4


def randomized_svd(x: Tensor, x_t: Tensor, *, q: int, niter: int) -> tuple[Tensor, Tensor]:
    """`(s [q], v [n, q])`: the top `q` singular values and right-singular vectors of a sparse
    `[m, n]` X, given X and Xᵀ both as CSR (randomized subspace iteration: Halko, Martinsson
    and Tropp 2011, Algorithm 4.4, re-orthonormalised after every product).

    `torch.svd_lowrank` runs the same algorithm, but multiplies by Xᵀ through a CSC view that it
    converts again on every pass: at MovieLens 25M's shape that took 2.2x the time and 1.5 GB
    above the data at its peak, against 1.1 GB here with both orientations built once.
    """
    basis = torch.linalg.qr(x @ torch.randn(x.shape[1], q)).Q  # [m, q]
    for _ in range(niter):
        basis = torch.linalg.qr(x_t @ basis).Q  # [n, q]
        basis = torch.linalg.qr(x @ basis).Q  # [m, q]
    _, s, vh = torch.linalg.svd((x_t @ basis).T, full_matrices=False)  # of Qᵀ X [q, n]
    return s, vh.T


def _sparse_pair(indptr: Tensor, movies: Tensor, *, n_movies: int) -> tuple[Tensor, Tensor]:
    """The users' histories as the 0/1 matrix X `[n_users + 1, n_movies + 1]` and its transpose,
    both CSR. X shares the histories' memory (they are its rows already); Xᵀ is built once, with
    32-bit indices where they fit."""
    n_rows = len(indptr) - 1
    ones = torch.ones(len(movies))
    index_type = torch.int32 if len(movies) < 2**31 and n_rows < 2**31 else torch.int64
    users = torch.repeat_interleave(
        torch.arange(n_rows, dtype=index_type), torch.diff(indptr), output_size=len(movies)
    )
    users = users[torch.argsort(movies, stable=True)]
    crow = torch.zeros(n_movies + 2, dtype=index_type)
    crow[1:] = torch.bincount(movies, minlength=n_movies + 1).cumsum(0)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        # Built from checked histories: no invariant check (a pass over 20M entries).
        x = torch.sparse_csr_tensor(
            indptr, movies, ones, (n_rows, n_movies + 1), check_invariants=False
        )
        x_t = torch.sparse_csr_tensor(
            crow, users, ones, (n_movies + 1, n_rows), check_invariants=False
        )
    return x, x_t


class LowRankItemModel(RetrievalModel):
    """EASE's ridge item-item model restricted to the top `rank` right-singular vectors of X.

    State: `movie_factors` `[n_movies + 1, rank]` (V, row 0 zeros) and `spectral_filter` `[rank]`
    (`s² / (s² + λ)`). Like `ItemItemModel`, it scores a user from their training movies, which
    the recommender saves anyway (`user_histories`, not in the state dict).
    """

    movie_factors: Tensor
    spectral_filter: Tensor
    history_indptr: Tensor
    history_movies: Tensor

    def __init__(self, *, n_movies: int, rank: int, user_histories: UserHistories) -> None:
        super().__init__()
        if n_movies < 1 or rank < 1:
            raise ValueError(f"need n_movies >= 1 and rank >= 1, got {n_movies} and {rank}")
        indptr = index_vector("user_histories indptr", user_histories[0], 2**62)
        movies = index_vector("user_histories movie_idx", user_histories[1], n_movies)
        if len(indptr) < 3 or int(indptr[0]) != 0 or int(indptr[-1]) != len(movies):
            raise ValueError("user_histories must be a CSR (indptr [n_users + 2], movie_idx)")
        self.n_users = len(indptr) - 2
        self.n_movies = n_movies
        self.register_buffer("movie_factors", torch.zeros(n_movies + 1, rank))
        self.register_buffer("spectral_filter", torch.zeros(rank))
        self.register_buffer("history_indptr", indptr, persistent=False)
        self.register_buffer("history_movies", movies, persistent=False)

    @classmethod
    def fit(
        cls,
        config: RetrievalModelConfig,
        user_histories: UserHistories,
        *,
        n_movies: int,
        generator_seed: int = 0,
    ) -> LowRankItemModel:
        """Fit on the users' training movies with `rank = config.approx_rank` and `λ =
        config.approx_lambda`. The randomized SVD is seeded by `generator_seed`."""
        if not config.approx_lambda > 0:
            raise ValueError(f"approx_lambda must be positive, got {config.approx_lambda}")
        indptr, movies = user_histories
        n_users = len(indptr) - 2
        rank = max(1, min(config.approx_rank, n_movies, n_users))
        x, x_t = _sparse_pair(indptr, movies, n_movies=n_movies)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(generator_seed)
            q = min(rank + SVD_OVERSAMPLING, n_movies + 1, n_users + 1)
            s, v = randomized_svd(x, x_t, q=q, niter=SVD_POWER_ITERATIONS)
        model = cls(n_movies=n_movies, rank=rank, user_histories=user_histories)
        squared = s[:rank].square()
        model.movie_factors.copy_(v[:, :rank])
        model.movie_factors[0] = 0.0  # the unknown movie scores 0 and adds nothing to a user
        model.spectral_filter.copy_(squared / (squared + config.approx_lambda))
        return model

    def user_embedding(self, user_idx: Tensor) -> Tensor:
        """`[batch, rank]`: the sum of each user's movies' factors, filtered (user 0 and users
        without training movies: zeros). The sum is a sparse product of the users' rows of X with
        the factors, so memory grows with their ratings, not with ratings × rank."""
        users = index_vector("user_idx", user_idx, self.n_users).to(self.movie_factors.device)
        gathered = gather_rows(self.history_indptr, users)
        crow = torch.zeros(len(users) + 1, dtype=torch.long, device=users.device)
        crow[1:] = gathered.lengths.cumsum(0)
        movies = self.history_movies[gathered.entry]
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            x = torch.sparse_csr_tensor(
                crow,
                movies,
                torch.ones(len(movies), device=users.device),
                (len(users), self.n_movies + 1),
                check_invariants=False,
            )
        return (x @ self.movie_factors) * self.spectral_filter

    def movie_embedding(self, movie_idx: Tensor) -> Tensor:
        return self.movie_factors[movie_idx]

    def all_movie_embeddings(self) -> Tensor:
        return self.movie_factors

    def fold_in(self, history_movie_idx: Tensor) -> Tensor:
        """`[history]` movie indices -> `[rank]`, as a user who rated exactly those movies."""
        history = known_history(history_movie_idx, self.n_movies).to(self.movie_factors.device)
        return self.movie_factors[history.unique()].sum(0) * self.spectral_filter

    def fold_in_each(self, movie_idx: Tensor) -> Tensor:
        movies = known_movies(movie_idx, self.n_movies).to(self.movie_factors.device)
        return self.movie_factors[movies] * self.spectral_filter

    @classmethod
    def from_state_dict(
        cls,
        config: RetrievalModelConfig | None,
        state_dict: Mapping[str, Tensor],
        *,
        user_histories: UserHistories | None = None,
    ) -> LowRankItemModel:
        """Rebuild from `state_dict()` and the users' training movies; strict."""
        if user_histories is None:
            raise ValueError("a LowRankItemModel scores users from user_histories: pass them")
        factors = state_dict.get("movie_factors")
        if factors is None or factors.ndim != 2:
            raise ValueError("the state dict has no [n_movies + 1, rank] 'movie_factors'")
        n_movies = state_rows(state_dict, "movie_factors") - 1
        model = cls(n_movies=n_movies, rank=factors.shape[1], user_histories=user_histories)
        model.load_state_dict(dict(state_dict), strict=True)
        return model


ItemModel = ItemItemModel | LowRankItemModel


def item_item_from_state_dict(
    dense: type[ItemItemModel],
    config: RetrievalModelConfig,
    state_dict: Mapping[str, Tensor],
    *,
    user_histories: UserHistories | None,
) -> ItemModel:
    """A saved item-item model: of the dense kind `dense`, or its low-rank stand-in (told apart
    by the tensors saved)."""
    if "movie_factors" in state_dict:
        return LowRankItemModel.from_state_dict(config, state_dict, user_histories=user_histories)
    return dense.from_state_dict(config, state_dict, user_histories=user_histories)
