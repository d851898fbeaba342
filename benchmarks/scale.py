"""Figures of issue 10 at MovieLens 25M's shape, on synthetic data read through the ml-25m loader.

Run: .venv/bin/python benchmarks/scale.py --dir /tmp/synth25m [--whole] [--out scale.json]

`--dir` is a folder written by `reelrank data synth` (made here first if it is missing). Each
phase runs in a fresh process, so its seconds and peak memory are its own:
- `load_cold`: parse the CSV into a fresh encoded cache; `load_warm`: map it back;
- `epoch`: the warm load, the split (random:0.8), one epoch of the seed model at batch 8192 and
  the RMSE over the 5M held-out ratings, each timed;
- `throughput`: ratings/s of the training loop on 1M synthetic ratings with 25M-shaped
  vocabularies: reelrank's loop against a plain PyTorch loop with torch's dense Adagrad, side by
  side in one process, median of `--runs`;
- `--whole`: `reelrank train --preset seed --epochs 1` on the folder, start to end (load, train,
  evaluate, save): wall seconds and peak memory, as a user runs it.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _child(phase: str, args: argparse.Namespace, cache: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, "--phase", phase, "--dir", str(args.dir)]
    command += ["--cache", str(cache), "--runs", str(args.runs)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"phase {phase} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _load(folder: Path, cache: Path) -> Any:
    from reelrank.data.choice import DataChoice, load_data

    return load_data(DataChoice("ml-25m", data=str(folder)), cache_dir=cache, notify=lambda _: None)


def phase_load(folder: Path, cache: Path) -> dict[str, Any]:
    start = time.perf_counter()
    data = _load(folder, cache)
    return {"seconds": time.perf_counter() - start, "ratings": len(data), "peak_mb": _peak_mb()}


def phase_epoch(folder: Path, cache: Path) -> dict[str, Any]:
    import torch

    from reelrank.config import preset, with_overrides
    from reelrank.evaluation.stages import evaluate_ratings
    from reelrank.experiment.build import build_rating_model
    from reelrank.experiment.split import prepare
    from reelrank.training.loop import fit_rating_minibatch

    out: dict[str, Any] = {"threads": torch.get_num_threads()}
    start = time.perf_counter()
    data = _load(folder, cache)
    out["load_seconds"] = time.perf_counter() - start
    config = preset("seed")
    config = with_overrides(config, training=with_overrides(config.training, epochs=1))
    start = time.perf_counter()
    split = prepare(data, config)
    out["split_and_encode_seconds"] = time.perf_counter() - start
    model = build_rating_model(config, split)
    start = time.perf_counter()
    fit_rating_minibatch(model, split.train, config.training)
    seconds = time.perf_counter() - start
    out |= {"epoch_seconds": seconds, "train_ratings": len(split.train)}
    out["ratings_per_second"] = len(split.train) / seconds
    start = time.perf_counter()
    metrics = evaluate_ratings(model, split.test, batch_size=config.training.eval_batch_size)
    out["rmse_seconds"] = time.perf_counter() - start
    out |= {"test_ratings": len(split.test), "rmse": metrics["root_mean_squared_error"]}
    out["peak_mb"] = _peak_mb()
    return out


def phase_throughput(runs: int) -> dict[str, Any]:
    """reelrank's loop and a plain loop with torch's dense Adagrad, alternated, on the same data."""
    import numpy as np
    import torch
    from torch import nn

    from reelrank.config import RatingModelConfig, TrainingConfig
    from reelrank.data.encoding.encoded import EncodedRatings
    from reelrank.models.rating.mlp import RatingMLP
    from reelrank.training.loop import fit_rating_minibatch

    n, users, movies = 1_000_000, 162_541, 62_423
    rng = np.random.default_rng(0)
    train = EncodedRatings(
        user_idx=rng.integers(1, users + 1, n),
        movie_idx=rng.integers(1, movies + 1, n),
        rating=rng.integers(1, 6, n).astype(np.float32),
        timestamp=np.zeros(n, np.int64),
    )
    config = TrainingConfig(epochs=1)

    def model() -> RatingMLP:
        generator = torch.Generator().manual_seed(0)
        return RatingMLP(RatingModelConfig(), n_users=users, n_movies=movies, generator=generator)

    def reelrank_loop() -> float:
        rater = model()
        start = time.perf_counter()
        fit_rating_minibatch(rater, train, config)
        return n / (time.perf_counter() - start)

    def plain_loop() -> float:
        rater = model()
        optimizer = torch.optim.Adagrad(
            rater.parameters(), lr=0.1, initial_accumulator_value=0.1, eps=1e-7
        )
        u, m = torch.from_numpy(train.user_idx), torch.from_numpy(train.movie_idx)
        r = torch.from_numpy(train.rating)
        start = time.perf_counter()
        for rows in torch.randperm(n).split(config.batch_size):
            loss = nn.functional.mse_loss(rater(u[rows], m[rows]), r[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return n / (time.perf_counter() - start)

    ours, plain = [], []
    for _ in range(runs):
        ours.append(reelrank_loop())
        plain.append(plain_loop())
    return {
        "reelrank_ratings_per_second": statistics.median(ours),
        "plain_dense_adagrad_ratings_per_second": statistics.median(plain),
        "ratio": statistics.median(ours) / statistics.median(plain),
        "runs": runs,
    }


def whole_command(folder: Path, cache: Path) -> dict[str, Any]:
    """`reelrank train` as a user runs it, under /usr/bin/time for its peak memory."""
    with tempfile.TemporaryDirectory() as out:
        command = [
            "/usr/bin/time", "-f", "%e %M", sys.executable, "-m", "reelrank.cli", "train",
            "--preset", "seed", "--epochs", "1", "--dataset", "ml-25m", "--data", str(folder),
            "--cache-dir", str(cache), "--out", f"{out}/model", "--json",
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"reelrank train failed:\n{done.stderr[-3000:]}")
    wall, peak_kb = done.stderr.strip().splitlines()[-1].split()
    metrics = json.loads(done.stdout)["metrics"]
    return {
        "wall_seconds": float(wall),
        "peak_mb": int(peak_kb) / 1024,
        "rmse": metrics["root_mean_squared_error"],
        "served_users": metrics.get("known_user/users"),
        "known_user_recall_at_10": metrics.get("known_user/recall@10"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--whole", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--phase", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase is not None:  # a child process: one phase, one JSON line
        phases = {
            "load": lambda: phase_load(args.dir, args.cache),
            "epoch": lambda: phase_epoch(args.dir, args.cache),
            "throughput": lambda: phase_throughput(args.runs),
        }
        print(json.dumps(phases[args.phase]()))
        return
    if not (args.dir / "ratings.csv").exists():
        from reelrank.data.synth.writer import synthesize

        synthesize(args.dir)
    with tempfile.TemporaryDirectory() as scratch:
        cache = args.cache or Path(scratch)
        results = {
            "load_cold": _child("load", args, cache),
            "load_warm": _child("load", args, cache),
            "epoch": _child("epoch", args, cache),
            "throughput": _child("throughput", args, cache),
        }
        if args.whole:
            results["whole_train_command"] = whole_command(args.dir, cache)
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
