"""A small, deterministic MovieLens-shaped data set with real structure, for tests and examples.

Users and movies get hidden taste vectors; who rates what and how high both follow them, so a model
that learns beats one that does not, and every unit test runs in well under a second.
"""

from __future__ import annotations

import numpy as np

from reelrank.types import AGE_BUCKETS, GENRES, Ratings

_OCCUPATIONS = ("engineer", "student", "writer", "artist", "doctor", "other")
_WORDS = ("Star", "Night", "Love", "War", "Return", "Dark", "City", "Last", "Blue", "King")


def synthetic_ratings(
    *,
    n_users: int = 60,
    n_movies: int = 80,
    ratings_per_user: int = 25,
    n_factors: int = 3,
    seed: int = 0,
) -> Ratings:
    """A `Ratings` table with `n_users * ratings_per_user` rows and TFDS MovieLens columns.

    User ids are "1".."n_users", movie ids "1".."n_movies", titles "Word Word N (Year)" (unique).
    """
    if ratings_per_user > n_movies:
        raise ValueError("ratings_per_user cannot exceed n_movies (a user rates a movie once)")
    rng = np.random.default_rng(seed)
    user_taste = rng.normal(size=(n_users, n_factors))
    movie_traits = rng.normal(size=(n_movies, n_factors))
    popularity = rng.normal(scale=1.0, size=n_movies)

    affinity = user_taste @ movie_traits.T  # [users, movies]
    # Users pick movies they like and popular ones (Gumbel top-k = sampling without replacement).
    logits = affinity + popularity + rng.gumbel(size=affinity.shape)
    chosen = np.argsort(-logits, axis=1)[:, :ratings_per_user]  # [users, per_user]
    users = np.repeat(np.arange(n_users), ratings_per_user)
    movies = chosen.ravel()
    raw = 3.0 + 0.8 * affinity[users, movies] + rng.normal(scale=0.5, size=users.size)
    stars = np.clip(np.rint(raw), 1, 5).astype(np.float32)

    # Interleave users in time, like a real log, rather than user after user.
    timestamps = 880_000_000 + rng.permutation(users.size).astype(np.int64) * 60
    order = np.argsort(timestamps)
    users, movies, stars, timestamps = users[order], movies[order], stars[order], timestamps[order]

    years = 1950 + rng.integers(0, 49, size=n_movies)
    titles = np.array(
        [
            f"{_WORDS[m % len(_WORDS)]} {_WORDS[(m // len(_WORDS)) % len(_WORDS)]} {m + 1} "
            f"({years[m]})"
            for m in range(n_movies)
        ]
    )
    genre_of = np.argmax(movie_traits, axis=1) + 1  # a genre follows the movie's strongest trait
    genres = np.zeros((n_movies, len(GENRES)), dtype=bool)
    genres[np.arange(n_movies), genre_of % len(GENRES)] = True
    genders = np.where(user_taste[:, 0] > 0, "M", "F")
    ages = np.array(AGE_BUCKETS)[rng.integers(0, len(AGE_BUCKETS), size=n_users)]
    occupations = np.array(_OCCUPATIONS)[rng.integers(0, len(_OCCUPATIONS), size=n_users)]
    zips = np.array([f"{10000 + 37 * u:05d}" for u in range(n_users)])

    return Ratings(
        user_id=(users + 1).astype(str),
        movie_id=(movies + 1).astype(str),
        movie_title=titles[movies],
        user_rating=stars,
        timestamp=timestamps,
        movie_genres=genres[movies],
        user_gender=genders[users],
        bucketized_user_age=ages[users].astype(np.int64),
        user_occupation_text=occupations[users],
        user_zip_code=zips[users],
    )
