"""The hidden world behind `reelrank.data.synth.writer`'s ratings: shape, users, movies, popularity.

`make_world` draws everything a rating depends on, with k = `N_FACTORS` hidden factors per user
and per movie: each user's number of ratings (a floor plus a lognormal share, summing exactly to
the total asked), taste factors, a bias, half or whole stars, a first rating time and a session
length; each movie's factors, a bias and a Zipf-Mandelbrot popularity over a random order of
ids. `draw_movies` samples movies by that popularity in O(1) a draw, `pair_affinity` scores (user,
movie) pairs as taste . traits. The constants here are ml-25m's shape and the model's knobs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ML25M_USERS = 162_541
ML25M_MOVIES = 62_423
ML25M_RATINGS = 25_000_000
N_FACTORS = 8

_FIRST_TIME = 789_652_009  # 1995-01-09, ml-25m's first rating
_LAST_TIME = 1_574_327_703  # 2019-11-21, its last

_POP_EXPONENT = 2.6
_POP_OFFSET = 0.006  # x n_movies: the rank where the head bends into the tail
_ACTIVITY_SIGMA = 1.39  # ml-25m: median ~70 ratings per user, mean ~154
_MIN_PER_USER = 20  # GroupLens keeps users with >= 20 ratings ...
_MIN_SHARE = 0.13  # ... 13% of ml-25m's mean; scaled so for smaller data
TASTE_SHARPNESS = 2.0  # how strongly taste (vs popularity) decides what a user watches
MEAN, USER_SD, MOVIE_SD, TASTE_WEIGHT, NOISE_SD = 2.85, 0.45, 0.45, 0.5, 0.85
_WHOLE_STAR_USERS = 0.4  # share of users who never give half stars (ml-25m: 70% whole stars)
_SESSION_MEDIAN_S, _SESSION_SIGMA, _SECONDS_PER_RATING = 1800.0, 3.5, 30.0


@dataclass(frozen=True)
class World:
    """The hidden state every rating is drawn from; rows are 0-based user / movie indices."""

    need: np.ndarray  # [U] int64 ratings each user gives
    taste: np.ndarray  # [U, k] float32
    user_bias: np.ndarray  # [U] float32
    whole_stars: np.ndarray  # [U] bool
    first_time: np.ndarray  # [U] float64 Unix seconds
    session: np.ndarray  # [U] float64 seconds
    traits: np.ndarray  # [M, k] float32
    movie_bias: np.ndarray  # [M] float32
    log_popularity: np.ndarray  # [M] float64
    by_rank: np.ndarray  # [M] int64 movies from most to least popular
    rank_edges: tuple[float, float]  # `_rank_edges` at ranks 1 and M + 1

    @property
    def n_movies(self) -> int:
        return int(self.traits.shape[0])


def make_world(rng: np.random.Generator, n_ratings: int, n_users: int, n_movies: int) -> World:
    """Draw the users and movies of a data set of this shape (see the module doc)."""
    scale = N_FACTORS**-0.25  # taste . traits ~ N(0, 1)
    need = _ratings_per_user(rng, n_ratings, n_users, n_movies)
    edges = _rank_edges(np.arange(1, n_movies + 2, dtype=np.float64), n_movies)
    by_rank = rng.permutation(n_movies)
    log_popularity = np.empty(n_movies)
    log_popularity[by_rank] = np.log((edges[:-1] - edges[1:]) / (edges[0] - edges[-1]))
    standard_pop = (log_popularity - log_popularity.mean()) / (log_popularity.std() + 1e-12)
    session = np.exp(rng.normal(math.log(_SESSION_MEDIAN_S), _SESSION_SIGMA, n_users))
    session = np.minimum(np.maximum(session, need * _SECONDS_PER_RATING), _LAST_TIME - _FIRST_TIME)
    return World(
        need=need,
        taste=(rng.normal(size=(n_users, N_FACTORS)) * scale).astype(np.float32),
        user_bias=rng.normal(0.0, USER_SD, n_users).astype(np.float32),
        whole_stars=rng.random(n_users) < _WHOLE_STAR_USERS,
        first_time=_FIRST_TIME + rng.random(n_users) * (_LAST_TIME - _FIRST_TIME - session),
        session=session,
        traits=(rng.normal(size=(n_movies, N_FACTORS)) * scale).astype(np.float32),
        # Popular movies are rated a little higher, as in MovieLens.
        movie_bias=(rng.normal(0.0, MOVIE_SD, n_movies) + 0.15 * standard_pop).astype(np.float32),
        log_popularity=log_popularity,
        by_rank=by_rank,
        rank_edges=(float(edges[0]), float(edges[-1])),
    )


def _ratings_per_user(
    rng: np.random.Generator, n_ratings: int, n_users: int, n_movies: int
) -> np.ndarray:
    """`[U]` int64 counts summing to `n_ratings`, each between the floor and `n_movies`:
    the floor plus lognormal shares, capped by water-filling, rounded by largest remainder."""
    floor = min(_MIN_PER_USER, max(1, round(_MIN_SHARE * n_ratings / n_users)))
    weight = rng.lognormal(0.0, _ACTIVITY_SIGMA, n_users)
    total, cap = n_ratings - floor * n_users, n_movies - floor
    share = np.zeros(n_users)
    free = np.ones(n_users, dtype=bool)
    while True:
        share[free] = (total - share[~free].sum()) * weight[free] / weight[free].sum()
        over = free & (share > cap)
        if not over.any():
            break
        share[over] = cap
        free &= ~over
    extra = np.minimum(np.floor(share), cap).astype(np.int64)
    by_remainder = np.argsort(-(share - extra), kind="stable")
    while (short := total - int(extra.sum())) > 0:
        room = by_remainder[extra[by_remainder] < cap][:short]
        extra[room] += 1
    return floor + extra


def _rank_edges(rank: np.ndarray, n_movies: int) -> np.ndarray:
    """Zipf-Mandelbrot popularity: the movie of rank r (1 = most popular) has a share
    proportional to the integral of `(x + offset) ** -exponent` over [r, r + 1), that is to
    `edges(r) - edges(r + 1)`, so `draw_movies` inverts the CDF in closed form."""
    return (rank + _POP_OFFSET * n_movies) ** (1.0 - _POP_EXPONENT)


def draw_movies(world: World, rng: np.random.Generator, n: int) -> np.ndarray:
    """`[n]` movie indices drawn independently by popularity (inverse CDF, O(1) a draw)."""
    top, bottom = world.rank_edges
    edge = top - rng.random(n) * (top - bottom)
    rank = (edge ** (1.0 / (1.0 - _POP_EXPONENT)) - _POP_OFFSET * world.n_movies).astype(np.int64)
    return world.by_rank[np.clip(rank - 1, 0, world.n_movies - 1)]


def pair_affinity(world: World, user: np.ndarray, movie: np.ndarray) -> np.ndarray:
    """`[n]` taste . traits of each (user, movie) pair (`np.take` gathers rows far faster than
    fancy indexing)."""
    return np.einsum(
        "ij,ij->i", np.take(world.taste, user, axis=0), np.take(world.traits, movie, axis=0)
    )
