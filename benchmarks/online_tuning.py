"""Choosing how much a growing history's latest likes weigh (`recent_likes`, `recent_weight`),
on validation data only: train the two-stage preset on the first 64% of MovieLens 100k's
ratings by time (`temporal:0.8` of the first 80%), then replay the next 16% in time order, in
process, through `Recommender.recommend_for_ratings` (the code the API serves a user with a
stored history): before each rating, that user's top 10 from their history so far; then the
rating joins the history. HR@10 per event for each setting. The test period (the last 20%) is
never read here; `online_replay.py` measures it once, over HTTP.

    .venv/bin/python benchmarks/online_tuning.py [--data DIR] [--settings 0:0,10:8,...]
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import time
from collections import defaultdict

import numpy as np

from reelrank import load_movielens_100k, preset, train_recommender
from reelrank.data.splits import split_rows
from reelrank.recommender.recommender import Recommender

DEFAULT_SETTINGS = "0:0,5:8,8:8,10:8,15:8,10:2,10:4,10:16,10:100"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=None, help="an ml-100k folder or zip")
    parser.add_argument(
        "--settings", default=DEFAULT_SETTINGS, help="recent_likes:recent_weight pairs"
    )
    args = parser.parse_args()
    ratings = load_movielens_100k(args.data) if args.data else load_movielens_100k()
    seed = preset("two-stage").training.seed
    train_rows, _ = split_rows(ratings, "temporal:0.8", seed=seed)
    ratings = ratings.take(np.sort(train_rows))  # the test period is gone from here on
    config = dataclasses.replace(preset("two-stage"), split="temporal:0.8")
    recommender = train_recommender(ratings, config)
    _, events = split_rows(ratings, "temporal:0.8", seed=seed)
    events = events[np.argsort(ratings.timestamp[events], kind="stable")]

    settings = [tuple(pair.split(":")) for pair in args.settings.split(",")]
    variants = {}
    for likes, weight in settings:
        variant = copy.copy(recommender)
        variant.config = dataclasses.replace(
            recommender.config, recent_likes=int(likes), recent_weight=float(weight)
        )
        variants[f"recent_likes {likes}, recent_weight {weight}"] = variant
    hits = replay(recommender, ratings, events, variants)
    print(f"validation replay: {len(events):,} events (ratings 64%-80% by time)")
    for name, rows in hits.items():
        print(f"  {name:<40} HR@10 {np.mean(rows):.4f}")


def replay(
    recommender: Recommender, ratings: object, events: np.ndarray, variants: dict[str, Recommender]
) -> dict[str, list[bool]]:
    catalog = recommender.catalog
    movies: dict[int, list[int]] = defaultdict(list)
    stars: dict[int, list[float]] = defaultdict(list)
    for user in range(1, catalog.users.size):
        movies[user] = recommender.seen.movies_of(user).tolist()
        stars[user] = recommender.seen.ratings_of(user).tolist()
    hits: dict[str, list[bool]] = defaultdict(list)
    started = time.perf_counter()
    for n, row in enumerate(events):
        user_id, movie_id = str(ratings.user_id[row]), str(ratings.movie_id[row])  # type: ignore[attr-defined]
        if user_id not in catalog.users or movie_id not in catalog.id_to_title:
            continue  # a user or movie the model never saw: no variant can differ
        user = catalog.user_index(user_id)
        history, given = np.array(movies[user], np.int64), np.array(stars[user])
        for name, variant in variants.items():
            shown = [r.movie_id for r in variant.recommend_for_ratings(history, given, 10)]
            hits[name].append(movie_id in shown)
        movies[user].append(catalog.resolve_movie(movie_id))
        stars[user].append(float(ratings.user_rating[row]))  # type: ignore[attr-defined]
        if (n + 1) % 4000 == 0:
            print(f"  {n + 1:,} events, {time.perf_counter() - started:.0f} s", flush=True)
    return hits


if __name__ == "__main__":
    main()
