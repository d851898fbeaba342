"""Choosing the `sequential` preset's settings on validation only (MovieLens 100k).

The rows: the training part of `leave-last:1` (each user's latest rating is test, never read
here). Inside them, each user's latest training movie is the validation target (as
`fit_sequence` holds it out); each variant trains until `patience` epochs bring no better
validation NDCG@10 and reports its best validation NDCG@10, the epoch, and the seconds.

    .venv/bin/python benchmarks/sequential_research.py [--data DIR] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from typing import Any

import numpy as np

from reelrank import load_movielens_100k, preset
from reelrank.data.interactions import as_interactions
from reelrank.experiment.build import build_retrieval_model
from reelrank.experiment.split import prepare
from reelrank.training.sequence import fit_sequence

BASE = dataclasses.replace(preset("sequential"), split="leave-last:1")
# name -> (retrieval model changes, training changes)
VARIANTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "preset": ({}, {}),
    "lr 0.003": ({}, {"learning_rate": 0.003}),
    "dropout 0.5": ({"sequence_dropout": 0.5}, {}),
    "dropout 0.1": ({"sequence_dropout": 0.1}, {}),
    "with content": ({"movie_features": ("title_tokens", "genres", "year")}, {}),
    "window 50": ({"max_history": 50}, {}),
    "dim 128": ({"embedding_dim": 128}, {}),
    "3 layers": ({"attention_layers": 3}, {}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--only", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()
    ratings = as_interactions(load_movielens_100k(args.data))
    data = prepare(ratings, BASE)
    results = {}
    for name in args.only:
        model_changes, training_changes = VARIANTS[name]
        assert BASE.retrieval is not None and BASE.retrieval_training is not None
        config = dataclasses.replace(
            BASE,
            retrieval=dataclasses.replace(BASE.retrieval, **model_changes),
            retrieval_training=dataclasses.replace(BASE.retrieval_training, **training_changes),
        )
        assert config.retrieval_training is not None
        model = build_retrieval_model(config, ratings, data)
        started = time.perf_counter()
        fit = fit_sequence(model, data.seen, config.retrieval_training)  # type: ignore[arg-type]
        seconds = time.perf_counter() - started
        best = int(np.argmax(fit.validation_ndcg))
        results[name] = {
            "validation_ndcg@10": round(fit.validation_ndcg[best], 4),
            "best_epoch": best + 1,
            "epochs": len(fit.losses),
            "seconds": round(seconds, 1),
        }
        print(name, json.dumps(results[name]), flush=True)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
