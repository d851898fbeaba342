"""Retrieval quality and speed of every retrieval preset, in one table, on MovieLens 100k.

Run: .venv/bin/python benchmarks/retrieval.py [--runs 3] [--data PATH] [--presets a,b,...]
     .venv/bin/python benchmarks/retrieval.py --artifact artifacts/two-stage  (latency only)

Protocol (as in the issues): random 80/20 split with seed 42, every rating a positive.
- factorized top-k: TFRS' FactorizedTopK accuracy over every test rating, all movies ranked,
  seen ones included;
- recall/ndcg/hit_rate@k: per-user full ranking with the user's training movies excluded, users
  with at least one test rating, binary relevance.
Also: training time (median of --runs), the time to recommend for one user with the two-stage
model (median over many users: a known user's list, and a list for 3 liked movies, each with its
"because you liked" explanations, once the explanations are prepared as the server does at
start-up), and the HNSW index's recall@100 against the exact index and its
search speed, on MovieLens and on a larger random catalogue.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from reelrank.config import preset
from reelrank.data.movielens.ml100k.load import load_movielens_100k
from reelrank.experiment.run import train_recommender
from reelrank.index import BruteForceIndex, FaissIndex, Index
from reelrank.recommender.recommender import Recommender

PRESETS = ("popularity", "ease", "edlae", "seed-retrieval", "multitask", "two-tower", "two-stage")
COLUMNS = (
    ("top1", "factorized_top_k/top_1_categorical_accuracy"),
    ("top5", "factorized_top_k/top_5_categorical_accuracy"),
    ("top10", "factorized_top_k/top_10_categorical_accuracy"),
    ("top50", "factorized_top_k/top_50_categorical_accuracy"),
    ("top100", "factorized_top_k/top_100_categorical_accuracy"),
    ("R@10", "retrieval/recall@10"),
    ("NDCG@10", "retrieval/ndcg@10"),
    ("HR@10", "retrieval/hit_rate@10"),
    ("R@100", "retrieval/recall@100"),
)


def quality_table(ratings: object, presets: list[str], runs: int) -> dict[str, Recommender]:
    header = f"{'preset':<16}{'train s':>9}" + "".join(f"{name:>9}" for name, _ in COLUMNS)
    print(header)
    print("-" * len(header))
    trained = {}
    for name in presets:
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            recommender = train_recommender(ratings, preset(name))  # type: ignore[arg-type]
            times.append(time.perf_counter() - start)
        trained[name] = recommender
        m = recommender.metrics
        row = f"{name:<16}{statistics.median(times):>9.2f}"
        print(row + "".join(f"{m[key]:>9.4f}" for _, key in COLUMNS), flush=True)
    print("train s: median wall time of train_recommender (training + full evaluation)")
    return trained


def recommend_latency(recommender: Recommender, users: int = 300) -> None:
    """Median time of `recommend(user, k=10)` (retrieve, rank, filter, explain) and of
    `recommend_for_liked` with 3 liked movies, over `users` users."""
    start = time.perf_counter()
    recommender.prepare_explanations()
    print(f"explanations prepared (server start-up) in {time.perf_counter() - start:.2f} s")
    ids = recommender.catalog.users.terms[:users].tolist()
    rng = np.random.default_rng(0)
    liked = [
        [int(m) for m in rng.choice(np.arange(1, recommender.catalog.movies.size), 3, False)]
        for _ in ids
    ]
    calls = {
        "recommend, one known user": lambda i: recommender.recommend(ids[i], 10),
        "recommend_for_liked, 3 movies": lambda i: recommender.recommend_for_liked(
            [recommender.catalog.movie_id(m) for m in liked[i]], 10
        ),
    }
    for name, call in calls.items():
        for i in range(20):  # warm up
            call(i)
        times = []
        for i in range(len(ids)):
            start = time.perf_counter()
            call(i)
            times.append(time.perf_counter() - start)
        print(
            f"{recommender.config.preset} {name}, k=10 over all "
            f"{len(recommender.catalog.movies)} movies ({type(recommender.index).__name__}): "
            f"median {1000 * statistics.median(times):.3f} ms, "
            f"p95 {1000 * float(np.percentile(times, 95)):.3f} ms ({len(ids)} users)"
        )


def ann_report(recommender: Recommender, n_random: int = 50_000) -> None:
    """HNSW against the exact index: recall@100 and search time, on MovieLens and a big one."""
    assert recommender.retrieval is not None
    with torch.no_grad():
        movies = recommender.retrieval.all_movie_embeddings()
        queries = recommender.retrieval.user_embedding(
            torch.arange(1, recommender.catalog.users.size)
        )
    # A larger catalogue with structure, as learned embeddings have: items around 500 tastes.
    generator = torch.Generator().manual_seed(0)
    centres = torch.randn(500, 64, generator=generator)
    big = centres[torch.randint(0, 500, (n_random,), generator=generator)]
    big = big + 0.5 * torch.randn(n_random, 64, generator=generator)
    big_queries = centres[torch.randint(0, 500, (1000,), generator=generator)]
    big_queries = big_queries + 0.5 * torch.randn(1000, 64, generator=generator)
    for label, vectors, q in (
        (f"MovieLens ({len(movies) - 1} movies, dim {movies.shape[1]})", movies, queries),
        (f"clustered catalogue ({n_random:,} items, dim 64)", big, big_queries),
    ):
        exact = BruteForceIndex(vectors)
        start = time.perf_counter()
        approx = FaissIndex(vectors)
        build = time.perf_counter() - start
        recall = recall_against(exact, approx, q, 100)
        t_exact = _median_search(exact, q)
        t_approx = _median_search(approx, q)
        print(
            f"HNSW on {label}: recall@100 vs exact {recall:.4f}; build {build:.2f} s; "
            f"search {len(q)} queries: exact {1000 * t_exact:.1f} ms, "
            f"HNSW {1000 * t_approx:.1f} ms "
            f"(x{t_exact / t_approx:.1f})"
        )


def recall_against(exact: Index, approx: Index, queries: torch.Tensor, k: int) -> float:
    """Mean fraction of the exact top-k that the approximate index also returns, over `[q, dim]`
    queries (places the exact index leaves empty are not counted). 1.0 means no loss."""
    _, truth = exact.search(queries, k)
    _, found = approx.search(queries, k)
    truth, found = truth.cpu(), found.cpu()
    hits = ((truth.unsqueeze(2) == found.unsqueeze(1)) & (truth >= 0).unsqueeze(2)).any(dim=2)
    relevant = int((truth >= 0).sum())
    return float(hits.sum()) / relevant if relevant else 1.0


def _median_search(index: Index, queries: torch.Tensor) -> float:
    times = []
    for _ in range(5):
        start = time.perf_counter()
        index.search(queries, 100)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data", default=None, help="GroupLens ml-100k folder or zip")
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--no-ann", action="store_true", help="skip the HNSW report")
    parser.add_argument("--artifact", default=None, help="only the latency of this artifact")
    args = parser.parse_args()
    if args.artifact is not None:
        recommend_latency(Recommender.load(args.artifact))
        return
    ratings = load_movielens_100k(args.data)
    print(
        f"MovieLens 100k, random:0.8 split, seed 42; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads\n"
    )
    trained = quality_table(ratings, args.presets.split(","), args.runs)
    if "two-stage" in trained:
        print()
        recommend_latency(trained["two-stage"])
        if not args.no_ann:
            ann_report(trained["two-stage"])


if __name__ == "__main__":
    main()
