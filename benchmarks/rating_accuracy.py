"""Rating accuracy of every rating model on MovieLens 100k, over the random split and u1..u5.

Run: .venv/bin/python benchmarks/rating_accuracy.py [--models seed,seed-30] [--out-dir DIR]

Each model trains on the training part of each split and predicts every held-out rating, through
`RankingModel.predict`, the function behind the predicted rating `recommend` shows. The table
has RMSE and MAE on the random 80/20 split (seed 42, the seed document's) and on GroupLens'
canonical folds u1..u5 (mean ± std over the five, and u1 alone), with the training seconds
(mean over the folds).
Written as Markdown and JSON under `--out-dir` (default `docs/results/rating`).

Anchors from issue 12 that reelrank does not run here (Surprise, published models) are printed
beside the table and marked as quoted.

The first slice of issue 12: the harness and today's models; the models the issue asks for are
added to `MODELS` as they land.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from pathlib import Path
from typing import Any

from reelrank.config import ExperimentConfig, preset, with_overrides
from reelrank.data.movielens import load_movielens_100k
from reelrank.evaluation import evaluate_ranking
from reelrank.experiment import new_ranking_model, prepare
from reelrank.training import fit_ranking

SPLITS = ("random:0.8", "fold:1", "fold:2", "fold:3", "fold:4", "fold:5")


def _seed(epochs: int) -> ExperimentConfig:
    config = preset("seed")
    return with_overrides(config, training=with_overrides(config.training, epochs=epochs))


# name -> configuration; every model here is a rating model behind the same interface.
MODELS: dict[str, ExperimentConfig] = {
    "seed": _seed(3),  # the TFRS ranking tutorial, exactly
    "seed-30": _seed(30),  # the same, trained for 30 epochs (the two-stage preset's ranker)
}

# Issue 12's anchors, measured elsewhere or published: quoted, never run here.
QUOTED = {
    "random:0.8": {
        "TFRS seed model, 3 epochs": 1.106,
        "TFRS seed model, 30 epochs": 0.949,
        "Surprise BaselineOnly": 0.951,
        "Surprise SVD": 0.945,
        "Surprise KNNBaseline": 0.925,
        "Surprise SVD++": 0.925,
    },
    "fold:1": {
        "Surprise SVD": 0.952,
        "Surprise KNNBaseline": 0.936,
        "Surprise SVD++": 0.925,
        "GC-MC (published)": 0.910,
        "IGMC (published)": 0.905,
        "GLocal-K (published)": 0.889,
    },
}


def run(model: str, config: ExperimentConfig, split: str, ratings: Any) -> dict[str, float]:
    config = dataclasses.replace(config, split=split)
    data = prepare(ratings, config)
    ranking = new_ranking_model(config, data.vocabs)
    start = time.perf_counter()
    fit_ranking(ranking, data.train, config.training)
    seconds = time.perf_counter() - start
    scored = evaluate_ranking(ranking, data.test, batch_size=config.training.eval_batch_size)
    return {
        "rmse": scored["root_mean_squared_error"],
        "mae": scored["mean_absolute_error"],
        "train_seconds": seconds,
    }


def summarise(results: dict[str, dict[str, dict[str, float]]]) -> dict[str, dict[str, Any]]:
    """Per model: the random split's figures, u1's, and mean ± std over the folds present."""
    out: dict[str, dict[str, Any]] = {}
    for model, by_split in results.items():
        folds = [v for k, v in by_split.items() if k.startswith("fold:")]
        row: dict[str, Any] = {}
        if "random:0.8" in by_split:
            row["random"] = by_split["random:0.8"]
        if "fold:1" in by_split:
            row["u1"] = by_split["fold:1"]
        if len(folds) > 1:
            for key in ("rmse", "mae", "train_seconds"):
                values = [f[key] for f in folds]
                row[f"folds_{key}_mean"] = statistics.mean(values)
                row[f"folds_{key}_std"] = statistics.stdev(values)
            row["folds"] = len(folds)
        out[model] = row
    return out


def markdown(summary: dict[str, dict[str, Any]]) -> str:
    def cell(row: dict[str, Any], where: str, key: str) -> str:
        return f"{row[where][key]:.4f}" if where in row else ""

    def folds(row: dict[str, Any], key: str) -> str:
        if "folds" not in row:
            return ""
        return f"{row[f'folds_{key}_mean']:.4f} ± {row[f'folds_{key}_std']:.4f}"

    lines = [
        "| model | random RMSE | random MAE | u1 RMSE | u1..u5 RMSE | u1..u5 MAE | train s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for model, row in summary.items():
        seconds = f"{row['folds_train_seconds_mean']:.1f}" if "folds" in row else ""
        lines.append(
            f"| {model} | {cell(row, 'random', 'rmse')} | {cell(row, 'random', 'mae')} | "
            f"{cell(row, 'u1', 'rmse')} | {folds(row, 'rmse')} | {folds(row, 'mae')} | {seconds} |"
        )
    lines += ["", "Quoted from issue 12, not run here (RMSE):", ""]
    for split, anchors in QUOTED.items():
        lines += [f"- {split}: " + "; ".join(f"{k} {v:.3f}" for k, v in anchors.items())]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated names")
    parser.add_argument("--splits", default=",".join(SPLITS), help="comma-separated splits")
    parser.add_argument("--out-dir", type=Path, default=Path("docs/results/rating"))
    args = parser.parse_args()
    names = [m for m in args.models.split(",") if m]
    unknown = [m for m in names if m not in MODELS]
    if unknown:
        raise SystemExit(f"unknown models {unknown}; choose from {sorted(MODELS)}")
    ratings = load_movielens_100k()
    results: dict[str, dict[str, dict[str, float]]] = {}
    for model in names:
        for split in args.splits.split(","):
            results.setdefault(model, {})[split] = run(model, MODELS[model], split, ratings)
            print(model, split, results[model][split], flush=True)
    summary = summarise(results)
    table = markdown(summary)
    print(table)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "table.md").write_text(table)
    payload = {"results": results, "summary": summary, "quoted": QUOTED}
    (args.out_dir / "table.json").write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
