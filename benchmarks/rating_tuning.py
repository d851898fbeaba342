"""Choose the rating presets' regularisation on validation ratings only.

Run: .venv/bin/python benchmarks/rating_tuning.py [--split random:0.8]

Holds out 5% of the split's training rows (seeded, as the presets do), trains each candidate
on the rest with early stopping on that 5%, and prints its validation RMSE: the presets'
`l2` values are the lowest here. Then the feature-aware network with weight decay and a cosine
schedule. The test split is never read.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from typing import Any

from reelrank.config import ExperimentConfig, RatingModelConfig, preset
from reelrank.data.movielens.ml100k.load import load_movielens_100k
from reelrank.experiment.build import build_rating_model
from reelrank.experiment.split import prepare
from reelrank.training.rating import fit_rating_model, split_validation
from reelrank.training.validation import validation_rmse

GRID: dict[str, tuple[float, ...]] = {"autorec": (100.0, 200.0, 400.0), "mf": (0.05, 0.1, 0.2)}
GRID["svdpp"] = GRID["mf"]
# The feature-aware network's training: AdamW's weight decay and the learning-rate schedule.
TRAINING_GRID: tuple[dict[str, Any], ...] = (
    {"weight_decay": 0.0, "schedule": "constant"},
    {"weight_decay": 0.01, "schedule": "constant"},
    {"weight_decay": 0.1, "schedule": "constant"},
    {"weight_decay": 0.0, "schedule": "cosine"},
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="random:0.8")
    args = parser.parse_args()
    ratings = load_movielens_100k()
    for name, values in GRID.items():
        base = preset(name)
        assert base.rating is not None
        config = dataclasses.replace(base, split=args.split)
        data = prepare(ratings, config)
        fit, held = split_validation(
            data.train, config.training.validation_fraction, config.training.seed
        )
        for l2 in values:
            model_config: RatingModelConfig = dataclasses.replace(base.rating, l2=l2)
            candidate: ExperimentConfig = dataclasses.replace(config, rating=model_config)
            model = build_rating_model(candidate, data, ratings)
            start = time.perf_counter()
            fit_rating_model(model, fit, config.training, validation=held)
            score = validation_rmse(model, held, 65536)
            seconds = time.perf_counter() - start
            print(f"{name:8s} l2={l2:<6g} validation RMSE {score:.4f}  ({seconds:.1f} s)")
    base = dataclasses.replace(preset("features"), split=args.split)
    data = prepare(ratings, base)
    fit, held = split_validation(data.train, base.training.validation_fraction, base.training.seed)
    for changes in TRAINING_GRID:
        training = dataclasses.replace(base.training, **changes)
        model = build_rating_model(dataclasses.replace(base, training=training), data, ratings)
        fit_rating_model(model, fit, training, validation=held)
        score = validation_rmse(model, held, 65536)
        print(f"features {changes} validation RMSE {score:.4f}")


if __name__ == "__main__":
    main()
