"""The models' configuration: the rating model (`RatingModelConfig`, and `RatingComponent` for
ensembles), the retrieval model and its loss. Standard library only (layer 1)."""

from __future__ import annotations

from dataclasses import dataclass, field

from reelrank.config.training import TrainingConfig


@dataclass(frozen=True)
class RatingModelConfig:
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

    model: RatingModelConfig = field(default_factory=RatingModelConfig)
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
    `fold_in_popularity_offset`) (see `reelrank.models.retrieval.blend`). "sequence" reads
    a person's latest `max_history` movies in the order they watched them.
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
    # "sequence": a causal transformer of these many blocks and heads over the latest
    # `max_history` movies (`reelrank.models.retrieval.sequence`), with this dropout.
    attention_layers: int = 2
    attention_heads: int = 1
    sequence_dropout: float = 0.2


@dataclass(frozen=True)
class RetrievalLossConfig:
    """In-batch sampled softmax over the batch's movies, with the corrections the field uses."""

    temperature: float = 1.0
    remove_accidental_hits: bool = False
    logq_correction: bool = False
    reduction: str = "mean"  # "sum" is TFRS' (Keras' CategoricalCrossentropy with SUM reduction)
