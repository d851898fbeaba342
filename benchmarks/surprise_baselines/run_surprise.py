"""Surprise (scikit-surprise) SVD and SVD++ baselines on reelrank's splits, standalone.

Run it with the separate Surprise venv (`make surprise-venv`); it imports only the standard
library, numpy and surprise, never reelrank:

    .venv-surprise/bin/python benchmarks/surprise_baselines/run_surprise.py --ratings u.data \
        --splits random:0.8,fold:1 --out surprise.json [--models svd,svdpp]

`--ratings` is tab-separated `user, movie, rating, timestamp` with no header, in MovieLens
`u.data` row order. The splits reproduce `reelrank.data.splits`: `random:F` is
`default_rng(42).permutation(n)` cut at `round(n * F)` (train rows in file order), `fold:i` tests
on the i-th of five blocks of rows in file order (GroupLens' u1..u5). Each model trains with
Surprise's defaults (`random_state=0`) on a `Reader` scaled to the data's min/max rating, predicts
every test row (clipped to the scale, Surprise's default) and is scored by RMSE and MAE.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import surprise
from surprise import SVD, Dataset, Reader, SVDpp, accuracy

SEED = 42  # reelrank's default training seed, which its random split uses
MODELS: dict[str, tuple[str, Any]] = {
    "svd": ("Surprise SVD", SVD),
    "svdpp": ("Surprise SVD++", SVDpp),
}

Row = tuple[str, str, float, str]


def read_ratings(path: Path) -> list[Row]:
    """The rows of a `user\\tmovie\\trating\\ttimestamp` file, in file order."""
    rows = []
    with path.open() as f:
        for line in f:
            if line.strip():
                user, movie, rating, timestamp = line.rstrip("\n").split("\t")[:4]
                rows.append((user, movie, float(rating), timestamp))
    return rows


def split_rows(spec: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """`(train_rows, test_rows)` for `random:F` or `fold:1..5`, as reelrank.data.splits does."""
    kind, _, value = spec.partition(":")
    if kind == "random" and 0.0 < float(value) < 1.0:
        order = np.random.default_rng(SEED).permutation(n)
        cut = round(n * float(value))
        return np.sort(order[:cut]), np.sort(order[cut:])
    if kind == "fold" and value in ("1", "2", "3", "4", "5"):
        bounds = np.linspace(0, n, 6).round().astype(np.int64)
        rows = np.arange(n)
        test = (rows >= bounds[int(value) - 1]) & (rows < bounds[int(value)])
        return rows[~test], rows[test]
    raise SystemExit(f"invalid split {spec!r}; expected random:FRACTION or fold:1..5")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", type=Path, required=True)
    parser.add_argument("--splits", required=True, help="e.g. random:0.8,fold:1,fold:2")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--models", default="svd,svdpp", help="comma-separated: svd, svdpp")
    args = parser.parse_args()
    models = args.models.split(",")
    if unknown := [m for m in models if m not in MODELS]:
        parser.error(f"unknown models {unknown}; choose from {list(MODELS)}")

    rows = read_ratings(args.ratings)
    ratings = [r[2] for r in rows]
    dataset = Dataset(Reader(rating_scale=(min(ratings), max(ratings))))
    report: dict[str, Any] = {"surprise_version": surprise.__version__, "results": []}
    for spec in args.splits.split(","):
        train_rows, test_rows = split_rows(spec, len(rows))
        trainset = dataset.construct_trainset([rows[i] for i in train_rows])
        testset = [rows[i][:3] for i in test_rows]
        for key in models:
            name, algo_class = MODELS[key]
            algo = algo_class(random_state=0)
            start = time.perf_counter()
            algo.fit(trainset)
            seconds = time.perf_counter() - start
            predictions = algo.test(testset)
            result = {
                "model": name,
                "split": spec,
                "rmse": accuracy.rmse(predictions, verbose=False),
                "mae": accuracy.mae(predictions, verbose=False),
                "train_seconds": round(seconds, 3),
            }
            report["results"].append(result)
            print(
                json.dumps(result),
                f"train={len(train_rows)} test={len(test_rows)}",
                file=sys.stderr,
            )
            args.out.write_text(json.dumps(report, indent=2) + "\n")  # partial results survive


if __name__ == "__main__":
    main()
