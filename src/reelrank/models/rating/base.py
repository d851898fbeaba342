"""`RatingModel`: what every rating predictor offers the rest of reelrank.

A rating model turns a user into a vector (`user_vectors`) and rates movies for any vector
(`rate`), so that someone not in the data can be rated with a typical user's vector. Outside
training its ratings are clipped to the scale it was trained on (`rating_scale`, e.g. 1..5): a
prediction of 5.4 is never better than 5. Subclasses implement `user_vectors` and `raw_rate`
(unclipped; training fits those) and may implement a faster `raw_rate_grid`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["RatingModel"]

# (user, movie) pairs rated at once where a model has no faster grid than pair by pair.
GRID_PAIRS = 1 << 20


class RatingModel(nn.Module):
    """A rating predictor: `forward(user_idx, movie_idx)` -> `[batch]` ratings.

    Row 0 of the user and movie indices is the unknown id. `rating_scale` is a `[2]` buffer
    (lowest, highest rating), set with `set_rating_scale` when training starts; until then
    nothing is clipped.
    """

    n_users: int
    n_movies: int
    rating_scale: Tensor

    def __init__(self, *, n_users: int, n_movies: int) -> None:
        super().__init__()
        if n_users < 1 or n_movies < 1:
            raise ValueError(f"need at least one user and movie, got {n_users} and {n_movies}")
        self.n_users, self.n_movies = n_users, n_movies
        self.register_buffer("rating_scale", torch.tensor([-float("inf"), float("inf")]))

    # -- what a model implements ----------------------------------------------------------------

    def user_vectors(self, user_idx: Tensor) -> Tensor:
        """`[batch]` user indices -> `[batch, width]` vectors that `rate` reads."""
        raise NotImplementedError

    def raw_rate(self, user_vectors: Tensor, movie_idx: Tensor) -> Tensor:
        """Unclipped ratings `[batch]` of user vectors `[batch, width]` and movies `[batch]`."""
        raise NotImplementedError

    def raw_rate_grid(
        self, user_vectors: Tensor, movie_idx: Tensor, *, max_cells: int = GRID_PAIRS
    ) -> Tensor:
        """Unclipped ratings `[u, m]` of every user vector `[u, width]` with every movie `[m]`:
        by default pair by pair, about `max_cells` pairs at a time."""
        out = user_vectors.new_empty(len(user_vectors), len(movie_idx))
        chunk = max(1, max_cells // max(1, len(movie_idx)))
        for start in range(0, len(user_vectors), chunk):
            part = user_vectors[start : start + chunk]
            users = part.repeat_interleave(len(movie_idx), dim=0)
            movies = movie_idx.repeat(len(part))
            out[start : start + len(part)] = self.raw_rate(users, movies).view(len(part), -1)
        return out

    # -- what everyone calls --------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        buffer: Tensor = self.rating_scale
        return buffer.device

    def set_rating_scale(self, lowest: float, highest: float) -> None:
        """Clip ratings to `[lowest, highest]` outside training (the training data's range)."""
        if not lowest <= highest:
            raise ValueError(f"rating scale must run low to high, got {lowest} .. {highest}")
        self.rating_scale.copy_(torch.tensor([lowest, highest]))

    def start_training(self, lowest: float, highest: float, mean: float) -> None:
        """Called once before training on ratings in `[lowest, highest]` averaging `mean`: sets
        the scale to clip to (a model may also start its offset at the mean)."""
        self.set_rating_scale(lowest, highest)

    def penalty(self, user_idx: Tensor, movie_idx: Tensor, user_vectors: Tensor) -> Tensor:
        """The regularisation term added to a batch's mean squared error (none by default)."""
        return user_vectors.new_zeros(())

    def clip(self, ratings: Tensor) -> Tensor:
        """`ratings` within the rating scale, except while training (the loss sees raw values)."""
        if self.training:
            return ratings
        return ratings.clamp(self.rating_scale[0], self.rating_scale[1])

    def forward(self, user_idx: Tensor, movie_idx: Tensor) -> Tensor:
        """Predicted ratings `[batch]` for user and movie indices `[batch]` (int64)."""
        return self.rate(self.user_vectors(user_idx), movie_idx)

    def rate(self, user_vectors: Tensor, movie_idx: Tensor) -> Tensor:
        """Predicted ratings `[batch]` for user vectors `[batch, width]` (a typical user's, for
        someone not in the data) and movie indices `[batch]`."""
        return self.clip(self.raw_rate(user_vectors, movie_idx))

    @torch.no_grad()
    def rate_grid(
        self, user_vectors: Tensor, movie_idx: Tensor, *, max_cells: int = 1 << 24
    ) -> Tensor:
        """Predicted ratings `[u, m]` of every user vector `[u, width]` with every movie `[m]`,
        the same numbers as `rate` on every pair; at most about `max_cells` intermediate values
        are held at a time."""
        if len(user_vectors) == 0:
            return user_vectors.new_zeros(0, len(movie_idx))
        return self.clip(self.raw_rate_grid(user_vectors, movie_idx, max_cells=max_cells))

    @torch.no_grad()
    def typical_user(self) -> Tensor:
        """`[width]`: the mean vector of the known users (rows 1..n_users), for people the model
        has no row for."""
        rows = torch.arange(1, self.n_users + 1, device=self.device)
        total = None
        for part in rows.split(1 << 16):
            summed = self.user_vectors(part).sum(dim=0)
            total = summed if total is None else total + summed
        assert total is not None
        return total / self.n_users

    @torch.no_grad()
    def predict(
        self,
        user_idx: np.ndarray | Tensor,
        movie_idx: np.ndarray | Tensor,
        *,
        batch_size: int = 4096,
    ) -> np.ndarray:
        """Predicted ratings `[n]` float32 for `[n]` (user, movie) index pairs, `batch_size` pairs
        at a time so memory stays bounded; no autograd graph, the training mode is left as is."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        users = torch.as_tensor(user_idx, dtype=torch.long, device=self.device)
        movies = torch.as_tensor(movie_idx, dtype=torch.long, device=self.device)
        if users.shape != movies.shape or users.ndim != 1:
            raise ValueError(
                f"user_idx and movie_idx must be 1-D and of one length, got shapes "
                f"{tuple(users.shape)} and {tuple(movies.shape)}"
            )
        for name, index, size in (("user", users, self.n_users), ("movie", movies, self.n_movies)):
            if len(index) and (int(index.min()) < 0 or int(index.max()) > size):
                raise ValueError(f"{name} indices must lie in 0..{size} (0: unknown)")
        pairs = zip(users.split(batch_size), movies.split(batch_size), strict=True)
        out = [self(u, m) for u, m in pairs]
        if not out:
            return np.zeros(0, dtype=np.float32)
        return torch.cat(out).float().cpu().numpy()
