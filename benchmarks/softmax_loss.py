"""The in-batch softmax loss: reelrank's unique-movie, blocked form against the plain one.

Run: .venv/bin/python benchmarks/softmax_loss.py [--threads 1] [--runs 5]

One forward + backward pass over a batch of 8192 (user, movie) pairs from MovieLens-sized id
spaces (943 users, 1664 movies, dim 32), both forms side by side in one process; medians.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from reelrank.models.retrieval.losses import sampled_softmax_loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=8192)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    users = torch.nn.Embedding(944, 32)
    movies = torch.nn.Embedding(1665, 32)
    u = torch.randint(1, 944, (args.batch,), generator=generator)
    m = torch.randint(1, 1665, (args.batch,), generator=generator)

    def plain() -> torch.Tensor:
        logits = users(u) @ movies(m).T
        return F.cross_entropy(logits, torch.arange(args.batch), reduction="sum")

    def reelrank() -> torch.Tensor:
        return sampled_softmax_loss(users(u), movies(m), movie_ids=m, reduction="sum")

    times: dict[str, list[float]] = {"plain [batch, batch]": [], "reelrank": []}
    for _ in range(args.runs):
        for name, loss_fn in zip(times, (plain, reelrank), strict=True):
            start = time.perf_counter()
            loss_fn().backward()
            times[name].append(time.perf_counter() - start)
    print(f"batch {args.batch}, {args.threads} thread(s), median of {args.runs}:")
    for name, values in times.items():
        print(f"  {name:<22} {statistics.median(values):.3f} s per forward + backward")
    print(f"  loss values agree: {torch.isclose(plain(), reelrank(), rtol=1e-4).item()}")


if __name__ == "__main__":
    main()
