"""Synthetic MovieLens-style data at any size, written exactly in GroupLens' ml-25m layout.

`synthesize(out_dir, n_ratings=...)` writes `ratings.csv`, `movies.csv` and `README.txt` as
GroupLens ships ml-25m (same default shape: 162,541 users, 62,423 movies), so scale benchmarks and
tests need no download and go through the loaders users use. Ids are contiguous: users 1..U,
movies 1..M (ml-25m's movie ids are sparse up to 209171; nothing in the format needs that).

The model, with k = `N_FACTORS` hidden factors per user and per movie:

- movies: Zipf-Mandelbrot popularity over a random order of ids (a flat head, a steep tail: at
  ml-25m shape the top movie gets 0.2% of ratings, the median one 5, ~10% none), factors, a bias;
  genres drawn from the factors (each genre a direction in factor space, ml-25m's frequencies);
  unique titles `Words (Year)`, some GroupLens-style `Words, The (Year)`.
- users: activity = a floor (20 at ml-25m shape, scaled down for fewer ratings per user) plus a
  lognormal share (median ~70, the most ~36k), factors, a bias, half or whole stars, a first
  rating time and a session length.
- who rates what: each user draws movies without replacement with weight
  popularity x sigmoid(taste . traits).
- rating: mean + user bias + movie bias + taste . traits + noise, rounded to the user's star
  step and clipped to 0.5..5.0; timestamps in the user's session, early-weighted.

Users are taken in id order, ~1M ratings per chunk; a background thread writes one chunk with
pyarrow while the next is drawn. The parts live beside this module: `world` (shape
constants, the hidden users and movies, popularity), `pairs` (who rates what: rejection
sampling for light users, Gumbel top-k for heavy ones) and `movies` (`movies.csv`: titles
and genres). This module draws the ratings and writes the folder.
"""

from __future__ import annotations

import errno
import itertools
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from reelrank.data.synth.movies import GENRE_COUNTS, MOVIES_HEADER, NO_GENRES, write_movies
from reelrank.data.synth.pairs import draw_pairs
from reelrank.data.synth.world import (
    MEAN,
    ML25M_MOVIES,
    ML25M_RATINGS,
    ML25M_USERS,
    N_FACTORS,
    NOISE_SD,
    TASTE_WEIGHT,
    World,
    make_world,
    pair_affinity,
)
from reelrank.errors import ReelrankError
from reelrank.files import atomic_path

__all__ = [
    "GENRE_COUNTS",
    "ML25M_MOVIES",
    "ML25M_RATINGS",
    "ML25M_USERS",
    "MOVIES_HEADER",
    "NO_GENRES",
    "N_FACTORS",
    "RATINGS_HEADER",
    "SynthSummary",
    "synthesize",
]

RATINGS_HEADER = "userId,movieId,rating,timestamp"
_STARS = tuple(f"{code / 2:.1f}" for code in range(1, 11))  # "0.5" .. "5.0"
_CHUNK_RATINGS = 1_000_000

Notify = Callable[[str], None]


@dataclass(frozen=True)
class SynthSummary:
    """What `synthesize` wrote: paths, counts (`n_rated_movies`: movies with at least one
    rating) and the wall time it took."""

    out_dir: Path
    ratings_path: Path
    movies_path: Path
    readme_path: Path
    n_ratings: int
    n_users: int
    n_movies: int
    n_rated_movies: int
    seed: int
    seconds: float


