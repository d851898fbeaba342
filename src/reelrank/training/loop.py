"""Training loops, readable top to bottom: shuffle, slice batches, step the optimizer.

Metrics are not computed inside the loss: the progress callback gets the running loss (and its
square root, the RMSE, for rating losses) at no extra cost; full evaluation runs after training.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from reelrank.config import RetrievalLossConfig, TaskWeights, TrainingConfig
from reelrank.data.encoding.encoded import EncodedRatings
from reelrank.models.rating.base import RatingModel
from reelrank.models.retrieval.losses import RetrievalLoss
from reelrank.models.retrieval.two_tower import TwoTower
from reelrank.runtime.devices import autocast
from reelrank.runtime.distributed import World
from reelrank.training.checkpoints import Checkpoints, Position
from reelrank.training.optimizers import (
    Adagrad,
    learning_rate_at,
    make_optimizer,
    sparse_embeddings,
)
from reelrank.training.validation import EarlyStopping


@dataclass(frozen=True)
class Progress:
    """What a training loop reports after each step."""

    epoch: int  # 1-based
    epochs: int
    step: int  # 1-based, within the epoch
    steps: int
    loss: float  # running mean over the epoch so far
    rmse: float | None  # sqrt of the running rating MSE, when a rating loss is trained
    task: str = "rating"  # what is trained: "rating", "retrieval" or "multitask"
    # After an epoch's last step, when validation ratings are watched: their RMSE.
    validation_rmse: float | None = None


ProgressCallback = Callable[[Progress], None]


def batches(n: int, batch_size: int, generator: torch.Generator | None) -> Iterator[torch.Tensor]:
    """Index slices of a (shuffled, when a generator is given) permutation of range(n)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    yield from order.split(batch_size)


def fit_rating_minibatch(
    model: RatingModel,
    train: EncodedRatings,
    config: TrainingConfig,
    *,
    on_progress: ProgressCallback | None = None,
    device: torch.device | None = None,
    checkpoints: Checkpoints | None = None,
    world: World | None = None,
    validation: EncodedRatings | None = None,
    phase: str = "rating",
) -> list[float]:
    """Train a rating model on `train` with MSE (plus the model's `penalty`); returns the mean
    loss of each epoch. With `validation` and `config.patience`, training stops early and keeps
    the best epoch's weights (see `fit`)."""
    return fit(
        train,
        config,
        rater=model,
        on_progress=on_progress,
        device=device,
        checkpoints=checkpoints,
        world=world,
        validation=validation,
        phase=phase,
    )


def rating_stats(train: EncodedRatings) -> tuple[float, float, float]:
    """(lowest, highest, mean) of the training ratings: the scale a model clips to."""
    ratings = train.rating
    return float(ratings.min()), float(ratings.max()), float(ratings.mean(dtype="float64"))


