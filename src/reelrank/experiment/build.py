"""Building the configured models, in one place: a rating model or a retrieval model from the
config and the split data (feature tables, histories, a seeded generator), the ensemble sized for
the data, an untrained copy, and the index over a retrieval model's movie vectors."""

from __future__ import annotations

import dataclasses

import torch

from reelrank.config import ExperimentConfig
from reelrank.data.encoding import features
from reelrank.data.interactions import Interactions
from reelrank.errors import ReelrankError
from reelrank.experiment.split import SplitData
from reelrank.index import Index, build_index
from reelrank.models.rating.base import RatingModel
from reelrank.models.rating.factory import (
    feature_names,
    needs_histories,
    new_rating_model,
    rating_model_for_state,
)
from reelrank.models.retrieval.base import RetrievalModel
from reelrank.models.retrieval.blend import Blend
from reelrank.models.retrieval.factory import CLOSED_FORM, fit_closed_form, new_two_tower
from reelrank.models.retrieval.item_item import ItemItemModel
from reelrank.models.retrieval.low_rank import LowRankItemModel
from reelrank.models.retrieval.sequence import SequenceModel
from reelrank.types import Ratings


def build_rating_model(
    config: ExperimentConfig, data: SplitData, ratings: Ratings | Interactions | None = None
) -> RatingModel:
    """A freshly initialised rating model of `config.rating.kind`, with the feature tables and
    histories it reads (user features come from `ratings`, the data `data` was split from); the
    same seed gives the same weights."""
    if config.rating is None:
        raise ReelrankError(f"preset {config.preset!r} has no rating model")
    tables: dict[str, torch.Tensor] = {}
    if feature_names(config.rating):
        if ratings is None:
            raise ValueError("a rating model with side features needs the ratings they come from")
        built = features.rating_tables(ratings, data.vocabs, data.train, data.movies)
        tables = {k: torch.from_numpy(v) for k, v in built.items()}
    histories = None
    if needs_histories(config.rating):
        histories = (torch.from_numpy(data.seen.indptr), torch.from_numpy(data.seen.movie_idx))
    try:
        return new_rating_model(
            config.rating,
            n_users=len(data.vocabs.users),
            n_movies=len(data.vocabs.movies),
            tables=tables,
            histories=histories,
            generator=torch.Generator().manual_seed(config.training.seed),
        )
    except ValueError as error:
        raise ReelrankError(f"preset {config.preset!r}: {error}") from None


def sized_for(config: ExperimentConfig, *, n_users: int, n_movies: int) -> ExperimentConfig:
    """`config` without the ensemble models whose `max_cells` this data exceeds (the config the
    artifact then saves lists only the models trained). An ensemble left with none is an
    error naming the limit."""
    rating = config.rating
    if rating is None or not rating.components:
        return config
    cells = (n_users + 1) * (n_movies + 1)
    kept = tuple(c for c in rating.components if not c.max_cells or cells <= c.max_cells)
    if not kept:
        raise ReelrankError(
            f"every model of preset {config.preset!r}'s rating ensemble is limited to fewer "
            f"users x movies cells than this data's {cells:,}: choose another preset"
        )
    if len(kept) == len(rating.components):
        return config
    return dataclasses.replace(config, rating=dataclasses.replace(rating, components=kept))


def untrained_copy(config: ExperimentConfig, trained: RatingModel) -> RatingModel:
    """A freshly initialised rating model shaped like `trained` (the same feature tables and
    histories), drawn from the config's seed: what the seed document scores before training."""
    assert config.rating is not None
    fresh = rating_model_for_state(
        config.rating,
        trained.state_dict(),
        n_users=trained.n_users,
        n_movies=trained.n_movies,
        generator=torch.Generator().manual_seed(config.training.seed),
    )
    return fresh.eval()


def build_retrieval_model(
    config: ExperimentConfig, ratings: Ratings | Interactions, data: SplitData
) -> RetrievalModel:
    """The retrieval model of `config.retrieval.kind`: fitted if closed-form, else untrained."""
    if config.retrieval is None:
        raise ReelrankError(f"preset {config.preset!r} has no retrieval model")
    retrieval = config.retrieval
    sizes = {"n_users": len(data.vocabs.users), "n_movies": len(data.vocabs.movies)}
    users = torch.from_numpy(data.train.user_idx)
    movies = torch.from_numpy(data.train.movie_idx)
    histories = (torch.from_numpy(data.seen.indptr), torch.from_numpy(data.seen.movie_idx))
    if retrieval.kind in CLOSED_FORM:
        return fit_closed_form(retrieval, users, movies, **sizes, histories=histories)
    user_tables: dict[str, torch.Tensor] = {}
    movie_tables: dict[str, torch.Tensor] = {}
    if retrieval.movie_features:
        tables = features.movie_tables(data.movies, data.vocabs)
        movie_tables = {k: torch.from_numpy(v) for k, v in tables.items()}
    seed = (config.retrieval_training or config.training).seed
    if retrieval.kind == "sequence":
        n_rows = sizes["n_users"] + 1
        history = features.history_table(data.seen, n_rows, retrieval.max_history)
        return SequenceModel(
            retrieval,
            **sizes,
            histories=torch.from_numpy(history),
            movie_tables={k: movie_tables[k] for k in retrieval.movie_features},
            generator=torch.Generator().manual_seed(seed),
        )
    if retrieval.user_features:
        tables = features.user_tables(
            ratings, data.vocabs, data.seen, max_history=retrieval.max_history
        )
        user_tables = {k: torch.from_numpy(v) for k, v in tables.items()}
    tower = new_two_tower(
        retrieval,
        **sizes,
        user_tables=user_tables,
        movie_tables=movie_tables,
        generator=torch.Generator().manual_seed(seed),
    )
    if retrieval.kind != "blend":
        return tower
    item_item = fit_closed_form(retrieval, users, movies, **sizes, histories=histories)
    assert isinstance(item_item, ItemItemModel | LowRankItemModel)
    return Blend(item_item, tower)  # calibrated once the tower is trained


def index_of(retrieval: RetrievalModel, kind: str) -> Index:
    """The configured index over a trained retrieval model's movie vectors."""
    with torch.no_grad():
        vectors = retrieval.eval().all_movie_embeddings()
    try:
        return build_index(vectors, kind)
    except ValueError as error:
        raise ReelrankError(str(error)) from None
