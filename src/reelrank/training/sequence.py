"""Training a `SequenceModel`: at every position of each person's latest training movies, the
next movie, by cross-entropy over the whole catalogue (SASRec's loss with one negative loses to
this by a wide margin: Klenitskiy & Vasilev, RecSys 2023).

With `config.patience`, each person's latest training movie is held out as the target of a
validation sequence (the leave-last protocol inside the training rows): after each epoch the
model ranks the whole catalogue for it (their other movies left out), and training stops once
`patience` epochs bring no better NDCG@10, keeping the best epoch's weights. The test split is
never read.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from reelrank.config import TrainingConfig
from reelrank.data.encoding.encoded import UserRatings
from reelrank.errors import ReelrankError
from reelrank.models.retrieval.sequence import SequenceModel
from reelrank.training.loop import Progress, RunContext
from reelrank.training.optimizers import learning_rate_at, make_optimizer

VALIDATION_K = 10
SCORES_AT_ONCE = 1 << 22  # validation scores held at once
BUCKET_POOL = 8  # batches whose rows are sorted by length together


@dataclass(frozen=True)
class SequenceFit:
    """The mean loss per position of each epoch, and the validation NDCG@10 after it (empty
    without validation)."""

    losses: list[float]
    validation_ndcg: list[float]


@dataclass(frozen=True)
class Sequences:
    """Training windows: `inputs[i]` the left-aligned movies (0 = padding), `targets[i]` the
    movie after each (0 where none). `validation` rows: a window without its person's latest
    movie, that movie (`held_out`), and every movie of theirs (`seen`, CSR over the rows)."""

    inputs: Tensor
    targets: Tensor
    validation: Tensor
    held_out: Tensor
    seen_indptr: np.ndarray
    seen_movies: np.ndarray

    @classmethod
    def of(cls, seen: UserRatings, length: int, *, hold_out_last: bool) -> Sequences:
        """Each person's latest `length + 1` training movies (oldest first); with
        `hold_out_last`, without their latest, which becomes their validation target."""
        inputs, targets, validation, held_out = [], [], [], []
        indptr, movies = [0], []
        for user in range(1, seen.n_users):
            history = seen.movies_of(user).astype(np.int64)
            if hold_out_last and len(history) >= 3:
                validation.append(_left_aligned(history[:-1][-length:], length))
                held_out.append(int(history[-1]))
                movies.append(history)
                indptr.append(indptr[-1] + len(history))
                history = history[:-1]
            if len(history) < 2:
                continue
            window = history[-(length + 1) :]
            inputs.append(_left_aligned(window[:-1], length))
            targets.append(_left_aligned(window[1:], length))
        empty = np.zeros((0, length), np.int64)
        return cls(
            inputs=torch.from_numpy(np.stack(inputs) if inputs else empty),
            targets=torch.from_numpy(np.stack(targets) if targets else empty),
            validation=torch.from_numpy(np.stack(validation) if validation else empty),
            held_out=torch.tensor(held_out, dtype=torch.long),
            seen_indptr=np.asarray(indptr, np.int64),
            seen_movies=np.concatenate(movies) if movies else np.zeros(0, np.int64),
        )


def _left_aligned(movies: np.ndarray, length: int) -> np.ndarray:
    row = np.zeros(length, np.int64)
    row[: len(movies)] = movies
    return row


def fit_sequence(
    model: SequenceModel,
    seen: UserRatings,
    config: TrainingConfig,
    *,
    context: RunContext | None = None,
) -> SequenceFit:
    """Train `model` on each person's training movies in time order (`seen`, oldest first).
    See the module docstring for validation."""
    context = context or RunContext()
    if context.world is not None and context.world.distributed:
        raise ReelrankError(
            "the sequence model trains in one process (one device) for now: run "
            "`reelrank train --preset sequential` without --nproc or torchrun"
        )
    device = context.device or torch.device("cpu")
    watch = config.patience > 0
    data = Sequences.of(seen, model.length, hold_out_last=watch)
    if len(data.inputs) == 0:
        raise ValueError("a sequence model needs people with at least 2 training ratings")
    model.to(device).train()
    optimizer = make_optimizer(model.parameters(), config)
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)  # dropout
    lengths = (data.inputs > 0).sum(dim=1)
    history: list[float] = []
    scores: list[float] = []
    best = None
    for epoch in range(1, config.epochs + 1):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(config, epoch)
        total, count = 0.0, 0
        batches = _bucketed(lengths, config.batch_size, generator)
        for step, rows in enumerate(batches, start=1):
            width = int(lengths[rows].max())  # the padding past every row's end changes nothing
            inputs = data.inputs[rows, :width].to(device)
            targets = data.targets[rows, :width].to(device)
            loss, n = _loss(model, inputs, targets)
            optimizer.zero_grad(set_to_none=True)
            (loss / n).backward()
            optimizer.step()
            total, count = total + float(loss.detach()), count + n
            if context.on_progress is not None:
                context.on_progress(
                    Progress(
                        epoch, config.epochs, step, len(batches), total / count, None, "sequence"
                    )
                )
        history.append(total / max(count, 1))
        if not math.isfinite(history[-1]):
            raise ValueError(f"the sequence model's loss became {history[-1]}: lower the lr")
        if watch and len(data.held_out):
            scores.append(validation_ndcg(model, data))
            model.train()
            best_epoch = int(np.argmax(scores))
            if best_epoch == len(scores) - 1:
                best = copy.deepcopy(model.state_dict())
            if len(scores) - 1 - best_epoch >= config.patience:
                break
    if best is not None:
        model.load_state_dict(best)
    model.eval()
    return SequenceFit(history, scores)


def _bucketed(lengths: Tensor, batch_size: int, generator: torch.Generator) -> list[Tensor]:
    """Shuffled batches of rows of similar length (sorted within pools of 8 batches), in a
    shuffled order: each batch pads to its own longest window, not the model's."""
    order = torch.randperm(len(lengths), generator=generator)
    batches: list[Tensor] = []
    for pool in order.split(batch_size * BUCKET_POOL):
        pool = pool[torch.argsort(lengths[pool], stable=True)]
        batches += list(pool.split(batch_size))
    shuffled = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in shuffled]


