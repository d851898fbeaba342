"""reelrank against TensorFlow Recommenders on the seed's rating model, side by side (issue 10).

Run: make bench-tfrs   (builds .venv-tfrs with tensorflow-cpu, tf-keras, tensorflow-recommenders)
 or: .venv/bin/python benchmarks/tfrs_side_by_side.py --tfrs-python .venv-tfrs/bin/python

Two data sets, the same split for both libraries: MovieLens 100k (random:0.8, seed 42, as the
seed), and 1M synthetic ratings with MovieLens 25M's vocabularies (162,541 users, 62,423 movies;
`reelrank data synth`). For each, `--runs` rounds alternate one TFRS run (the seed document's
code, `benchmarks/tfrs/seed_tfrs.py`, in its own process and venv) with one reelrank run (the
seed preset's model and loop, in this process): the seconds inside training only, ratings/s,
test RMSE. Prints the medians, the ratio of ratings/s and the RMSE difference as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from reelrank.config import preset, with_overrides
from reelrank.data.interactions import Interactions, as_interactions
from reelrank.evaluation.stages import evaluate_ratings
from reelrank.experiment.build import build_rating_model
from reelrank.experiment.split import prepare

WORKER = Path(__file__).parent / "tfrs" / "seed_tfrs.py"


def write_npz(data: Interactions, path: Path, epochs: int) -> Any:
    """The split as strings (what the TFRS tutorial feeds) and reelrank's encoded split."""
    config = preset("seed")
    config = with_overrides(config, training=with_overrides(config.training, epochs=epochs))
    split = prepare(data, config)
    users, titles = split.vocabs.users.terms, split.vocabs.movies.terms

    def strings(part: Any) -> dict[str, np.ndarray]:
        return {"user": users[part.user_idx - 1], "title": titles[part.movie_idx - 1]}

    train, test = strings(split.train), strings(split.test)
    np.savez(
        path,
        train_user=train["user"], train_title=train["title"], train_rating=split.train.rating,
        test_user=test["user"], test_title=test["title"], test_rating=split.test.rating,
        user_vocabulary=users, title_vocabulary=titles,
    )  # fmt: skip
    return config, split


def reelrank_run(config: Any, split: Any) -> dict[str, float]:
    from reelrank.training.loop import fit_rating_minibatch

    model = build_rating_model(config, split)
    start = time.perf_counter()
    fit_rating_minibatch(model, split.train, config.training)
    seconds = time.perf_counter() - start
    rmse = evaluate_ratings(model, split.test)["root_mean_squared_error"]
    n = len(split.train) * config.training.epochs
    return {"seconds": seconds, "ratings_per_second": n / seconds, "rmse": rmse}


def tfrs_run(python: str, npz: Path, epochs: int) -> dict[str, float]:
    command = [python, str(WORKER), "--npz", str(npz), "--epochs", str(epochs)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the TFRS run failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def side_by_side(
    name: str, data: Interactions, args: argparse.Namespace, scratch: Path
) -> dict[str, Any]:
    npz = scratch / f"{name}.npz"
    config, split = write_npz(data, npz, args.epochs)
    ours, theirs = [], []
    for _ in range(args.runs):
        theirs.append(tfrs_run(args.tfrs_python, npz, args.epochs))
        ours.append(reelrank_run(config, split))
        print(f"{name}: tfrs {theirs[-1]}  reelrank {ours[-1]}", flush=True)

    def median(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in runs)

    return {
        "train_ratings": len(split.train),
        "epochs": args.epochs,
        "runs": args.runs,
        "tfrs_ratings_per_second": median(theirs, "ratings_per_second"),
        "reelrank_ratings_per_second": median(ours, "ratings_per_second"),
        "ratio": median(ours, "ratings_per_second") / median(theirs, "ratings_per_second"),
        "tfrs_rmse": median(theirs, "rmse"),
        "reelrank_rmse": median(ours, "rmse"),
        "rmse_difference": median(ours, "rmse") - median(theirs, "rmse"),
        "tensorflow": theirs[0].get("tensorflow"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tfrs-python", default=".venv-tfrs/bin/python")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    from reelrank.data.movielens.ml100k.load import load_movielens_100k
    from reelrank.data.synth.writer import synthesize

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        results["ml-100k"] = side_by_side(
            "ml-100k", as_interactions(load_movielens_100k()), args, scratch
        )
        folder = scratch / "synth"
        synthesize(folder, n_ratings=1_000_000, seed=1)
        from reelrank.data.choice import DataChoice, load_data

        synthetic = as_interactions(
            load_data(DataChoice("ml-25m", data=str(folder)), cache_dir=scratch / "cache")
        )
        results["synthetic-1m-25m-vocabularies"] = side_by_side(
            "synthetic", synthetic, args, scratch
        )
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
