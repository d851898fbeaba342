"""What people watch next: every preset on the time-ordered protocols of MovieLens 100k.

Protocols (`--splits`):
- `leave-last:1`: each user's latest rating is their test movie (users with one rating train
  only); the served list of each user ranks the whole catalogue less their training movies:
  HR@10 and NDCG@10 (one test movie, so HR@10 is Recall@10).
- `temporal:0.8`: one time cut, the latest 20% of ratings test: Recall@10 and NDCG@10 of the
  known users' lists, and Recall@10 of the liked path (the list served to someone who names the
  test user's training movies rated 4 or more).

Every figure is of the lists `Recommender` serves (`reelrank.evaluation.served`), as `reelrank
train --split S` reports them. Each preset's settings were chosen before, on validation carved
from the training rows; the test parts are read once, here.

    .venv/bin/python benchmarks/sequential.py [--data DIR] [--presets popularity ease ...]
        [--splits leave-last:1 temporal:0.8] [--out docs/results/sequential.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

from reelrank import load_movielens_100k, preset, train_recommender

PRESETS = ("popularity", "ease", "two-stage", "sequential")
SPLITS = ("leave-last:1", "temporal:0.8")
FIGURES = {
    "leave-last:1": ("known_user/hit_rate@10", "known_user/ndcg@10", "liked/hit_rate@10"),
    "temporal:0.8": ("known_user/recall@10", "known_user/ndcg@10", "liked/recall@10"),
}


def run(data: Any, name: str, split: str) -> dict[str, Any]:
    """One preset trained and evaluated on one split, as `reelrank train` does it."""
    config = dataclasses.replace(preset(name), split=split)
    started = time.perf_counter()
    trained = train_recommender(data, config)
    seconds = time.perf_counter() - started
    figures = {key: trained.metrics.get(key) for key in FIGURES[split]}
    return {**figures, "seconds": round(seconds, 1)}


def table(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    """One markdown table per split."""
    out = []
    for split, rows in results.items():
        keys = FIGURES[split]
        out.append(f"\n{split}\n")
        out.append("| preset | " + " | ".join(keys) + " | seconds |")
        out.append("| --- | " + " | ".join("---:" for _ in keys) + " | ---: |")
        for name, row in rows.items():
            cells = [f"{row[k]:.4f}" if row[k] is not None else "-" for k in keys]
            out.append(f"| {name} | " + " | ".join(cells) + f" | {row['seconds']} |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=None, help="an ml-100k folder or zip")
    parser.add_argument("--presets", nargs="+", default=list(PRESETS))
    parser.add_argument("--splits", nargs="+", default=list(SPLITS), choices=SPLITS)
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as JSON")
    args = parser.parse_args()
    data = load_movielens_100k(args.data)
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for split in args.splits:
        for name in args.presets:
            results.setdefault(split, {})[name] = row = run(data, name, split)
            print(split, name, json.dumps(row), flush=True)
    print(table(results))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
