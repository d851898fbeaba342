"""How a model is trained (`TrainingConfig`) and which losses it is trained with (`TaskWeights`).
Standard library only (layer 1)."""

from __future__ import annotations

from dataclasses import dataclass


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
    # all of MovieLens 100k's 943, a few percent of 25M's 162k, whose rating-only lists would
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
