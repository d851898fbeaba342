"""Configuration: one frozen dataclass per component and the named presets (their checked JSON
round trip is `reelrank.config_json`).

Standard library only (DESIGN.md, layer 1). Every artifact stores its `ExperimentConfig` as JSON,
so a saved model says exactly how it was built.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, TypeVar

from reelrank.config_json import from_dict, to_dict
from reelrank.types import ReelrankError

T = TypeVar("T")


@dataclass(frozen=True)
class RankingModelConfig:
    """The rating model, of `kind`:

    - "mlp" (the seed): user and movie embeddings, concatenated, through a ReLU MLP of
      `hidden_dims` to one rating; `biases` adds a global mean and user and movie biases;
      `cross_layers` puts that many DCN-v2 cross layers before the MLP; `user_features` (from
      "gender", "age", "occupation", "zip_prefix", "active_time") and `movie_features` (from
      "genres", "year") join the embeddings.
    - "mf": biased matrix factorisation (global mean + biases + dot product of
      `embedding_dim` factors); `implicit` adds SVD++'s implicit feedback (the movies a user
      rated, whatever the rating).
    - "autorec": I-AutoRec, an item-based autoencoder: each movie's column of training ratings
      through a sigmoid layer of `hidden_dims[0]` units and back to every user.
    - "ensemble": `components`, each trained on its own, blended by least squares on a
      validation split carved from the training rows.
    `l2` is the L2 penalty of "mf" (on the rows each batch touches) and "autorec" (on the
    weights); the MLP is regularised by the training's `weight_decay`.
    """

    kind: str = "mlp"
    embedding_dim: int = 32
    hidden_dims: tuple[int, ...] = (256, 64)
    biases: bool = False
    cross_layers: int = 0
    user_features: tuple[str, ...] = ()
    movie_features: tuple[str, ...] = ()
    implicit: bool = False
    l2: float = 0.0
    components: tuple[RatingComponent, ...] = ()


@dataclass(frozen=True)
class RatingComponent:
    """One model of a rating ensemble, with the training it gets. With `max_cells` above 0, the
    ensemble leaves this model out on data of more (users + 1) × (movies + 1) cells than that;
    the saved config then lists only the models it has."""

    model: RankingModelConfig = field(default_factory=RankingModelConfig)
    training: TrainingConfig = field(default_factory=lambda: TrainingConfig())
    max_cells: int = 0


@dataclass(frozen=True)
class RetrievalModelConfig:
    """The candidate generator.

    `kind` is "two_tower" (learned user and movie towers, dot-product scores), "popularity",
    "ease" or "edlae" (closed-form item-item models; `ease_lambda` is their L2 penalty, EDLAE adds
    dropout emphasis and a low-rank term), or "blend": the EDLAE model these fields describe plus
    `blend_weight` times the two-tower model they describe, each part's scores scaled to unit
    spread. For someone folded in from N liked movies, a blend scales each part per query instead
    and weighs them by N: EDLAE × N / (N + `fold_in_shrinkage`), the tower ×
    `fold_in_tower_weight`, and a popularity prior × `fold_in_popularity` / (N +
    `fold_in_popularity_offset`) (see `reelrank.models.blend`).
    Features are optional tower inputs besides the ids:
    user features from ("gender", "age", "occupation", "history"), movie features from
    ("title_tokens", "genres", "year").
    """

    kind: str = "two_tower"
    embedding_dim: int = 32
    user_features: tuple[str, ...] = ()
    movie_features: tuple[str, ...] = ()
    tower_hidden_dims: tuple[int, ...] = ()
    max_history: int = 50
    ease_lambda: float = 500.0
    edlae_dropout: float = 0.75
    low_rank: int = 20
    low_rank_weight: float = 0.25
    # The dense item-item solve holds X and three [movies, movies] matrices in float64; past this
    # many megabytes (MovieLens 10M on) "ease", "edlae" and a blend's item-item part become
    # `LowRankItemModel`: a ridge filter (`approx_lambda`) on the top `approx_rank` singular
    # directions of X.
    dense_item_item_mb: int = 2048
    approx_rank: int = 256
    approx_lambda: float = 1000.0  # chosen on MovieLens 100k validation (benchmarks/low_rank.py)
    blend_weight: float = 0.5
    # Chosen on validation users (benchmarks/liked_path_research.py; docs/liked_path.md).
    fold_in_tower_weight: float = 0.25
    fold_in_shrinkage: float = 30.0
    fold_in_popularity: float = 2.0
    fold_in_popularity_offset: float = 3.0


@dataclass(frozen=True)
class RetrievalLossConfig:
    """In-batch sampled softmax over the batch's movies, with the corrections the field uses."""

    temperature: float = 1.0
    remove_accidental_hits: bool = False
    logq_correction: bool = False
    reduction: str = "mean"  # "sum" is TFRS' (Keras' CategoricalCrossentropy with SUM reduction)


