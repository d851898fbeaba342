"""What the low-rank item-item model costs against dense EASE, where both fit (issue 10).

Run: .venv/bin/python benchmarks/low_rank.py [--synth-1m] [--no-grid] [--out low_rank.json]

On MovieLens 100k (or, with --synth-1m, 1M synthetic ratings in ml-1m's shape, the largest where
dense EASE fits the default 2 GB). The rank and λ of the low-rank model are chosen on a validation
split carved from the training rows (the last 12.5% of a seeded shuffle of them), or with
--no-grid taken from the config (where the 100k grid put them); the test split of random:0.8 is
read once, for the dense model with its preset λ and the low-rank one. Figures are those of the
list a known user is served (`known_user/...`), with fit seconds and the model's tensor megabytes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from reelrank.config import ExperimentConfig, preset
from reelrank.data.choice import DataChoice, load_data
from reelrank.data.interactions import Interactions, as_interactions
from reelrank.experiment.run import train_recommender
from reelrank.recommender.recommender import Recommender

RANKS = (64, 128, 256, 512)
LAMBDAS = (100.0, 1000.0, 3000.0, 10000.0, 30000.0)
KEYS = ("known_user/recall@10", "known_user/ndcg@10", "known_user/recall@100")


def _with(config: ExperimentConfig, **retrieval: Any) -> ExperimentConfig:
    assert config.retrieval is not None
    return dataclasses.replace(config, retrieval=dataclasses.replace(config.retrieval, **retrieval))


def _run(data: Interactions, config: ExperimentConfig) -> dict[str, Any]:
    start = time.perf_counter()
    recommender = train_recommender(data, config)
    seconds = time.perf_counter() - start
    return {k: recommender.metrics[k] for k in KEYS} | {
        "train_and_evaluate_seconds": seconds,
        "model_mb": _megabytes(recommender),
    }


def _megabytes(recommender: Recommender) -> float:
    assert recommender.retrieval is not None
    tensors = list(recommender.retrieval.state_dict().values())
    return sum(t.numel() * t.element_size() for t in tensors) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synth-1m", action="store_true", help="1M synthetic ratings, ml-1m shape")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--no-grid",
        action="store_true",
        help="skip the validation grid: use the config's approx_rank and approx_lambda",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        if args.synth_1m:
            from reelrank.data.synth.writer import synthesize

            folder = Path(scratch) / "synth"
            synthesize(folder, n_ratings=1_000_209, n_users=6040, n_movies=3706, seed=1)
            choice = DataChoice("ml-25m", data=str(folder))
            name = "synthetic, ml-1m shape (6,040 users, 3,706 movies, 1,000,209 ratings)"
        else:
            choice, name = DataChoice(), "MovieLens 100k"
        data = as_interactions(load_data(choice, cache_dir=Path(scratch) / "cache"))
    dense = preset("ease")
    # Validation: the training rows of random:0.8, cut again 87.5/12.5 by a seeded shuffle.
    train_rows = np.sort(np.random.default_rng(42).permutation(len(data))[: round(0.8 * len(data))])
    validation = data.take(train_rows)
    grid: list[dict[str, Any]] = []
    assert dense.retrieval is not None
    defaults = {"rank": dense.retrieval.approx_rank, "lambda": dense.retrieval.approx_lambda}
    for rank in () if args.no_grid else RANKS:
        for lam in LAMBDAS:
            config = _with(dense, dense_item_item_mb=0, approx_rank=rank, approx_lambda=lam)
            config = dataclasses.replace(config, split="random:0.875")
            result = _run(validation, config)
            grid.append({"rank": rank, "lambda": lam, **result})
            print(f"validation rank {rank} λ {lam}: {result}", flush=True)
    best = max(grid, key=lambda r: r["known_user/ndcg@10"]) if grid else defaults
    chosen = _with(
        dense, dense_item_item_mb=0, approx_rank=best["rank"], approx_lambda=best["lambda"]
    )
    results = {
        "data": name,
        "validation_grid": grid,
        "chosen": {"rank": best["rank"], "lambda": best["lambda"]},
        "test_dense_ease": _run(data, dense),
        "test_low_rank": _run(data, chosen),
    }
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
