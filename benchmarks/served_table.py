"""What people are served, for every preset on each split, in one table (issue 8).

Run: .venv/bin/python benchmarks/served_table.py [--presets a b ...] [--splits S ...]
        [--seed 42] [--data PATH] [--out benchmarks/results/served]
     .venv/bin/python benchmarks/served_table.py --render OLD/table.json --out DIR  (redraw only)
     e.g. --splits random:0.8 fold:1 fold:2 fold:3 fold:4 fold:5 temporal:0.8

Protocol. For each split (default random:0.8) and each preset (default: all of
`reelrank.config.PRESETS`, baselines included), `train_recommender` trains the preset as
`reelrank train` does (its own epochs; `--seed` replaces the seed of the split, initialisation and
shuffles, 42 by default as in the presets) and evaluates it on the split's test part: the rating
model's figures, the retrieval stage's (`retrieval/...`) and those of the lists people are served
(`reelrank.evaluation.served`: known user, liked movies, similar movies), plus the liked path given
only each user's latest 1, 3 and 10 liked movies (`liked@N/...`). Nothing is chosen here: every
preset's constants were fixed before, on validation data carved from training rows; the test
parts are only read and reported. With all five folds, a "fold:1..5 mean" table averages each
figure over the folds.

Writes to --out: `table.md` (per split: lists per path, the liked path by number of liked movies,
coverage and popularity of what people see), `table.json` (every figure of every run, and the
training + evaluation seconds), and per split `<split>_at_k.png` (Recall@k and NDCG@k per path,
one line per preset) and `<split>_liked_counts.png` (Recall@10 and NDCG@10 against the number of
liked movies given).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from reelrank.config import PRESETS, ExperimentConfig, preset, with_overrides
from reelrank.data.movielens.ml100k.load import load_movielens_100k
from reelrank.data.splits import parse_split
from reelrank.evaluation.report import (
    cell,
    markdown_table,
    model_table,
    plot_liked_counts,
    plot_models_at_k,
    pyplot,
    writable_dir,
)
from reelrank.evaluation.served import evaluate_liked_counts, scorable_test
from reelrank.experiment.run import train_recommender
from reelrank.types import Ratings

FOLDS = tuple(f"fold:{i}" for i in range(1, 6))
FOLD_MEAN = "fold:1..5 mean"
SERVED = (("known", "known_user"), ("liked", "liked"), ("similar", "similar"))
LISTS_COLUMNS = [
    (f"{short} {header}", f"{path}/{key}")
    for short, path in (*SERVED, ("retrieval", "retrieval"))
    for header, key in (("R@10", "recall@10"), ("NDCG@10", "ndcg@10"), ("R@100", "recall@100"))
]
LIKED_COLUMNS = [
    (f"{header} given {given}", f"{prefix}/{key}")
    for header, key in (("R@10", "recall@10"), ("NDCG@10", "ndcg@10"))
    for given, prefix in (("1", "liked@1"), ("3", "liked@3"), ("10", "liked@10"), ("all", "liked"))
]
SEEN_COLUMNS = [
    *(
        (f"{short} {header}", f"{path}/{key}")
        for short, path in SERVED
        for header, key in (("cov@10", "coverage@10"), ("pop pct@10", "popularity_percentile@10"))
    ),
    ("RMSE", "root_mean_squared_error"),
    ("seconds", "seconds"),
]
USER_COUNTS = [
    ("known user", "known_user/users"),
    *((f"liked, {n} given", f"liked@{n}/users") for n in (1, 3, 10)),
    ("liked, all given", "liked/users"),
]


def run_one(ratings: Ratings, config: ExperimentConfig) -> dict[str, Any]:
    """Train one preset on its split and return every figure, the liked@N ones included."""
    start = time.perf_counter()
    recommender = train_recommender(ratings, config)
    test, _ = scorable_test(recommender, ratings)
    metrics = recommender.metrics | evaluate_liked_counts(recommender, test)
    return metrics | {"seconds": round(time.perf_counter() - start)}


def fold_mean(runs: Mapping[str, Mapping[str, dict[str, Any]]]) -> dict[str, dict[str, float]]:
    """Each preset's figures averaged over the five folds (those every fold has)."""
    presets = runs[FOLDS[0]]
    out = {}
    for name in presets:
        per_fold = [runs[fold][name] for fold in FOLDS]
        keys = [k for k in per_fold[0] if all(isinstance(f.get(k), int | float) for f in per_fold)]
        out[name] = {k: sum(float(f[k]) for f in per_fold) / len(FOLDS) for k in keys}
    return out