def synthesize(
    out_dir: str | Path,
    *,
    n_ratings: int = ML25M_RATINGS,
    n_users: int = ML25M_USERS,
    n_movies: int = ML25M_MOVIES,
    seed: int = 0,
    notify: Notify | None = None,
) -> SynthSummary:
    """Write a synthetic MovieLens folder (`ratings.csv`, `movies.csv`, `README.txt`) to
    `out_dir`, which must not exist or be empty; the same arguments give the same bytes
    (with the same numpy).

    Exactly `n_ratings` rows, no (user, movie) pair twice, every user rates at least one movie
    (20 at ml-25m's ratings per user), rows sorted by userId then timestamp. Written to a hidden
    folder beside `out_dir` and renamed, so an interrupted run leaves no half folder. Raises
    `ReelrankError` for bad counts or an `out_dir` in use. `notify` receives progress lines.
    """
    import pyarrow as pa
    from pyarrow import csv as pa_csv

    n_ratings, n_users, n_movies, seed = _check_counts(n_ratings, n_users, n_movies, seed)
    out = Path(out_dir).expanduser()
    _check_free(out)
    say = notify or (lambda _: None)
    started = time.perf_counter()
    say(
        f"reelrank: writing {n_ratings:,} synthetic ratings ({n_users:,} users, "
        f"{n_movies:,} movies, seed {seed}) to {out} ..."
    )
    rng = np.random.default_rng(seed)
    world = make_world(rng, n_ratings, n_users, n_movies)
    stars = pa.array(_STARS)
    options = pa_csv.WriteOptions(include_header=False, quoting_style="none")
    rated = np.zeros(n_movies, dtype=bool)
    try:
        with atomic_path(out) as tmp:
            tmp.mkdir()
            write_movies(tmp / "movies.csv", rng, world.traits)
            with (
                pa.OSFile(str(tmp / "ratings.csv"), "wb") as sink,
                ThreadPoolExecutor(max_workers=1) as pool,
            ):
                sink.write(f"{RATINGS_HEADER}\n".encode())
                pending: Future[Any] | None = None
                done, shown = 0, 0
                for lo, hi in _user_chunks(world.need):
                    user, movie, code, stamp = _chunk(world, rng, lo, hi)
                    rated[movie] = True
                    table = pa.table(
                        {
                            "userId": user + 1,
                            "movieId": movie + 1,
                            "rating": stars.take(pa.array(code - 1)),
                            "timestamp": stamp,
                        }
                    )
                    if pending is not None:
                        pending.result()
                    pending = pool.submit(pa_csv.write_csv, table, sink, options)
                    done += user.size
                    if done * 10 // n_ratings > shown and done < n_ratings:
                        shown = done * 10 // n_ratings
                        say(f"reelrank: {done:,} of {n_ratings:,} ratings drawn")
                if pending is not None:
                    pending.result()
            (tmp / "README.txt").write_text(
                _readme(n_ratings, n_users, n_movies, seed), encoding="utf-8"
            )
    except OSError as e:
        if e.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
            raise ReelrankError(_in_use(out)) from e
        raise
    seconds = time.perf_counter() - started
    say(f"reelrank: wrote {n_ratings:,} synthetic ratings to {out} in {seconds:.1f} s")
    return SynthSummary(
        out_dir=out,
        ratings_path=out / "ratings.csv",
        movies_path=out / "movies.csv",
        readme_path=out / "README.txt",
        n_ratings=n_ratings,
        n_users=n_users,
        n_movies=n_movies,
        n_rated_movies=int(rated.sum()),
        seed=seed,
        seconds=seconds,
    )


def _check_counts(
    n_ratings: int, n_users: int, n_movies: int, seed: int
) -> tuple[int, int, int, int]:
    """The four arguments as Python ints, or a `ReelrankError` saying which is wrong and how."""
    for name, value in (
        ("ratings", n_ratings),
        ("users", n_users),
        ("movies", n_movies),
        ("seed", seed),
    ):
        what = "the seed" if name == "seed" else f"the number of {name}"
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise ReelrankError(f"{what} must be a whole number, not {value!r}")
        if name == "seed" and value < 0:
            raise ReelrankError(f"the seed must be zero or more, not {value}")
        if name != "seed" and value < 1:
            raise ReelrankError(f"{what} must be positive, not {value}")
    n_ratings, n_users, n_movies, seed = int(n_ratings), int(n_users), int(n_movies), int(seed)
    if n_ratings < n_users:
        raise ReelrankError(
            f"{n_ratings:,} ratings cannot give each of {n_users:,} users a rating: "
            "ask for at least as many ratings as users, or for fewer users"
        )
    if n_ratings > n_users * n_movies // 2:
        raise ReelrankError(
            f"{n_ratings:,} ratings is more than half of all {n_users:,} x {n_movies:,} "
            "user-movie pairs: ask for fewer ratings, or for more users or movies"
        )
    return n_ratings, n_users, n_movies, seed


