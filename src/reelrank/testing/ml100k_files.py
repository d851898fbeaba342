"""Helpers for tests and examples: synthetic data written in the GroupLens MovieLens 100k layout.

`write_grouplens(ratings, folder)` lets every part of reelrank that reads MovieLens (the CLI's
`--data`, the loaders) run on the small synthetic data set instead of the real one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reelrank.data.movielens.ml100k.user_path import UNOFFICIAL_MARKER
from reelrank.testing.synthetic import synthetic_ratings
from reelrank.types import Ratings

__all__ = ["synthetic_ratings", "write_grouplens"]


def write_grouplens(ratings: Ratings, folder: str | Path) -> Path:
    """Write `ratings` as a GroupLens `ml-100k` folder (`u.data`, `u.item`, `u.user`); returns it.

    The folder is marked as other data in that layout (`UNOFFICIAL_MARKER`), so `--data` reads it
    without checking it against the official MovieLens 100k sha256 sums.

    Ids must be numeric strings, as in MovieLens.
    """
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    data_lines = [
        f"{u}\t{m}\t{int(r)}\t{t}"
        for u, m, r, t in zip(
            ratings.user_id, ratings.movie_id, ratings.user_rating, ratings.timestamp, strict=True
        )
    ]
    (root / "u.data").write_text("\n".join(data_lines) + "\n", encoding="latin-1")

    _, first_of_movie = np.unique(ratings.movie_id.astype(np.int64), return_index=True)
    item_lines = []
    for row in first_of_movie:
        flags = "|".join("1" if g else "0" for g in ratings.movie_genres[row])
        title = ratings.movie_title[row]
        item_lines.append(
            f"{ratings.movie_id[row]}|{title}|01-Jan-1995||http://example.org/|{flags}"
        )
    (root / "u.item").write_text("\n".join(item_lines) + "\n", encoding="latin-1")

    _, first_of_user = np.unique(ratings.user_id.astype(np.int64), return_index=True)
    user_lines = [
        f"{ratings.user_id[r]}|{ratings.bucketized_user_age[r]}|{ratings.user_gender[r]}|"
        f"{ratings.user_occupation_text[r]}|{ratings.user_zip_code[r]}"
        for r in first_of_user
    ]
    (root / "u.user").write_text("\n".join(user_lines) + "\n", encoding="latin-1")
    # Not the official files: say so, or `--data` refuses them for not matching its sha256 sums.
    (root / UNOFFICIAL_MARKER).write_text("Synthetic ratings written by reelrank.testing.\n")
    return root
