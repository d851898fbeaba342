"""Figures of issue 11: training ratings/s in 1 and 2 processes, and `--all-users` users/s.

Run: .venv/bin/python benchmarks/distributed.py [--runs 3] [--artifact A25M] [--out dist.json]

- `train`: the seed model, one epoch at batch 8192, over the 80% training split of 1M synthetic
  ratings (`reelrank data synth --ratings 1000000 --users 6040 --movies 3706`: MovieLens 1M's
  shape), launched by torchrun with 1 and with 2 processes (gloo), alternately, `--runs` times.
  Each run reports the training loop's seconds on rank 0 (from the first step to the end of the
  last, the data loaded and split before), so start-up and evaluation do not count.
- `all_users` (with `--artifact`, e.g. an ease model trained on 25M-shaped synthetic data):
  `reelrank recommend ARTIFACT --all-users -k 100` with 1 and 2 processes, users/s as the
  command reports them (inside the writer: lists computed, Parquet written).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TORCH_RUN = [sys.executable, "-m", "torch.distributed.run", "--standalone"]


def worker(folder: Path, cache: Path) -> None:
    """One process of a `train` run (under torchrun): load, split, one epoch, and on rank 0
    print the loop's seconds as JSON."""
    import torch

    from reelrank.config import preset, with_overrides
    from reelrank.data.choice import DataChoice, load_data
    from reelrank.experiment.build import build_rating_model
    from reelrank.experiment.split import prepare
    from reelrank.runtime.distributed import World, joined
    from reelrank.training.loop import RunContext, fit_rating_minibatch

    world = World.from_env()
    data = load_data(DataChoice("ml-25m", data=str(folder)), cache_dir=cache, notify=lambda _: None)
    config = preset("seed")
    config = with_overrides(config, training=with_overrides(config.training, epochs=1))
    split = prepare(data, config)
    model = build_rating_model(config, split)
    with joined(world, torch.device("cpu")):
        start = time.perf_counter()
        fit_rating_minibatch(model, split.train, config.training, context=RunContext(world=world))
        seconds = time.perf_counter() - start
    if world.is_main:
        print(
            json.dumps(
                {
                    "seconds": seconds,
                    "ratings": len(split.train),
                    "threads": torch.get_num_threads(),
                }
            )
        )


def train_runs(folder: Path, cache: Path, runs: int) -> dict[str, Any]:
    # (processes, torch threads each): one process on both cores, two on one core each, and
    # one on one core (what each of the two would do alone, without talking to the other).
    variants = {"1_process": (1, 2), "2_process": (2, 1), "1_process_1_thread": (1, 1)}
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    ratings = 0
    for _ in range(runs):
        for name, (processes, threads) in variants.items():
            command = [*TORCH_RUN, "--nproc-per-node", str(processes), __file__]
            command += ["--worker", "--dir", str(folder), "--cache", str(cache)]
            env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
            done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
            if done.returncode != 0:
                raise SystemExit(f"{name} run failed:\n{done.stderr[-3000:]}")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            seconds[name].append(result["seconds"])
            ratings = result["ratings"]
    out: dict[str, Any] = {"train_ratings": ratings}
    for name, values in seconds.items():
        median = statistics.median(values)
        out[name] = {
            "processes_and_threads": variants[name],
            "seconds": values,
            "median_seconds": median,
            "ratings_per_second": ratings / median,
        }
    out["speedup"] = out["2_process"]["ratings_per_second"] / out["1_process"]["ratings_per_second"]
    return out


def all_users_runs(artifact: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"artifact": str(artifact)}
    with tempfile.TemporaryDirectory() as scratch:
        for processes in (1, 2):
            target = Path(scratch) / f"recs-{processes}"
            command = [*TORCH_RUN, "--nproc-per-node", str(processes), "-m", "reelrank"]
            command += ["recommend", str(artifact), "--all-users", "-k", "100"]
            command += ["--out", str(target), "--json"]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise SystemExit(f"--all-users failed:\n{done.stderr[-3000:]}")
            summary = json.loads(done.stdout)
            out[f"{processes}_process"] = summary | {
                "users_per_second": summary["users"] / summary["seconds"]
            }
    out["speedup"] = out["2_process"]["users_per_second"] / out["1_process"]["users_per_second"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dir", type=Path, default=None, help="1M synthetic folder (made if missing)"
    )
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--artifact", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--no-train", action="store_true", help="only the --all-users part")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="reelrank-dist-"))
    folder = args.dir or scratch / "synth-1m"
    cache = args.cache or scratch / "cache"
    if args.worker:
        worker(folder, cache)
        return
    if not folder.exists() and not args.no_train:
        synth = [sys.executable, "-m", "reelrank", "data", "synth", "--out", str(folder)]
        synth += ["--ratings", "1000000", "--users", "6040", "--movies", "3706", "--json"]
        subprocess.run(synth, check=True, capture_output=True)
    if not args.no_train:  # warm the encoded cache once, so no timed run parses the CSV
        warm = [*TORCH_RUN, "--nproc-per-node", "1", __file__, "--worker"]
        subprocess.run([*warm, "--dir", str(folder), "--cache", str(cache)], check=True)
    result: dict[str, Any] = {"cpus": os.cpu_count()}
    if not args.no_train:
        result["train"] = train_runs(folder, cache, args.runs)
        _report(result, args.out)
    if args.artifact is not None:
        result["all_users"] = all_users_runs(args.artifact)
        _report(result, args.out)


def _report(result: dict[str, Any], out: Path | None) -> None:
    """Print what is measured so far (and write it to `out`)."""
    text = json.dumps(result, indent=2)
    print(text, flush=True)
    if out is not None:
        out.write_text(text + "\n")


if __name__ == "__main__":
    main()