@dataclass(frozen=True)
class TrainingConfig:
    """Optimisation. Defaults are the seed's: Keras Adagrad(lr=0.1), batch 8192, 3 epochs."""

    optimizer: str = "adagrad"  # "adagrad", "adam", or "lbfgs" (full batch: AutoRec)
    learning_rate: float = 0.1
    # "cosine": the learning rate falls along a half cosine to 0 over the epochs.
    schedule: str = "constant"
    adagrad_initial_accumulator: float = 0.1  # Keras' default, so numbers compare with TFRS
    epsilon: float = 1e-7  # Keras' default
    weight_decay: float = 0.0
    batch_size: int = 8192
    epochs: int = 3
    eval_batch_size: int = 4096
    # A rating model may hold out this fraction of its training rows (a seeded random sample) to
    # watch while it trains: with `patience`, training stops once that many epochs pass without
    # a better validation RMSE, and the best epoch's weights are kept. An ensemble blends its
    # components on this split. The test split is never read for either.
    validation_fraction: float = 0.0
    patience: int = 0
    # The served lists are scored for at most this many test users (a sample fixed by `seed`):
    # all of MovieLens 100k's 943, a few percent of 25M's 162k, whose ranking-only lists would
    # otherwise cost 10^10 predictions. The rating metrics always use every test rating.
    served_users: int = 2000
    # "bf16": dense layers multiply in bfloat16 (weights and optimizer state stay fp32).
    precision: str = "fp32"
    seed: int = 42


@dataclass(frozen=True)
class TaskWeights:
    """Weights of the losses a model is trained with; a zero weight switches a stage off."""

    rating: float = 1.0
    retrieval: float = 0.0


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything needed to rebuild a trained recommender: data split, models, training."""

    preset: str = "seed"
    split: str = "random:0.8"
    ranking: RankingModelConfig | None = field(default_factory=RankingModelConfig)
    retrieval: RetrievalModelConfig | None = None
    retrieval_loss: RetrievalLossConfig = field(default_factory=RetrievalLossConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    retrieval_training: TrainingConfig | None = None
    tasks: TaskWeights = field(default_factory=TaskWeights)
    shared_embeddings: bool = False
    # "auto": exact up to 20,000 movies, an HNSW graph beyond (faiss-cpu, the `ann` extra).
    index: str = "auto"  # or "brute_force" (exact) or "hnsw" (approximate)
    candidates: int = 100  # how many movies retrieval hands to ranking
    # Known users with fewer training ratings than this get the most popular movies instead of a
    # personal list (with none, every model's scores for them are alike or noise).
    min_history: int = 1

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "") -> ExperimentConfig:
        return from_dict(cls, data, where=where)


def with_overrides(config: T, **changes: Any) -> T:
    """A copy of `config` with the given fields replaced (None values are ignored)."""
    changes = {k: v for k, v in changes.items() if v is not None}
    return dataclasses.replace(config, **changes)  # type: ignore[type-var]


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
_SEED_BIASED = RankingModelConfig(biases=True)
_FEATURES = RankingModelConfig(
    biases=True,
    user_features=("gender", "age", "occupation", "zip_prefix", "active_time"),
    movie_features=("genres", "year"),
)
_DCN = dataclasses.replace(_FEATURES, cross_layers=2, hidden_dims=(256, 64))
_MF = RankingModelConfig(kind="mf", embedding_dim=64, l2=0.1)
_SVDPP = RankingModelConfig(kind="mf", embedding_dim=64, l2=0.1, implicit=True)
_AUTOREC = RankingModelConfig(kind="autorec", hidden_dims=(500,), l2=200.0)
# The blend chosen by cross-validating its weights on the validation rows: of every mix of
# AutoRec, SVD++, MF, the feature-aware MLP and DCN, this one was within 0.0001 of the best and
# trains well within a minute (docs/rating_accuracy.md).
_BEST = RankingModelConfig(
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
    name: str, model: RankingModelConfig, training: TrainingConfig
) -> ExperimentConfig:
    return ExperimentConfig(preset=name, ranking=model, training=training)


PRESETS: dict[str, ExperimentConfig] = {
    # The TensorFlow Recommenders ranking tutorial, exactly.
    "seed": ExperimentConfig(preset="seed"),
    # The TFRS basic retrieval tutorial: id embeddings (dim 32), in-batch softmax, Adagrad 0.1,
    # batch 8192, 3 epochs, every rating a positive.
    "seed-retrieval": ExperimentConfig(
        preset="seed-retrieval",
        ranking=None,
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
        preset="popularity", ranking=None, retrieval=RetrievalModelConfig(kind="popularity")
    ),
    "ease": ExperimentConfig(
        preset="ease", ranking=None, retrieval=RetrievalModelConfig(kind="ease", ease_lambda=500.0)
    ),
    "edlae": ExperimentConfig(
        preset="edlae",
        ranking=None,
        retrieval=RetrievalModelConfig(kind="edlae", ease_lambda=300.0),
    ),
    # The learned half of the two-stage retrieval alone: a two-tower model whose user tower reads
    # the rating history (ids + last 100 movies; movies: ids + genres), trained with the in-batch
    # softmax, log-Q correction and accidental hits removed.
    "two-tower": ExperimentConfig(
        preset="two-tower",
        ranking=None,
        retrieval=_HISTORY_TOWER,
        retrieval_loss=_CORRECTED_SOFTMAX,
        retrieval_training=_TOWER_TRAINING,
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
        ranking=_BEST,
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
