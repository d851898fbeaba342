"""Who rates what in `reelrank.data.synth.writer`: distinct movies for each user, drawn without
replacement with weight popularity x sigmoid(taste . traits).

`draw_pairs` splits a chunk's users by how many movies they need. A light user (needs < M/20
movies) draws candidates from popularity (inverse CDF), keeps each with probability
sigmoid(taste . traits) (rejection sampling) and keeps its first distinct movies in draw order
(one int64 key sort per round); users still short get another round for their deficit only. A
heavy user, or one still short after `_MAX_ROUNDS`, takes Gumbel top-k over all movies: the same
distribution (successive sampling), exact, at O(M) per user. Everything is vectorised numpy.
"""

from __future__ import annotations

import numpy as np

from reelrank.data.synth.world import TASTE_SHARPNESS, World, draw_movies, pair_affinity

_DENSE_SHARE = 1 / 20  # users who need more than this share of movies take Gumbel top-k
_DENSE_CELLS = 1 << 22  # users x movies per Gumbel batch
_MAX_ROUNDS = 12


def draw_pairs(
    world: World, rng: np.random.Generator, users: np.ndarray, need: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`need[i]` distinct movies for each of `users` (ascending): `[n]` user and movie indices,
    light users' rows first, then heavy users' (see the module doc)."""
    dense = need >= max(1.0, _DENSE_SHARE * world.n_movies)
    sparse_user, sparse_movie = _sparse_pairs(world, rng, users[~dense], need[~dense])
    dense_user, dense_movie = _dense_pairs(world, rng, users[dense], need[dense])
    return np.concatenate([sparse_user, dense_user]), np.concatenate([sparse_movie, dense_movie])


def _sparse_pairs(
    world: World, rng: np.random.Generator, users: np.ndarray, need: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct movies for light users by rejection sampling in rounds (see the module doc);
    `[n]` user and movie indices, `need[i]` rows for `users[i]`."""
    n_movies = world.n_movies
    have = np.zeros(users.size, dtype=np.int64)
    kept_pos: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
    kept_movie: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
    active = np.flatnonzero(need > 0)
    for round_ in range(_MAX_ROUNDS):
        if active.size == 0:
            break
        wanted = _draws_for(need[active], n_movies) - _draws_for(have[active], n_movies)
        draws = np.ceil(wanted * 1.5**round_).astype(np.int64) + 2
        pos = np.repeat(active, draws)
        movie = draw_movies(world, rng, pos.size)
        affinity = pair_affinity(world, users[pos], movie)
        chance = rng.random(pos.size, dtype=np.float32)
        accept = chance * (1.0 + np.exp(-TASTE_SHARPNESS * affinity)) < 1.0  # < sigmoid
        pos, movie = pos[accept], movie[accept]
        # One stable sort of the keys of this round's users' kept pairs, then of the new draws:
        # a new draw survives if it is its key's first occurrence.
        still = np.zeros(users.size, dtype=bool)
        still[active] = True
        old_pos, old_movie = np.concatenate(kept_pos), np.concatenate(kept_movie)
        old = still[old_pos]
        key = np.concatenate([old_pos[old], pos]) * n_movies + np.concatenate(
            [old_movie[old], movie]
        )
        order = np.argsort(key, kind="stable")
        first = np.ones(order.size, dtype=bool)
        first[1:] = key[order[1:]] != key[order[:-1]]
        fresh = np.sort(order[first]) - int(old.sum())  # in draw order
        fresh = fresh[fresh >= 0]
        pos, movie = pos[fresh], movie[fresh]
        rank = np.arange(pos.size) - np.searchsorted(pos, pos, side="left")
        take = rank < (need - have)[pos]
        kept_pos.append(pos[take])
        kept_movie.append(movie[take])
        have += np.bincount(pos[take], minlength=users.size)
        active = np.flatnonzero(have < need)
    pos, movie = np.concatenate(kept_pos), np.concatenate(kept_movie)
    if active.size:  # rare: finish the stragglers exactly
        still = np.zeros(users.size, dtype=bool)
        still[active] = True
        more_user, more_movie = _dense_pairs(
            world,
            rng,
            users[active],
            need[active] - have[active],
            users[pos[still[pos]]],
            movie[still[pos]],
        )
        return np.concatenate([users[pos], more_user]), np.concatenate([movie, more_movie])
    return users[pos], movie


def _draws_for(distinct: np.ndarray, n_movies: int) -> np.ndarray:
    """About how many candidates give `distinct` different accepted movies: ~2 per acceptance,
    times the accepted draws per distinct movie, which grow the deeper into the popularity tail
    a user must go (fitted at ml-25m shape; later rounds make up any shortfall)."""
    share = distinct / n_movies
    return 1.8 * distinct * (1.0 + 80.0 * share + 2700.0 * share**2)


def _dense_pairs(
    world: World,
    rng: np.random.Generator,
    users: np.ndarray,
    need: np.ndarray,
    seen_user: np.ndarray | None = None,
    seen_movie: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """`need[i]` distinct movies for each of `users` (ascending) by Gumbel top-k over all
    movies, leaving out the (`seen_user`, `seen_movie`) pairs; `[n]` user and movie indices."""
    n_movies = world.n_movies
    batch = max(1, _DENSE_CELLS // n_movies)
    out_user, out_movie = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
    for start in range(0, users.size, batch):
        rows, row_need = users[start : start + batch], need[start : start + batch]
        affinity = world.taste[rows] @ world.traits.T  # [b, M]
        logits = (
            world.log_popularity
            - np.logaddexp(0.0, -TASTE_SHARPNESS * affinity)  # log sigmoid
            + rng.gumbel(size=affinity.shape)
        )
        if seen_user is not None and seen_movie is not None:
            inside = (seen_user >= rows[0]) & (seen_user <= rows[-1])
            logits[np.searchsorted(rows, seen_user[inside]), seen_movie[inside]] = -np.inf
        top = int(row_need.max())
        best = np.argpartition(-logits, top - 1, axis=1)[:, :top]
        best = np.take_along_axis(
            best, np.argsort(-np.take_along_axis(logits, best, axis=1), axis=1), axis=1
        )
        out_user.append(np.repeat(rows, row_need))
        out_movie.append(best[np.arange(top) < row_need[:, None]])
    return np.concatenate(out_user), np.concatenate(out_movie)
