"""An experiment end to end: split the ratings, build and train the configured models, evaluate,
and wrap them in a `Recommender`. The CLI's `train` and `evaluate` and the benchmarks call this."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from reelrank.config import ExperimentConfig, TrainingConfig
from reelrank.data.encoding.encoded import EncodedRatings
from reelrank.data.interactions import Interactions, as_interactions, check_explicit
from reelrank.errors import ReelrankError
from reelrank.evaluation.served import evaluate_served, scorable_test
from reelrank.evaluation.stages import evaluate_ratings, evaluate_retrieval
from reelrank.experiment.build import build_rating_model, build_retrieval_model, index_of, sized_for
from reelrank.experiment.split import SplitData, prepare
from reelrank.models.rating.ensemble import Ensemble
from reelrank.models.rating.mlp import RatingMLP
from reelrank.models.retrieval.blend import Blend, FoldIn
from reelrank.models.retrieval.sequence import SequenceModel
from reelrank.models.retrieval.two_tower import TwoTower
from reelrank.recommender.recommender import Recommender
from reelrank.runtime.distributed import World
from reelrank.training.checkpoints import Checkpoints
from reelrank.training.loop import ProgressCallback, RunContext, Task, fit
from reelrank.training.rating import fit_rating_model
from reelrank.training.sequence import fit_sequence
from reelrank.training.warm_start import warm_start
from reelrank.types import Ratings


def train_recommender(
    ratings: Ratings | Interactions,
    config: ExperimentConfig,
    *,
    on_progress: ProgressCallback | None = None,
    data_info: dict[str, Any] | None = None,
    device: torch.device | None = None,
    checkpoints: Checkpoints | None = None,
    world: World | None = None,
    warm_from: Recommender | None = None,
) -> Recommender:
    """Train every model `config` names on its split (the trained ones on `device`, default the
    CPU), evaluate on the held-out part (on `device` too), and return the `Recommender` (its
    `metrics` hold the evaluation), its models on the CPU. With `checkpoints` (made with
    `run_identity`), the trained models are checkpointed as they train, and a resumed run
    continues from the last checkpoint. In a `world` of several processes the models train
    together (see `reelrank.training.loop.fit`), and only rank 0 evaluates: the others' recommenders
    come back without metrics. With `warm_from` (a recommender of the same preset) the models
    start from its weights where they fit (`reelrank.training.warm_start`)."""
    if config.rating is None and config.retrieval is None:
        raise ReelrankError(
            f"preset {config.preset!r} names neither a rating nor a retrieval model"
        )
    ratings = as_interactions(ratings)  # encoded once; every step below reads the codes
    if config.rating is not None:
        check_explicit(ratings, f"preset {config.preset!r} has a rating model, which")
    data = prepare(ratings, config)
    context = RunContext(device, world, checkpoints, on_progress)
    config = sized_for(config, n_users=len(data.vocabs.users), n_movies=len(data.vocabs.movies))
    rater = build_rating_model(config, data, ratings) if config.rating is not None else None
    retrieval = build_retrieval_model(config, ratings, data) if config.retrieval else None
    tower = retrieval.two_tower if isinstance(retrieval, Blend) else retrieval
    warmed = None
    held_out: np.ndarray | None = None  # a warm ensemble's validation rows of `data.train`
    if warm_from is not None:
        warmed, held_out = _warm_start(warm_from, config, data, rater, tower)
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
        task = Task(rater, retrieval, config.retrieval_loss, weights=config.tasks)
        fit(task, data.train, config.training, context=context)
    else:
        if rater is not None:
            assert config.rating is not None
            fit_rating_model(
                rater,
                data.train if held_out is None else data.train.take(~held_out),
                config.training,
                components=config.rating.components,
                validation=None if held_out is None else data.train.take(held_out),
                context=context,
            )
        if isinstance(tower, TwoTower):
            task = Task(retrieval=tower, retrieval_loss=config.retrieval_loss)
            fit(task, data.train, config.retrieval_training or config.training, context=context)
            tower.cpu()  # the blend's calibration and everything after run on the CPU
        if isinstance(retrieval, SequenceModel):
            fit_sequence(
                retrieval, data.seen, config.retrieval_training or config.training, context=context
            )
            retrieval.cpu()
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
        index=index_of(retrieval, config.index) if retrieval is not None else None,
        # What it was trained on, so `evaluate_recommender` can tell training rows from test rows.
        data_info={
            **(data_info or {}),
            "ratings": len(ratings),
            "ratings_sha256": ratings.fingerprint(),
            **({"warm_start": warmed} if warmed is not None else {}),
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


def _warm_start(
    old: Recommender,
    config: ExperimentConfig,
    data: SplitData,
    rater: Any,
    tower: Any,
) -> tuple[dict[str, Any], np.ndarray | None]:
    """Start the trained models from `old`'s (see `reelrank.training.warm_start`): the rating
    model and the two-tower model, the ones training changes. Returns what each took, and for a
    warm ensemble the `[len(data.train)]` mask of its validation rows."""
    if old.config.preset != config.preset:
        raise ReelrankError(
            f"--warm-start needs an artifact of the same preset: it was trained with "
            f"{old.config.preset!r}, this run is {config.preset!r}"
        )
    vocabs = data.vocabs
    vocab_pairs = {
        "users": (old.catalog.users, vocabs.users),
        "movies": (old.catalog.movies, vocabs.movies),
    }
    old_tower = old.retrieval.two_tower if isinstance(old.retrieval, Blend) else old.retrieval
    pairs = [("rating", rater, old.rater), ("retrieval", tower, old_tower)]
    taken: dict[str, Any] = {}
    held_out = None
    if isinstance(rater, Ensemble):
        held_out = _held_out_again(old, data, config.training)
        if held_out is None:
            # Its members stop early, and its blend is fitted, on held-out ratings: without the
            # earlier model's (an artifact from before they were kept), a random part would be
            # mostly ratings it learned, and warm members would look better there than they are.
            pairs = pairs[1:]
            taken["rating"] = "trained afresh: an ensemble without its held-out ratings"
    for name, new_model, old_model in pairs:
        if isinstance(new_model, torch.nn.Module) and isinstance(old_model, torch.nn.Module):
            report = warm_start(new_model, old_model, **vocab_pairs)
            taken[name] = report.to_json()
    if held_out is not None:
        taken["rating"]["held_out"] = int(held_out.sum())
    return taken, held_out


def _held_out_again(
    old: Recommender, data: SplitData, training: TrainingConfig
) -> np.ndarray | None:
    """The validation rows of a warm ensemble's run, none of them learned by `old`: the ratings
    `old` held out that are still training ratings, and the validation fraction of the ratings
    `old` never saw (seeded); None where `old` kept no held-out ratings."""
    ensemble = old.rater
    if not isinstance(ensemble, Ensemble) or not len(ensemble.held_out):
        return None
    # Every (user, movie) of this run's training rows as one number, and `old`'s pairs in it.
    users = data.vocabs.users.numbers(old.catalog.users.terms, missing="unknown")
    movies = data.vocabs.movies.numbers(old.catalog.movies.terms, missing="unknown")
    to_new_user = np.concatenate([[0], users])
    to_new_movie = np.concatenate([[0], movies])
    width = np.int64(data.vocabs.movies.size)
    train = data.train.user_idx.astype(np.int64) * width + data.train.movie_idx

    def keys(user_idx: np.ndarray, movie_idx: np.ndarray) -> np.ndarray:
        u, m = to_new_user[user_idx], to_new_movie[movie_idx]
        return (u * width + m)[(u > 0) & (m > 0)]

    pairs = ensemble.held_out.cpu().numpy()
    again = np.isin(train, keys(pairs[:, 0], pairs[:, 1]))
    seen = old.seen
    old_users = np.repeat(np.arange(len(seen.indptr) - 1), np.diff(seen.indptr))
    new = ~np.isin(train, keys(old_users, seen.movie_idx)) & ~again
    rng = np.random.default_rng(training.seed)
    return again | (new & (rng.random(len(train)) < training.validation_fraction))
