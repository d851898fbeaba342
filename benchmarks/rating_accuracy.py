"""Rating accuracy of every rating model on MovieLens 100k, over the random split and u1..u5.

Run: .venv/bin/python benchmarks/rating_accuracy.py [--models seed,best] [--out-dir DIR]

Each model trains on the training part of each split (models that stop early hold out 5% of
those rows as validation; the test part is read once, after training) and predicts every
held-out rating through `RatingModel.predict`, the function behind the predicted rating
`recommend` shows, clipped to the rating scale. The table has RMSE and MAE on the random 80/20
split (seed 42, the seed document's) and on GroupLens' canonical folds u1..u5 (mean ± std over
the five, and u1 alone), with the training seconds (mean over the folds).
Written as Markdown and JSON under `--out-dir` (default `docs/results/rating`), with two plots:
`learning_curves.png` (validation RMSE per epoch of every model that watches one, on u1) and
`predicted_vs_true.png` (the distribution of predictions per true rating, on u1).

Surprise's SVD and SVD++ run in the same table when its separate venv exists (`make
surprise-venv`; `benchmarks/surprise_baselines/run_surprise.py`, the same splits); otherwise
their figures are quoted. Published models and the TFRS anchors are always quoted and marked so.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from reelrank.config import ExperimentConfig, preset, with_overrides
from reelrank.data.movielens.ml100k.load import load_movielens_100k
from reelrank.evaluation.report import pyplot
from reelrank.evaluation.stages import evaluate_ratings
from reelrank.experiment.build import build_rating_model
from reelrank.experiment.split import prepare
from reelrank.training.loop import Progress
from reelrank.training.rating import fit_rating_model
from reelrank.types import Ratings

SPLITS = ("random:0.8", "fold:1", "fold:2", "fold:3", "fold:4", "fold:5")


def _seed(epochs: int) -> ExperimentConfig:
    config = preset("seed")
    return with_overrides(config, training=with_overrides(config.training, epochs=epochs))


# name -> configuration; every model here is a rating model behind the same interface.
MODELS: dict[str, ExperimentConfig] = {
    "seed": _seed(3),  # the TFRS ranking tutorial, exactly
    "seed-30": _seed(30),  # the same, trained for 30 epochs (the earlier two-stage ranker)
    **{name: preset(name) for name in ("seed-biased", "features", "dcn", "mf", "svdpp")},
    **{name: preset(name) for name in ("autorec", "best")},
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


SURPRISE_PYTHON = Path(".venv-surprise/bin/python")
SURPRISE_SCRIPT = Path(__file__).parent / "surprise_baselines" / "run_surprise.py"


def run(
    model: str, config: ExperimentConfig, split: str, ratings: Any, details: dict[str, Any]
) -> dict[str, float]:
    """Train `config` on `split`'s training rows and score its test rows. `details` gets the
    validation curve of each model part and the (true, predicted) test ratings."""
    config = dataclasses.replace(config, split=split)
    data = prepare(ratings, config)
    rater = build_rating_model(config, data, ratings)
    curves: dict[str, list[float]] = {}

    def watch(progress: Progress) -> None:
        if progress.validation_rmse is not None:
            curves.setdefault(progress.task, []).append(progress.validation_rmse)

    start = time.perf_counter()
    assert config.rating is not None
    fit_rating_model(
        rater,
        data.train,
        config.training,
        components=config.rating.components,
        on_progress=watch,
    )
    seconds = time.perf_counter() - start
    scored = evaluate_ratings(rater, data.test, batch_size=config.training.eval_batch_size)
    predicted = rater.predict(data.test.user_idx, data.test.movie_idx)
    details.update(curves=curves, true=data.test.rating, predicted=predicted)
    return {
        "rmse": scored["root_mean_squared_error"],
        "mae": scored["mean_absolute_error"],
        "train_seconds": seconds,
    }


def run_surprise(ratings: Ratings, splits: list[str]) -> dict[str, dict[str, dict[str, float]]]:
    """Surprise's SVD and SVD++ on the same splits, from its own venv; {} without the venv."""
    if not SURPRISE_PYTHON.exists():
        print(f"{SURPRISE_PYTHON} not found (make surprise-venv): Surprise's figures are quoted")
        return {}
    with tempfile.TemporaryDirectory() as folder:
        table = Path(folder) / "u.data"
        rows = zip(
            ratings.user_id.tolist(),
            ratings.movie_id.tolist(),
            ratings.user_rating.tolist(),
            ratings.timestamp.tolist(),
            strict=True,
        )
        table.write_text("".join(f"{u}\t{m}\t{r:g}\t{t}\n" for u, m, r, t in rows))
        out = Path(folder) / "surprise.json"
        command = [str(SURPRISE_PYTHON), str(SURPRISE_SCRIPT), "--ratings", str(table)]
        command += ["--splits", ",".join(splits), "--out", str(out)]
        subprocess.run(command, check=True)
        found = json.loads(out.read_text())
    results: dict[str, dict[str, dict[str, float]]] = {}
    for row in found["results"]:
        figures = {k: float(row[k]) for k in ("rmse", "mae", "train_seconds")}
        results.setdefault(f"{row['model']} (run here)", {})[row["split"]] = figures
    return results


