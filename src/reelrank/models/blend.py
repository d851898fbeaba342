"""`Blend`: an item-item model and a two-tower model scored together, as one dot product.

Item-item models (EDLAE) and neural two-tower models make different mistakes; their sum ranks
better than either. Each part's scores are divided by their spread over the training users, and
the two-tower part is weighted:

    score(u, i) = s_item(u, i) / σ_item + weight · s_tower(u, i) / σ_tower

which is still a dot product: query `[q_item / σ_item, weight · q_tower / σ_tower]`, movie vector
`[v_item, v_tower]`. So the blend goes through the same index, fold-in and artifact as any other
retrieval model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import torch
from torch import Tensor

from reelrank.config import RetrievalModelConfig
from reelrank.models.item_based import EDLAE, ItemItemModel
from reelrank.models.retrieval import RetrievalModel, UserHistories
from reelrank.models.two_tower import TwoTower


class Blend(RetrievalModel):
    """`item_item` + `weight` × `two_tower`, each scaled by the spread of its scores.

    The scales live in the `scales` buffer (`[2]`: `1/σ_item`, `weight/σ_tower`), so a saved blend
    scores exactly as it did when fitted.
    """

    scales: Tensor

    def __init__(self, item_item: ItemItemModel, two_tower: TwoTower) -> None:
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

    @classmethod
    def compose(cls, item_item: ItemItemModel, two_tower: TwoTower, *, weight: float) -> Blend:
        """A blend of two fitted models, calibrated (see `calibrate`)."""
        blend = cls(item_item, two_tower)
        blend.calibrate(weight=weight)
        return blend

    @torch.no_grad()
    def calibrate(self, *, weight: float) -> None:
        """Scale each part's scores to unit spread over the known users and movies, and weight
        the two-tower part; call once both parts are fitted."""
        if weight < 0:
            raise ValueError(f"blend weight must be >= 0, got {weight}")
        users = torch.arange(1, self.n_users + 1, device=self.scales.device)
        spreads = [
            (model.user_embedding(users) @ model.all_movie_embeddings()[1:].T).std()
            for model in (self.item_item, self.two_tower)
        ]
        self.scales.copy_(torch.stack([1 / spreads[0], weight / spreads[1]]))

    def _query(self, item_part: Tensor, tower_part: Tensor) -> Tensor:
        return torch.cat([item_part * self.scales[0], tower_part * self.scales[1]], dim=-1)

    def user_embedding(self, user_idx: Tensor) -> Tensor:
        """`[batch]` -> `[batch, n_movies + 1 + tower dim]`: both parts' scaled queries."""
        return self._query(
            self.item_item.user_embedding(user_idx), self.two_tower.user_embedding(user_idx)
        )

    def movie_embedding(self, movie_idx: Tensor) -> Tensor:
        """`[batch]` -> `[batch, n_movies + 1 + tower dim]`."""
        return torch.cat(
            [self.item_item.movie_embedding(movie_idx), self.two_tower.movie_embedding(movie_idx)],
            dim=-1,
        )

    def all_movie_embeddings(self) -> Tensor:
        """`[n_movies + 1, n_movies + 1 + tower dim]`."""
        return torch.cat(
            [self.item_item.all_movie_embeddings(), self.two_tower.all_movie_embeddings()], dim=-1
        )

    def fold_in(self, history_movie_idx: Tensor) -> Tensor:
        """`[history]` liked movies -> `[n_movies + 1 + tower dim]`: both parts folded in."""
        return self._query(
            self.item_item.fold_in(history_movie_idx), self.two_tower.fold_in(history_movie_idx)
        )

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
            EDLAE.from_state_dict(config, parts["item_item."], user_histories=user_histories),
            TwoTower.from_state_dict(tower_config, parts["two_tower."]),
        )
        blend.load_state_dict(dict(state_dict), strict=True)  # the scales, and no extra keys
        return blend
