"""`TrainingStep`: one step's loss as a module, so that `DistributedDataParallel` can wrap it."""

from __future__ import annotations

import torch
from torch import nn

from reelrank.config import TaskWeights
from reelrank.models.rating.base import RatingModel
from reelrank.models.retrieval.losses import RetrievalLoss
from reelrank.models.retrieval.two_tower import TwoTower
from reelrank.runtime.devices import autocast


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
