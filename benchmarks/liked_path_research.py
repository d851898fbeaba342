"""Research for issue 8: a liked path that holds from 1 to 500 liked movies, chosen on validation
users only.

Run: .venv/bin/python benchmarks/liked_path_research.py [--folds 0 1 2 3 4] [--seed 0]
        [--cache FILE.pt] [--out constants.json]

For each outer fold of `liked_path.py` (same `--seed`, same user folds), the fold's training users
(the other four folds) are cut again by a seeded permutation: one fifth are validation users, the
models are trained on the rest (every preset as in `liked_path.py`), and the validation users get
the same queries (N = 1, 3, 10, all liked movies; every other rated movie relevant). The held-out
fold's users are never read. Each part's fold-in scores are kept (`--cache`, so the search can be
rerun without training), and every method below is scored on a grid of its constants:

- `per-query`: `z(s_edlae) · N / (N + gamma) + weight · z(s_tower) + alpha / (N + beta) · z(pop)`,
  z() standardising one query's scores over the known movies: no part's contribution depends on
  how many movies the person gave, except through the explicit N terms;
- `per-query typical-id` (with `--typical-id`): the same, with the tower's query from
  `tower_fold_in_typical` (the mean known user's id embedding instead of the never-trained
  unknown-user row);
- `today + prior`: `z(today's blend score) + alpha / (N + beta) · z(pop)`;
- `edlae / N`: `s_edlae / σ_edlae · L / N + weight · s_tower / σ_tower + alpha / (N + beta) ·
  z(pop)`, the blend's own training-user scales with the EDLAE part divided by N (L = 85, about a
  training user's history length), the issue's "normalise the EDLAE part by N".

Objective (per fold, validation users): the mean over N in (1, 3, 10, all) and over Recall@20 and
NDCG@100 of the ratio to the better of EASE and popularity; the minimum of those 8 ratios is shown
beside it. Each fold's constants are chosen on that fold's validation users alone and written to
`--out` (`{"per_fold": {fold: {"method": ..., constants}}, "pooled": ...}`) for `liked_path.py
--constants`. The pooled table (mean over folds of each point's objective) picked the library's
single set, `liked_path.PER_QUERY`; a fold's validation users are other folds' held-out users, so
that row of `liked_path.py` is slightly optimistic, the per-fold row is not.
`--edlae-grid` instead refits EDLAE (lambda x dropout) and scores it alone and inside
`per-query`.

What it found (seed 0, 5 folds, about 150 validation users a fold): `per-query` is best (pooled
objective 1.0834; today's blend 1.038-1.064 per fold), then `today + prior` (1.0772) and
`edlae / N` (1.0593). The optimum is a flat ridge, weight · gamma about 7.5 to 10: EDLAE should
weigh about N / 10 of the tower for small N, not its full share; with gamma = 0 (each part's
share independent of N) each fold's best point is 0.004-0.012 lower. The typical-user id changes the
objective by +0.0004 (1.0838). No method reaches 1.05 at N = 10 or "all" on validation, and no
EDLAE refit (lambda 100-3000, dropout 0.5-0.9, folds 0 and 1) does so on both folds.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import liked_path as lp
from reelrank.data.movielens.ml100k.load import load_movielens_100k
from reelrank.experiment.run import train_recommender
from reelrank.models.retrieval.blend import Blend
from reelrank.types import Ratings

VALIDATION_SHARE = 5  # one fifth of a fold's training users validate
L_TRAIN = 85.0  # about a training user's history length (the "~85 movies each")

GRID: dict[str, dict[str, list[float]]] = {
    "per-query": {
        "weight": [0.1, 0.15, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0],
        "gamma": [0.0, 1.0, 3.0, 10.0, 30.0, 50.0, 100.0],
        "alpha": [0.0, 0.5, 1.0, 2.0, 4.0, 8.0],
        "beta": [0.0, 1.0, 3.0, 10.0],
    },
    "today + prior": {"alpha": [0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0], "beta": [0.0, 1.0, 3.0, 10.0]},
    "edlae / N": {
        "weight": [0.25, 0.5, 1.0, 2.0],
        "alpha": [0.0, 0.5, 1.0, 2.0, 4.0],
        "beta": [0.0, 1.0, 3.0, 10.0],
    },
}


def validation_split(
    ratings: Ratings, fold_users: np.ndarray, *, seed: int, fold: int
) -> tuple[np.ndarray, np.ndarray]:
    """(fit rows, validation rows): the fold's training users, one fifth of them (a seeded
    permutation) validating; the fold's own users are in neither."""
    train_users = np.setdiff1d(np.unique(ratings.user_id), fold_users)
    rng = np.random.default_rng([seed, fold, 1])
    validation = train_users[rng.permutation(len(train_users))][
        : len(train_users) // VALIDATION_SHARE
    ]
    fit = np.isin(ratings.user_id, train_users) & ~np.isin(ratings.user_id, validation)
    return np.flatnonzero(fit), np.flatnonzero(np.isin(ratings.user_id, validation))


