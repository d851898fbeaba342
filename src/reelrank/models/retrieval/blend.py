"""`Blend`: an item-item model and a two-tower model scored together, as one dot product.

Item-item models (EDLAE) and neural two-tower models make different mistakes; their sum ranks
better than either. For a known user each part's scores are divided by their spread over the
training users, and the two-tower part is weighted:

    score(u, i) = s_item(u, i) / σ_item + weight · s_tower(u, i) / σ_tower

Someone folded in from N liked movies is different: EDLAE's scores grow with N, so scales measured
on training users (about 85 movies each) make the EDLAE part vanish for N = 1..3 and dominate for
N = 500. `fold_in` scales each part by its spread over the catalogue for that one query, so a
weight means the same at any N, and weighs the parts by how much the person told us:

    score(i) = s_item(i) / σ_item(q) · N / (N + γ)          EDLAE, trusted as N grows
             + w · s_tower(i) / σ_tower(q)                  the two-tower model
             + α / (N + β) · log(1 + count_i) / σ_pop       a popularity prior that fades

(`FoldIn`: w, γ, α, β; chosen on validation users, docs/liked_path.md). Every term is still a
dot product: query `[q_item · c_item, q_tower · c_tower, c_pop]`, movie vector `[v_item, v_tower,
log(1 + count)]`, with a known user's popularity coordinate 0. So the blend goes through the same
index, fold-in and artifact as any other retrieval model.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from reelrank.config import RetrievalModelConfig
from reelrank.models.retrieval.base import (
    RetrievalModel,
    UserHistories,
    known_history,
    known_movies,
)
from reelrank.models.retrieval.item_item import EDLAE, ItemItemModel
from reelrank.models.retrieval.low_rank import ItemModel, item_item_from_state_dict
from reelrank.models.retrieval.two_tower import TwoTower

# Users whose scores set each part's spread (all of them up to this many).
CALIBRATION_USERS = 1000
SCORES_AT_ONCE = 1 << 24  # the most scores `fold_in_each` holds at once


@dataclass(frozen=True)
class FoldIn:
    """How `Blend.fold_in` weighs its parts for N liked movies (see the module docstring)."""

    tower_weight: float
    shrinkage: float
    popularity: float
    popularity_offset: float

    @classmethod
    def from_config(cls, config: RetrievalModelConfig) -> FoldIn:
        return cls(
            tower_weight=config.fold_in_tower_weight,
            shrinkage=config.fold_in_shrinkage,
            popularity=config.fold_in_popularity,
            popularity_offset=config.fold_in_popularity_offset,
        )

    def __post_init__(self) -> None:
        for name, value in dataclasses.asdict(self).items():
            if not value >= 0:  # NaN too
                raise ValueError(f"fold-in {name} must be >= 0, got {value}")


class Blend(RetrievalModel):
    """`item_item` + `weight` × `two_tower`, each scaled by the spread of its scores.

    The scales live in the `scales` buffer (`[2]`: `1/σ_item`, `weight/σ_tower`) and the fold-in
    weights in `fold_in_weights` (`[4]`: `FoldIn`'s fields), so a saved blend scores exactly as it
    did when fitted. The popularity column is counted from the item-item part's user histories.
    """

    scales: Tensor
    fold_in_weights: Tensor
    log_popularity: Tensor

    def __init__(self, item_item: ItemModel, two_tower: TwoTower) -> None:
        super().__init__()
        if (item_item.n_users, item_item.n_movies) != (two_tower.n_users, two_tower.n_movies):
            raise ValueError(
                "the blended models must share users and movies: "
                f"{item_item.n_users}x{item_item.n_movies} vs "
                f"{two_tower.n_users}x{two_tower.n_movies}"
            )
        self.item_item = item_item
        self.two_tower = two_tower
        self.n_users = item_item.n_users
        self.n_movies = item_item.n_movies
        self.register_buffer("scales", torch.ones(2))
        default = FoldIn.from_config(RetrievalModelConfig())
        self.register_buffer("fold_in_weights", torch.tensor(dataclasses.astuple(default)))
        # Rebuilt from the histories the recommender saves anyway, like the item-item part's.
        counts = torch.bincount(item_item.history_movies, minlength=self.n_movies + 1)
        counts[0] = 0
        self.register_buffer("log_popularity", torch.log1p(counts.float()), persistent=False)
        self._tower_cache: tuple[tuple[tuple[int, int], ...], Tensor] | None = None

    @classmethod
    def compose(
        cls,
        item_item: ItemModel,
        two_tower: TwoTower,
        *,
        weight: float,
        fold_in: FoldIn | None = None,
    ) -> Blend:
        """A blend of two fitted models, calibrated (see `calibrate`)."""
        blend = cls(item_item, two_tower)
        blend.calibrate(weight=weight, fold_in=fold_in)
        return blend

    @torch.no_grad()
    def calibrate(self, *, weight: float, fold_in: FoldIn | None = None) -> None:
        """Scale each part's scores to unit spread over the known users (a seeded sample of
        `CALIBRATION_USERS` where there are more) and movies, weight the
        two-tower part, and set how `fold_in` weighs the parts (default: the config's defaults);
        call once both parts are fitted."""
        if not weight >= 0:
            raise ValueError(f"blend weight must be >= 0, got {weight}")
        users = torch.arange(1, self.n_users + 1, device=self.scales.device)
        if len(users) > CALIBRATION_USERS:
            # A spread is a scale, and a seeded sample of users estimates it to well under 1%:
            # all of MovieLens 25M's users x movies would be a 37 GB score table.
            generator = torch.Generator().manual_seed(0)
            sample = torch.randperm(len(users), generator=generator)[:CALIBRATION_USERS]
            users = users[sample.sort().values.to(users.device)]
        spreads = [
            (model.user_embedding(users) @ model.all_movie_embeddings()[1:].T).std()
            for model in (self.item_item, self.two_tower)
        ]
        self.scales.copy_(torch.stack([1 / spreads[0], weight / spreads[1]]))
        fold_in = fold_in or FoldIn.from_config(RetrievalModelConfig())
        self.fold_in_weights.copy_(torch.tensor(dataclasses.astuple(fold_in)))

    def user_embedding(self, user_idx: Tensor) -> Tensor:
        """`[batch]` -> `[batch, n_movies + 1 + tower dim + 1]`: both parts' scaled queries (no
        popularity prior: a known user's history says enough)."""
        item = self.item_item.user_embedding(user_idx) * self.scales[0]
        tower = self.two_tower.user_embedding(user_idx) * self.scales[1]
        return torch.cat([item, tower, item.new_zeros(len(item), 1)], dim=-1)

    def movie_embedding(self, movie_idx: Tensor) -> Tensor:
        """`[batch]` -> `[batch, n_movies + 1 + tower dim + 1]`."""
        return torch.cat(
            [
                self.item_item.movie_embedding(movie_idx),
                self.two_tower.movie_embedding(movie_idx),
                self.log_popularity[movie_idx][:, None],
            ],
            dim=-1,
        )

    def all_movie_embeddings(self) -> Tensor:
        """`[n_movies + 1, n_movies + 1 + tower dim + 1]`."""
        return torch.cat(
            [
                self.item_item.all_movie_embeddings(),
                self.two_tower.all_movie_embeddings(),
                self.log_popularity[:, None],
            ],
            dim=-1,
        )

    @torch.no_grad()
    def fold_in(self, history_movie_idx: Tensor) -> Tensor:
        """`[history]` liked movies -> `[n_movies + 1 + tower dim + 1]`: each part folded in and
        scaled for this query (see the module docstring)."""
        n = float(known_history(history_movie_idx, self.n_movies).unique().numel())
        tower_weight, shrinkage, popularity, offset = self.fold_in_weights.tolist()
        item = self.item_item.fold_in(history_movie_idx)
        tower = self.two_tower.fold_in(history_movie_idx)
        item = item * (n / (n + shrinkage)) / _spread(self.item_item.all_movie_embeddings(), item)
        tower = tower * tower_weight / _spread(self._tower_movie_vectors(), tower)
        prior = popularity / (n + offset) / _spread(self.log_popularity[:, None], item.new_ones(1))
        return torch.cat([item, tower, item.new_full((1,), prior)])

    @torch.no_grad()
    def fold_in_each(self, movie_idx: Tensor) -> Tensor:
        """`[m]` known movies -> `[m, dim]`: `fold_in([i])` for each movie, in one batch (N = 1
        for every row)."""
        movies = known_movies(movie_idx, self.n_movies).to(self.scales.device)
        if not movies.numel():
            return self.scales.new_zeros(0, self.all_movie_embeddings().shape[1])
        # Each row scores the whole catalogue for its spreads: ~16M scores at a time (folding in
        # all of 25M's 56k movies at once would be a 12.7 GB table).
        chunk = max(1, SCORES_AT_ONCE // self.n_movies)
        if len(movies) > chunk:
            return torch.cat([self.fold_in_each(part) for part in movies.split(chunk)])
        tower_weight, shrinkage, popularity, offset = self.fold_in_weights.tolist()
        item = self.item_item.fold_in_each(movies)
        tower = self.two_tower.fold_in_each(movies)
        if isinstance(self.item_item, ItemItemModel):
            # A one-hot item query scores the catalogue with one row of the item-item weights.
            item_scores = self.item_item.item_weights[movies, 1:]
        else:
            item_scores = item @ self.item_item.all_movie_embeddings()[1:].T
        tower_scores = tower @ self._tower_movie_vectors()[1:].T
        item = item * (1.0 / (1.0 + shrinkage)) / _spreads(item_scores)[:, None]
        tower = tower * tower_weight / _spreads(tower_scores)[:, None]
        prior = (
            popularity / (1.0 + offset) / _spread(self.log_popularity[:, None], item.new_ones(1))
        )
        return torch.cat([item, tower, item.new_full((len(movies), 1), float(prior))], dim=1)

    def _tower_movie_vectors(self) -> Tensor:
        """The two-tower part's movie vectors, kept between fold-ins (running the movie tower
        over the catalogue is most of a fold-in's cost) until a weight changes in place or is
        replaced, as training or `load_state_dict` do."""
        state = tuple(
            (id(t), t._version)
            for t in itertools.chain(self.two_tower.parameters(), self.two_tower.buffers())
        )
        if self._tower_cache is None or self._tower_cache[0] != state:
            self._tower_cache = (state, self.two_tower.all_movie_embeddings())
        return self._tower_cache[1]

    @classmethod
    def from_state_dict(
        cls,
        config: RetrievalModelConfig,
        state_dict: Mapping[str, Tensor],
        *,
        user_histories: UserHistories | None = None,
    ) -> Blend:
        """Rebuild from `config` and `state_dict()`; strict, as each part's own loader.

        `user_histories` (each user's training movies) is required: the item-item part needs it.
        """
        parts: dict[str, dict[str, Tensor]] = {"item_item.": {}, "two_tower.": {}}
        for name, tensor in state_dict.items():
            for prefix, part in parts.items():
                if name.startswith(prefix):
                    part[name[len(prefix) :]] = tensor
        tower_config = dataclasses.replace(config, kind="two_tower")
        blend = cls(
            item_item_from_state_dict(
                EDLAE, config, parts["item_item."], user_histories=user_histories
            ),
            TwoTower.from_state_dict(tower_config, parts["two_tower."]),
        )
        blend.load_state_dict(dict(state_dict), strict=True)  # the scales, and no extra keys
        return blend


def _spread(movie_vectors: Tensor, query: Tensor) -> Tensor:
    """The standard deviation of `query`'s scores over the known movies (rows 1..), or infinity
    where they are all equal: dividing by it then switches the part off instead of blowing up."""
    return _spreads((movie_vectors[1:] @ query)[None, :])[0]


def _spreads(scores: Tensor) -> Tensor:
    """`[q, movies]` scores -> `[q]` each row's standard deviation, infinity where it is 0 (or
    undefined, with one movie)."""
    spread = scores.std(dim=1)
    return torch.where(spread > 0, spread, torch.full_like(spread, float("inf")))