def fit(
    train: EncodedRatings,
    config: TrainingConfig,
    *,
    rater: RatingModel | None = None,
    retrieval: TwoTower | None = None,
    retrieval_loss: RetrievalLossConfig | None = None,
    weights: TaskWeights | None = None,
    on_progress: ProgressCallback | None = None,
    device: torch.device | None = None,
    checkpoints: Checkpoints | None = None,
    world: World | None = None,
    validation: EncodedRatings | None = None,
    phase: str | None = None,
) -> list[float]:
    """Train a rating model, a two-tower retrieval model, or both at once (multitask).

    The loss is `weights.rating * MSE + weights.retrieval * in-batch softmax`; a model that is not
    given contributes nothing. Models may share embedding modules: each parameter is optimised
    once. Deterministic for a given `config.seed` (the shuffle has its own seeded generator).
    The models and the training data move to `device` (default: the CPU) and stay there; the
    dense layers multiply in `config.precision`. Returns the mean total loss of each epoch.

    With `checkpoints`, the run is saved every epoch (and every `checkpoints.every_steps`
    batches), and a run resumed from one continues exactly where it stopped (see
    `reelrank.training.checkpoints`).

    In a `world` of several processes (`torchrun`, the process group joined), every process
    draws the same shuffled order; of each batch of `config.batch_size` rows (the global batch)
    each takes its own share, and `DistributedDataParallel` averages the gradients, so a step is
    the step one process would take on the whole batch (see `TrainingStep`). Embedding
    gradients stay row-sparse over gloo; NCCL needs them dense.
    """
    if len(train) == 0:
        raise ValueError("cannot train on an empty training set")
    if config.epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {config.epochs}")
    if rater is None and retrieval is None:
        raise ValueError("nothing to train: give a rating model, a retrieval model or both")
    weights = weights or TaskWeights(
        rating=1.0 if rater is not None else 0.0,
        retrieval=1.0 if retrieval is not None else 0.0,
    )
    device = device or torch.device("cpu")
    world = world or World()
    # The whole training set lives on the device: a batch is an index slice, never a copy over.
    users = torch.from_numpy(train.user_idx).to(device)
    movies = torch.from_numpy(train.movie_idx).to(device)
    ratings = torch.from_numpy(train.rating).to(device)
    softmax = None
    if retrieval is not None:
        loss_config = retrieval_loss or RetrievalLossConfig()
        counts = torch.bincount(movies, minlength=retrieval.n_movies + 1)
        softmax = RetrievalLoss(
            loss_config,
            movie_counts=counts if loss_config.logq_correction else None,
            reduction=_reduction(loss_config.reduction),
        )
    if rater is not None:
        rater.start_training(*rating_stats(train))
    modules = [m for m in (rater, retrieval) if m is not None]
    for module in modules:
        module.to(device)
    parameters = {id(p): p for m in modules for p in m.parameters()}  # shared ones once
    optimizer = make_optimizer(iter(parameters.values()), config)
    generator = torch.Generator().manual_seed(config.seed)
    steps = math.ceil(len(train) / config.batch_size)
    tracks_rating = rater is not None and weights.rating > 0
    trains_retrieval = softmax is not None and weights.retrieval > 0
    task = "multitask" if tracks_rating and trains_retrieval else "rating"
    task = "retrieval" if trains_retrieval and not tracks_rating else task
    task = phase or task
    watcher = EarlyStopping(rater, validation, config) if tracks_rating else None
    if watcher is not None and checkpoints is not None and watcher.best is not None:
        checkpoints.track(**{f"{task}_best": watcher.best})
    start = checkpoints.restore(task, optimizer) if checkpoints is not None else None
    if start is not None and task in start.completed:
        return start.history[task]  # finished before the checkpoint; its weights are back
    history: list[float] = [] if start is None else list(start.history.get(task, []))
    if start is not None and start.shuffle is not None:
        generator.set_state(start.shuffle)
    if watcher is not None and start is not None:
        watcher.scores = list(start.history.get(f"{task}/validation", []))
    first_epoch, done = (1, 0) if start is None else (start.epoch, start.step)
    # Row-sparse embedding updates where they change nothing but the speed (see `optimizers`).
    sparse = isinstance(optimizer, Adagrad) and not config.weight_decay
    sparse_embeddings(modules, sparse and not (world.distributed and device.type == "cuda"))
    for module in modules:
        module.train()
    trainer = TrainingStep(
        rater if tracks_rating else None,
        retrieval if trains_retrieval else None,
        softmax,
        weights,
        config.precision,
    )
    step_loss: nn.Module = trainer
    if world.distributed:
        step_loss = nn.parallel.DistributedDataParallel(
            trainer,
            device_ids=[device.index] if device.type == "cuda" else None,
            broadcast_buffers=False,  # the loss's log-Q table is the same everywhere
        )
    try:
        for epoch in range(first_epoch, config.epochs + 1):
            for group in optimizer.param_groups:
                group["lr"] = learning_rate_at(config, epoch)
            shuffle = generator.get_state()  # this epoch's order, for a checkpoint to redo
            total, squared, seen = 0.0, 0.0, 0
            if done:  # resumed inside this epoch: its sums so far
                assert start is not None
                total, squared = start.sums["total"], start.sums["squared"]
                seen = int(start.sums["seen"])
            for step, rows in enumerate(batches(len(train), config.batch_size, generator), 1):
                if step <= done:
                    continue  # done before the checkpoint
                rows = rows.to(device, non_blocking=True)
                share = world.shard(len(rows)) if world.distributed else slice(None)
                mine = rows[share]
                loss, mse = step_loss(
                    users[mine],
                    movies[mine],
                    ratings[mine],
                    movies[rows],
                    share,
                    world.size,
                )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                # Running sums over this process's rows (all of them in one process).
                if tracks_rating:
                    squared += mse.item() * len(mine)
                total += loss.item() * len(rows) / world.size
                seen += len(mine)
                if on_progress is not None:
                    rmse = math.sqrt(squared / seen) if tracks_rating else None
                    on_progress(
                        Progress(epoch, config.epochs, step, steps, total / seen, rmse, task)
                    )
                if checkpoints is not None and checkpoints.due(step) and step < steps:
                    sums = {"total": total, "squared": squared, "seen": float(seen)}
                    where = _position(
                        checkpoints,
                        task,
                        epoch,
                        step,
                        sums,
                        history,
                        shuffle,
                        validation=watcher.scores if watcher else None,
                    )
                    checkpoints.save(where, optimizer)
            done = 0
            history.append(total / max(1, seen))
            stop = watcher is not None and watcher.epoch_done()
            if watcher is not None and watcher.scores and on_progress is not None:
                rmse = math.sqrt(squared / seen) if seen else None
                last = Progress(epoch, config.epochs, steps, steps, history[-1], rmse, task)
                on_progress(dataclasses.replace(last, validation_rmse=watcher.scores[-1]))
            if checkpoints is not None and epoch < config.epochs and not stop:
                next_order = generator.get_state()
                where = _position(
                    checkpoints,
                    task,
                    epoch + 1,
                    0,
                    {},
                    history,
                    next_order,
                    validation=watcher.scores if watcher else None,
                )
                checkpoints.save(where, optimizer)
            if stop:
                break
        if watcher is not None:
            watcher.keep_best()
        if checkpoints is not None:
            finished = _position(
                checkpoints,
                None,
                1,
                0,
                {},
                history,
                None,
                completed=task,
                validation=watcher.scores if watcher else None,
            )
            checkpoints.save(finished, None)
    finally:
        sparse_embeddings(modules, False)
        for module in modules:
            module.eval()
    return history


