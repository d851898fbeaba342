"""`AutoRec`: the item-based autoencoder of Sedhain et al. (2015), I-AutoRec.

Each movie's column of training ratings (one entry per user, 0 where unrated) goes through a
sigmoid layer to a code, and a linear layer maps the code back to every user's rating. Only the
observed ratings count in the loss. The rating of user u for movie i is therefore
`decoder.weight[u] · code_i + decoder.bias[u]`: a user vector is the user's decoder row and bias,
and the movie codes, computed from the training ratings once trained, are a buffer.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from reelrank.config import RatingModelConfig
from reelrank.models.csr import gather_rows
from reelrank.models.rating.base import RatingModel

__all__ = ["AutoRec", "RatingColumns"]


class RatingColumns:
    """The training ratings by movie, as CSR (`indptr [n_movies + 2]`, `users [nnz]`,
    `ratings [nnz]`), turned into dense `[rows, n_users + 1]` columns on demand."""

    def __init__(self, indptr: Tensor, users: Tensor, ratings: Tensor, n_users: int) -> None:
        self.indptr, self.users, self.ratings, self.n_users = indptr, users, ratings, n_users

    @classmethod
    def from_pairs(
        cls, user_idx: Tensor, movie_idx: Tensor, ratings: Tensor, *, n_users: int, n_movies: int
    ) -> RatingColumns:
        order = torch.argsort(movie_idx * (n_users + 1) + user_idx)
        counts = torch.bincount(movie_idx, minlength=n_movies + 1)
        indptr = torch.zeros(n_movies + 2, dtype=torch.int64)
        indptr[1:] = torch.cumsum(counts, 0)
        return cls(indptr, user_idx[order], ratings[order].float(), n_users)

    def dense(self, movies: Tensor) -> tuple[Tensor, Tensor]:
        """`[len(movies), n_users + 1]`: each movie's ratings (float, 0 where unrated) and
        which of them are rated (bool)."""
        gathered = gather_rows(self.indptr, movies)
        out = torch.zeros(len(movies), self.n_users + 1)
        rated = torch.zeros(len(movies), self.n_users + 1, dtype=torch.bool)
        users = self.users[gathered.entry]
        out[gathered.row, users] = self.ratings[gathered.entry]
        rated[gathered.row, users] = True
        return out, rated


class AutoRec(RatingModel):
    """I-AutoRec with `hidden_dims[0]` sigmoid units (Sedhain et al. use 500).

    `encoder`: Linear(n_users + 1 → hidden), `decoder`: Linear(hidden → n_users + 1); buffer
    `codes` `[n_movies + 1, hidden]` holds each movie's code, refreshed by `refresh_codes`.
    """

    codes: Tensor

    def __init__(
        self,
        config: RatingModelConfig,
        *,
        n_users: int,
        n_movies: int,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(n_users=n_users, n_movies=n_movies)
        if config.kind != "autorec":
            raise ValueError(f"AutoRec needs kind='autorec', got {config.kind!r}")
        if len(config.hidden_dims) != 1:
            raise ValueError(
                f"AutoRec has one hidden layer: give one width in hidden_dims, got "
                f"{config.hidden_dims}"
            )
        self.config = config
        hidden = config.hidden_dims[0]
        self.encoder = nn.Linear(n_users + 1, hidden)
        self.decoder = nn.Linear(hidden, n_users + 1)
        for layer in (self.encoder, self.decoder):
            nn.init.xavier_uniform_(layer.weight, generator=generator)
            nn.init.zeros_(layer.bias)
        self.register_buffer("codes", torch.zeros(n_movies + 1, hidden))

    def encode(self, columns: Tensor) -> Tensor:
        """`[items, n_users + 1]` rating columns -> `[items, hidden]` codes."""
        return torch.sigmoid(self.encoder(columns))

    def reconstruct(self, columns: Tensor) -> Tensor:
        """`[items, n_users + 1]` rating columns -> every user's predicted rating of each."""
        out: Tensor = self.decoder(self.encode(columns))
        return out

    @torch.no_grad()
    def refresh_codes(self, columns: RatingColumns, *, chunk: int = 1024) -> None:
        """Recompute every movie's code from the training ratings."""
        movies = torch.arange(self.n_movies + 1)
        for part in movies.split(chunk):
            dense, _ = columns.dense(part)
            self.codes[part.to(self.device)] = self.encode(dense.to(self.device))

    @torch.no_grad()
    def fill_untrained_users(self, trained: Tensor) -> None:
        """Users with no training rating (`trained` `[n_users + 1]` bool false), row 0 among them,
        get the mean decoder row and bias of those with some: the L2 penalty alone would leave
        them at zero, a rating of 0 for everything."""
        if not bool(trained.any()):
            return
        weight, bias = self.decoder.weight, self.decoder.bias
        weight[~trained] = weight[trained].mean(dim=0)
        bias[~trained] = bias[trained].mean()

    def user_vectors(self, user_idx: Tensor) -> Tensor:
        return torch.cat([self.decoder.weight[user_idx], self.decoder.bias[user_idx, None]], 1)

    def raw_rate(self, user_vectors: Tensor, movie_idx: Tensor) -> Tensor:
        return (self.codes[movie_idx] * user_vectors[:, :-1]).sum(dim=1) + user_vectors[:, -1]

    def raw_rate_grid(
        self, user_vectors: Tensor, movie_idx: Tensor, *, max_cells: int = 1 << 24
    ) -> Tensor:
        return user_vectors[:, :-1] @ self.codes[movie_idx].T + user_vectors[:, -1:]

    def weight_penalty(self) -> Tensor:
        """`l2` / 2 × the squared norms of both weight matrices (the paper's regulariser)."""
        squares = self.encoder.weight.square().sum() + self.decoder.weight.square().sum()
        return self.config.l2 / 2 * squares