def fold_parts(ratings: Ratings, fold: int, seed: int) -> dict[str, Any]:
    """Train on a fold's fit users; the validation queries, the baselines' metrics, today's
    path's metrics and every part's scores (float32) for each N."""
    folds = lp.user_folds(ratings, seed=seed)
    fit_rows, val_rows = validation_split(ratings, folds[fold], seed=seed, fold=fold)
    start = time.perf_counter()
    models = lp.train_fold(ratings.take(fit_rows))
    seconds = time.perf_counter() - start
    blend = models["two-stage"].retrieval
    assert isinstance(blend, Blend)
    popularity = models["popularity"].retrieval
    queries = lp.make_queries(
        ratings.take(val_rows), models["two-stage"].catalog, seed=seed * 1000 + 500 + fold
    )
    out: dict[str, Any] = {"train_seconds": seconds, "scales": blend.scales.tolist(), "N": {}}
    for label, q in queries.items():
        baselines = {
            name: lp.metrics_of(lp.lists_from_recommender(models[name], q), q)
            for name in ("two-stage", "ease", "popularity")
        }
        today_scores = lp.fold_in_scores(blend, q)
        same = np.array_equal(
            lp.lists_from_scores(today_scores, q), lp.lists_from_recommender(models["two-stage"], q)
        )
        parts = lp.parts_of(blend, popularity, q)
        typical = lp.parts_of(blend, popularity, q, typical_id=True)
        out["N"][label] = {
            "queries": q,
            "baselines": baselines,
            "today_lists_match_scores": bool(same),
            "edlae": parts.edlae.float(),
            "tower": parts.tower.float(),
            "tower_typical": typical.tower.float(),
            "popularity": parts.popularity[0].float(),
            "today": today_scores.float(),
        }
    return out


def method_scores(method: str, part: dict[str, Any], c: dict[str, float]) -> torch.Tensor:
    """`[users, n_movies + 1]` scores of one method with constants `c` (see the module doc)."""
    q: lp.Queries = part["queries"]
    n = torch.from_numpy(q.n_given).double()[:, None]
    z = part["z"]
    prior = (c["alpha"] / (n + c["beta"])) * z["popularity"] if c["alpha"] else 0.0
    if method in ("per-query", "per-query typical-id"):
        tower = z["tower_typical"] if method == "per-query typical-id" else z["tower"]
        return z["edlae"] * (n / (n + c["gamma"])) + c["weight"] * tower + prior
    if method == "today + prior":
        return z["today"] + prior
    if method == "edlae / N":
        scales = part["scales"]
        edlae = part["edlae"].double() / scales["edlae"] * (L_TRAIN / n)
        return edlae + c["weight"] * part["tower"].double() / scales["tower"] + prior
    raise ValueError(method)


