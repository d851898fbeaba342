"""Side-feature tables for the retrieval towers, one row per user or movie index.

Models never see strings: each table maps a vocabulary index (0 = unknown) to small integers
(0 = unknown or padding) or, for genres, to a multi-hot row. Tables are built once from the ratings
and the training split, then travel inside the model's weights.
"""

from __future__ import annotations

import re

import numpy as np

from reelrank.data.catalog.titles import split_release_year
from reelrank.data.encoding.encoded import EncodedRatings, MovieTable, UserRatings, Vocabularies
from reelrank.data.interactions import Interactions, as_interactions
from reelrank.types import AGE_BUCKETS, Ratings

_TOKEN = re.compile(r"[a-z0-9']+")


def user_tables(
    ratings: Ratings | Interactions,
    vocabs: Vocabularies,
    train: EncodedRatings | UserRatings,
    *,
    max_history: int,
) -> dict[str, np.ndarray]:
    """`gender`, `age`, `occupation` `[n_users+1]` and `history` `[n_users+1, max_history]`.

    History holds each user's most recent training movies, oldest first, right-aligned with 0s
    as padding on the left, so the last column is the latest movie. Data without demographics
    (MovieLens 10M and later, most people's own) gives 0, unknown, for every user.
    """
    return {
        **demographic_tables(ratings, vocabs),
        "history": history_table(train, vocabs.users.size, max_history),
    }


def demographic_tables(
    ratings: Ratings | Interactions, vocabs: Vocabularies
) -> dict[str, np.ndarray]:
    """`gender` (1 F, 2 M), `age` (bucket) and `occupation` `[n_users+1]` int64; 0 unknown."""
    data = as_interactions(ratings)
    size = vocabs.users.size
    gender = np.zeros(size, dtype=np.int64)
    age = np.zeros(size, dtype=np.int64)
    occupation = np.zeros(size, dtype=np.int64)
    if data.users is not None:
        rows = vocabs.users.numbers(data.user_ids)  # 0 for users the vocabulary lacks
        users = data.users
        # 0 where unknown (a user the store added, with no demographics).
        gender[rows] = np.select([users.gender == "F", users.gender == "M"], [1, 2], 0)
        age[rows] = np.searchsorted(AGE_BUCKETS, users.age, side="right")
        _, occupation_idx = np.unique(users.occupation, return_inverse=True)
        occupation[rows] = occupation_idx + 1
        gender[0] = age[0] = occupation[0] = 0
    return {"gender": gender, "age": age, "occupation": occupation}


def rating_tables(
    ratings: Ratings | Interactions,
    vocabs: Vocabularies,
    train: EncodedRatings,
    movies: MovieTable,
    *,
    time_buckets: int = 10,
) -> dict[str, np.ndarray]:
    """The side-feature tables a rating model may read, one row per user or movie index:
    `gender`, `age`, `occupation` (as `user_tables`), `zip_prefix` (the zip code's first digit,
    1..10, or 11 for a letter; 0 unknown), `active_time` (in which of `time_buckets` equal
    shares of the training ratings, by time, the user's median rating falls; 0 for no rating),
    and the movies' `genres` and `year` (as `movie_tables`)."""
    data = as_interactions(ratings)
    own = demographic_tables(data, vocabs)
    zip_prefix = np.zeros(vocabs.users.size, dtype=np.int64)
    if data.users is not None:
        rows = vocabs.users.numbers(data.user_ids)
        first = np.array([str(z)[:1] for z in data.users.zip_code.tolist()], dtype="U1")
        digit = np.char.isdigit(first)
        as_digit = np.where(digit, first, "0").astype(np.int64) + 1
        zip_prefix[rows] = np.where(digit, as_digit, np.where(first == "", 0, 11))
        zip_prefix[0] = 0
    active = np.zeros(vocabs.users.size, dtype=np.int64)
    times = train.timestamp
    if len(times) and times.max() > times.min():  # data without times leaves it unknown
        edges = np.quantile(times, np.linspace(0, 1, time_buckets + 1)[1:-1])
        order = np.lexsort((times, train.user_idx))
        counts = np.bincount(train.user_idx, minlength=vocabs.users.size)
        starts = np.cumsum(counts) - counts
        has = np.flatnonzero(counts)
        median = times[order][starts[has] + counts[has] // 2]
        active[has] = np.searchsorted(edges, median, side="right") + 1
    movie = movie_tables(movies, vocabs)
    return {
        **own,
        "zip_prefix": zip_prefix,
        "active_time": active,
        "genres": movie["genres"],
        "year": movie["year"],
    }


def history_table(train: EncodedRatings | UserRatings, n_rows: int, max_history: int) -> np.ndarray:
    """`[n_rows, max_history]` int64: each user's latest training movies, oldest first (from
    the training ratings, or from them already grouped by user, which saves grouping again)."""
    if max_history < 1:
        raise ValueError(f"max_history must be >= 1, got {max_history}")
    by_user = train if isinstance(train, UserRatings) else train.by_user(n_rows)
    if by_user.n_users != n_rows:
        raise ValueError(f"ratings grouped over {by_user.n_users} users, expected {n_rows}")
    indptr, movies = by_user.indptr, by_user.movie_idx
    counts = np.diff(indptr)
    table = np.zeros((n_rows, max_history), dtype=np.int64)
    # Position of each rating from the end of its user's run: 0 = latest.
    user_of = np.repeat(np.arange(n_rows), counts)
    from_end = np.repeat(indptr[1:], counts) - 1 - np.arange(len(movies))
    keep = from_end < max_history
    table[user_of[keep], max_history - 1 - from_end[keep]] = movies[keep]
    return table


def movie_tables(
    catalog: MovieTable, vocabs: Vocabularies, *, max_tokens: int = 8
) -> dict[str, np.ndarray]:
    """`title_tokens` `[n_movies+1, max_tokens]`, `genres` `[n_movies+1, G]` float32 and
    `year` `[n_movies+1]` (five-year buckets from 1920; 0 unknown)."""
    names = [split_release_year(t)[0].lower() for t in vocabs.movies.terms.tolist()]
    tokenised = [_TOKEN.findall(n)[:max_tokens] for n in names]
    vocabulary = {t: i + 1 for i, t in enumerate(sorted({t for ts in tokenised for t in ts}))}
    tokens = np.zeros((vocabs.movies.size, max_tokens), dtype=np.int64)
    for row, words in enumerate(tokenised, start=1):
        tokens[row, : len(words)] = [vocabulary[w] for w in words]
    year = np.where(catalog.year > 0, np.clip((catalog.year - 1920) // 5, 0, 20) + 1, 0)
    return {
        "title_tokens": tokens,
        "genres": catalog.genres.astype(np.float32),
        "year": year.astype(np.int64),
    }