def plot_curves(curves: dict[str, dict[str, list[float]]], out: Path) -> None:
    """Validation RMSE per epoch, one line per model part, on one split."""
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(8, 5))
    for model, parts in curves.items():
        for part, values in parts.items():
            label = model if len(parts) == 1 else f"{model} / {part}"
            axes.plot(range(1, len(values) + 1), values, marker=".", label=label)
    axes.set(xlabel="epoch", ylabel="validation RMSE", title="Learning curves (u1's training rows)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(out, dpi=120)
    plt.close(figure)


def plot_predicted_vs_true(pairs: dict[str, tuple[np.ndarray, np.ndarray]], out: Path) -> None:
    """Box plots of the predicted ratings for each true rating, one panel per model."""
    plt = pyplot()
    figure, axes = plt.subplots(1, len(pairs), figsize=(3 * len(pairs), 3.4), sharey=True)
    for ax, (model, (true, predicted)) in zip(np.atleast_1d(axes), pairs.items(), strict=True):
        stars = sorted(np.unique(true).tolist())
        ax.boxplot([predicted[true == s] for s in stars], showfliers=False)
        ax.set_xticks(range(1, len(stars) + 1), [f"{s:g}" for s in stars])
        ax.plot(range(1, len(stars) + 1), stars, "r--", linewidth=0.8)  # perfect predictions
        ax.set(title=model, xlabel="true rating")
    np.atleast_1d(axes)[0].set_ylabel("predicted rating (u1 test)")
    figure.tight_layout()
    figure.savefig(out, dpi=120)
    plt.close(figure)


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
    parser.add_argument("--no-surprise", action="store_true", help="do not run Surprise")
    args = parser.parse_args()
    names = [m for m in args.models.split(",") if m]
    unknown = [m for m in names if m not in MODELS]
    if unknown:
        raise SystemExit(f"unknown models {unknown}; choose from {sorted(MODELS)}")
    ratings = load_movielens_100k()
    splits = args.splits.split(",")
    results: dict[str, dict[str, dict[str, float]]] = {}
    curves: dict[str, dict[str, list[float]]] = {}
    pairs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for model in names:
        for split in splits:
            details: dict[str, Any] = {}
            results.setdefault(model, {})[split] = run(
                model, MODELS[model], split, ratings, details
            )
            print(model, split, results[model][split], flush=True)
            if split == "fold:1":
                if details["curves"]:
                    curves[model] = details["curves"]
                pairs[model] = (details["true"], details["predicted"])
    if not args.no_surprise:
        results |= run_surprise(ratings, splits)
    summary = summarise(results)
    table = markdown(summary)
    print(table)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "table.md").write_text(table)
    payload = {"results": results, "summary": summary, "quoted": QUOTED, "curves_u1": curves}
    (args.out_dir / "table.json").write_text(json.dumps(payload, indent=2) + "\n")
    if curves:
        plot_curves(curves, args.out_dir / "learning_curves.png")
    if pairs:
        plot_predicted_vs_true(pairs, args.out_dir / "predicted_vs_true.png")


if __name__ == "__main__":
    main()
