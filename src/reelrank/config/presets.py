"""The named presets (`reelrank train --preset NAME`): the TFRS tutorials, the baselines, the rating
models and the two-stage recommender, each an `ExperimentConfig`. Standard library only."""

from __future__ import annotations

import dataclasses

from reelrank.config.experiment import ExperimentConfig
from reelrank.config.models import (
    RatingComponent,
    RatingModelConfig,
    RetrievalLossConfig,
    RetrievalModelConfig,
)
from reelrank.config.training import TaskWeights, TrainingConfig
from reelrank.errors import ReelrankError

_TFRS_SOFTMAX = RetrievalLossConfig(reduction="sum")  # tfrs.tasks.Retrieval sums the batch loss
_IDS_ONLY = RetrievalModelConfig(kind="two_tower", embedding_dim=32)
_HISTORY_TOWER = RetrievalModelConfig(
    kind="two_tower",
    embedding_dim=64,
    user_features=("history",),
    movie_features=("genres",),
    max_history=100,
)
_CORRECTED_SOFTMAX = RetrievalLossConfig(
    temperature=0.5, remove_accidental_hits=True, logq_correction=True
)
_TOWER_TRAINING = TrainingConfig(optimizer="adam", learning_rate=0.01, batch_size=4096, epochs=5)

# Rating models (benchmarks/rating_accuracy.py compares them). Each holds out 5% of its training
# rows to stop early on; every value was chosen on such validation rows, never on a test split
# (benchmarks/rating_tuning.py).
_WATCHED = TrainingConfig(validation_fraction=0.05, patience=3, eval_batch_size=65536)
_MF_TRAINING = dataclasses.replace(
    _WATCHED, optimizer="adam", learning_rate=0.005, batch_size=1024, epochs=40
)
_MLP_TRAINING = dataclasses.replace(
    _WATCHED, optimizer="adam", learning_rate=0.002, batch_size=1024, epochs=40
)
_AUTOREC_TRAINING = dataclasses.replace(_WATCHED, optimizer="lbfgs", epochs=60)
_SEED_BIASED = RatingModelConfig(biases=True)
_FEATURES = RatingModelConfig(
    biases=True,
    user_features=("gender", "age", "occupation", "zip_prefix", "active_time"),
    movie_features=("genres", "year"),
)
_DCN = dataclasses.replace(_FEATURES, cross_layers=2, hidden_dims=(256, 64))
_MF = RatingModelConfig(kind="mf", embedding_dim=64, l2=0.1)
_SVDPP = RatingModelConfig(kind="mf", embedding_dim=64, l2=0.1, implicit=True)
_AUTOREC = RatingModelConfig(kind="autorec", hidden_dims=(500,), l2=200.0)
# The blend chosen by cross-validating its weights on the validation rows: of every mix of
# AutoRec, SVD++, MF, the feature-aware MLP and DCN, this one was within 0.0001 of the best and
# trains well within a minute (docs/rating_accuracy.md).
_BEST = RatingModelConfig(
    kind="ensemble",
    components=(
        # Past 50M cells (MovieLens 1M has 22M, 25M 10 billion) these two are left out: AutoRec
        # would train on movie chunks (about 30 min an epoch, a 3.8 GB peak at 25M's shape), and
        # SVD++ sums each sampled user's whole history (25M's heavy users: hours an epoch).
        RatingComponent(_AUTOREC, _AUTOREC_TRAINING, max_cells=50_000_000),
        RatingComponent(_SVDPP, _MF_TRAINING, max_cells=50_000_000),
        RatingComponent(_FEATURES, _MLP_TRAINING),
    ),
)


def _rating_preset(
    name: str, model: RatingModelConfig, training: TrainingConfig
) -> ExperimentConfig:
    return ExperimentConfig(preset=name, rating=model, training=training)


