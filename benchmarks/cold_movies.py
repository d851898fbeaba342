"""Movies added after training, on MovieLens 100k: how well the lists rank them before any rating,
and after 1, 5 and 20 ratings of each reach the store.

Protocol (each seed of `--seeds`): a seeded 20% of the rated movies (those MovieLens lists once)
are cold: every rating of
them is hidden from training. Each cold movie's ratings in time order: the first 20 are its
early raters (written to the store 1, 5 and 20 at a time), the rest are the test pairs. The
two-stage preset trains on the other movies' ratings (`random:0.995`: 0.5% is its own evaluation);
the cold movies are then added through a real rating store with their title, genres and year
only (`StoredMovies.add`), and served as `reelrank serve` serves them (`with_store_movies`).

For every test user (a user with test pairs and training ratings), over the cold movies only:
- Recall@10 and NDCG@10 of the served list (`recommend_many`, retrieval order, the cold movies
  kept in its order; a cold movie the user rated in the store is left out, as served);
- per-user AUC of liked (>= 4) against not liked (< 4) test movies, by the predicted rating each
  listed movie shows (users with both), and by the list's order.

Beside it, on the same users and pairs: random scores, a user's genre taste (their mean rating of
each of the movie's genres, from training), and LightFM (WARP; ids + genres + decade + title
words; its own venv, `make lightfm-venv`) trained on the same training pairs. And the same movies
warm: the preset trained with the early raters' ratings too (5 and 20 of each), scored the same way.

`CONTENT_TRUST` (how many raters' worth a new movie's content counts when its ratings refine
it) is chosen here on validation: on seed `--seeds[0]`'s training rows, another 20% of movies
made cold, scored after 1, 5 and 20 ratings, never on the test pairs (`--trust` skips it).

    .venv/bin/python benchmarks/cold_movies.py [--data DIR] [--seeds 1 2 3]
        [--lightfm-python .venv-lightfm/bin/python] [--out results.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from reelrank import load_movielens_100k, preset, train_recommender
from reelrank.data.catalog.titles import split_release_year
from reelrank.data.interactions import Interactions, as_interactions
from reelrank.recommender.live_movies import CONTENT_TRUST
from reelrank.recommender.recommender import Recommender
from reelrank.service.store_movies import with_store_movies
from reelrank.store import RatingStore, StoredRating
from reelrank.types import GENRES

K = 10
COLD_SHARE = 0.2
EARLY = 20  # early raters per cold movie: written to the store, never tested
STEPS = (0, 1, 5, 20)  # ratings of each cold movie in the store
WARM_STEPS = (5, 20)
TRUST_GRID = (0.03, 0.1, 0.3, 1.0, 3.0)
LIKED = 4.0


@dataclasses.dataclass
class ColdSplit:
    """One seed's cold movies (data movie codes), their early raters' rows (in time order) and
    the test rows; `train` the other movies' rows."""

    data: Interactions
    cold: np.ndarray
    early: dict[int, np.ndarray]
    test: np.ndarray
    train: np.ndarray

    @classmethod
    def make(cls, data: Interactions, rows: np.ndarray, seed: int) -> ColdSplit:
        """Cold movies among those `rows` rate, drawn with `seed`."""
        rng = np.random.default_rng(seed)
        # A film MovieLens lists twice (two ids, one title) is one catalogue row: never cold.
        titles, counts = np.unique(data.movies.title, return_counts=True)
        twice = np.isin(data.movies.title, titles[counts > 1])
        movies = np.unique(data.movie[rows])
        movies = movies[~twice[movies]]
        cold = np.sort(rng.choice(movies, size=round(COLD_SHARE * len(movies)), replace=False))
        is_cold = np.isin(data.movie[rows], cold)
        early: dict[int, np.ndarray] = {}
        test: list[np.ndarray] = []
        cold_rows = rows[is_cold]
        order = cold_rows[np.lexsort((cold_rows, data.timestamp[cold_rows]))]
        for movie in cold:
            mine = order[data.movie[order] == movie]
            early[int(movie)] = mine[:EARLY]
            test.append(mine[EARLY:])
        return cls(data, cold, early, np.sort(np.concatenate(test)), rows[~is_cold])

    def early_rows(self, n: int) -> np.ndarray:
        return np.sort(np.concatenate([rows[:n] for rows in self.early.values()]))


def train(data: Interactions, rows: np.ndarray) -> Recommender:
    config = dataclasses.replace(preset("two-stage"), split="random:0.995")
    return train_recommender(data.take(rows), config)


