"""The liked path on held-out users (issue 8): strong generalisation, as Liang et al. 2018 and EASE.

Run: .venv/bin/python benchmarks/liked_path.py [--folds 0 1 2 3 4] [--seed 0] [--same-users]
        [--constants research.json] [--out FILE.json]
     .venv/bin/python benchmarks/liked_path.py --merge a.json b.json  (mean of earlier runs)

Protocol. The users of MovieLens 100k are cut into 5 folds by a seeded permutation (`--seed`).
For each fold, every preset is trained on all the ratings of the other folds' users
(`train_recommender` on `ratings.take(rows)`, split `leave-last:1000000`, which trains on every
given row; no rating model, as the liked path keeps retrieval's order and never reads it). For
each held-out user, their liked movies are their ratings >= 4 of movies the model knows; a seeded
permutation of them gives the N liked movies (N = 1, 3, 10, and "all" of them; the 1 are among
the 3, the 3 among the 10), passed oldest first (the tower keeps the latest 100). Relevant: every
other movie the person rated, whatever the rating (movies no training user rated count as
relevant too, and no model can find them); so with "all", what is left to find is the movies
rated below 4. The top 100 movies, the given ones excluded, are scored with Recall@20, Recall@50
(hits / min(k, relevant), as Liang et al. 2018; the issue's figures are of this kind), NDCG@100,
and the library's recall (hits / relevant, `libR`) beside them. A user is scored at N when they
have at least N liked movies (at least 1 for "all") and at least one other rated movie;
`--same-users` scores every N on the users eligible at both N = 10 and "all". The mean table's
`users` is the mean per fold, its ratios are of the mean metrics.

Rows: the library's two-stage liked path (`Recommender.recommend_for_liked`, whose
`Blend.fold_in` implements `PER_QUERY`), EASE and popularity
(their presets, the same call), EDLAE and the two-tower model (the presets' models: their configs
equal the two-stage blend's parts and the seeds match, so the blend's parts are used after the
configs are compared; otherwise the presets are trained), and the liked path as prototyped
from the blend's parts (`per_query_scores`, the check that the library matches it):
`per-query (fixed)` with `PER_QUERY`,
and with `--constants` (the `--out` of `liked_path_research.py`) `per-query (each fold's
validation)`, each fold's constants chosen on validation users carved from its training users.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reelrank.config import ExperimentConfig, preset
from reelrank.data.catalog.catalog import Catalog
from reelrank.data.movielens.ml100k.load import load_movielens_100k
from reelrank.experiment.run import train_recommender
from reelrank.metrics import hit_matrix, ndcg_at_k, recall_at_k
from reelrank.models.retrieval.base import RetrievalModel, known_history
from reelrank.models.retrieval.blend import Blend
from reelrank.models.retrieval.two_tower import TwoTower
from reelrank.recommender.recommender import Recommender
from reelrank.types import Ratings

N_FOLDS = 5
GIVEN = ("1", "3", "10", "all")
TOP = 100
TRAIN_ON_ALL = "leave-last:1000000"  # every user has fewer ratings: all rows train, none test
MODEL_ROWS = ("two-stage (library)", "ease", "popularity", "edlae", "two-tower")
NESTED = "per-query (each fold's validation)"
FIXED = "per-query (fixed)"
BASELINES = ("ease", "popularity")
HEADLINE = ("recall@20", "ndcg@100")  # the figures: >= 5% above the better baseline
COLUMNS = (
    ("R@20", "recall@20"),
    ("R@50", "recall@50"),
    ("NDCG@100", "ndcg@100"),
    ("libR@20", "library_recall@20"),
    ("libR@50", "library_recall@50"),
)

# The proposed liked path (`per_query_scores`), one set of constants for the library, chosen on
# validation users pooled over the 5 folds (`liked_path_research.py`, seed 0): of the points
# within 0.001 of the best mean ratio (1.0834), the one with the best worst fold (1.0737).
PER_QUERY = {"method": "per-query", "weight": 0.25, "gamma": 30.0, "alpha": 2.0, "beta": 3.0}


@dataclass(frozen=True)
class Queries:
    """The held-out users scored at one N: what each one gives and what there is to find.

    `given[u]`: int64 movie indices, oldest rating first. `indptr [users + 1]`, `indices`: the
    relevant movies as CSR (0 for a movie the model does not know).
    """

    label: str
    user_ids: list[str]
    given: list[np.ndarray]
    indptr: np.ndarray
    indices: np.ndarray

    @property
    def n_given(self) -> np.ndarray:
        return np.array([len(g) for g in self.given], dtype=np.int64)


def user_folds(ratings: Ratings, *, seed: int, n_folds: int = N_FOLDS) -> list[np.ndarray]:
    """The user ids of each fold: a seeded permutation of the sorted ids, cut in `n_folds`."""
    users = np.unique(ratings.user_id)
    return np.array_split(users[np.random.default_rng(seed).permutation(len(users))], n_folds)


def rows_of(ratings: Ratings, user_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows of the other users, rows of `user_ids`)."""
    held = np.isin(ratings.user_id, user_ids)
    return np.flatnonzero(~held), np.flatnonzero(held)


