"""Retrieval research 4: is EDLAE + w * TwoTower a robust gain over EDLAE alone on validation?

Robustness check of the blend from `retrieval_research_3.py` (imported, same protocol and
helpers). One fixed two-tower setting, several validation splits (random 90/10 of the 80k
training rows, seeds 7..; history tables rebuilt from the 90% part each time) times several
two-tower training seeds. Each (split, seed) run scores every blend weight w, with
`s = s_edlae / sd_e + w * s_tt / sd_t` (global sd over all users x movies); w = 0 is EDLAE alone.

Reported per w: mean and std over runs of Recall@10, NDCG@10, Recall@100, the paired per-run
difference vs w = 0 (mean and std) and how many runs improve Recall@10. The test split is never
touched.

    python benchmarks/retrieval_research_4.py [--data PATH] [--val-seeds 5] [--train-seeds 42 7]
        [--weights 0 0.3 0.5 0.75 1.0]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import retrieval_research as rr  # sets the default dtype to float64
import retrieval_research_3 as r3
from reelrank.data.splits import split_random

TWO_TOWER = {
    "dim": 64,
    "max_history": 100,
    "genres": True,
    "lr": 0.01,
    "wd": 0.0,
    "batch": 4096,
    "epochs": 5,
    "temperature": 0.5,
    "logq": True,
    "seed": 42,
}
KEYS = ["recall@10", "ndcg@10", "recall@100"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    rr.add_data_option(parser)
    parser.add_argument("--val-seeds", type=int, default=5, help="validation splits (seeds 7..)")
    parser.add_argument("--train-seeds", type=int, nargs="+", default=[42, 7])
    parser.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.3, 0.5, 0.75, 1.0])
    args = parser.parse_args()
    torch.set_num_threads(2)
    weights = sorted(set(args.weights) | {0.0})

    data = rr.load(args.data)
    timestamps, genres = r3.load_extra(args.data, data)
    train, _ = split_random(len(data.user_idx), train_fraction=0.8, seed=42)
    print(f"two-tower {TWO_TOWER} (seed varied: {args.train_seeds})", flush=True)

    # runs[w] = list of metric dicts, one per (split, train seed), same order for every w.
    runs: dict[float, list[dict[str, float]]] = {w: [] for w in weights}
    alone: list[dict[str, float]] = []
    labels = []
    for split_seed in range(7, 7 + args.val_seeds):
        fit_part, val_part = split_random(len(train), train_fraction=0.9, seed=split_seed)
        rows = train[fit_part]
        val = rr.task(data, rows, train[val_part])
        s_e = r3.edlae_scores(val.x)
        s_e = s_e / r3.gstd(s_e)
        for seed in args.train_seeds:
            start = time.perf_counter()
            s_t, _ = r3.two_tower_scores(
                data, rows, timestamps, genres, {**TWO_TOWER, "seed": seed}
            )
            s_t = s_t / r3.gstd(s_t)
            alone.append(rr.evaluate(val, s_t))
            line = []
            for w in weights:
                m = rr.evaluate(val, s_e + w * s_t)
                runs[w].append(m)
                line.append(f"w={w}: {m['recall@10']:.4f}")
            labels.append((split_seed, seed))
            print(
                f"  split {split_seed} seed {seed:>3} ({time.perf_counter() - start:.0f} s) "
                f"TT alone R@10 {alone[-1]['recall@10']:.4f} | R@10 " + "  ".join(line),
                flush=True,
            )

    n = len(labels)
    base = {k: np.array([m[k] for m in runs[0.0]]) for k in KEYS}
    print(
        f"\nValidation over {n} runs ({args.val_seeds} splits x {len(args.train_seeds)} seeds);"
        " mean ± std (sample std, ddof=1); Δ = paired per-run difference vs w=0:"
    )
    head = " ".join(f"{k:>17}" for k in KEYS) + " " + " ".join(f"{'Δ' + k:>21}" for k in KEYS)
    print(f"  {'w':>5} {head}  R@10 up")
    for w in weights:
        cells, deltas = [], []
        for k in KEYS:
            v = np.array([m[k] for m in runs[w]])
            d = v - base[k]
            cells.append(f"{v.mean():.4f} ± {v.std(ddof=1):.4f}")
            deltas.append(f"{d.mean():+.4f} ± {d.std(ddof=1):.4f}")
        up = int(np.sum(np.array([m["recall@10"] for m in runs[w]]) > base["recall@10"]))
        print(
            f"  {w:>5} "
            + " ".join(f"{c:>17}" for c in cells)
            + " "
            + " ".join(f"{c:>21}" for c in deltas)
            + f"  {up}/{n}"
        )
    m_t = {k: np.array([m[k] for m in alone]) for k in KEYS}
    print(
        "  TT alone "
        + " ".join(f"{k} {m_t[k].mean():.4f} ± {m_t[k].std(ddof=1):.4f}" for k in KEYS)
    )

    def delta(w: float, i: int) -> float:
        return runs[w][i]["recall@10"] - runs[0.0][i]["recall@10"]

    print("\nPer-split means (over train seeds) of ΔR@10 vs w=0:")
    for split_seed in range(7, 7 + args.val_seeds):
        idx = [i for i, (s, _) in enumerate(labels) if s == split_seed]
        print(
            f"  split {split_seed}: "
            + "  ".join(
                f"w={w} {np.mean([delta(w, i) for i in idx]):+.4f}" for w in weights if w != 0.0
            )
        )


if __name__ == "__main__":
    main()