def split_section(split: str, runs: Mapping[str, Mapping[str, Any]]) -> str:
    """The Markdown of one split: three tables and the number of users each figure averages."""
    # The same users for every preset that has the path (the seed preset has no liked path).
    counts = {
        key: next((m[key] for m in runs.values() if key in m), None) for _, key in USER_COUNTS
    }
    users = ", ".join(
        f"{label}: {'' if counts[key] is None else f'{round(float(counts[key])):,}'}"
        for label, key in USER_COUNTS
    )
    return "\n".join(
        [
            f"## {split}\n",
            f"Test users scored (lists per figure): {users}.\n",
            "### Lists per path (every held-out movie relevant)\n",
            model_table(runs, LISTS_COLUMNS),
            "### The liked path by number of liked movies given (each user's latest)\n",
            model_table(runs, LIKED_COLUMNS),
            "### What people see: coverage and popularity of the top 10s; rating error; "
            "training + evaluation seconds\n",
            model_table(runs, SEEN_COLUMNS),
        ]
    )


def write_outputs(
    out: Path, tables: Mapping[str, Mapping[str, Mapping[str, Any]]], protocol: dict[str, Any]
) -> list[Path]:
    """`table.md`, `table.json` and the plots of every split; returns the paths written."""
    header = [
        "# What people are served, per preset and split\n",
        "Made by `benchmarks/served_table.py`; see its docstring for the protocol. "
        "R: recall, cov: share of the catalogue in anyone's top 10, pop pct: mean popularity "
        "percentile of the movies in the top 10s (100: the most rated).\n",
        markdown_table(["setting", "value"], [[k, str(v)] for k, v in protocol.items()]),
    ]
    sections = [split_section(split, runs) for split, runs in tables.items()]
    written = [out / "table.md", out / "table.json"]
    written[0].write_text("\n".join(header + sections), encoding="utf-8")
    payload = {"protocol": protocol, "splits": tables}
    written[1].write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    for split, runs in tables.items():
        slug = split.replace(":", "-").replace(" ", "_").replace("..", "-")
        written.append(
            plot_models_at_k(runs, out / f"{slug}_at_k.png", title=f"Quality against k, {split}")
        )
        # Every run, so a preset has the same colour as in the plot above (those without a liked
        # path draw no line).
        if any("liked/recall@10" in m for m in runs.values()):
            written.append(
                plot_liked_counts(
                    runs,
                    out / f"{slug}_liked_counts.png",
                    title=f"The liked path against the number of liked movies given, {split}",
                )
            )
    return written


def seeded(config: ExperimentConfig, split: str, seed: int | None) -> ExperimentConfig:
    """The preset on `split`, with `seed` (when given) for every stage, as `reelrank train`."""
    retrieval_training = config.retrieval_training
    if retrieval_training is not None:
        retrieval_training = with_overrides(retrieval_training, seed=seed)
    return with_overrides(
        config,
        split=split,
        training=with_overrides(config.training, seed=seed),
        retrieval_training=retrieval_training,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), choices=list(PRESETS))
    parser.add_argument("--splits", nargs="+", default=["random:0.8"])
    parser.add_argument("--seed", type=int, default=None, help="default: the presets' (42)")
    parser.add_argument("--data", default=None, help="GroupLens ml-100k folder or zip")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/served"))
    parser.add_argument(
        "--render", type=Path, default=None, help="only redraw the tables and plots of a table.json"
    )
    args = parser.parse_args(argv)
    if args.render is not None:
        saved = json.loads(args.render.read_text(encoding="utf-8"))
        for path in write_outputs(writable_dir(args.out), saved["splits"], saved["protocol"]):
            print(f"wrote {path}")
        return
    for split in args.splits:
        parse_split(split)  # a typo fails now, not after an hour of training
    pyplot()
    out = writable_dir(args.out)
    ratings = load_movielens_100k(args.data)
    protocol = {
        "data": "MovieLens 100k" if args.data is None else str(args.data),
        "ratings": len(ratings),
        "presets": " ".join(args.presets),
        "splits": " ".join(args.splits),
        "seed": args.seed if args.seed is not None else "the presets' (42)",
        "torch": f"{torch.__version__}, {torch.get_num_threads()} threads, {platform.machine()}",
    }
    print(", ".join(f"{k}: {v}" for k, v in protocol.items()), flush=True)
    tables: dict[str, dict[str, dict[str, Any]]] = {}
    jobs = [(split, name) for split in args.splits for name in args.presets]
    started = time.perf_counter()
    for done, (split, name) in enumerate(jobs, start=1):
        print(f"[{done}/{len(jobs)}] {split} {name}: training and evaluating ...", flush=True)
        metrics = run_one(ratings, seeded(preset(name), split, args.seed))
        tables.setdefault(split, {})[name] = metrics
        figures = ", ".join(
            f"{label} {cell(metrics[key])}"
            for label, key in (
                ("known R@10", "known_user/recall@10"),
                ("liked R@10", "liked/recall@10"),
            )
            if key in metrics
        )
        elapsed = time.perf_counter() - started
        print(f"    {metrics['seconds']}s: {figures} (total {elapsed:.0f}s)", flush=True)
    if all(fold in tables for fold in FOLDS):
        tables[FOLD_MEAN] = fold_mean(tables)
    for path in write_outputs(out, tables, protocol):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
