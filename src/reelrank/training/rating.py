"""Training any rating model: minibatch MSE (`training.fit`), full-batch AutoRec, and ensembles.

`fit_rating_model` is the one entry point. A validation split, when the training config asks for
one (`validation_fraction`), is carved from the training rows with the config's seed; the test
split is never read here.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import numpy as np
import torch

from reelrank.config import RatingComponent, TrainingConfig
from reelrank.data.encoding.encoded import EncodedRatings
from reelrank.models.rating.autorec import AutoRec, RatingColumns
from reelrank.models.rating.base import RatingModel
from reelrank.models.rating.ensemble import Ensemble, least_squares_weights
from reelrank.training.checkpoints import Position
from reelrank.training.loop import Progress, RunContext, fit_rating_minibatch, rating_stats
from reelrank.training.optimizers import learning_rate_at, make_optimizer
from reelrank.training.validation import EarlyStopping

# Above this many cells (movies × users) AutoRec trains on chunks of movies with Adam instead of
# the whole rating matrix at once with L-BFGS (MovieLens 100k: 1.6M cells; 25M: 10 billion).
FULL_BATCH_CELLS = 50_000_000
AUTOREC_CHUNK = 256  # movies per Adam step past that size

EpochStep = Callable[[int], float]  # trains one epoch (1-based), returns its summed loss


def split_validation(
    train: EncodedRatings, fraction: float, seed: int
) -> tuple[EncodedRatings, EncodedRatings]:
    """(rows to fit, validation rows): a seeded random `fraction` of `train` held out."""
    if not 0 < fraction < 1:
        raise ValueError(f"validation_fraction must lie in (0, 1), got {fraction}")
    order = np.random.default_rng(seed).permutation(len(train))
    held = max(1, round(fraction * len(train)))
    if held >= len(train):
        raise ValueError(f"{len(train)} training ratings are too few to hold out a validation part")
    return train.take(np.sort(order[held:])), train.take(np.sort(order[:held]))


def fit_rating_model(
    model: RatingModel,
    train: EncodedRatings,
    config: TrainingConfig,
    *,
    components: Sequence[RatingComponent] = (),
    validation: EncodedRatings | None = None,
    context: RunContext | None = None,
    phase: str = "rating",
) -> list[float]:
    """Train `model` on `train` by its kind; returns the mean training loss of each epoch.

    Without `validation`, `config.validation_fraction` of `train` is held out as validation (and
    not trained on). An `Ensemble` trains each model with its component's training config on the
    same rows, watched on the same validation ratings, then fits its blend on them.
    """
    if validation is None and config.validation_fraction > 0:
        train, validation = split_validation(train, config.validation_fraction, config.seed)
    if isinstance(model, Ensemble):
        return _fit_ensemble(model, train, validation, components, context, phase)
    if isinstance(model, AutoRec):
        return fit_autorec(
            model,
            train,
            config,
            validation=validation,
            context=context,
            phase=phase,
        )
    return fit_rating_minibatch(
        model, train, config, validation=validation, context=context, phase=phase
    )


def _fit_ensemble(
    model: Ensemble,
    train: EncodedRatings,
    validation: EncodedRatings | None,
    components: Sequence[RatingComponent],
    context: RunContext | None,
    phase: str,
) -> list[float]:
    if validation is None or len(validation) == 0:
        raise ValueError(
            "an ensemble blends its models on validation ratings: give its training a "
            "validation_fraction above 0"
        )
    if len(components) != len(model.models):
        raise ValueError(f"{len(model.models)} models but {len(components)} component configs")
    model.start_training(*rating_stats(train))
    history: list[float] = []
    for k, (member, component) in enumerate(zip(model.models, components, strict=True)):
        assert isinstance(member, RatingModel)
        history += fit_rating_model(
            member,
            train,
            component.training,
            validation=validation,
            context=context,
            phase=f"{phase}-{k}",
        )
    weights = least_squares_weights(_raw_predictions(model, validation), validation.rating)
    model.set_blend(weights.tolist())
    pairs = np.stack([validation.user_idx, validation.movie_idx], axis=1).astype(np.int64)
    model.held_out = torch.from_numpy(pairs).to(model.blend.device)
    model.eval()
    return history


@torch.no_grad()
def _raw_predictions(model: Ensemble, ratings: EncodedRatings) -> np.ndarray:
    """`[n, k]`: every member's unclipped rating of each (user, movie) pair."""
    model.eval()
    users = torch.from_numpy(ratings.user_idx).to(model.device)
    movies = torch.from_numpy(ratings.movie_idx).to(model.device)
    columns = []
    for member in model.models:
        assert isinstance(member, RatingModel)
        parts = [
            member.raw_rate(member.user_vectors(u), m)
            for u, m in zip(users.split(1 << 16), movies.split(1 << 16), strict=True)
        ]
        columns.append(torch.cat(parts).double().cpu().numpy())
    return np.stack(columns, axis=1)