def make_queries(
    held_out: Ratings, catalog: Catalog, *, seed: int, same_users: bool = False
) -> dict[str, Queries]:
    """The queries of every N in `GIVEN` for the held-out users' ratings (see the module doc)."""
    movie = catalog.movies.numbers(held_out.movie_title)
    order = np.lexsort((np.arange(len(held_out)), held_out.timestamp, held_out.user_id))
    rng = np.random.default_rng(seed)
    out: dict[str, tuple[list[str], list[np.ndarray], list[np.ndarray]]] = {
        label: ([], [], []) for label in GIVEN
    }
    users, starts = np.unique(held_out.user_id[order], return_index=True)
    for user, rows in zip(users, np.split(order, starts[1:]), strict=True):
        known = movie[rows] > 0
        # One entry per known movie (titles shared by two MovieLens ids merge): its best rating,
        # at its first rating time.
        best: dict[int, float] = {}
        for m, r in zip(movie[rows][known], held_out.user_rating[rows][known], strict=True):
            best[int(m)] = max(best.get(int(m), 0.0), float(r))
        liked = np.array([m for m, r in best.items() if r >= 4], dtype=np.int64)
        others_all = np.array([m for m, r in best.items() if r < 4], dtype=np.int64)
        unknown = np.zeros(int((~known).sum()), dtype=np.int64)
        pick = liked[rng.permutation(len(liked))]
        eligible_all = len(liked) >= 1 and len(others_all) + len(unknown) >= 1
        eligible_10 = len(liked) >= 10 and len(liked) + len(others_all) + len(unknown) > 10
        first_seen = {int(m): i for i, m in reversed(list(enumerate(movie[rows]))) if m > 0}
        for label in GIVEN:
            n = len(liked) if label == "all" else int(label)
            given = pick[:n]
            rest = np.concatenate([pick[n:], others_all, unknown])
            ok = len(liked) >= n and n >= 1 and len(rest) >= 1
            if same_users:
                ok = ok and eligible_all and eligible_10
            if not ok:
                continue
            # Oldest first, as a person's history is passed (the tower keeps the latest 100).
            given = np.array(sorted(given.tolist(), key=first_seen.__getitem__), dtype=np.int64)
            out[label][0].append(str(user))
            out[label][1].append(given)
            out[label][2].append(np.sort(rest))
    queries = {}
    for label, (ids, given_list, relevant) in out.items():
        indptr = np.concatenate([[0], np.cumsum([len(r) for r in relevant])]).astype(np.int64)
        indices = np.concatenate(relevant) if relevant else np.zeros(0, np.int64)
        queries[label] = Queries(label, ids, given_list, indptr, indices)
    return queries


def lists_from_recommender(recommender: Recommender, queries: Queries) -> np.ndarray:
    """`[users, TOP]` movie indices (-1 padding) from `Recommender.recommend_for_liked`: what a
    person gets, the given movies excluded by the recommender itself."""
    catalog = recommender.catalog
    lists = np.full((len(queries.given), TOP), -1, dtype=np.int64)
    for row, given in enumerate(queries.given):
        ids = [catalog.movie_id(int(m)) for m in given]
        recs = recommender.recommend_for_liked(ids, k=TOP)
        found = catalog.movies.numbers(np.array([r.movie_title for r in recs]))
        lists[row, : len(found)] = found
    return lists


def lists_from_scores(scores: torch.Tensor, queries: Queries) -> np.ndarray:
    """`[users, TOP]` movie indices: the top of `[users, n_movies + 1]` scores, with column 0 and
    each user's given movies left out."""
    scores = scores.clone().to(torch.float64)
    scores[:, 0] = float("-inf")
    rows = torch.repeat_interleave(torch.arange(len(queries.given)), torch.tensor(queries.n_given))
    scores[rows, torch.from_numpy(np.concatenate(queries.given))] = float("-inf")
    top, idx = torch.topk(scores, TOP, dim=1)
    idx[top == float("-inf")] = -1
    return idx.numpy()


