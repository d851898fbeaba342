"""`MatrixFactorization`: biased matrix factorisation, and SVD++ with `implicit`.

rating(u, i) = μ + b_u + b_i + q_i · (p_u + |N(u)|^-½ Σ_{j ∈ N(u)} y_j), the last sum only with
`implicit` (Koren 2008): N(u) is every movie u rated in training, whatever the rating, so what a
user chose to watch shapes their vector too.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from reelrank.config import RatingModelConfig
from reelrank.models.csr import gather_rows
from reelrank.models.rating.base import RatingModel

__all__ = ["MatrixFactorization"]

FACTOR_INIT_STD = 0.05


class MatrixFactorization(RatingModel):
    """Biased MF. A user vector is `[p_u (+ implicit sum), b_u]`; `global_bias` is μ.

    `histories` (`indptr [n_users + 2]`, `movie_idx [nnz]`, int64: each user's training movies
    as CSR, as `UserRatings` holds them) is needed with `implicit` and travels as buffers.
    The L2 penalty `l2` falls on the rows a batch touches (`penalty`), as in Funk's and
    Koren's SGD.
    """

    history_indptr: Tensor
    history_movies: Tensor

    def __init__(
        self,
        config: RatingModelConfig,
        *,
        n_users: int,
        n_movies: int,
        histories: tuple[Tensor, Tensor] | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(n_users=n_users, n_movies=n_movies)
        if config.kind != "mf":
            raise ValueError(f"MatrixFactorization needs kind='mf', got {config.kind!r}")
        self.config = config
        dim = config.embedding_dim
        self.user_factors = nn.Embedding(n_users + 1, dim)
        self.movie_factors = nn.Embedding(n_movies + 1, dim)
        self.user_bias = nn.Embedding(n_users + 1, 1)
        self.movie_bias = nn.Embedding(n_movies + 1, 1)
        self.global_bias = nn.Parameter(torch.zeros(()))
        for table in (self.user_factors, self.movie_factors):
            nn.init.normal_(table.weight, std=FACTOR_INIT_STD, generator=generator)
        nn.init.zeros_(self.user_bias.weight)
        nn.init.zeros_(self.movie_bias.weight)
        self.implicit_factors: nn.Embedding | None = None
        if config.implicit:
            if histories is None:
                raise ValueError("implicit feedback (SVD++) needs the users' training histories")
            indptr, movies = histories
            if indptr.shape != (n_users + 2,):
                raise ValueError(
                    f"histories indptr has shape {tuple(indptr.shape)}, expected ({n_users + 2},)"
                )
            self.register_buffer("history_indptr", indptr.to(torch.int64))
            self.register_buffer("history_movies", movies.to(torch.int64))
            self.implicit_factors = nn.Embedding(n_movies + 1, dim)
            nn.init.normal_(self.implicit_factors.weight, std=FACTOR_INIT_STD, generator=generator)

    def start_training(self, lowest: float, highest: float, mean: float) -> None:
        super().start_training(lowest, highest, mean)
        with torch.no_grad():
            self.global_bias.fill_(mean)

    def implicit_sum(self, user_idx: Tensor) -> Tensor:
        """`[batch, dim]`: |N(u)|^-½ Σ_{j ∈ N(u)} y_j for each user (zeros for no history)."""
        assert self.implicit_factors is not None
        # Every history entry of these users, in one gather (no per-user loop).
        gathered = gather_rows(self.history_indptr, user_idx)
        counts = gathered.lengths
        weights = counts.clamp(min=1).float().rsqrt()[gathered.row]
        rows = self.history_movies[gathered.entry]
        offsets = counts.cumsum(0) - counts
        return nn.functional.embedding_bag(
            rows,
            self.implicit_factors.weight,
            offsets,
            mode="sum",
            per_sample_weights=weights,
        )

    def user_vectors(self, user_idx: Tensor) -> Tensor:
        factors = self.user_factors(user_idx)
        if self.implicit_factors is not None:
            factors = factors + self.implicit_sum(user_idx)
        return torch.cat([factors, self.user_bias(user_idx)], dim=1)

    def raw_rate(self, user_vectors: Tensor, movie_idx: Tensor) -> Tensor:
        dot = (user_vectors[:, :-1] * self.movie_factors(movie_idx)).sum(dim=1)
        movie_bias = self.movie_bias(movie_idx).squeeze(-1)
        return self.global_bias + user_vectors[:, -1] + movie_bias + dot

    def raw_rate_grid(
        self, user_vectors: Tensor, movie_idx: Tensor, *, max_cells: int = 1 << 24
    ) -> Tensor:
        dots = user_vectors[:, :-1] @ self.movie_factors(movie_idx).T
        movie_bias = self.movie_bias(movie_idx).squeeze(-1)
        return dots + (self.global_bias + user_vectors[:, -1:]) + movie_bias[None, :]

    def penalty(self, user_idx: Tensor, movie_idx: Tensor, user_vectors: Tensor) -> Tensor:
        """`l2` × the mean squared norm of the rows this batch touched."""
        touched = (
            self.user_factors(user_idx).square().sum(1)
            + self.movie_factors(movie_idx).square().sum(1)
            + self.user_bias(user_idx).squeeze(-1).square()
            + self.movie_bias(movie_idx).squeeze(-1).square()
        )
        if self.implicit_factors is not None:  # the implicit part of the user vectors
            implicit = user_vectors[:, :-1] - self.user_factors(user_idx)
            touched = touched + implicit.square().sum(1)
        return self.config.l2 * touched.mean()
