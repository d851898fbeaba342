"""The minibatch training loop, readable top to bottom: shuffle, slice batches, step the optimizer.

`fit(task, train, config)` trains what a `Task` names (a rating model, a two-tower retrieval
model, or both at once) where a `RunContext` says (device, processes, checkpoints, progress).
One `TrainingLoop` object holds everything a run works with and where it stands, which is what
a checkpoint saves.

Metrics are not computed inside the loss: the progress callback gets the running loss (and its
square root, the RMSE, for rating losses) at no extra cost; full evaluation runs after training.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from reelrank.config import RetrievalLossConfig, TaskWeights, TrainingConfig
from reelrank.data.encoding.encoded import EncodedRatings
from reelrank.models.rating.base import RatingModel
from reelrank.models.retrieval.losses import RetrievalLoss
from reelrank.models.retrieval.two_tower import TwoTower
from reelrank.runtime.distributed import World
from reelrank.training.checkpoints import Checkpoints, Position
from reelrank.training.optimizers import (
    Adagrad,
    learning_rate_at,
    make_optimizer,
    sparse_embeddings,
)
from reelrank.training.step import TrainingStep
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


@dataclass(frozen=True)
class Task:
    """What one loop trains: a rating model, a two-tower retrieval model, or both (multitask).

    The loss is `weights.rating * MSE + weights.retrieval * in-batch softmax` (by default 1 for
    each model given); models may share embedding modules, each parameter is optimised once.
    `name` is the phase's name in progress and checkpoints (by default what is trained).
    """

    rater: RatingModel | None = None
    retrieval: TwoTower | None = None
    retrieval_loss: RetrievalLossConfig = field(default_factory=RetrievalLossConfig)
    weights: TaskWeights | None = None
    name: str | None = None


@dataclass(frozen=True)
class RunContext:
    """Where a training run happens and whom it tells: the `device` the models and the data
    move to (default: the CPU), the `world` of processes (`torchrun`), the run's `checkpoints`,
    and a progress callback."""

    device: torch.device | None = None
    world: World | None = None
    checkpoints: Checkpoints | None = None
    on_progress: ProgressCallback | None = None


def batches(n: int, batch_size: int, generator: torch.Generator | None) -> Iterator[torch.Tensor]:
    """Index slices of a (shuffled, when a generator is given) permutation of range(n)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    yield from order.split(batch_size)


def rating_stats(train: EncodedRatings) -> tuple[float, float, float]:
    """(lowest, highest, mean) of the training ratings: the scale a model clips to."""
    ratings = train.rating
    return float(ratings.min()), float(ratings.max()), float(ratings.mean(dtype="float64"))


def fit(
    task: Task,
    train: EncodedRatings,
    config: TrainingConfig,
    *,
    validation: EncodedRatings | None = None,
    context: RunContext | None = None,
) -> list[float]:
    """Train what `task` names on `train`; returns the mean total loss of each epoch.

    Deterministic for a given `config.seed` (the shuffle has its own seeded generator). The
    models and the training data move to the context's device and stay there; the dense layers
    multiply in `config.precision`. With `validation` and `config.patience`, a rating model
    stops early and keeps its best epoch's weights.

    With checkpoints, the run is saved every epoch (and every `checkpoints.every_steps`
    batches), and a run resumed from one continues exactly where it stopped (see
    `reelrank.training.checkpoints`).

    In a world of several processes (`torchrun`, the process group joined), every process
    draws the same shuffled order; of each batch of `config.batch_size` rows (the global batch)
    each takes its own share, and `DistributedDataParallel` averages the gradients, so a step is
    the step one process would take on the whole batch (see `TrainingStep`). Embedding
    gradients stay row-sparse over gloo; NCCL needs them dense.
    """
    return TrainingLoop(task, train, config, validation, context or RunContext()).run()


def fit_rating_minibatch(
    model: RatingModel,
    train: EncodedRatings,
    config: TrainingConfig,
    *,
    validation: EncodedRatings | None = None,
    context: RunContext | None = None,
    phase: str = "rating",
) -> list[float]:
    """Train a rating model on `train` with MSE (plus the model's `penalty`); returns the mean
    loss of each epoch (see `fit`)."""
    return fit(Task(rater=model, name=phase), train, config, validation=validation, context=context)