def _loss(model: SequenceModel, inputs: Tensor, targets: Tensor) -> tuple[Tensor, int]:
    """The summed cross-entropy of every real position's next movie, and how many there were."""
    movies = model.all_movie_embeddings()
    queries = model.encode(inputs, movies)
    real = targets > 0
    logits = queries[real] @ movies.T
    logits[:, 0] = float("-inf")  # the padding movie is never an answer
    return F.cross_entropy(logits, targets[real], reduction="sum"), int(real.sum())


@torch.no_grad()
def validation_ndcg(model: SequenceModel, data: Sequences) -> float:
    """Mean NDCG@10 of each held-out latest movie, ranked against the whole catalogue less the
    person's other movies (ties pessimistic)."""
    model.eval()
    movies = model.all_movie_embeddings()
    gains = []
    rows_per_batch = max(1, SCORES_AT_ONCE // max(model.n_movies, 1))
    for start in range(0, len(data.held_out), rows_per_batch):
        stop = min(start + rows_per_batch, len(data.held_out))
        windows = data.validation[start:stop]
        lengths = (windows > 0).sum(dim=1)
        queries = model.encode(windows[:, : int(lengths.max())].to(movies.device), movies)
        scores = queries[torch.arange(stop - start), lengths - 1]
        scores = scores @ movies.T
        scores[:, 0] = float("-inf")
        for i, row in enumerate(range(start, stop)):
            target = int(data.held_out[row])
            theirs = data.seen_movies[data.seen_indptr[row] : data.seen_indptr[row + 1]]
            scores[i, torch.from_numpy(theirs[theirs != target])] = float("-inf")
        target_scores = scores[torch.arange(stop - start), data.held_out[start:stop]]
        rank = (scores >= target_scores[:, None]).sum(dim=1) - 1
        gains.append(torch.where(rank < VALIDATION_K, 1 / torch.log2(rank + 2.0), 0.0))
    return float(torch.cat(gains).mean())
