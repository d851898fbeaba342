"""A warm-started retrain against a cold one, after 5% new ratings (MovieLens 100k, by time).

The new run trains on `temporal:0.8` of all ratings (its test part: the last 20%). The old model
was trained on the ratings before the newest 5% of that training part (the first 76% by time,
itself split `temporal:0.8`), so it never saw the new run's test part. Cold: the new run from
scratch, with the preset's epochs. Warm: the same run started from the old model's weights
(`--warm-start`), the two-tower model (or, without one, the rating model) trained for
`--warm-epochs`. Reports each run's time (training and evaluation) and its
test RMSE and Recall@10.

    .venv/bin/python benchmarks/warm_start.py [--preset seed] [--warm-epochs 1] [--data DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np

from reelrank import load_movielens_100k, preset, train_recommender


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="seed")
    parser.add_argument("--warm-epochs", type=int, default=1)
    parser.add_argument("--data", default=None)
    args = parser.parse_args()
    ratings = load_movielens_100k(args.data) if args.data else load_movielens_100k()
    config = dataclasses.replace(preset(args.preset), split="temporal:0.8")
    order = np.argsort(ratings.timestamp, kind="stable")
    old_rows = np.sort(order[: int(0.76 * len(order))])
    old = train_recommender(ratings.take(old_rows), config)

    figures = {}
    for name, warm in (("cold", False), ("warm", True)):
        run = config
        if warm and config.retrieval_training is not None:
            # The two-tower model trains fewer epochs; the rating models keep their own
            # training (an ensemble's components stop early by themselves).
            tower = dataclasses.replace(config.retrieval_training, epochs=args.warm_epochs)
            run = dataclasses.replace(config, retrieval_training=tower)
        elif warm:
            training = dataclasses.replace(config.training, epochs=args.warm_epochs)
            run = dataclasses.replace(config, training=training)
        started = time.perf_counter()
        trained = train_recommender(ratings, run, warm_from=old if warm else None)
        took = time.perf_counter() - started
        metrics = trained.metrics
        figures[name] = {
            "epochs": (run.retrieval_training or run.training).epochs,
            "seconds": round(took, 1),
            "rmse": _rounded(metrics.get("root_mean_squared_error")),
            "recall@10": _rounded(metrics.get("known_user/recall@10")),
        }
        print(name, figures[name], flush=True)
    figures["time_ratio"] = round(figures["warm"]["seconds"] / figures["cold"]["seconds"], 2)
    print(json.dumps({"preset": args.preset, **figures}, indent=2))


def _rounded(value: object) -> float | None:
    return round(float(value), 4) if isinstance(value, int | float) else None


if __name__ == "__main__":
    main()