def fold_in_scores(model: RetrievalModel, queries: Queries) -> torch.Tensor:
    """`[users, n_movies + 1]`: each user's `score_history(given)` (the model's own fold-in),
    with the movie vectors computed once rather than once per user."""
    with torch.no_grad():
        movies = model.all_movie_embeddings()
        folded = torch.stack([model.fold_in(torch.from_numpy(g)) for g in queries.given])
        scores = folded @ movies.T
        scores[:, 0] = float("-inf")
        return scores


def metrics_of(lists: np.ndarray, queries: Queries) -> dict[str, float]:
    """Recall@20/50 (hits / min(k, relevant)), NDCG@100 and the library's recall@20/50."""
    hits = hit_matrix(lists, queries.indptr, queries.indices)
    n_relevant = np.diff(queries.indptr)
    out = {"users": float(len(queries.given))}
    for k in (20, 50):
        out[f"recall@{k}"] = float(np.mean(hits[:, :k].sum(axis=1) / np.minimum(n_relevant, k)))
        out[f"library_recall@{k}"] = recall_at_k(hits, n_relevant, k=k)
    out["ndcg@100"] = ndcg_at_k(hits, n_relevant, k=TOP)
    return out


def zscore(scores: torch.Tensor) -> torch.Tensor:
    """Each row standardised over the known movies (columns 1..): mean 0, sd 1."""
    known = scores[:, 1:]
    mean = known.mean(dim=1, keepdim=True)
    sd = known.std(dim=1, keepdim=True).clamp(min=1e-12)
    return (scores - mean) / sd


@dataclass(frozen=True)
class Parts:
    """Per-query scores `[users, n_movies + 1]` of each part a liked path can mix, in float64:
    EDLAE's fold-in, the two-tower fold-in, log(1 + count) popularity; `n [users]` liked movies."""

    edlae: torch.Tensor
    tower: torch.Tensor
    popularity: torch.Tensor
    n: torch.Tensor


def tower_fold_in_typical(tower: TwoTower, history_movie_idx: torch.Tensor) -> torch.Tensor:
    """`TwoTower.fold_in` with the id embedding of the unknown user (index 0, which training never
    updates: it keeps its random initial value) replaced by the mean of the known users' id
    embeddings, a typical user. `[history]` -> `[dim]`; needs the "history" user feature."""
    tower_ = tower.user_tower
    history = known_history(history_movie_idx, tower.n_movies)
    width = tower_.table("history").shape[1]
    history = history[-width:]
    row = torch.zeros(1, width, dtype=torch.long)
    row[0, : history.numel()] = history
    with torch.no_grad():
        features = {name: torch.zeros(1, dtype=torch.long) for name in tower_.feature_names}
        features["history"] = row
        typical = tower_.id_embedding.weight[1:].mean(dim=0, keepdim=True)
        encoded = [typical] + [tower_.encoders[n](features[n]) for n in tower_.feature_names]
        assert tower_.mlp is not None
        return tower_.mlp(torch.cat(encoded, dim=-1))[0]


def parts_of(
    blend: Blend, popularity: RetrievalModel, queries: Queries, *, typical_id: bool = False
) -> Parts:
    """Each part's fold-in scores for every query (`typical_id`: the tower's query from
    `tower_fold_in_typical` instead of `fold_in`)."""
    n_users = len(queries.given)
    with torch.no_grad():
        edlae = fold_in_scores(blend.item_item, queries).to(torch.float64)
        if typical_id:
            folded = [
                tower_fold_in_typical(blend.two_tower, torch.from_numpy(g)) for g in queries.given
            ]
            tower = (torch.stack(folded) @ blend.two_tower.all_movie_embeddings().T).double()
        else:
            tower = fold_in_scores(blend.two_tower, queries).to(torch.float64)
        pop = popularity.all_movie_embeddings()[:, 0].to(torch.float64).expand(n_users, -1)
    for part in (edlae, tower):
        part[:, 0] = 0.0  # column 0 is -inf in score_history; it never ranks anyway
    n = torch.from_numpy(queries.n_given).to(torch.float64)
    return Parts(edlae, tower, pop.clone(), n)


