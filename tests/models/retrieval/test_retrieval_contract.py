"""Every retrieval model kind passes the retrieval contract of `reelrank.testing.contracts`
(unknown user and movie, fold-in of any history and the same clear error without a known movie,
a safetensors round trip, the seed alone decides), each built the way `reelrank.experiment.build`
builds it, on the package's synthetic data set. Rating models pass theirs in
`test_rating_models.py`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
from torch import Tensor

from reelrank.config import ExperimentConfig, RetrievalModelConfig
from reelrank.data.encoding import features
from reelrank.experiment.split import prepare
from reelrank.models.retrieval.base import RetrievalModel, UserHistories
from reelrank.models.retrieval.blend import Blend
from reelrank.models.retrieval.factory import (
    CLOSED_FORM,
    fit_closed_form,
    new_two_tower,
    retrieval_model_from_state_dict,
)
from reelrank.models.retrieval.item_item import ItemItemModel
from reelrank.models.retrieval.low_rank import LowRankItemModel
from reelrank.models.retrieval.sequence import SequenceModel
from reelrank.testing.contracts import RETRIEVAL_CHECKS, Subject
from reelrank.types import Ratings

# Towers with every kind of feature (bag, dense, categorical) and an MLP, so the tables and
# encoders go through the round trip too.
_TOWER = RetrievalModelConfig(
    kind="two_tower",
    embedding_dim=8,
    user_features=("history",),
    movie_features=("title_tokens", "genres", "year"),
    tower_hidden_dims=(16,),
    max_history=10,
)
CONFIGS: dict[str, RetrievalModelConfig] = {
    "popularity": RetrievalModelConfig(kind="popularity"),
    "ease": RetrievalModelConfig(kind="ease", ease_lambda=50.0),
    "edlae": RetrievalModelConfig(kind="edlae", ease_lambda=30.0, low_rank=4),
    "two_tower": _TOWER,
    "blend": dataclasses.replace(_TOWER, kind="blend", ease_lambda=30.0, low_rank=4),
    # Where the dense solve would not fit (forced here with a 0 MB budget): the low-rank model.
    "ease_low_rank": RetrievalModelConfig(
        kind="ease", approx_lambda=5.0, dense_item_item_mb=0, approx_rank=6
    ),
    "blend_low_rank": dataclasses.replace(
        _TOWER, kind="blend", approx_lambda=5.0, dense_item_item_mb=0, approx_rank=6
    ),
    "sequence": RetrievalModelConfig(
        kind="sequence",
        embedding_dim=8,
        attention_heads=2,
        movie_features=("title_tokens", "genres", "year"),
        max_history=_TOWER.max_history,
    ),
}
# Whose weights depend on the seed.
LEARNED_KINDS = ("two_tower", "blend", "blend_low_rank", "sequence")


@dataclass(frozen=True)
class _Data:
    """The synthetic training split, encoded, with what the models are built from."""

    n_users: int
    n_movies: int
    users: Tensor  # [n] training pairs
    movies: Tensor
    user_tables: dict[str, Tensor]
    movie_tables: dict[str, Tensor]
    histories: UserHistories  # as the recommender stores them (its seen ratings)


@pytest.fixture(scope="module")
def data(ratings: Ratings) -> _Data:
    split = prepare(ratings, ExperimentConfig())
    vocabs = split.vocabs
    seen = split.train.by_user(vocabs.users.size)
    indptr, movie_idx = seen.indptr, seen.movie_idx
    users = features.user_tables(ratings, vocabs, split.train, max_history=_TOWER.max_history)
    movies = features.movie_tables(split.movies, vocabs)
    return _Data(
        n_users=len(vocabs.users),
        n_movies=len(vocabs.movies),
        users=torch.from_numpy(split.train.user_idx),
        movies=torch.from_numpy(split.train.movie_idx),
        user_tables={k: torch.from_numpy(v) for k, v in users.items()},
        movie_tables={k: torch.from_numpy(v) for k, v in movies.items()},
        histories=(torch.from_numpy(indptr), torch.from_numpy(movie_idx)),
    )


def _build(kind: str, data: _Data, *, seed: int = 0) -> RetrievalModel:
    """A model of `kind` as `reelrank.experiment.build` builds it: fitted, or freshly
    initialised."""
    sizes = {"n_users": data.n_users, "n_movies": data.n_movies}
    generator = torch.Generator().manual_seed(seed)
    config = CONFIGS[kind]
    if config.kind in CLOSED_FORM:
        return fit_closed_form(config, data.users, data.movies, **sizes)
    if config.kind == "sequence":
        return SequenceModel(
            config,
            **sizes,
            histories=data.user_tables["history"],  # each user's latest movies, in time order
            movie_tables=data.movie_tables,
            generator=generator,
        )
    tower = new_two_tower(
        config,
        **sizes,
        user_tables=data.user_tables,
        movie_tables=data.movie_tables,
        generator=generator,
    )
    if config.kind == "two_tower":
        return tower
    item_item = fit_closed_form(config, data.users, data.movies, **sizes)
    assert isinstance(item_item, ItemItemModel | LowRankItemModel)
    return Blend.compose(item_item, tower, weight=config.blend_weight)


def _subject(kind: str, data: _Data) -> Subject[RetrievalModel]:
    def rebuild(state: dict[str, Tensor]) -> RetrievalModel:
        return retrieval_model_from_state_dict(CONFIGS[kind], state, user_histories=data.histories)

    return Subject(
        lambda seed: _build(kind, data, seed=seed),
        rebuild,
        n_users=data.n_users,
        n_movies=data.n_movies,
        learned=kind in LEARNED_KINDS,
    )


@pytest.mark.parametrize("check", RETRIEVAL_CHECKS, ids=lambda check: check.__name__)
@pytest.mark.parametrize("kind", list(CONFIGS))
def test_every_kind_passes_the_retrieval_contract(
    kind: str, check: Callable[[Subject[RetrievalModel]], None], data: _Data
) -> None:
    check(_subject(kind, data))