def prepare_z(fold: dict[str, Any]) -> None:
    """Standardise each part per query once (the grid only reweights them)."""
    # The blend's scales are 1/σ_edlae and 0.5/σ_tower (training users' spreads).
    s_edlae, s_tower = fold["scales"]
    for part in fold["N"].values():
        users = len(part["queries"].given)
        today = part["today"].double().clone()
        today[:, 0] = 0.0
        part["z"] = {
            "edlae": lp.zscore(part["edlae"].double()),
            "tower": lp.zscore(part["tower"].double()),
            "tower_typical": lp.zscore(part["tower_typical"].double()),
            "popularity": lp.zscore(part["popularity"].double().expand(users, -1)),
            "today": lp.zscore(today),
        }
        part["scales"] = {"edlae": 1.0 / s_edlae, "tower": 0.5 / s_tower}
        part["relevance"] = relevance(part["queries"], part["edlae"].shape[1])
        part["n_relevant"] = np.diff(part["queries"].indptr)


def relevance(q: lp.Queries, n_columns: int) -> np.ndarray:
    """`[users, n_columns + 1]` bool: each user's relevant known movies; the last column (where
    the -1 padding of a list points) stays False."""
    rel = np.zeros((len(q.given), n_columns + 1), dtype=bool)
    rows = np.repeat(np.arange(len(q.given)), np.diff(q.indptr))
    rel[rows, q.indices] = True
    rel[:, 0] = False  # unknown movies: relevant, counted in indptr, never in a list
    return rel


def fast_metrics(lists: np.ndarray, part: dict[str, Any]) -> dict[str, float]:
    """`lp.metrics_of` (Recall@20, NDCG@100 only) from a dense relevance table: the grid
    evaluates hundreds of points, and `hit_matrix`'s isin dominates it."""
    rel, n_relevant = part["relevance"], part["n_relevant"]
    hits = rel[np.arange(len(lists))[:, None], lists].astype(np.float64)
    recall = np.mean(hits[:, :20].sum(axis=1) / np.minimum(n_relevant, 20))
    discounts = 1.0 / np.log2(np.arange(2, lp.TOP + 2))
    ideal = np.cumsum(discounts)[np.minimum(n_relevant, lp.TOP) - 1]
    return {"recall@20": float(recall), "ndcg@100": float(np.mean(hits @ discounts / ideal))}


def evaluate(
    method: str, fold: dict[str, Any], c: dict[str, float], *, full: bool = False
) -> dict[str, Any]:
    """Metrics per N, the ratios to the better baseline, their mean and minimum (`full`: every
    metric of `lp.metrics_of`, else the two headline ones)."""
    per_n, ratios = {}, []
    for label, part in fold["N"].items():
        q = part["queries"]
        lists = lp.lists_from_scores(method_scores(method, part, c), q)
        m = lp.metrics_of(lists, q) if full else fast_metrics(lists, part)
        per_n[label] = m
        for key in lp.HEADLINE:
            best = max(part["baselines"][b][key] for b in lp.BASELINES)
            ratios.append(m[key] / best)
    return {"metrics": per_n, "mean_ratio": float(np.mean(ratios)), "min_ratio": min(ratios)}


def grid_points(grid: dict[str, list[float]]) -> list[dict[str, float]]:
    points = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    # With alpha = 0 the prior is off and beta means nothing: keep one such point.
    seen, unique = set(), []
    for p in points:
        key = tuple(sorted({**p, "beta": 0.0 if p.get("alpha") == 0 else p["beta"]}.items()))
        if key not in seen:
            seen.add(key)
            unique.append({**p, "gamma": p.get("gamma", 0.0), "weight": p.get("weight", 1.0)})
    return unique


EDLAE_GRID = {"ease_lambda": [100.0, 300.0, 1000.0, 3000.0], "edlae_dropout": [0.5, 0.75, 0.9]}