def per_query_scores(
    parts: Parts, *, weight: float, gamma: float, alpha: float, beta: float
) -> torch.Tensor:
    """The proposed liked path: every part standardised per query, so its weight means the same
    at any number N of liked movies, EDLAE shrunk at small N, a popularity prior that fades:

        score = z(s_edlae) · N / (N + gamma) + weight · z(s_tower) + alpha / (N + beta) · z(pop)
    """
    n = parts.n[:, None]
    return (
        zscore(parts.edlae) * (n / (n + gamma))
        + weight * zscore(parts.tower)
        + (alpha / (n + beta)) * zscore(parts.popularity)
    )


def proposed_lists(
    blend: Blend, popularity: RetrievalModel, queries: Queries, constants: dict[str, Any]
) -> np.ndarray:
    """The top 100 of `per_query_scores` for `constants` = {"method": "per-query" or "per-query
    typical-id" (the tower's query from `tower_fold_in_typical`), weight, gamma, alpha, beta}."""
    method = constants["method"]
    if method not in ("per-query", "per-query typical-id"):
        raise ValueError(f"liked_path.py scores the per-query methods only, not {method!r}")
    parts = parts_of(blend, popularity, queries, typical_id=method == "per-query typical-id")
    c = {k: float(constants[k]) for k in ("weight", "gamma", "alpha", "beta")}
    return lists_from_scores(per_query_scores(parts, **c), queries)


def train(ratings: Ratings, name: str) -> Recommender:
    """A preset trained on every row of `ratings`, without its rating model."""
    config = dataclasses.replace(preset(name), split=TRAIN_ON_ALL, rating=None)
    return train_recommender(ratings, config)


def same_parts(two_stage: ExperimentConfig, part: ExperimentConfig, fields: Sequence[str]) -> bool:
    """Whether a preset builds the same model as the two-stage blend's part (same fields, loss,
    training and seed), so its weights are the part's weights."""
    a, b = two_stage.retrieval, part.retrieval
    assert a is not None and b is not None
    same_fields = all(getattr(a, f) == getattr(b, f) for f in fields)
    training = (two_stage.retrieval_training or two_stage.training) == (
        part.retrieval_training or part.training
    )
    return same_fields and training and two_stage.retrieval_loss == part.retrieval_loss


TOWER_FIELDS = (
    "embedding_dim",
    "user_features",
    "movie_features",
    "tower_hidden_dims",
    "max_history",
)
EDLAE_FIELDS = ("ease_lambda", "edlae_dropout", "low_rank", "low_rank_weight")


def train_fold(train_ratings: Ratings) -> dict[str, Any]:
    """Every model of the table, trained on `train_ratings`; with the seconds each took."""
    models: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    for name in ("two-stage", "ease", "popularity"):
        start = time.perf_counter()
        models[name] = train(train_ratings, name)
        seconds[name] = time.perf_counter() - start
    blend = models["two-stage"].retrieval
    assert isinstance(blend, Blend)
    models["edlae"] = blend.item_item
    models["two-tower"] = blend.two_tower
    # The closed-form part's config has no training or loss; compare the fields that fit it.
    if not all(
        getattr(preset("edlae").retrieval, f) == getattr(preset("two-stage").retrieval, f)
        for f in EDLAE_FIELDS
    ):
        models["edlae"] = train(train_ratings, "edlae").retrieval
    if not same_parts(preset("two-stage"), preset("two-tower"), TOWER_FIELDS):
        start = time.perf_counter()
        models["two-tower"] = train(train_ratings, "two-tower").retrieval
        seconds["two-tower"] = time.perf_counter() - start
    models["seconds"] = seconds
    return models


def evaluate_fold(
    models: dict[str, Any], queries: dict[str, Queries], proposed: dict[str, dict[str, Any]]
) -> dict[str, dict[str, dict[str, float]]]:
    """`{row: {N: metrics}}` for the models' rows and each proposed row (`{row: constants}`)."""
    blend = models["two-stage"].retrieval
    popularity = models["popularity"].retrieval
    out: dict[str, dict[str, dict[str, float]]] = {row: {} for row in (*MODEL_ROWS, *proposed)}
    for label, q in queries.items():
        rows: dict[str, Callable[[], np.ndarray]] = {
            "two-stage (library)": lambda q=q: lists_from_recommender(models["two-stage"], q),
            "ease": lambda q=q: lists_from_recommender(models["ease"], q),
            "popularity": lambda q=q: lists_from_recommender(models["popularity"], q),
            "edlae": lambda q=q: lists_from_scores(fold_in_scores(models["edlae"], q), q),
            "two-tower": lambda q=q: lists_from_scores(fold_in_scores(models["two-tower"], q), q),
        }
        for row, constants in proposed.items():
            rows[row] = lambda q=q, c=constants: proposed_lists(blend, popularity, q, c)
        for row, make in rows.items():
            out[row][label] = metrics_of(make(), q)
    return out


