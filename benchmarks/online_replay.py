"""Online replay on MovieLens 100k: what learning from each rating as it arrives is worth.

Train the two-stage preset on `temporal:0.8` (the earliest 80% of ratings), serve it with a rating
store over real HTTP (uvicorn on 127.0.0.1), then replay the last 20% of ratings in time order:
before each rating, GET that user's top 10 (as the operator, so the store's ratings count); then
PUT the rating. A hit is the movie about to be rated being in the list (HR@10; NDCG@10 weighs it
by its place). Beside it, computed in this script on the same events:

- the same model frozen: the list it served before any write (GET without the key);
- popularity frozen (training counts) and online (counts of everything replayed so far);
- EASE (lambda 500, fitted on the training part) fed each user's history so far.

Each list leaves out what the user had rated so far, except the frozen model's, which knows only
the training ratings (what it would serve). Figures: per event, and per user (each user's mean
over their events, averaged). Also the PUT latency and the latency of a list right after a write,
as seen by this one client.

    .venv/bin/python benchmarks/online_replay.py [--events N] [--data DIR] [--store URL|--postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import socket
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import uvicorn

from reelrank import load_movielens_100k, preset, train_recommender
from reelrank.data.splits import split_rows
from reelrank.recommender.recommender import Recommender
from reelrank.service import create_app
from reelrank.store import RatingStore
from reelrank.testing.postgres import postgres_server

K = 10
KEY = "online-replay-operator-key-0123456789"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=0, help="replay only the first N events")
    parser.add_argument("--data", type=Path, default=None, help="an ml-100k folder or zip")
    parser.add_argument("--store", default=None, help="a store URL (default: a fresh SQLite file)")
    parser.add_argument(
        "--postgres", action="store_true", help="store in a throwaway local PostgreSQL server"
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as JSON")
    args = parser.parse_args()

    ratings = load_movielens_100k(args.data) if args.data else load_movielens_100k()
    config = dataclasses.replace(preset("two-stage"), split="temporal:0.8")
    started = time.perf_counter()
    recommender = train_recommender(ratings, config)
    print(f"trained two-stage on temporal:0.8 in {time.perf_counter() - started:.0f} s")
    _, test_rows = split_rows(ratings, "temporal:0.8", seed=config.training.seed)
    order = np.argsort(ratings.timestamp[test_rows], kind="stable")
    events = test_rows[order]
    if args.events:
        events = events[: args.events]
    baselines = Baselines(recommender)

    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
        location = args.store or str(Path(folder) / "store.sqlite3")
        if args.postgres:
            location = stack.enter_context(postgres_server()).create_database("replay")
        with RatingStore(location) as store, served(recommender, store) as base:
            figures = replay(ratings, events, recommender, baselines, base)
            figures["store"] = store.engine.dialect.name
    print(json.dumps(figures, indent=2))
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")


class Baselines:
    """Popularity (frozen and online) and EASE fed each user's history so far."""

    def __init__(self, recommender: Recommender) -> None:
        seen = recommender.seen
        self.catalog = recommender.catalog
        n_movies = self.catalog.movies.size
        self.train_counts = np.bincount(seen.movie_idx, minlength=n_movies).astype(np.float64)
        self.online_counts = self.train_counts.copy()
        x = np.zeros((self.catalog.users.size, n_movies), dtype=np.float64)
        users = np.repeat(np.arange(seen.n_users), np.diff(seen.indptr))
        x[users, seen.movie_idx] = 1.0
        gram = x.T @ x + 500.0 * np.eye(n_movies)
        inverse = np.linalg.inv(gram)
        self.ease = -inverse / np.diag(inverse)
        np.fill_diagonal(self.ease, 0.0)
        self.history: dict[int, set[int]] = defaultdict(set)
        for user in range(seen.n_users):
            self.history[user] = set(seen.movies_of(user).tolist())

    def lists(self, user: int) -> dict[str, list[int]]:
        rated = sorted(self.history[user])
        ease_scores = self.ease[rated].sum(axis=0) if rated else self.train_counts.copy()
        return {
            "popularity, frozen": _top(self.train_counts, rated),
            "popularity, online": _top(self.online_counts, rated),
            "EASE fed the history so far": _top(ease_scores, rated),
        }

    def learn(self, user: int, movie: int) -> None:
        self.history[user].add(movie)
        self.online_counts[movie] += 1