def edlae_grid(ratings: Ratings, data: dict[str, Any], *, fold: int, seed: int) -> None:
    """Does an EDLAE fitted differently fold in better? Each setting of `EDLAE_GRID` is fitted on
    the fold's fit users and scored on its validation queries, alone and inside `per-query` with
    `lp.PER_QUERY`'s constants (the tower and popularity parts as cached). Prints the ratios to
    the better of EASE and popularity, Recall@20 / NDCG@100 per N."""
    fit_rows, _ = validation_split(
        ratings, lp.user_folds(ratings, seed=seed)[fold], seed=seed, fold=fold
    )
    fit = ratings.take(fit_rows)
    base = lp.preset("edlae")
    assert base.retrieval is not None
    constants = {k: float(v) for k, v in lp.PER_QUERY.items() if k != "method"}
    for lam, dropout in itertools.product(*EDLAE_GRID.values()):
        retrieval = dataclasses.replace(base.retrieval, ease_lambda=lam, edlae_dropout=dropout)
        config = dataclasses.replace(base, split=lp.TRAIN_ON_ALL, rating=None, retrieval=retrieval)
        model = train_recommender(fit, config).retrieval
        assert model is not None
        cells = []
        for label, part in data["N"].items():
            q = part["queries"]
            scores = lp.fold_in_scores(model, q)
            alone = fast_metrics(lp.lists_from_scores(scores, q), part)
            scores[:, 0] = 0.0
            swapped = {**part, "z": {**part["z"], "edlae": lp.zscore(scores.double())}}
            lists = lp.lists_from_scores(method_scores("per-query", swapped, constants), q)
            mixed = fast_metrics(lists, part)
            best = {k: max(part["baselines"][b][k] for b in lp.BASELINES) for k in lp.HEADLINE}
            ratio = "/".join(f"{alone[k] / best[k]:.3f}" for k in lp.HEADLINE)
            ratio_mixed = "/".join(f"{mixed[k] / best[k]:.3f}" for k in lp.HEADLINE)
            cells.append(f"{label} {ratio} ({ratio_mixed})")
        print(f"  EDLAE lambda {lam:g} dropout {dropout:g}: " + "; ".join(cells), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, nargs="+", default=list(range(lp.N_FOLDS)))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=None, help="parts per fold (torch.save)")
    parser.add_argument("--out", type=Path, default=None, help="chosen constants per fold, JSON")
    parser.add_argument(
        "--typical-id", action="store_true", help="also search `per-query typical-id`"
    )
    parser.add_argument(
        "--edlae-grid", action="store_true", help="only refit EDLAE settings (see edlae_grid)"
    )
    args = parser.parse_args()
    torch.set_num_threads(2)
    methods = dict(GRID)
    if args.typical_id:
        methods["per-query typical-id"] = GRID["per-query"]

    cache: dict[str, Any] = {}
    if args.cache is not None and args.cache.exists():
        cache = torch.load(args.cache, weights_only=False)
    ratings = None
    for fold in args.folds:
        key = f"seed{args.seed}-fold{fold}"
        if key not in cache:
            if ratings is None:
                ratings = load_movielens_100k()
            cache[key] = fold_parts(ratings, fold, args.seed)
            print(f"fold {fold}: trained in {cache[key]['train_seconds']:.0f} s", flush=True)
            if args.cache is not None:
                torch.save(cache, args.cache)

    if args.edlae_grid:
        ratings = ratings if ratings is not None else load_movielens_100k()
        for fold in args.folds:
            data = cache[f"seed{args.seed}-fold{fold}"]
            prepare_z(data)
            print(f"## fold {fold}: ratio alone (inside per-query), R@20/NDCG@100", flush=True)
            edlae_grid(ratings, data, fold=fold, seed=args.seed)
        return
    torch.set_num_threads(1)  # the grid's small tensor operations run faster on one thread
    chosen: dict[str, Any] = {}
    pooled: dict[tuple[str, str], list[float]] = {}
    for fold in args.folds:
        data = cache[f"seed{args.seed}-fold{fold}"]
        prepare_z(data)
        print(f"\n## fold {fold} (validation users; ratio = to the better of EASE, popularity)")
        print_baselines(data)
        start = time.perf_counter()
        best: dict[str, Any] = {}
        for method in methods:
            results = [(c, evaluate(method, data, c)) for c in grid_points(methods[method])]
            for c, r in results:
                pooled.setdefault((method, json.dumps(c, sort_keys=True)), []).append(
                    r["mean_ratio"]
                )
            results.sort(key=lambda r: -r[1]["mean_ratio"])
            best[method] = results[0]
            print(f"### {method}: {len(results)} points; top 3 by mean ratio")
            shown = results[:3]
            if method == "per-query":  # and the best with the EDLAE part never shrunk
                shown += [next(r for r in results if r[0]["gamma"] == 0.0)]
            for c, r in shown:
                print(f"  {c}: {summary(r)}")
        method = max(best, key=lambda name: best[name][1]["mean_ratio"])
        c, r = best[method]
        full = evaluate(method, data, c, full=True)
        assert abs(full["mean_ratio"] - r["mean_ratio"]) < 1e-9, "fast metrics disagree"
        chosen[str(fold)] = {"method": method, **c, "validation": full}
        print(f"chosen for fold {fold}: {method} {c} ({time.perf_counter() - start:.0f} s search)")

    # Pooled over the folds run: the validation users of one fold are held-out users of another,
    # so a point chosen here and scored on held-out folds is slightly optimistic (see the report).
    print(f"\n## pooled over folds {args.folds}: mean of each fold's mean ratio (min over folds)")
    pooled_best: dict[str, Any] = {}
    for method in methods:
        points = [(key, ratios) for (m, key), ratios in pooled.items() if m == method]
        points.sort(key=lambda p: -float(np.mean(p[1])))
        pooled_best[method] = {**json.loads(points[0][0]), "mean_ratio": np.mean(points[0][1])}
        print(f"### {method}")
        for key, ratios in points[:5]:
            per_fold = " ".join(f"{x:.4f}" for x in ratios)
            print(f"  {key}: {np.mean(ratios):.4f} (min {min(ratios):.4f}; folds {per_fold})")
    if args.out is not None:
        report = {"seed": args.seed, "per_fold": chosen, "pooled": pooled_best}
        args.out.write_text(json.dumps(report, indent=1, default=float))
        print(f"wrote {args.out}")


