"""An experiment end to end: split the ratings, train the configured models, evaluate, and wrap
them in a `Recommender`. The CLI's `train` and `evaluate` and the benchmarks call this."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import torch

from reelrank.config import ExperimentConfig
from reelrank.data.catalog.catalog import Catalog
from reelrank.data.encoding import features
from reelrank.data.encoding.encoded import EncodedRatings, MovieTable, UserRatings, Vocabularies
from reelrank.data.interactions import Interactions, as_interactions, check_explicit
from reelrank.data.splits import split_ratings, split_rows
from reelrank.errors import ReelrankError
from reelrank.evaluation.served import evaluate_served, scorable_test
from reelrank.evaluation.stages import evaluate_ratings, evaluate_retrieval
from reelrank.index import Index, build_index
from reelrank.models.rating.base import RatingModel
from reelrank.models.rating.factory import (
    feature_names,
    needs_histories,
    new_rating_model,
    rating_model_for_state,
)
from reelrank.models.rating.mlp import RatingMLP
from reelrank.models.retrieval.base import RetrievalModel
from reelrank.models.retrieval.blend import Blend, FoldIn
from reelrank.models.retrieval.factory import CLOSED_FORM, fit_closed_form, new_two_tower
from reelrank.models.retrieval.item_item import ItemItemModel
from reelrank.models.retrieval.low_rank import LowRankItemModel
from reelrank.models.retrieval.two_tower import TwoTower
from reelrank.recommender.recommender import Recommender
from reelrank.runtime.distributed import World
from reelrank.training.checkpoints import Checkpoints
from reelrank.training.loop import ProgressCallback, fit
from reelrank.training.rating import fit_rating_model
from reelrank.types import Ratings


@dataclass(frozen=True)
class SplitData:
    """A split, encoded with the vocabularies of the whole data set (as the seed builds them)."""

    catalog: Catalog
    train: EncodedRatings
    test: EncodedRatings

    @property
    def vocabs(self) -> Vocabularies:
        return self.catalog.vocabs

    @property
    def movies(self) -> MovieTable:
        return self.catalog.table

    @cached_property
    def seen(self) -> UserRatings:
        """The training ratings grouped by user, oldest first: grouped once, then shared by the
        models that read histories and by the `Recommender` (at 25M ratings each copy is
        hundreds of megabytes)."""
        return self.train.by_user(self.vocabs.users.size)


def prepare(ratings: Ratings | Interactions, config: ExperimentConfig) -> SplitData:
    """Build vocabularies and catalogue from all ratings, split, and encode both parts."""
    data = as_interactions(ratings)
    if len(data) == 0:
        raise ReelrankError("the ratings table is empty: nothing to train on")
    vocabs = Vocabularies.from_ratings(data)
    train, test = split_ratings(data, config.split, seed=config.training.seed)
    return SplitData(
        catalog=Catalog(vocabs, MovieTable.from_ratings(data, vocabs.movies)),
        train=EncodedRatings.encode(train, vocabs),
        test=EncodedRatings.encode(test, vocabs),
    )


def check_split(ratings: Ratings | Interactions, config: ExperimentConfig) -> tuple[int, int]:
    """(training rows, test rows) of `config.split` on `ratings`, or a `ReelrankError` when
    either part would be empty: a model trained on nothing, or one no test rating can judge, is
    refused before any training (`reelrank train` calls this first)."""
    train_rows, test_rows = split_rows(ratings, config.split, seed=config.training.seed)
    if len(train_rows) == 0 or len(test_rows) == 0:
        raise ReelrankError(
            f"split {config.split} of {len(ratings):,} rating{'s' * (len(ratings) != 1)} leaves "
            f"{len(train_rows):,} to train on and {len(test_rows):,} to test on: too few; give "
            "more ratings (every user needs a few) or another --split"
        )
    return len(train_rows), len(test_rows)


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


def new_retrieval_model(
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
    if retrieval.user_features:
        tables = features.user_tables(
            ratings, data.vocabs, data.seen, max_history=retrieval.max_history
        )
        user_tables = {k: torch.from_numpy(v) for k, v in tables.items()}
    if retrieval.movie_features:
        tables = features.movie_tables(data.movies, data.vocabs)
        movie_tables = {k: torch.from_numpy(v) for k, v in tables.items()}
    seed = (config.retrieval_training or config.training).seed
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


def train_recommender(
    ratings: Ratings | Interactions,
    config: ExperimentConfig,
    *,
    on_progress: ProgressCallback | None = None,
    data_info: dict[str, Any] | None = None,
    device: torch.device | None = None,
    checkpoints: Checkpoints | None = None,
    world: World | None = None,
) -> Recommender:
    """Train every model `config` names on its split (the trained ones on `device`, default the
    CPU), evaluate on the held-out part (on `device` too), and return the `Recommender` (its
    `metrics` hold the evaluation), its models on the CPU. With `checkpoints` (made with
    `run_identity`), the trained models are checkpointed as they train, and a resumed run
    continues from the last checkpoint. In a `world` of several processes the models train
    together (see `reelrank.training.loop.fit`), and only rank 0 evaluates: the others' recommenders
    come back without metrics."""
    if config.rating is None and config.retrieval is None:
        raise ReelrankError(
            f"preset {config.preset!r} names neither a rating nor a retrieval model"
        )
    ratings = as_interactions(ratings)  # encoded once; every step below reads the codes
    if config.rating is not None:
        check_explicit(ratings, f"preset {config.preset!r} has a rating model, which")
    data = prepare(ratings, config)
    config = sized_for(config, n_users=len(data.vocabs.users), n_movies=len(data.vocabs.movies))
    rater = build_rating_model(config, data, ratings) if config.rating is not None else None
    retrieval = new_retrieval_model(config, ratings, data) if config.retrieval else None
    tower = retrieval.two_tower if isinstance(retrieval, Blend) else retrieval
    if checkpoints is not None:
        checkpoints.track(rater=rater, retrieval=tower if isinstance(tower, TwoTower) else None)

    if config.shared_embeddings:
        # The TFRS multitask model: one set of embeddings, rating and retrieval losses together.
        if not isinstance(retrieval, TwoTower) or not isinstance(rater, RatingMLP):
            raise ReelrankError(
                "shared_embeddings needs an mlp rating model and a two_tower retrieval model"
            )
        rater.share_embeddings(
            retrieval.user_tower.id_embedding, retrieval.movie_tower.id_embedding
        )
        fit(
            data.train,
            config.training,
            rater=rater,
            retrieval=retrieval,
            retrieval_loss=config.retrieval_loss,
            weights=config.tasks,
            on_progress=on_progress,
            device=device,
            checkpoints=checkpoints,
            world=world,
        )
    else:
        if rater is not None:
            assert config.rating is not None
            fit_rating_model(
                rater,
                data.train,
                config.training,
                components=config.rating.components,
                on_progress=on_progress,
                device=device,
                checkpoints=checkpoints,
                world=world,
            )
        if isinstance(tower, TwoTower):
            fit(
                data.train,
                config.retrieval_training or config.training,
                retrieval=tower,
                retrieval_loss=config.retrieval_loss,
                on_progress=on_progress,
                device=device,
                checkpoints=checkpoints,
                world=world,
            )
            tower.cpu()  # the blend's calibration and everything after run on the CPU
        if isinstance(retrieval, Blend) and config.retrieval is not None:
            retrieval.calibrate(
                weight=config.retrieval.blend_weight, fold_in=FoldIn.from_config(config.retrieval)
            )

    for model in (rater, retrieval):
        if isinstance(model, torch.nn.Module):
            model.cpu()  # the Recommender is built, and its caches computed, on the CPU
    recommender = Recommender(
        config=config,
        catalog=data.catalog,
        seen=data.seen,
        rater=rater,
        retrieval=retrieval,
        index=_index_of(retrieval, config.index) if retrieval is not None else None,
        # What it was trained on, so `evaluate_recommender` can tell training rows from test rows.
        data_info={
            **(data_info or {}),
            "ratings": len(ratings),
            "ratings_sha256": ratings.fingerprint(),
        },
    )
    if world is not None and not world.is_main:
        return recommender
    if device is not None:
        recommender.to(device)  # evaluated where it was trained
    recommender.metrics = evaluate_on(recommender, data.test) if len(data.test) else {}
    recommender.metrics |= {"train_ratings": len(data.train), "test_ratings": len(data.test)}
    return recommender.to("cpu")


def run_identity(ratings: Ratings | Interactions, config: ExperimentConfig) -> dict[str, Any]:
    """What a training run's checkpoints must match to be resumed: its configuration and the
    fingerprint of its data."""
    return {"config": config.to_dict(), "data_sha256": as_interactions(ratings).fingerprint()}


def evaluate_recommender(
    recommender: Recommender,
    ratings: Ratings | Interactions,
    split: str | None = None,
    *,
    liked_counts: Sequence[int] = (),
) -> dict[str, Any]:
    """Evaluate a trained recommender on the test part of `split` (default: its own split).

    Test ratings the model was trained on (another split of the same data overlaps the training
    rows) would flatter it: they are dropped, and `test_ratings_dropped_as_trained_on` says how
    many. Ratings of users or titles the model does not know are left out of the retrieval and
    served figures (and counted); the rating metrics give them the unknown slot, as the seed does.
    `liked_counts` adds the liked path given that many liked movies (`liked@{n}/...`).
    """
    encoded, dropped = scorable_test(recommender, ratings, split)
    metrics = evaluate_on(recommender, encoded, liked_counts=liked_counts)
    metrics["test_ratings"] = len(encoded)
    metrics["test_ratings_dropped_as_trained_on"] = dropped
    return metrics


def evaluate_on(
    recommender: Recommender, test: EncodedRatings, *, liked_counts: Sequence[int] = ()
) -> dict[str, Any]:
    """Every figure of a recommender on encoded test ratings: the rating model's, the retrieval
    stage's own, and those of the lists it serves (`liked_counts`: see `evaluate_served`)."""
    batch = recommender.config.training.eval_batch_size
    metrics: dict[str, Any] = {}
    if recommender.rater is not None:
        metrics |= evaluate_ratings(recommender.rater, test, batch_size=batch)
    if recommender.retrieval is not None:
        metrics |= evaluate_retrieval(
            recommender.retrieval,
            recommender.seen,
            test,
            batch_size=batch,
            max_users=recommender.config.training.served_users,
            seed=recommender.config.training.seed,
        )
    return metrics | evaluate_served(
        recommender,
        test,
        liked_counts=liked_counts,
        max_users=recommender.config.training.served_users,
    )


def _index_of(retrieval: RetrievalModel, kind: str) -> Index:
    """The configured index over a trained retrieval model's movie vectors."""
    with torch.no_grad():
        vectors = retrieval.eval().all_movie_embeddings()
    try:
        return build_index(vectors, kind)
    except ValueError as error:
        raise ReelrankError(str(error)) from None