class TrainingLoop:
    """One run of `fit`: the models, their optimizer and loss, the data on the device, and where
    training stands (epoch, step, the epoch's running sums, each epoch's loss)."""

    def __init__(
        self,
        task: Task,
        train: EncodedRatings,
        config: TrainingConfig,
        validation: EncodedRatings | None,
        context: RunContext,
    ) -> None:
        if len(train) == 0:
            raise ValueError("cannot train on an empty training set")
        if config.epochs < 0:
            raise ValueError(f"epochs must be >= 0, got {config.epochs}")
        rater, retrieval = task.rater, task.retrieval
        if rater is None and retrieval is None:
            raise ValueError("nothing to train: give a rating model, a retrieval model or both")
        weights = task.weights or TaskWeights(
            rating=1.0 if rater is not None else 0.0,
            retrieval=1.0 if retrieval is not None else 0.0,
        )
        self.config, self.train_size = config, len(train)
        self.device = context.device or torch.device("cpu")
        self.world = context.world or World()
        self.checkpoints, self.on_progress = context.checkpoints, context.on_progress
        # The whole training set lives on the device: a batch is an index slice, never a copy.
        self.users = torch.from_numpy(train.user_idx).to(self.device)
        self.movies = torch.from_numpy(train.movie_idx).to(self.device)
        self.ratings = torch.from_numpy(train.rating).to(self.device)
        softmax = None
        if retrieval is not None:
            counts = torch.bincount(self.movies, minlength=retrieval.n_movies + 1)
            softmax = RetrievalLoss(
                task.retrieval_loss,
                movie_counts=counts if task.retrieval_loss.logq_correction else None,
                reduction=_reduction(task.retrieval_loss.reduction),
            )
        if rater is not None:
            rater.start_training(*rating_stats(train))
        self.modules = [m for m in (rater, retrieval) if m is not None]
        for module in self.modules:
            module.to(self.device)
        parameters = {id(p): p for m in self.modules for p in m.parameters()}  # shared ones once
        self.optimizer = make_optimizer(iter(parameters.values()), config)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.steps = math.ceil(len(train) / config.batch_size)
        self.tracks_rating = rater is not None and weights.rating > 0
        trains_retrieval = softmax is not None and weights.retrieval > 0
        name = "multitask" if self.tracks_rating and trains_retrieval else "rating"
        name = "retrieval" if trains_retrieval and not self.tracks_rating else name
        self.name = task.name or name
        self.watcher = EarlyStopping(rater, validation, config) if self.tracks_rating else None
        best = self.watcher.best if self.watcher is not None else None
        if best is not None and self.checkpoints is not None:
            self.checkpoints.track(**{f"{self.name}_best": best})
        self.step_module = TrainingStep(
            rater if self.tracks_rating else None,
            retrieval if trains_retrieval else None,
            softmax,
            weights,
            config.precision,
        )
        # Where training stands.
        self.history: list[float] = []
        self.epoch, self.resume_after = 1, 0  # resume_after: steps of `epoch` done already
        self.sums = {"total": 0.0, "squared": 0.0, "seen": 0.0}

    def run(self) -> list[float]:
        """Train from where the checkpoints say (or the start) to the last epoch."""
        if self._restore():
            return self.history  # finished before the checkpoint; its weights are back
        step_loss = self._step_loss()
        try:
            for epoch in range(self.epoch, self.config.epochs + 1):
                stop = self._run_epoch(epoch, step_loss)
                if stop:
                    break
            if self.watcher is not None:
                self.watcher.keep_best()
            self._save(None, 1, 0, None, completed=self.name)
        finally:
            sparse_embeddings(self.modules, False)
            for module in self.modules:
                module.eval()
        return self.history

    def _restore(self) -> bool:
        """Continue from the checkpoints, if any; True when this phase finished before them."""
        if self.checkpoints is None:
            return False
        start = self.checkpoints.restore(self.name, self.optimizer)
        if start is None:
            return False
        if self.name in start.completed:
            self.history = start.history[self.name]
            return True
        self.history = list(start.history.get(self.name, []))
        if start.shuffle is not None:
            self.generator.set_state(start.shuffle)
        if self.watcher is not None:
            self.watcher.scores = list(start.history.get(f"{self.name}/validation", []))
        self.epoch, self.resume_after = start.epoch, start.step
        if start.step:  # resumed inside an epoch: its sums so far
            self.sums = dict(start.sums)
        return False

    def _step_loss(self) -> nn.Module:
        """The training step, wrapped for several processes; the models in training mode."""
        # Row-sparse embedding updates where they change nothing but the speed (`optimizers`).
        sparse = isinstance(self.optimizer, Adagrad) and not self.config.weight_decay
        distributed_gpu = self.world.distributed and self.device.type == "cuda"
        sparse_embeddings(self.modules, sparse and not distributed_gpu)
        for module in self.modules:
            module.train()
        if not self.world.distributed:
            return self.step_module
        return nn.parallel.DistributedDataParallel(
            self.step_module,
            device_ids=[self.device.index] if self.device.type == "cuda" else None,
            broadcast_buffers=False,  # the loss's log-Q table is the same everywhere
        )

    def _run_epoch(self, epoch: int, step_loss: nn.Module) -> bool:
        """Train one epoch (from a resumed step, if any); True when early stopping says stop."""
        config, world = self.config, self.world
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate_at(config, epoch)
        shuffle = self.generator.get_state()  # this epoch's order, for a checkpoint to redo
        if not self.resume_after:
            self.sums = {"total": 0.0, "squared": 0.0, "seen": 0.0}
        sums = self.sums
        for step, rows in enumerate(batches(self.train_size, config.batch_size, self.generator), 1):
            if step <= self.resume_after:
                continue  # done before the checkpoint
            rows = rows.to(self.device, non_blocking=True)
            share = world.shard(len(rows)) if world.distributed else slice(None)
            mine = rows[share]
            loss, mse = step_loss(
                self.users[mine],
                self.movies[mine],
                self.ratings[mine],
                self.movies[rows],
                share,
                world.size,
            )
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            # Running sums over this process's rows (all of them in one process).
            if self.tracks_rating:
                sums["squared"] += mse.item() * len(mine)
            sums["total"] += loss.item() * len(rows) / world.size
            sums["seen"] += len(mine)
            self._report(epoch, step, sums["total"] / sums["seen"])
            if self.checkpoints is not None and self.checkpoints.due(step) and step < self.steps:
                self._save(self.name, epoch, step, shuffle, sums=dict(sums))
        self.resume_after = 0
        self.history.append(sums["total"] / max(1.0, sums["seen"]))
        stop = self.watcher is not None and self.watcher.epoch_done()
        if self.watcher is not None and self.watcher.scores and self.on_progress is not None:
            rmse = math.sqrt(sums["squared"] / sums["seen"]) if sums["seen"] else None
            last = Progress(
                epoch, config.epochs, self.steps, self.steps, self.history[-1], rmse, self.name
            )
            self.on_progress(dataclasses.replace(last, validation_rmse=self.watcher.scores[-1]))
        if self.checkpoints is not None and epoch < config.epochs and not stop:
            self._save(self.name, epoch + 1, 0, self.generator.get_state())
        return stop

    def _report(self, epoch: int, step: int, loss: float) -> None:
        if self.on_progress is None:
            return
        seen = self.sums["seen"]
        rmse = math.sqrt(self.sums["squared"] / seen) if self.tracks_rating else None
        self.on_progress(
            Progress(epoch, self.config.epochs, step, self.steps, loss, rmse, self.name)
        )

    def _save(
        self,
        phase: str | None,
        epoch: int,
        step: int,
        shuffle: torch.Tensor | None,
        *,
        sums: dict[str, float] | None = None,
        completed: str | None = None,
    ) -> None:
        """A checkpoint of where training stands: this phase's state on top of the phases that
        finished before it; `shuffle` is the generator's state where `epoch` began."""
        if self.checkpoints is None:
            return
        validation = self.watcher.scores if self.watcher else None
        before = self.checkpoints.position
        watched = {f"{self.name}/validation": list(validation)} if validation else {}
        position = Position(
            phase=phase,
            epoch=epoch,
            step=step,
            sums=sums or {},
            history={**before.history, self.name: list(self.history), **watched},
            completed=[*before.completed, *([completed] if completed else [])],
            shuffle=shuffle,
        )
        self.checkpoints.save(position, self.optimizer if completed is None else None)


def _reduction(name: str) -> Literal["mean", "sum"]:
    if name not in ("mean", "sum"):
        raise ValueError(f"retrieval loss reduction must be 'mean' or 'sum', got {name!r}")
    return "sum" if name == "sum" else "mean"