def summary(r: dict[str, Any]) -> str:
    per_n = "; ".join(
        f"{label} {m['recall@20']:.4f}/{m['ndcg@100']:.4f}" for label, m in r["metrics"].items()
    )
    return f"mean {r['mean_ratio']:.4f} min {r['min_ratio']:.4f} | {per_n}"


def print_baselines(data: dict[str, Any]) -> None:
    """The baselines' Recall@20 / NDCG@100 per N, and how today's blend weighs its parts: the
    median over users of sd(EDLAE part) / sd(tower part) over movies, as the blend scales them."""
    s_edlae, s_tower = data["scales"]
    for label, part in data["N"].items():
        b = part["baselines"]
        cells = ", ".join(
            f"{name} {b[name]['recall@20']:.4f}/{b[name]['ndcg@100']:.4f}"
            for name in ("two-stage", "ease", "popularity")
        )
        n = part["queries"].n_given
        share = (s_edlae * part["edlae"][:, 1:].double().std(dim=1)) / (
            s_tower * part["tower"][:, 1:].double().std(dim=1)
        )
        print(
            f"N={label} ({len(n)} users, N median {np.median(n):.0f} max {n.max()}): {cells}; "
            f"today's sd(EDLAE)/sd(tower) median {share.median():.3f}; "
            f"lists match scores {part['today_lists_match_scores']}"
        )
    today = [
        part["baselines"]["two-stage"][k] / max(part["baselines"][x][k] for x in lp.BASELINES)
        for part in data["N"].values()
        for k in lp.HEADLINE
    ]
    print(f"today: mean ratio {np.mean(today):.4f}, min {min(today):.4f}")


if __name__ == "__main__":
    main()