def _in_use(out: Path) -> str:
    return f"{out} already exists and is not empty: pick another --out, or remove it first"


def _check_free(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ReelrankError(f"{out} is a file: pick another --out, or remove it first")
    if out.is_dir() and any(out.iterdir()):
        raise ReelrankError(_in_use(out))


def _user_chunks(need: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive user ranges `[lo, hi)` of about `_CHUNK_RATINGS` ratings each."""
    ends = np.searchsorted(
        np.cumsum(need),
        np.arange(1, need.sum() // _CHUNK_RATINGS + 1) * (_CHUNK_RATINGS),
        side="right",
    )
    bounds = np.unique(np.concatenate([[0], ends, [need.size]]))
    return [(int(lo), int(hi)) for lo, hi in itertools.pairwise(bounds)]


def _chunk(
    world: World, rng: np.random.Generator, lo: int, hi: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The ratings of users `lo..hi-1`: `[n]` user and movie indices, star codes 1..10 (half
    stars) and int64 timestamps, sorted by user then time."""
    user, movie = draw_pairs(world, rng, np.arange(lo, hi), world.need[lo:hi])
    taste = pair_affinity(world, user, movie)
    raw = (
        MEAN
        + world.user_bias[user]
        + world.movie_bias[movie]
        + TASTE_WEIGHT * taste
        + rng.normal(0.0, NOISE_SD, user.size)
    )
    code = np.where(
        world.whole_stars[user], 2 * np.clip(np.rint(raw), 1, 5), np.clip(np.rint(2 * raw), 1, 10)
    ).astype(np.int8)
    stamp = (world.first_time[user] + world.session[user] * rng.random(user.size) ** 2).astype(
        np.int64
    )
    order = np.argsort((user.astype(np.int64) << 31) | stamp, kind="stable")
    return user[order].astype(np.int32), movie[order].astype(np.int32), code[order], stamp[order]


def _readme(n_ratings: int, n_users: int, n_movies: int, seed: int) -> str:
    try:
        reelrank_version = version("reelrank")
    except PackageNotFoundError:
        reelrank_version = "(unknown version)"
    return f"""\
Synthetic MovieLens-style data, generated by reelrank {reelrank_version}
===================================================================

This folder is NOT MovieLens data. It was generated by `reelrank data synth`
(reelrank.data.synth.writer.synthesize) and only copies the file layout of GroupLens'
ml-25m, so that tools reading ml-25m read it unchanged.

Parameters: ratings={n_ratings} users={n_users} movies={n_movies} seed={seed}
factors={N_FACTORS}. The same parameters give the same bytes (with the same
reelrank and numpy versions).

Files
-----
ratings.csv  userId,movieId,rating,timestamp - one row per rating, sorted by
             userId then timestamp; ratings 0.5..5.0 in half stars; Unix seconds.
movies.csv   movieId,title,genres - titles "Words (Year)", genres |-separated.

Ids are contiguous: users 1..{n_users}, movies 1..{n_movies}. Users and movies
have {N_FACTORS} hidden taste factors; users pick movies by long-tailed popularity
and taste, and rate them as mean + user bias + movie bias + taste + noise.
Titles are made of random words; any likeness to real films is chance.

Licence
-------
None needed: every value was generated from random numbers, nothing was taken
from MovieLens or any other data set. Use, change and share it freely.
"""
