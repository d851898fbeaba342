"""Wall time of `reelrank train` (a preset, default the seed's) and its training throughput.

Run: .venv/bin/python benchmarks/train_speed.py [--preset seed] [--runs 5] [--data PATH]

Two figures, each the median of several runs on this machine:
- wall time of the whole command (`reelrank train --json` in a fresh process: start-up, cached data
  load, training, evaluation, saving the artifact);
- training throughput in ratings per second (training epochs x training ratings / seconds inside
  the training loop, measured in-process so start-up is not counted).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from reelrank.config import preset
from reelrank.data.movielens.ml100k.load import load_movielens_100k
from reelrank.experiment.build import build_rating_model
from reelrank.experiment.split import prepare
from reelrank.training.loop import fit_rating_minibatch


def command_wall_times(args: argparse.Namespace, out: Path) -> tuple[list[float], list[float]]:
    """Seconds per `reelrank train` run, and the test RMSE each printed."""
    command = [sys.executable, "-m", "reelrank.cli", "train", "--preset", args.preset, "--json"]
    command += ["--out", str(out)] + (["--data", args.data] if args.data else [])
    times, rmses = [], []
    for _ in range(args.runs):
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        times.append(time.perf_counter() - start)
        rmses.append(json.loads(done.stdout)["metrics"]["root_mean_squared_error"])
    return times, rmses


def training_throughput(args: argparse.Namespace) -> list[float]:
    """Ratings per second inside the training loop, one figure per run."""
    config = preset(args.preset)
    data = prepare(load_movielens_100k(args.data), config)
    rates = []
    for _ in range(args.runs):
        model = build_rating_model(config, data)
        start = time.perf_counter()
        fit_rating_minibatch(model, data.train, config.training)
        seconds = time.perf_counter() - start
        rates.append(config.training.epochs * len(data.train) / seconds)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="seed")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data", default=None, help="GroupLens ml-100k folder or zip")
    args = parser.parse_args()
    load_movielens_100k(args.data)  # fill the cache first, so no run pays for a download

    with tempfile.TemporaryDirectory() as tmp:
        times, rmses = command_wall_times(args, Path(tmp) / "model")
    rates = training_throughput(args)
    print(
        f"preset {args.preset!r}, {args.runs} runs, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )
    print(
        f"reelrank train wall time: median {statistics.median(times):.2f} s "
        f"(min {min(times):.2f}, max {max(times):.2f})"
    )
    print(
        f"training throughput: median {statistics.median(rates):,.0f} ratings/s "
        f"(min {min(rates):,.0f}, max {max(rates):,.0f})"
    )
    print(f"test RMSE per run: {', '.join(f'{r:.4f}' for r in rmses)}")


if __name__ == "__main__":
    main()
