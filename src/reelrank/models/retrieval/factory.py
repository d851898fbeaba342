"""Build, fit and rebuild retrieval models by their configured `kind`.

One place knows every kind: "two_tower" (trained by gradient descent in `reelrank.training.loop`),
"popularity", "ease" and "edlae" (fitted in closed form here), "blend" (EDLAE fitted here plus
a two-tower model to train; `Blend.compose` joins them once the tower is trained) and "sequence"
(trained in `reelrank.training.sequence`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import torch
from torch import Tensor

from reelrank.config import RetrievalModelConfig
from reelrank.models.retrieval.base import RetrievalModel, UserHistories
from reelrank.models.retrieval.blend import Blend
from reelrank.models.retrieval.item_item import EASE, EDLAE, ItemItemModel, histories_from_pairs
from reelrank.models.retrieval.low_rank import LowRankItemModel, item_item_from_state_dict
from reelrank.models.retrieval.popularity import Popularity
from reelrank.models.retrieval.sequence import SequenceModel
from reelrank.models.retrieval.two_tower import TwoTower

KINDS: dict[str, type[RetrievalModel]] = {
    "two_tower": TwoTower,
    "popularity": Popularity,
    "ease": EASE,
    "edlae": EDLAE,
    "blend": Blend,
    "sequence": SequenceModel,
}
CLOSED_FORM = ("popularity", "ease", "edlae")
# The item-item model each kind fits in closed form (a blend's item-item part is an EDLAE).
_ITEM_ITEM: dict[str, type[ItemItemModel]] = {"ease": EASE, "edlae": EDLAE, "blend": EDLAE}


def new_two_tower(
    config: RetrievalModelConfig,
    *,
    n_users: int,
    n_movies: int,
    user_tables: Mapping[str, Tensor] | None = None,
    movie_tables: Mapping[str, Tensor] | None = None,
    generator: torch.Generator | None = None,
) -> TwoTower:
    """An untrained two-tower model (Keras-like initialisation from `generator`), from the
    two-tower fields of `config` (of kind "two_tower" or "blend")."""
    _check_kind(config)
    return TwoTower(
        dataclasses.replace(config, kind="two_tower"),
        n_users=n_users,
        n_movies=n_movies,
        user_tables=user_tables,
        movie_tables=movie_tables,
        generator=generator,
    )


def fit_closed_form(
    config: RetrievalModelConfig,
    user_idx: Tensor,
    movie_idx: Tensor,
    *,
    n_users: int,
    n_movies: int,
    histories: UserHistories | None = None,
) -> RetrievalModel:
    """Fit a model that needs no gradient training from `[n]` training (user, movie) indices
    (for a "blend", its item-item part). `histories`, the same pairs as each user's movies in
    CSR (`UserHistories`), saves building them again where a model keeps them."""
    _check_kind(config)
    if config.kind == "popularity":
        return Popularity(n_movies=n_movies).fit(movie_idx)
    if config.kind in _ITEM_ITEM:
        if dense_item_item_mb(n_users, n_movies) > config.dense_item_item_mb:
            if histories is None:
                histories = histories_from_pairs(
                    user_idx, movie_idx, n_users=n_users, n_movies=n_movies
                )
            return LowRankItemModel.fit(config, histories, n_movies=n_movies)
        model = _ITEM_ITEM[config.kind]
        return model.fit(config, user_idx, movie_idx, n_users=n_users, n_movies=n_movies)
    raise ValueError(f"a {config.kind!r} model is trained, not fitted in closed form")


def dense_item_item_mb(n_users: int, n_movies: int) -> float:
    """Megabytes the dense item-item solve holds: X and three `[movies, movies]` float64s."""
    cells = (n_users + 1) * (n_movies + 1) + 3 * (n_movies + 1) ** 2
    return cells * 8 / 2**20


def retrieval_model_from_state_dict(
    config: RetrievalModelConfig,
    state_dict: Mapping[str, Tensor],
    *,
    user_histories: UserHistories | None = None,
) -> RetrievalModel:
    """Rebuild a saved retrieval model of `config.kind` from its `state_dict()` (strict).

    `user_histories` is each user's training movies as CSR, `(indptr [n_users + 2], movie_idx
    [nnz])` int64 (the recommender's seen ratings): the item-item kinds ("ease", "edlae",
    "blend") score users from it and need it; the others ignore it.
    """
    _check_kind(config)
    kind = KINDS[config.kind]
    if issubclass(kind, ItemItemModel):
        return item_item_from_state_dict(kind, config, state_dict, user_histories=user_histories)
    if issubclass(kind, Blend):
        return kind.from_state_dict(config, state_dict, user_histories=user_histories)
    return kind.from_state_dict(config, state_dict)


def _check_kind(config: RetrievalModelConfig) -> None:
    if config.kind not in KINDS:
        raise ValueError(
            f"unknown retrieval model kind {config.kind!r}; choose one of {', '.join(KINDS)}"
        )