class TrainingStep(nn.Module):
    """The loss of one training step, as a module, so that `DistributedDataParallel` can wrap it.

    `forward(users, movies, ratings, batch_movies, share, world_size)`: `users`, `movies` and
    `ratings` are this process's rows (`share`, a slice, of the batch), `batch_movies` the whole
    batch's movies. Returns `(loss, mse)`: `weights.rating` × the rating MSE plus
    `weights.retrieval` × the in-batch softmax, and the unweighted MSE of these rows (for the
    progress RMSE). In one process (`share` every row, `world_size` 1) that is the plain loss of
    the batch. In several, each process scores its own rows, its queries against all the
    batch's movies (every process knows them: all draw the same order), and its loss is its part
    of the batch's mean times `world_size`, since DistributedDataParallel averages the gradients
    of the processes: the sum is then the gradient of the whole batch.
    """

    def __init__(
        self,
        rater: RatingModel | None,
        retrieval: TwoTower | None,
        softmax: RetrievalLoss | None,
        weights: TaskWeights,
        precision: str,
    ) -> None:
        super().__init__()
        self.rater, self.retrieval, self.softmax = rater, retrieval, softmax
        self.weights, self.precision = weights, precision

    def forward(
        self,
        users: torch.Tensor,
        movies: torch.Tensor,
        ratings: torch.Tensor,
        batch_movies: torch.Tensor,
        share: slice,
        world_size: int,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        device = users.device
        loss = torch.zeros((), device=device)
        mse = torch.zeros((), device=device)
        if self.rater is not None:
            with autocast(self.precision, device):
                vectors = self.rater.user_vectors(users)
                predicted = self.rater.rate(vectors, movies)
                penalty = self.rater.penalty(users, movies, vectors)
            if world_size == 1:
                mse = nn.functional.mse_loss(predicted.float(), ratings)
                rating_loss = mse
            else:  # a sum, not a mean: a process's share of a short last batch may be empty
                squared_error = (predicted.float() - ratings).square().sum()
                rating_loss = squared_error * (world_size / len(batch_movies))
                mse = squared_error / max(1, len(users))
            loss = loss + self.weights.rating * (rating_loss + penalty.float())
        if self.retrieval is not None and self.softmax is not None:
            with autocast(self.precision, device):
                query = self.retrieval.user_embedding(users, exclude_from_history=movies)
                candidates = self.retrieval.movie_embedding(batch_movies)
            if world_size == 1:
                in_batch = self.softmax(query.float(), candidates.float(), batch_movies)
            else:
                rows = torch.arange(len(batch_movies), device=device)[share]
                in_batch = world_size * self.softmax(
                    query.float(), candidates.float(), batch_movies, query_rows=rows
                )
            loss = loss + self.weights.retrieval * in_batch
        return loss, mse.detach()


def _position(
    checkpoints: Checkpoints,
    phase: str | None,
    epoch: int,
    step: int,
    sums: dict[str, float],
    history: list[float],
    shuffle: torch.Tensor | None,
    *,
    completed: str | None = None,
    validation: list[float] | None = None,
) -> Position:
    """Where training stands, for a checkpoint: this phase's state on top of the phases that
    finished before it; `shuffle` is the generator's state where `epoch` began; `validation`
    the validation RMSE of each epoch so far, if watched."""
    task = completed or phase
    assert task is not None
    before = checkpoints.position
    watched = {f"{task}/validation": list(validation)} if validation else {}
    return Position(
        phase=phase,
        epoch=epoch,
        step=step,
        sums=sums,
        history={**before.history, task: list(history), **watched},
        completed=[*before.completed, *([completed] if completed else [])],
        shuffle=shuffle,
    )


def _reduction(name: str) -> Literal["mean", "sum"]:
    if name not in ("mean", "sum"):
        raise ValueError(f"retrieval loss reduction must be 'mean' or 'sum', got {name!r}")
    return "sum" if name == "sum" else "mean"
