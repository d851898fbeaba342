"""AutoRec's movie-chunk training step at MovieLens 25M's shape: seconds per chunk and peak memory.

Run: .venv/bin/python benchmarks/autorec_scale.py [--users 162541] [--movies 62423]

Past `FULL_BATCH_CELLS` AutoRec trains on `AUTOREC_CHUNK` movies at a time with Adam. This times
that step on random ratings (400 per movie, 25M's mean) and extrapolates an epoch; the `best`
preset's `max_cells` limit for AutoRec rests on it (docs/rating_accuracy.md).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch

from reelrank.config import RatingModelConfig, TrainingConfig
from reelrank.models.rating.autorec import AutoRec, RatingColumns
from reelrank.training.optimizers import make_optimizer
from reelrank.training.rating import AUTOREC_CHUNK


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=162_541)
    parser.add_argument("--movies", type=int, default=62_423)
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()
    torch.manual_seed(0)
    config = RatingModelConfig(kind="autorec", hidden_dims=(500,), l2=200.0)
    model = AutoRec(config, n_users=args.users, n_movies=args.movies)
    optimizer = make_optimizer(model.parameters(), TrainingConfig(optimizer="adam"))
    chunk = torch.arange(1, AUTOREC_CHUNK + 1)
    per_movie = 400
    users = torch.randint(1, args.users + 1, (len(chunk) * per_movie,))
    ratings = torch.randint(1, 6, (len(users),)).float()
    columns = RatingColumns.from_pairs(
        users,
        chunk.repeat_interleave(per_movie),
        ratings,
        n_users=args.users,
        n_movies=args.movies,
    )
    seconds = []
    for _ in range(args.steps):
        start = time.perf_counter()
        dense, rated = columns.dense(chunk)
        error = torch.where(rated, model.reconstruct(dense) - dense, 0.0)
        share = len(chunk) / (args.movies + 1)
        loss = error.square().sum() + share * model.weight_penalty()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        seconds.append(time.perf_counter() - start)
    step = statistics.median(seconds[1:])  # the first step also allocates Adam's state
    chunks = -(-(args.movies + 1) // AUTOREC_CHUNK)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"{args.users:,} users x {args.movies:,} movies, chunks of {AUTOREC_CHUNK} movies")
    print(f"median step {step:.2f} s; an epoch ({chunks} chunks) ~ {step * chunks / 60:.1f} min")
    print(f"peak RSS {peak_gb:.2f} GB")


if __name__ == "__main__":
    main()
