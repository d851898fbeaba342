"""Training data from a data set and a rating store together (`reelrank train --store URL`).

The store's ratings join the data set's as serving already reads them: a stored rating of a
(user, movie) the data set also has replaces the data set's; users new to the data set join with
unknown demographics; movies added to the store after training join the data set's movie table
(their title and genres as stored), so their ratings train rows of their own; a stored rating of
a movie neither lists is left out and counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from reelrank.data.catalog.catalog import display_title
from reelrank.data.interactions import Interactions, MovieRecords, UserRecords, as_interactions
from reelrank.store.movies import StoredMovie
from reelrank.store.store import StoredRating
from reelrank.types import GENRES, Ratings


@dataclass(frozen=True)
class StoreShare:
    """What the store added: its ratings read, those added as new rows, those that replaced a
    data-set rating, those of movies the data set lacks (left out), and the new users."""

    read: int
    added: int
    replaced: int
    unknown_movies: int
    new_users: int
    new_movies: int = 0

    def to_json(self) -> dict[str, int]:
        return {
            "new_movies": self.new_movies,
            "read": self.read,
            "added": self.added,
            "replaced": self.replaced,
            "unknown_movies": self.unknown_movies,
            "new_users": self.new_users,
        }


def with_stored_ratings(
    data: Ratings | Interactions,
    stored: Iterable[StoredRating],
    movies: Sequence[StoredMovie] = (),
) -> tuple[Interactions, StoreShare]:
    """`data`'s ratings plus `stored` ones, and the store's added `movies` (see the module
    docstring), in source order then the store's, as `Interactions`."""
    given = as_interactions(data)
    base = _with_added_movies(given, movies)
    rows = list(stored)
    movie_ids = np.array([r.movie_id for r in rows], dtype=str)
    codes = np.searchsorted(base.movies.movie_id, movie_ids)
    codes = np.minimum(codes, max(len(base.movies) - 1, 0))
    known = (base.movies.movie_id[codes] == movie_ids) if len(rows) else np.zeros(0, bool)
    kept = [row for row, ok in zip(rows, known, strict=True) if ok]
    kept_movies = codes[known].astype(np.int32)

    stored_users = np.array([r.user_id for r in kept], dtype=str)
    user_ids = np.union1d(base.user_ids, stored_users)
    # The data set's user codes in the new, larger vocabulary (both sorted as strings).
    remap = np.searchsorted(user_ids, base.user_ids).astype(np.int32)
    base_user = remap[base.user]
    new_user = np.searchsorted(user_ids, stored_users).astype(np.int32)

    # A stored (user, movie) replaces the data set's rating of that pair.
    width = np.int64(len(base.movies))
    stored_pairs = new_user.astype(np.int64) * width + kept_movies
    base_pairs = base_user.astype(np.int64) * width + base.movie
    replaced = np.isin(base_pairs, stored_pairs)
    keep = ~replaced
    merged = Interactions(
        user_ids=user_ids,
        movies=base.movies,
        user=np.concatenate([base_user[keep], new_user]),
        movie=np.concatenate([base.movie[keep], kept_movies]),
        rating=np.concatenate([base.rating[keep], np.array([r.rating for r in kept], np.float32)]),
        timestamp=np.concatenate(
            [base.timestamp[keep], np.array([r.timestamp for r in kept], np.int64)]
        ),
        users=_with_new_users(base.users, remap, len(user_ids)),
        explicit=base.explicit,
        timed=base.timed,
    )
    share = StoreShare(
        read=len(rows),
        added=len(kept) - int(replaced.sum()),
        replaced=int(replaced.sum()),
        unknown_movies=len(rows) - len(kept),
        new_users=len(user_ids) - len(base.user_ids),
        new_movies=len(base.movies) - len(given.movies),
    )
    return merged, share


def _with_added_movies(data: Interactions, movies: Sequence[StoredMovie]) -> Interactions:
    """`data` with the store's added movies it lacks in its movie table (ids kept sorted, so
    every rating's movie code is moved to match)."""
    known = set(data.movies.movie_id.tolist())
    titles = set(data.movies.title.tolist())
    added = [m for m in movies if m.added and m.title and m.movie_id not in known]
    if not added:
        return data
    new_titles = []
    for movie in added:
        title = display_title(movie.title or "", movie.year)
        if title in titles:  # as serving names it: the id tells it from the data set's film
            title = f"{title} [{movie.movie_id}]"
        titles.add(title)
        new_titles.append(title)
    genres = np.zeros((len(added), len(GENRES)), dtype=bool)
    for row, movie in enumerate(added):
        genres[row, [GENRES.index(g) for g in movie.genres or ()]] = True
    ids = np.concatenate([data.movies.movie_id, np.array([m.movie_id for m in added])])
    order = np.argsort(ids, kind="stable")
    position = np.empty(len(ids), dtype=np.int32)
    position[order] = np.arange(len(ids), dtype=np.int32)
    table = MovieRecords(
        movie_id=ids[order].astype(str),
        title=np.concatenate([data.movies.title, np.array(new_titles)])[order].astype(str),
        genres=np.concatenate([data.movies.genres, genres])[order],
    )
    return replace(data, movies=table, movie=position[data.movie], _fingerprint=[])


def _with_new_users(users: UserRecords | None, remap: np.ndarray, size: int) -> UserRecords | None:
    """The data set's demographics at their users' new codes; new users' unknown ("", age 0)."""
    if users is None:
        return None
    gender = np.full(size, "", dtype=users.gender.dtype)
    age = np.zeros(size, dtype=np.int64)
    occupation = np.full(size, "", dtype=users.occupation.dtype)
    zip_code = np.full(size, "", dtype=users.zip_code.dtype)
    gender[remap], age[remap] = users.gender, users.age
    occupation[remap], zip_code[remap] = users.occupation, users.zip_code
    return replace(users, gender=gender, age=age, occupation=occupation, zip_code=zip_code)