PRESETS: dict[str, ExperimentConfig] = {
    # The TensorFlow Recommenders ranking tutorial, exactly.
    "seed": ExperimentConfig(preset="seed"),
    # The TFRS basic retrieval tutorial: id embeddings (dim 32), in-batch softmax, Adagrad 0.1,
    # batch 8192, 3 epochs, every rating a positive.
    "seed-retrieval": ExperimentConfig(
        preset="seed-retrieval",
        rating=None,
        retrieval=_IDS_ONLY,
        retrieval_loss=_TFRS_SOFTMAX,
        tasks=TaskWeights(rating=0.0, retrieval=1.0),
    ),
    # The TFRS multitask tutorial: shared embeddings, rating and retrieval losses weighted.
    "multitask": ExperimentConfig(
        preset="multitask",
        retrieval=_IDS_ONLY,
        retrieval_loss=_TFRS_SOFTMAX,
        tasks=TaskWeights(rating=1.0, retrieval=1.0),
        shared_embeddings=True,
    ),
    # Baselines, so users see what a model adds.
    "popularity": ExperimentConfig(
        preset="popularity", rating=None, retrieval=RetrievalModelConfig(kind="popularity")
    ),
    "ease": ExperimentConfig(
        preset="ease", rating=None, retrieval=RetrievalModelConfig(kind="ease", ease_lambda=500.0)
    ),
    "edlae": ExperimentConfig(
        preset="edlae",
        rating=None,
        retrieval=RetrievalModelConfig(kind="edlae", ease_lambda=300.0),
    ),
    # The learned half of the two-stage retrieval alone: a two-tower model whose user tower reads
    # the rating history (ids + last 100 movies; movies: ids + genres), trained with the in-batch
    # softmax, log-Q correction and accidental hits removed.
    "two-tower": ExperimentConfig(
        preset="two-tower",
        rating=None,
        retrieval=_HISTORY_TOWER,
        retrieval_loss=_CORRECTED_SOFTMAX,
        retrieval_training=_TOWER_TRAINING,
    ),
    # What people watch next: a causal transformer over the latest 200 movies' ids, full-softmax
    # cross-entropy, stopped early on each person's latest training movie. Content beside the
    # ids (title words, genres, year) and the other settings tried lost on validation
    # (docs/sequential.md; benchmarks/sequential_research.py).
    "sequential": ExperimentConfig(
        preset="sequential",
        rating=None,
        retrieval=RetrievalModelConfig(kind="sequence", embedding_dim=64, max_history=200),
        retrieval_training=TrainingConfig(
            optimizer="adam", learning_rate=0.001, batch_size=128, epochs=200, patience=5
        ),
    ),
    # Rating models beyond the seed (docs/rating_accuracy.md).
    "seed-biased": _rating_preset("seed-biased", _SEED_BIASED, _MLP_TRAINING),
    "features": _rating_preset("features", _FEATURES, _MLP_TRAINING),
    "dcn": _rating_preset("dcn", _DCN, _MLP_TRAINING),
    "mf": _rating_preset("mf", _MF, _MF_TRAINING),
    "svdpp": _rating_preset("svdpp", _SVDPP, _MF_TRAINING),
    "autorec": _rating_preset("autorec", _AUTOREC, _AUTOREC_TRAINING),
    # The most accurate rating model we measured: I-AutoRec, SVD++ and the feature-aware MLP
    # blended by least squares on 5% of the training rows.
    "best": _rating_preset("best", _BEST, TrainingConfig(validation_fraction=0.05)),
    # Both stages: the best retrieval model we measured hands 100 candidates to the best rating
    # model (the "best" preset's ensemble), which gives each its predicted rating. Retrieval is
    # EDLAE + a low-rank term, blended with a two-tower model (ids + rating history, ids +
    # genres; in-batch softmax with log-Q correction), all chosen on validation splits of the
    # training data (docs/retrieval_research.md; benchmarks/retrieval_research.py).
    "two-stage": ExperimentConfig(
        preset="two-stage",
        rating=_BEST,
        retrieval=dataclasses.replace(
            _HISTORY_TOWER, kind="blend", ease_lambda=300.0, blend_weight=0.5
        ),
        retrieval_loss=_CORRECTED_SOFTMAX,
        retrieval_training=_TOWER_TRAINING,
        training=TrainingConfig(validation_fraction=0.05),
    ),
}


def preset(name: str) -> ExperimentConfig:
    """The named preset; an unknown name lists the known ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ReelrankError(
            f"unknown preset {name!r}; choose one of: {', '.join(sorted(PRESETS))}"
        ) from None