def add_cold_movies(store: RatingStore, split: ColdSplit, trained: Recommender) -> dict[str, int]:
    """Add the cold movies to `store` with their metadata only; store id -> data movie code."""
    data, first = split.data, trained.catalog.next_movie_id()
    ids: dict[str, int] = {}
    for movie in split.cold:
        name, year = split_release_year(str(data.movies.title[movie]))
        genres = [GENRES[g] for g in np.flatnonzero(data.movies.genres[movie]) if g > 0]
        added = store.movies.add(name, genres, year, first_id=first)
        ids[added.movie_id] = int(movie)
    return ids


def write_early(store: RatingStore, split: ColdSplit, ids: dict[str, int], n: int) -> None:
    data, store_id = split.data, {code: movie_id for movie_id, code in ids.items()}
    rows = split.early_rows(n)
    store.put_many(
        StoredRating(
            str(data.user_ids[data.user[r]]),
            store_id[int(data.movie[r])],
            float(data.rating[r]),
            int(data.timestamp[r]),
        )
        for r in rows
    )


@dataclasses.dataclass
class Truth:
    """The test users (data user codes), and per user their test cold movies and ratings."""

    users: np.ndarray
    movies: list[np.ndarray]
    ratings: list[np.ndarray]

    @classmethod
    def of(cls, split: ColdSplit, known: set[str]) -> Truth:
        data = split.data
        by_user: dict[int, list[int]] = {}
        for row in split.test:
            by_user.setdefault(int(data.user[row]), []).append(int(row))
        users = [u for u in sorted(by_user) if str(data.user_ids[u]) in known]
        return cls(
            np.array(users),
            [data.movie[by_user[u]] for u in users],
            [data.rating[by_user[u]] for u in users],
        )


def list_scores(
    truth: Truth, ranked: list[np.ndarray], scores: list[np.ndarray]
) -> dict[str, float]:
    """Recall@10 / NDCG@10 of each user's ranked cold movies, AUC of `scores` (aligned with
    each user's test movies)."""
    recall, ndcg, auc = [], [], []
    for movies, stars, order, score in zip(
        truth.movies, truth.ratings, ranked, scores, strict=True
    ):
        relevant = set(movies.tolist())
        top = order[:K]
        hits = np.array([m in relevant for m in top], dtype=float)
        recall.append(hits.sum() / len(relevant))
        ideal = (1 / np.log2(np.arange(2, min(K, len(relevant)) + 2))).sum()
        ndcg.append((hits / np.log2(np.arange(2, len(top) + 2))).sum() / ideal)
        value = pair_auc(score, stars >= LIKED)
        if value is not None:
            auc.append(value)
    return {
        "recall@10": float(np.mean(recall)),
        "ndcg@10": float(np.mean(ndcg)),
        "auc": float(np.mean(auc)),
        "users": len(recall),
        "auc_users": len(auc),
    }


def pair_auc(score: np.ndarray, liked: np.ndarray) -> float | None:
    """The share of (liked, not liked) pairs the score orders right (ties half)."""
    pos, neg = score[liked], score[~liked]
    if not len(pos) or not len(neg):
        return None
    greater = (pos[:, None] > neg[None, :]).mean()
    ties = (pos[:, None] == neg[None, :]).mean()
    return float(greater + ties / 2)


def served(
    model: Recommender, split: ColdSplit, truth: Truth, row_of: dict[int, int], rated_in_store: set
) -> tuple[dict[str, float], dict[str, float]]:
    """The served lists' figures over the cold movies (by predicted rating, and by list order
    for the AUC): `row_of` maps data movie codes to the model's rows."""
    data = split.data
    users = np.array([model.catalog.user_index(str(data.user_ids[u])) for u in truth.users])
    lists = model.recommend_many(users, model.catalog.movies.size)
    cold_rows = {row_of[int(m)]: int(m) for m in split.cold}
    ranked, by_rating, by_place = [], [], []
    for i, user in enumerate(truth.users):
        order = [
            cold_rows[r]
            for r in lists.movies[i].tolist()
            if r in cold_rows and (int(user), cold_rows[r]) not in rated_in_store
        ]
        ranked.append(np.array(order))
        place = {m: len(order) - p for p, m in enumerate(order)}
        by_place.append(np.array([place.get(int(m), -1) for m in truth.movies[i]], dtype=float))
        rows = np.array([row_of[int(m)] for m in truth.movies[i]])
        by_rating.append(model.predict(int(users[i]), rows))
    return list_scores(truth, ranked, by_rating), list_scores(truth, ranked, by_place)