def mean_over_folds(per_fold: list[dict[str, dict[str, dict[str, float]]]]) -> dict[str, Any]:
    """Metric means over folds, `{row: {N: {metric: mean}}}`."""
    rows = {row: v for row, v in per_fold[0].items() if all(row in f for f in per_fold)}
    return {
        row: {
            label: {
                key: float(np.mean([fold[row][label][key] for fold in per_fold]))
                for key in rows[row][label]
            }
            for label in rows[row]
        }
        for row in rows
    }


def markdown(table: dict[str, Any], title: str) -> str:
    """One Markdown table: a row per (model, N), the metrics as columns, and each row's ratio
    to the better baseline (EASE, popularity) on Recall@20 and NDCG@100."""
    head = "| model | N | users | " + " | ".join(name for name, _ in COLUMNS)
    head += " | R@20 / best base | NDCG@100 / best base |"
    lines = [f"**{title}**", "", head, "|" + "---|" * (len(COLUMNS) + 5)]
    for label in GIVEN:
        for row in table:
            m = table[row][label]
            base = {
                k: max(table[b][label][k] for b in BASELINES) for k in ("recall@20", "ndcg@100")
            }
            cells = " | ".join(f"{m[key]:.4f}" for _, key in COLUMNS)
            ratios = " | ".join(f"{m[k] / base[k]:.3f}" for k in HEADLINE)
            lines.append(f"| {row} | {label} | {m['users']:.0f} | {cells} | {ratios} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, nargs="+", default=list(range(N_FOLDS)))
    parser.add_argument("--seed", type=int, default=0, help="user folds and liked-movie choice")
    parser.add_argument("--same-users", action="store_true", help="score every N on one user set")
    parser.add_argument(
        "--constants",
        type=Path,
        default=None,
        help="liked_path_research.py --out JSON: adds the row with each fold's own choice",
    )
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument(
        "--merge", type=Path, nargs="+", default=None, help="print the mean of earlier --out files"
    )
    args = parser.parse_args()
    torch.set_num_threads(2)

    if args.merge:
        folds = {}
        for path in args.merge:
            folds |= json.loads(path.read_text())["folds"]
        tables = [folds[f]["metrics"] for f in sorted(folds)]
        print(markdown(mean_over_folds(tables), f"mean over folds {sorted(folds)}"))
        return
    per_fold_constants = {}
    if args.constants is not None:
        per_fold_constants = json.loads(args.constants.read_text())["per_fold"]
    ratings = load_movielens_100k()
    folds = user_folds(ratings, seed=args.seed)
    per_fold = []
    report: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}}
    report["fixed_constants"] = PER_QUERY
    report["folds"] = {}
    for fold in args.folds:
        start = time.perf_counter()
        train_rows, test_rows = rows_of(ratings, folds[fold])
        models = train_fold(ratings.take(train_rows))
        catalog = models["two-stage"].catalog
        queries = make_queries(
            ratings.take(test_rows),
            catalog,
            seed=args.seed * 1000 + fold,
            same_users=args.same_users,
        )
        proposed = {FIXED: PER_QUERY}
        if str(fold) in per_fold_constants:
            proposed = {NESTED: per_fold_constants[str(fold)], **proposed}
        result = evaluate_fold(models, queries, proposed)
        seconds = time.perf_counter() - start
        per_fold.append(result)
        report["folds"][str(fold)] = {
            "metrics": result,
            "constants": {
                row: {k: v for k, v in c.items() if k != "validation"}
                for row, c in proposed.items()
            },
            "train_seconds": models["seconds"],
            "seconds": seconds,
        }
        print(markdown(result, f"fold {fold} ({seconds:.0f} s)") + "\n", flush=True)
    report["mean"] = mean_over_folds(per_fold)
    print(markdown(report["mean"], f"mean over folds {args.folds} (seed {args.seed})"))
    if args.out is not None:
        args.out.write_text(json.dumps(report, indent=1))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
