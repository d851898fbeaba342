"""`Ensemble`: rating models blended by weights fitted on validation ratings.

rating = intercept + Σ_k w_k · model_k's (unclipped) rating, clipped to the scale. A user
vector is the concatenation of every model's user vector, so a typical user is each model's
typical user, and someone not in the data is rated as every model would rate them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from reelrank.models.rating.base import RatingModel

__all__ = ["Ensemble", "least_squares_weights"]


class Ensemble(RatingModel):
    """`models` blended with `blend` (`[k + 1]`: one weight per model, then the intercept).

    Until `set_blend` is called every model weighs 1/k (their plain average).
    """

    blend: Tensor
    held_out: Tensor

    def __init__(self, models: Sequence[RatingModel]) -> None:
        if not models:
            raise ValueError("an ensemble needs at least one model")
        n_users, n_movies = models[0].n_users, models[0].n_movies
        if any((m.n_users, m.n_movies) != (n_users, n_movies) for m in models):
            raise ValueError("every model of an ensemble must know the same users and movies")
        super().__init__(n_users=n_users, n_movies=n_movies)
        self.models = nn.ModuleList(models)
        average = [1 / len(models)] * len(models) + [0.0]
        self.register_buffer("blend", torch.tensor(average, dtype=torch.float32))
        # `[h, 2]` (user, movie) rows of the ratings held out to stop the models and fit the
        # blend: a warm-started retrain holds out the same ones, so nothing it judges by was
        # learned by the model it starts from (`reelrank.experiment.run`).
        self.register_buffer("held_out", torch.zeros(0, 2, dtype=torch.int64))
        with torch.no_grad():
            one = torch.ones(1, dtype=torch.int64)
            self.widths = [int(m.user_vectors(one).shape[1]) for m in models]

    def set_blend(self, weights: Sequence[float]) -> None:
        """One weight per model, then the intercept."""
        if len(weights) != len(self.models) + 1:
            raise ValueError(f"need {len(self.models) + 1} blend weights, got {len(weights)}")
        self.blend.copy_(torch.tensor(list(weights), dtype=torch.float32))

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: object) -> None:
        # The held-out rows are as many as the run held out; an artifact saved before they
        # were kept has none.
        key = prefix + "held_out"
        self.held_out = state_dict.setdefault(key, torch.zeros(0, 2, dtype=torch.int64)).clone()
        super()._load_from_state_dict(state_dict, prefix, *args)

    @property
    def members(self) -> list[RatingModel]:
        """The blended models, typed."""
        return [m for m in self.models if isinstance(m, RatingModel)]

    def user_vectors(self, user_idx: Tensor) -> Tensor:
        return torch.cat([m.user_vectors(user_idx) for m in self.members], dim=1)

    def _parts(self, user_vectors: Tensor) -> list[tuple[RatingModel, Tensor]]:
        parts = user_vectors.split(self.widths, dim=1)
        return list(zip(self.members, parts, strict=True))

    def raw_rate(self, user_vectors: Tensor, movie_idx: Tensor) -> Tensor:
        out = self.blend[-1].expand(len(user_vectors)).clone()
        for k, (model, vectors) in enumerate(self._parts(user_vectors)):
            out = out + self.blend[k] * model.raw_rate(vectors, movie_idx)
        return out

    def raw_rate_grid(
        self, user_vectors: Tensor, movie_idx: Tensor, *, max_cells: int = 1 << 24
    ) -> Tensor:
        out = user_vectors.new_full((len(user_vectors), len(movie_idx)), float(self.blend[-1]))
        for k, (model, vectors) in enumerate(self._parts(user_vectors)):
            out += self.blend[k] * model.raw_rate_grid(vectors, movie_idx, max_cells=max_cells)
        return out


def least_squares_weights(
    predictions: np.ndarray, targets: np.ndarray, *, ridge: float = 1e-3
) -> np.ndarray:
    """Blend weights `[k + 1]` (then the intercept) minimising the squared error of
    `predictions [n, k] @ w + intercept` against `targets [n]`, with a small ridge on the
    weights (not the intercept) so that near-identical models do not get huge opposite ones."""
    n, k = predictions.shape
    if n <= k:
        raise ValueError(f"need more validation ratings ({n}) than models ({k}) to blend them")
    design = np.hstack([predictions.astype(np.float64), np.ones((n, 1))])
    penalty = np.diag([ridge * n] * k + [0.0])
    weights: np.ndarray = np.linalg.solve(design.T @ design + penalty, design.T @ targets)
    return weights
