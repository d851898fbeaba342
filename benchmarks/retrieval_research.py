"""Retrieval research: is the two-stage blend better than EDLAE alone, on validation data only?

Reproduces the decision behind `PRESETS["two-stage"]` (docs/retrieval_research.md tells the whole
story): the retrieval model is EDLAE (λ=300, dropout 0.75, a rank-20 low-rank term weighted 0.25)
plus 0.5 × a two-tower model that reads each user's rating history.

Protocol. MovieLens 100k through `load_movielens_100k`; the `random:0.8` split with seed 42 gives
80,000 training rows, and only those are used here: the 20,000 test rows are never read (the
final benchmark, `benchmarks/retrieval.py`, reads them once). Each validation split cuts the
training rows `random:0.9` with its own seed (7, 8, ...): every model is fitted on the 90% and
scored on the 10% with the library's `evaluate_retrieval` (each user's top 100 of all movies,
their fitting movies excluded; Recall@k and NDCG@k from `reelrank.metrics.ranking_metrics`).
Vocabularies come from the training rows only. Every model is built with the library from the
presets' configs: EASE (`ease`), EDLAE (the two-stage blend's item-item part, = the `edlae`
preset), the two-tower model (the blend's learned part, = the `two-tower` preset) and the blend
at several weights; blend weight 0 is EDLAE alone. A run is one validation split and one seed
for the two-tower model; differences (Δ) are paired per run against EDLAE alone.

    python benchmarks/retrieval_research.py [--data PATH] [--val-seeds 5] [--tower-seeds 42 7]
        [--weights 0.3 0.5 0.75 1.0]

The defaults are the final robustness check (5 splits x 2 seeds, round 4 in the doc).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from reelrank.config import PRESETS, ExperimentConfig, RetrievalModelConfig
from reelrank.data.movielens.ml100k.load import load_movielens_100k
from reelrank.data.splits import split_rows
from reelrank.evaluation.stages import evaluate_retrieval
from reelrank.experiment.build import build_retrieval_model
from reelrank.experiment.split import SplitData, prepare
from reelrank.models.retrieval.base import RetrievalModel
from reelrank.models.retrieval.blend import Blend
from reelrank.models.retrieval.item_item import EASE
from reelrank.training.loop import Task, fit
from reelrank.types import Ratings

METRICS = ("recall@10", "ndcg@10", "recall@100")
BASELINE = "EDLAE alone (blend w=0)"
Run = dict[str, dict[str, float]]  # model name -> validation metrics, for one split and seed


def training_rows(ratings: Ratings) -> Ratings:
    """The training part of the final split (`random:0.8`, seed 42); its test part is dropped."""
    final = PRESETS["two-stage"]
    train, _ = split_rows(ratings, final.split, seed=final.training.seed)
    return ratings.take(train)


def validation_config(split_seed: int, tower_seed: int) -> ExperimentConfig:
    """The two-stage preset's retrieval, on a `random:0.9` validation split of the training rows.

    `training.seed` seeds the split (there is no rating model to train); `retrieval_training`
    seeds the two-tower model's initial weights and shuffles.
    """
    two_stage = PRESETS["two-stage"]
    assert two_stage.retrieval_training is not None
    return dataclasses.replace(
        two_stage,
        rating=None,
        split="random:0.9",
        training=dataclasses.replace(two_stage.training, seed=split_seed),
        retrieval_training=dataclasses.replace(two_stage.retrieval_training, seed=tower_seed),
    )


def ease_config() -> RetrievalModelConfig:
    config = PRESETS["ease"].retrieval
    assert config is not None
    return config


def score(model: RetrievalModel, data: SplitData) -> dict[str, float]:
    """The validation metrics of one fitted model (its fitting movies excluded from each list)."""
    seen = data.train.by_user(data.vocabs.users.size)
    metrics = evaluate_retrieval(model, seen, data.test)
    return {name: metrics[f"retrieval/{name}"] for name in METRICS}


def one_run(train: Ratings, config: ExperimentConfig, weights: Sequence[float]) -> Run:
    """Fit every model on the validation split `config` names and score each on its held-out 10%."""
    assert config.retrieval_training is not None
    data = prepare(train, config)
    blend = build_retrieval_model(config, train, data)  # EDLAE fitted, two-tower untrained
    assert isinstance(blend, Blend)
    task = Task(retrieval=blend.two_tower, retrieval_loss=config.retrieval_loss)
    fit(task, data.train, config.retrieval_training)
    ease = EASE.fit(
        ease_config(),
        data.train.user_idx,
        data.train.movie_idx,
        n_users=blend.n_users,
        n_movies=blend.n_movies,
    )
    run = {
        f"EASE λ={ease_config().ease_lambda:g}": score(ease, data),
        BASELINE: score(blend.item_item, data),
        "two-tower alone": score(blend.two_tower, data),
    }
    for weight in weights:
        blend.calibrate(weight=weight)
        run[f"EDLAE + {weight:g} × two-tower"] = score(blend, data)
    return run


def mean_std(values: np.ndarray, signed: bool = False) -> str:
    """`mean ± sample std` over runs (the mean alone for one run)."""
    mean = f"{values.mean():+.4f}" if signed else f"{values.mean():.4f}"
    return mean if len(values) < 2 else f"{mean} ± {values.std(ddof=1):.4f}"


def table(runs: list[Run]) -> str:
    """One Markdown table: each model's mean metrics, and paired differences vs EDLAE alone."""
    n = len(runs)
    head = [*METRICS, *(f"Δ {m}" for m in METRICS), "R@10 up"]
    lines = [
        "| model | " + " | ".join(head) + " |",
        "| --- |" + " ---: |" * len(head),
    ]
    base = {m: np.array([run[BASELINE][m] for run in runs]) for m in METRICS}
    for name in runs[0]:
        values = {m: np.array([run[name][m] for run in runs]) for m in METRICS}
        cells = [mean_std(values[m]) for m in METRICS]
        if name == BASELINE:
            cells += ["", "", "", ""]
        else:
            cells += [mean_std(values[m] - base[m], signed=True) for m in METRICS]
            cells.append(f"{int(np.sum(values['recall@10'] > base['recall@10']))}/{n}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="an ml-100k folder or zip (default: reelrank's cache, downloaded on first use)",
    )
    parser.add_argument("--val-seeds", type=int, default=5, help="validation splits (seeds 7..)")
    parser.add_argument(
        "--tower-seeds", type=int, nargs="+", default=[42, 7], help="two-tower training seeds"
    )
    parser.add_argument(
        "--weights",
        type=float,
        nargs="+",
        default=[0.3, 0.5, 0.75, 1.0],
        help="blend weights of the two-tower part (0 is EDLAE alone, always shown)",
    )
    args = parser.parse_args()
    if args.val_seeds < 1:
        parser.error("--val-seeds must be at least 1")
    weights = sorted({w for w in args.weights if w > 0})

    train = training_rows(load_movielens_100k(args.data))
    print(
        f"{len(train)} training rows of random:0.8 seed 42 (its test rows are not read); "
        f"{args.val_seeds} validation splits random:0.9 (seeds 7..{6 + args.val_seeds}) x "
        f"two-tower seeds {args.tower_seeds}",
        flush=True,
    )
    runs: list[Run] = []
    for split_seed in range(7, 7 + args.val_seeds):
        for tower_seed in args.tower_seeds:
            start = time.perf_counter()
            runs.append(one_run(train, validation_config(split_seed, tower_seed), weights))
            recall = {name: f"{m['recall@10']:.4f}" for name, m in runs[-1].items()}
            print(
                f"  split {split_seed}, tower seed {tower_seed} "
                f"({time.perf_counter() - start:.0f} s): Recall@10 {recall}",
                flush=True,
            )
    print(
        f"\nValidation, mean over {len(runs)} runs (± sample std); Δ = paired difference vs "
        f"EDLAE alone; R@10 up = runs where Recall@10 beats EDLAE alone:\n"
    )
    print(table(runs))


if __name__ == "__main__":
    main()
