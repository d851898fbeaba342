"""kill -9 during a write load, counted: reelrank serve with an SQLite store, 4 writing clients,
the server's whole process group SIGKILLed at a different moment each run; then the store is
opened again and every acknowledged PUT (answered 200) is looked up. Runs with 1 and 2 workers
(two processes writing one SQLite file: any "database is locked" would show as a 5xx).

    .venv/bin/python benchmarks/store_faults.py [--artifact DIR] [--runs 5] [--out FILE.json]

Without --artifact it trains the two-stage preset on MovieLens 100k first (about 40 s).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from reelrank import load_movielens_100k, preset, train_recommender
from reelrank.recommender.recommender import Recommender
from reelrank.testing.durability import kill_during_writes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--artifact", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=5, help="runs per worker count")
    parser.add_argument("--out", type=Path, default=None, help="also write the counts as JSON")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        artifact = args.artifact
        if artifact is None:
            artifact = Path(scratch) / "two-stage"
            train_recommender(load_movielens_100k(), preset("two-stage")).save(artifact)
        movie = str(Recommender.load(artifact).catalog.table.movie_id[1])
        rows = []
        for workers in (1, 2):
            for run in range(args.runs):
                folder = Path(scratch) / f"w{workers}-run{run}"
                folder.mkdir()
                after = 1.0 + 0.7 * run  # a different moment each run
                result = kill_during_writes(artifact, folder, movie, after_s=after, workers=workers)
                rows.append({"workers": workers, "run": run + 1, "killed_after_s": after,
                             "acknowledged": result.acknowledged, "lost": result.lost,
                             "server_errors": result.server_errors})  # fmt: skip
                print(f"workers {workers} run {run + 1}: killed after {after:.1f} s, "
                      f"{result.acknowledged} acknowledged, {result.lost} lost, "
                      f"{result.server_errors} 5xx")  # fmt: skip
    total = {key: sum(r[key] for r in rows) for key in ("acknowledged", "lost", "server_errors")}
    print(f"total over {len(rows)} runs: {total['acknowledged']} acknowledged, "
          f"{total['lost']} lost, {total['server_errors']} 5xx")  # fmt: skip
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"runs": rows, "total": total}, indent=2) + "\n")


if __name__ == "__main__":
    main()