def fit_autorec(
    model: AutoRec,
    train: EncodedRatings,
    config: TrainingConfig,
    *,
    validation: EncodedRatings | None = None,
    context: RunContext | None = None,
    phase: str = "rating",
) -> list[float]:
    """Train I-AutoRec: loss = Σ over observed ratings of the squared error + the weights' L2.

    With `config.optimizer` "lbfgs" and a rating matrix of at most `FULL_BATCH_CELLS` cells,
    L-BFGS (strong Wolfe line search) takes the whole matrix at once, as the paper did; an
    "epoch" is 10 of its iterations. Otherwise the config's optimizer (Adam in L-BFGS's place)
    takes `AUTOREC_CHUNK` movies per step. With `validation` and `config.patience`, training
    stops once that many epochs bring no better validation RMSE and keeps the best weights.
    Returns the loss per epoch, divided by the number of training ratings. A phase a checkpoint
    finished is not trained again.
    """
    context = context or RunContext()
    device, checkpoints, on_progress = context.device, context.checkpoints, context.on_progress
    device = device or torch.device("cpu")
    model.start_training(*rating_stats(train))
    if checkpoints is not None:
        start = checkpoints.restore(phase, None)
        if start is not None and phase in start.completed:
            return start.history[phase]
    model.to(device).train()
    columns = RatingColumns.from_pairs(
        torch.from_numpy(train.user_idx),
        torch.from_numpy(train.movie_idx),
        torch.from_numpy(train.rating),
        n_users=model.n_users,
        n_movies=model.n_movies,
    )
    trained_users = torch.zeros(model.n_users + 1, dtype=torch.bool)
    trained_users[torch.from_numpy(train.user_idx)] = True
    cells = (model.n_movies + 1) * (model.n_users + 1)
    full_batch = config.optimizer == "lbfgs" and cells <= FULL_BATCH_CELLS
    generator = torch.Generator().manual_seed(config.seed)
    step = (
        _lbfgs_epoch(model, columns, device)
        if full_batch
        else _minibatch_epoch(model, columns, config, device, generator)
    )
    history: list[float] = []
    watcher = EarlyStopping(model, validation, config)
    try:
        for epoch in range(1, config.epochs + 1):
            loss = step(epoch) / len(train)
            history.append(loss)
            if not math.isfinite(loss):
                raise ValueError(f"AutoRec's loss became {loss} at epoch {epoch}: lower l2/lr")
            if watcher.active:
                model.refresh_codes(columns)  # validation rates through the codes
            stop = watcher.epoch_done()
            if on_progress is not None:
                score = watcher.scores[-1] if watcher.scores else None
                on_progress(Progress(epoch, config.epochs, 1, 1, loss, None, phase, score))
            if stop:
                break
        watcher.keep_best()
        model.fill_untrained_users(trained_users.to(model.device))
        model.refresh_codes(columns)
    finally:
        model.eval()
    if checkpoints is not None:
        before = checkpoints.position
        checkpoints.save(
            Position(
                phase=None,
                history={**before.history, phase: history, f"{phase}/validation": watcher.scores},
                completed=[*before.completed, phase],
            ),
            None,
        )
    return history


def _lbfgs_epoch(model: AutoRec, columns: RatingColumns, device: torch.device) -> EpochStep:
    """A step function: 10 L-BFGS iterations over the whole rating matrix."""
    every = torch.arange(model.n_movies + 1)
    dense, observed = (t.to(device) for t in columns.dense(every))
    optimizer = torch.optim.LBFGS(
        model.parameters(),
        lr=1,
        max_iter=10,
        history_size=10,
        line_search_fn="strong_wolfe",
        tolerance_grad=1e-9,
        tolerance_change=1e-12,
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        error = torch.where(observed, model.reconstruct(dense) - dense, 0.0)
        loss = error.square().sum() + model.weight_penalty()
        loss.backward()
        return loss

    def epoch(_: int) -> float:
        return float(optimizer.step(closure).detach())  # the loss where the step began

    return epoch


def _minibatch_epoch(
    model: AutoRec,
    columns: RatingColumns,
    config: TrainingConfig,
    device: torch.device,
    generator: torch.Generator,
) -> EpochStep:
    """A step function: one shuffled pass over the movies, `AUTOREC_CHUNK` at a time, with the
    config's optimizer (Adam where it asks for L-BFGS)."""
    # L-BFGS asked for on a matrix too large to hold: Adam, at the config's learning rate.
    chosen = (
        dataclasses.replace(config, optimizer="adam") if config.optimizer == "lbfgs" else config
    )
    optimizer = make_optimizer(model.parameters(), chosen)
    n_movies = model.n_movies + 1

    def epoch(number: int) -> float:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(config, number)
        total = 0.0
        for part in torch.randperm(n_movies, generator=generator).split(AUTOREC_CHUNK):
            dense, observed = (t.to(device) for t in columns.dense(part))
            error = torch.where(observed, model.reconstruct(dense) - dense, 0.0)
            share = len(part) / n_movies  # the penalty once per epoch in all
            loss = error.square().sum() + share * model.weight_penalty()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
        return total

    return epoch