def store_served(
    trained: Recommender, split: ColdSplit, truth: Truth, steps: tuple[int, ...], trust: float
) -> dict[int, dict[str, Any]]:
    """reelrank's figures after each number of stored ratings per cold movie."""
    out: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as folder, RatingStore(Path(folder) / "s.sqlite3") as store:
        ids = add_cold_movies(store, split, trained)
        written = 0
        for n in steps:
            if n > written:
                write_early(store, split, ids, n)
                written = n
            start = time.perf_counter()
            grown = with_store_movies(trained, store, trust=trust)
            took = time.perf_counter() - start
            row_of = {code: grown.catalog.row_of_id(movie_id) for movie_id, code in ids.items()}
            data = split.data
            rated = {(int(data.user[r]), int(data.movie[r])) for r in split.early_rows(n)}
            by_rating, by_place = served(grown, split, truth, row_of, rated)
            out[n] = {**by_rating, "auc_list_order": by_place["auc"], "grow_seconds": took}
    return out


def warm(split: ColdSplit, truth: Truth, n: int) -> dict[str, Any]:
    """The preset trained with `n` early ratings of each cold movie too, scored the same way."""
    model = train(split.data, np.sort(np.concatenate([split.train, split.early_rows(n)])))
    data = split.data
    row_of = {int(m): model.catalog.resolve_movie(str(data.movies.movie_id[m])) for m in split.cold}
    by_rating, by_place = served(model, split, truth, row_of, set())
    return {**by_rating, "auc_list_order": by_place["auc"]}


def baselines(split: ColdSplit, truth: Truth, seed: int, lightfm: str | None) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    scores = [rng.random(len(split.cold)) for _ in truth.users]
    out["random"] = from_matrix(split, truth, np.array(scores))
    out["genre taste"] = from_matrix(split, truth, genre_taste(split, truth))
    if lightfm:
        out["LightFM"] = from_matrix(split, truth, run_lightfm(split, truth, lightfm, seed))
    return out


def from_matrix(split: ColdSplit, truth: Truth, matrix: np.ndarray) -> dict[str, float]:
    """Figures of a `[test users, cold movies]` score matrix (the list: the best scores)."""
    column = {int(m): i for i, m in enumerate(split.cold)}
    ranked = [split.cold[np.argsort(-row, kind="stable")] for row in matrix]
    scores = [matrix[i, [column[int(m)] for m in movies]] for i, movies in enumerate(truth.movies)]
    return list_scores(truth, ranked, scores)


def genre_taste(split: ColdSplit, truth: Truth) -> np.ndarray:
    """Each test user's mean training rating of each genre (their overall mean where they rated
    none of it), averaged over a cold movie's genres."""
    data = split.data
    genres = data.movies.genres.astype(float)
    users, movies, stars = data.user[split.train], data.movie[split.train], data.rating[split.train]
    totals = np.zeros((len(data.user_ids), genres.shape[1]))
    counts = np.zeros_like(totals)
    np.add.at(totals, users, genres[movies] * stars[:, None])
    np.add.at(counts, users, genres[movies])
    mean = np.bincount(users, weights=stars, minlength=len(data.user_ids)) / np.maximum(
        np.bincount(users, minlength=len(data.user_ids)), 1
    )
    taste = np.where(counts > 0, totals / np.maximum(counts, 1), mean[:, None])
    cold = genres[split.cold]
    cold = np.where(cold.sum(axis=1, keepdims=True) > 0, cold, 1.0)
    return (taste[truth.users] @ cold.T) / cold.sum(axis=1)


def run_lightfm(split: ColdSplit, truth: Truth, python: str, seed: int) -> np.ndarray:
    data = split.data
    with tempfile.TemporaryDirectory() as folder:
        np.savez(
            Path(folder) / "split.npz",
            n_users=len(data.user_ids),
            n_movies=len(data.movies),
            train_users=data.user[split.train],
            train_movies=data.movie[split.train],
            movie_features=movie_features(data),
            test_users=truth.users,
            cold_movies=split.cold,
        )
        script = Path(__file__).parent / "lightfm_baseline" / "run_lightfm.py"
        done = subprocess.run(
            [python, str(script), folder, "--seed", str(seed)],
            check=True,
            capture_output=True,
            text=True,
        )
        print("  " + done.stdout.strip())
        return np.load(Path(folder) / "scores.npy")