def _top(scores: np.ndarray, exclude: list[int]) -> list[int]:
    scores = scores.astype(np.float64, copy=True)
    scores[0] = -np.inf  # the unknown movie
    scores[exclude] = -np.inf
    top = np.argpartition(-scores, K)[:K]
    return top[np.argsort(-scores[top], kind="stable")].tolist()


def replay(
    ratings: Any,
    events: np.ndarray,
    recommender: Recommender,
    baselines: Baselines,
    base: str,
) -> dict[str, Any]:
    catalog = recommender.catalog
    hits: dict[str, list[tuple[str, float, float]]] = defaultdict(list)
    put_ms: list[float] = []
    after_write_ms: list[float] = []
    headers = {"Authorization": f"Bearer {KEY}"}
    wrote_last = ""  # the user of the previous PUT
    started = time.perf_counter()
    with httpx.Client(base_url=base, timeout=30) as client:
        for n, row in enumerate(events):
            user_id = str(ratings.user_id[row])
            movie_id = str(ratings.movie_id[row])
            user, movie = catalog.user_index(user_id), catalog.resolve_movie(movie_id)
            path = f"/users/{user_id}/recommendations"
            tick = time.perf_counter()
            live = client.get(path, params={"k": K}, headers=headers)
            if wrote_last == user_id:
                after_write_ms.append((time.perf_counter() - tick) * 1000)
            frozen = client.get(path, params={"k": K})
            for name, answer in (("reelrank with the store", live), ("model frozen", frozen)):
                answer.raise_for_status()
                shown = [r["movie_id"] for r in answer.json()["recommendations"]]
                hits[name].append((user_id, *_hit(shown, movie_id)))
            for name, movies in baselines.lists(user).items():
                shown = [catalog.movie_id(m) for m in movies]
                hits[name].append((user_id, *_hit(shown, movie_id)))
            tick = time.perf_counter()
            written = client.put(
                f"/users/{user_id}/ratings/{movie_id}",
                json={
                    "rating": float(ratings.user_rating[row]),
                    "timestamp": int(ratings.timestamp[row]),
                },
                headers=headers,
            )
            written.raise_for_status()
            put_ms.append((time.perf_counter() - tick) * 1000)
            wrote_last = user_id
            baselines.learn(user, movie)
            if (n + 1) % 2000 == 0:
                live_hr = np.mean([h for _, h, _ in hits["reelrank with the store"]])
                took = time.perf_counter() - started
                print(f"  {n + 1:,} events, {took:.0f} s, HR@10 {live_hr:.4f}", flush=True)
    table = {name: _summary(rows) for name, rows in hits.items()}
    return {
        "events": len(events),
        "users": len({u for u, _, _ in hits["model frozen"]}),
        "seconds": round(time.perf_counter() - started, 1),
        "lists": table,
        "put_ms": _latency(put_ms),
        "list_after_write_ms": _latency(after_write_ms),
    }


def _hit(shown: list[str], movie_id: str) -> tuple[float, float]:
    if movie_id not in shown[:K]:
        return 0.0, 0.0
    return 1.0, 1.0 / math.log2(shown.index(movie_id) + 2)


def _summary(rows: list[tuple[str, float, float]]) -> dict[str, float]:
    by_user: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for user, hit, gain in rows:
        by_user[user].append((hit, gain))
    per_user = np.array([np.mean(v, axis=0) for v in by_user.values()])
    events = np.array([(hit, gain) for _, hit, gain in rows])
    return {
        "HR@10 per event": round(float(events[:, 0].mean()), 4),
        "NDCG@10 per event": round(float(events[:, 1].mean()), 4),
        "HR@10 per user": round(float(per_user[:, 0].mean()), 4),
        "NDCG@10 per user": round(float(per_user[:, 1].mean()), 4),
    }


def _latency(ms: list[float]) -> dict[str, float]:
    if not ms:
        return {}
    values = np.array(ms)
    return {
        "p50": round(float(np.percentile(values, 50)), 2),
        "p99": round(float(np.percentile(values, 99)), 2),
        "n": len(ms),
    }


class served:
    """A real uvicorn server for `recommender` and `store` on a free loopback port."""

    def __init__(self, recommender: Recommender, store: RatingStore) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        app = create_app(recommender, store=store, api_key=KEY)
        config = uvicorn.Config(app, port=self.port, log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        for _ in range(600):
            if self.server.started:
                return f"http://127.0.0.1:{self.port}"
            time.sleep(0.05)
        raise RuntimeError("the server did not start")

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


if __name__ == "__main__":
    main()
