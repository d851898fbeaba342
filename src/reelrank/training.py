"""Training loops, readable top to bottom: shuffle, slice batches, step the optimizer.

Metrics are not computed inside the loss: the progress callback gets the running loss (and its
square root, the RMSE, for rating losses) at no extra cost; full evaluation runs after training.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from reelrank.config import TrainingConfig
from reelrank.data.encoding import EncodedRatings
from reelrank.models.ranking import RankingModel


@dataclass(frozen=True)
class Progress:
    """What a training loop reports after each step."""

    epoch: int  # 1-based
    epochs: int
    step: int  # 1-based, within the epoch
    steps: int
    loss: float  # running mean over the epoch so far
    rmse: float | None  # sqrt of the running MSE, for rating losses


ProgressCallback = Callable[[Progress], None]


def make_optimizer(params: Iterator[nn.Parameter], config: TrainingConfig) -> torch.optim.Optimizer:
    """The optimizer a config names, with Keras' defaults where the seed relies on them."""
    if config.learning_rate <= 0:
        raise ValueError(f"learning_rate must be > 0, got {config.learning_rate}")
    if config.optimizer == "adagrad":
        # Keras' Adagrad: accumulator starts at 0.1, epsilon 1e-7 (torch defaults are 0 and 1e-10).
        return torch.optim.Adagrad(
            params,
            lr=config.learning_rate,
            initial_accumulator_value=config.adagrad_initial_accumulator,
            eps=config.epsilon,
            weight_decay=config.weight_decay,
        )
    if config.optimizer == "adam":
        return torch.optim.AdamW(
            params, lr=config.learning_rate, eps=config.epsilon, weight_decay=config.weight_decay
        )
    raise ValueError(f"unknown optimizer {config.optimizer!r}; choose 'adagrad' or 'adam'")


def batches(n: int, batch_size: int, generator: torch.Generator | None) -> Iterator[torch.Tensor]:
    """Index slices of a (shuffled, when a generator is given) permutation of range(n)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    yield from order.split(batch_size)


def fit_ranking(
    model: RankingModel,
    train: EncodedRatings,
    config: TrainingConfig,
    *,
    on_progress: ProgressCallback | None = None,
) -> list[float]:
    """Train `model` on `train` with MSE; returns the mean loss of each epoch.

    Deterministic for a given `config.seed`: the shuffle uses its own seeded generator.
    """
    if len(train) == 0:
        raise ValueError("cannot train on an empty training set")
    if config.epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {config.epochs}")
    users = torch.from_numpy(train.user_idx)
    movies = torch.from_numpy(train.movie_idx)
    ratings = torch.from_numpy(train.rating)
    optimizer = make_optimizer(model.parameters(), config)
    generator = torch.Generator().manual_seed(config.seed)
    steps = math.ceil(len(train) / config.batch_size)
    history = []
    model.train()
    for epoch in range(1, config.epochs + 1):
        total, seen = 0.0, 0
        for step, rows in enumerate(batches(len(train), config.batch_size, generator), start=1):
            predictions = model(users[rows], movies[rows])
            loss = nn.functional.mse_loss(predictions, ratings[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(rows)
            seen += len(rows)
            if on_progress is not None:
                mean = total / seen
                on_progress(Progress(epoch, config.epochs, step, steps, mean, math.sqrt(mean)))
        history.append(total / seen)
    model.eval()
    return history


@torch.no_grad()
def predict_ratings(
    model: RankingModel, user_idx: np.ndarray, movie_idx: np.ndarray, *, batch_size: int = 4096
) -> np.ndarray:
    """Predicted ratings `[n]` float32 for index pairs, in batches of `batch_size`."""
    model.eval()
    users = torch.from_numpy(np.asarray(user_idx, dtype=np.int64))
    movies = torch.from_numpy(np.asarray(movie_idx, dtype=np.int64))
    out = [
        model(users[rows], movies[rows]) for rows in batches(len(users), batch_size, generator=None)
    ]
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.float32)