def movie_features(data: Interactions) -> np.ndarray:
    """LightFM's content features: genres, the release decade, and title words (of >= 2
    titles)."""
    names, years = zip(*(split_release_year(str(t)) for t in data.movies.title), strict=True)
    words = [set(re.findall(r"[a-z0-9]+", name.lower())) for name in names]
    counts: dict[str, int] = {}
    for found in words:
        for w in found:
            counts[w] = counts.get(w, 0) + 1
    vocabulary = {w: i for i, w in enumerate(sorted(w for w, c in counts.items() if c >= 2))}
    decades = sorted({y // 10 for y in years if y})
    decade = {d: i for i, d in enumerate(decades)}
    out = np.zeros((len(names), len(GENRES) + len(decades) + len(vocabulary)), dtype=np.float32)
    out[:, : len(GENRES)] = data.movies.genres
    for i, (year, found) in enumerate(zip(years, words, strict=True)):
        if year:
            out[i, len(GENRES) + decade[year // 10]] = 1
        for w in found:
            if w in vocabulary:
                out[i, len(GENRES) + len(decades) + vocabulary[w]] = 1
    return out


def choose_trust(data: Interactions, seed: int) -> tuple[float, dict[str, Any]]:
    """`CONTENT_TRUST` chosen on validation: cold movies carved from `seed`'s training rows."""
    test_split = ColdSplit.make(data, np.arange(len(data)), seed)
    inner = ColdSplit.make(data, test_split.train, seed + 1000)
    model = train(data, inner.train)
    truth = Truth.of(inner, set(model.catalog.users.terms.tolist()))
    figures: dict[str, Any] = {}
    for trust in TRUST_GRID:
        steps = store_served(model, inner, truth, (1, 5, 20), trust)
        figures[str(trust)] = {n: steps[n]["recall@10"] for n in steps}
        shown = ", ".join(
            f"after {n}: R@10 {steps[n]['recall@10']:.4f} AUC {steps[n]['auc']:.4f}" for n in steps
        )
        print(f"  validation trust {trust}: {shown}")
    best = max(TRUST_GRID, key=lambda t: float(np.mean(list(figures[str(t)].values()))))
    return best, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="an ml-100k folder or zip")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--lightfm-python", default=None, help="the LightFM venv's python")
    parser.add_argument("--trust", type=float, default=None, help="skip choosing it")
    parser.add_argument("--no-warm", action="store_true", help="skip the warm retrains")
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as JSON")
    args = parser.parse_args()
    data = as_interactions(load_movielens_100k(args.data))
    results: dict[str, Any] = {"protocol": __doc__.split("\n\n")[1].strip()}
    if args.trust is None:
        trust, tried = choose_trust(data, args.seeds[0])
        results["trust_validation"] = tried
    else:
        trust = args.trust
    print(f"trust {trust} (the shipped default is {CONTENT_TRUST})")
    results["trust"] = trust
    for seed in args.seeds:
        split = ColdSplit.make(data, np.arange(len(data)), seed)
        model = train(data, split.train)
        truth = Truth.of(split, set(model.catalog.users.terms.tolist()))
        print(
            f"seed {seed}: {len(split.cold)} cold movies, {len(split.test):,} test pairs, "
            f"{len(truth.users)} test users"
        )
        row: dict[str, Any] = {"reelrank": store_served(model, split, truth, STEPS, trust)}
        row.update(baselines(split, truth, seed, args.lightfm_python))
        if not args.no_warm:
            row["warm"] = {n: warm(split, truth, n) for n in WARM_STEPS}
        results[f"seed {seed}"] = row
        for name, figures in row.items():
            parts = figures.items() if name in ("reelrank", "warm") else [("", figures)]
            for n, f in parts:
                label = f"{name} {'after ' + str(n) if n != '' else ''}".strip()
                print(
                    f"  {label:<22} R@10 {f['recall@10']:.4f}  NDCG@10 {f['ndcg@10']:.4f}  "
                    f"AUC {f['auc']:.4f}"
                )
    results["mean"] = mean_table(results, args.seeds)
    print(json.dumps(results["mean"], indent=1))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1, default=str))


def mean_table(results: dict[str, Any], seeds: list[int]) -> dict[str, dict[str, float]]:
    """Each method's figures averaged over the seeds."""
    rows: dict[str, list[dict[str, float]]] = {}
    for seed in seeds:
        for name, figures in results[f"seed {seed}"].items():
            if name in ("reelrank", "warm"):
                for n, f in figures.items():
                    rows.setdefault(f"{name} after {n}", []).append(f)
            else:
                rows.setdefault(name, []).append(figures)
    return {
        name: {
            key: float(np.mean([f[key] for f in found])) for key in ("recall@10", "ndcg@10", "auc")
        }
        for name, found in rows.items()
    }


if __name__ == "__main__":
    main()
