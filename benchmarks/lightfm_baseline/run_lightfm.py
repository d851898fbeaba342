"""LightFM (Kula 2015) on the cold-movie split of benchmarks/cold_movies.py, in its own venv.

Reads `split.npz` (training pairs, every movie's features, the test users and the cold movies),
fits LightFM with WARP on the training pairs (every rating a positive, as reelrank's retrieval
treats them), each movie described by its id and its features (genres, decade, title words) and
each user by their id, and writes `scores.npy`: `[test users, cold movies]` predictions. A cold
movie's id was never trained, so its score comes from its features.

    .venv-lightfm/bin/python benchmarks/lightfm_baseline/run_lightfm.py DIR [--epochs N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from lightfm import LightFM
from scipy import sparse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--components", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    split = np.load(args.folder / "split.npz")
    n_users, n_movies = int(split["n_users"]), int(split["n_movies"])
    users, movies = split["train_users"], split["train_movies"]
    interactions = sparse.coo_matrix(
        (np.ones(len(users), dtype=np.float32), (users, movies)), shape=(n_users, n_movies)
    ).tocsr()
    interactions.data[:] = 1.0  # a pair rated twice is one positive
    features = split["movie_features"].astype(np.float32)  # [n_movies, f]
    # LightFM's usual item features: an identity block (the id) beside the content features,
    # each row normalised to sum to 1 (LightFM's own normalisation).
    item_features = sparse.hstack(
        [sparse.identity(n_movies, dtype=np.float32, format="csr"), sparse.csr_matrix(features)]
    ).tocsr()
    sums = np.asarray(item_features.sum(axis=1)).ravel()
    item_features = sparse.diags(1.0 / np.maximum(sums, 1e-12)) @ item_features
    model = LightFM(loss="warp", no_components=args.components, random_state=args.seed)
    start = time.perf_counter()
    model.fit(interactions, item_features=item_features.tocsr(), epochs=args.epochs, num_threads=2)
    fitted = time.perf_counter() - start
    test_users, cold = split["test_users"], split["cold_movies"]
    rows = np.repeat(test_users, len(cold)).astype(np.int32)
    cols = np.tile(cold, len(test_users)).astype(np.int32)
    scores = model.predict(rows, cols, item_features=item_features.tocsr(), num_threads=2)
    np.save(args.folder / "scores.npy", scores.reshape(len(test_users), len(cold)))
    print(f"lightfm: {args.epochs} epochs in {fitted:.1f} s")


if __name__ == "__main__":
    main()
