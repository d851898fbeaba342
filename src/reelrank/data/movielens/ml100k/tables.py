"""The three tables of MovieLens 100k (ratings, movies, users), checked, and their join.

Both file formats (`grouplens_files`, `recbole_files`) parse into these tables and share the
checks here (bad rating rows: `reelrank.data.bad_rows`), so they report the same problems the
same way; `join_ratings` then builds the `Ratings` table, vectorised, checking that every rating
names a known user and movie.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from reelrank.data.bad_rows import BadRows, check_rows
from reelrank.data.fetch.archive import file_error, split_lines
from reelrank.types import AGE_BUCKETS, GENRES, Ratings

RATING_FIELDS = "user id | item id | rating | timestamp"
USER_FIELDS = "user id | age | gender | occupation | zip code"


@dataclass(frozen=True)
class MovieRows:
    """One row per movie: `ids` `[m]` int64, `titles` `[m]` str, `genres` `[m, G]` bool."""

    ids: np.ndarray
    titles: np.ndarray
    genres: np.ndarray


@dataclass(frozen=True)
class UserRows:
    """One row per user: `ids`, `ages` `[u]` int64; `genders`, `occupations`, `zips` `[u]` str."""

    ids: np.ndarray
    ages: np.ndarray
    genders: np.ndarray
    occupations: np.ndarray
    zips: np.ndarray


UserRow = tuple[int, int, str, str, str]  # (user id, age, gender, occupation, zip code)


def whole_number(value: str, file: str, line: int, what: str) -> int:
    """`value` as an int if it is ASCII digits only, else a `DataError` naming file and line."""
    if not (value.isascii() and value.isdigit()):
        raise file_error(file, line, f"{what} is {value!r}", f"{what} to be a whole number")
    return int(value)


def split_fields(line: str, sep: str, count: int, file: str, lineno: int, layout: str) -> list[str]:
    """The `count` fields of `line`; another number of fields is a `DataError` showing `layout`."""
    fields = line.split(sep)
    if len(fields) != count:
        shown = "\\t" if sep == "\t" else sep
        raise file_error(
            file, lineno, f"found {len(fields)} fields", f"{count} '{shown}'-separated: {layout}"
        )
    return fields


def _check_unique(ids: list[int], file: str, first_line: int, what: str) -> None:
    seen: dict[int, int] = {}
    for i, value in enumerate(ids):
        lineno = first_line + i
        if value in seen:
            raise file_error(
                file,
                lineno,
                f"{what} {value} appears again (first on line {seen[value]})",
                f"each {what} once",
            )
        seen[value] = lineno


def user_rows(rows: list[UserRow], file: str, first_line: int) -> UserRows:
    """Check the parsed user rows (unique ids, M/F, an occupation) and make the table."""
    if not rows:
        raise file_error(file, None, "it has no users", f"one line per user: {USER_FIELDS}")
    _check_unique([r[0] for r in rows], file, first_line, "user id")
    for i, (_, _, gender, occupation, _) in enumerate(rows):
        if gender not in ("M", "F"):
            raise file_error(file, first_line + i, f"gender is {gender!r}", "'M' or 'F'")
        if not occupation:
            raise file_error(file, first_line + i, "occupation is empty", "an occupation")
    ids, ages, genders, occupations, zips = zip(*rows, strict=True)
    return UserRows(
        ids=np.array(ids, dtype=np.int64),
        ages=np.array(ages, dtype=np.int64),
        genders=np.array(genders, dtype=str),
        occupations=np.array(occupations, dtype=str),
        zips=np.array(zips, dtype=str),
    )


def movie_rows(
    ids: list[int], titles: list[str], genres: list[list[bool]], file: str, first_line: int
) -> MovieRows:
    """Check the parsed movie rows (at least one, unique ids) and make the table."""
    if not ids:
        raise file_error(file, None, "it has no movies", "one line per movie")
    _check_unique(ids, file, first_line, "movie id")
    return MovieRows(
        ids=np.array(ids, dtype=np.int64),
        titles=np.array(titles, dtype=str),
        genres=np.array(genres, dtype=bool).reshape(len(ids), len(GENRES)),
    )


def parse_rating_rows(text: str, file: str, *, first_line: int) -> np.ndarray:
    """The `[n, 4]` int64 table (user id, movie id, rating, timestamp) of a tab-separated file.

    The fast path is numpy's C parser; only if it fails are the lines scanned one by one, to
    report the first bad line by number.
    """
    lines = split_lines(text)
    if not lines:
        raise file_error(file, None, "it has no ratings", f"one line per rating: {RATING_FIELDS}")
    try:
        table = np.loadtxt(
            lines, delimiter="\t", dtype=np.int64, comments=None, ndmin=2, encoding=None
        )
        if table.shape == (len(lines), 4):
            return table
        problem = f"numpy read a {table.shape} table from {len(lines)} lines"
    except ValueError as e:
        problem = str(e)
    _diagnose_rating_rows(lines, file, first_line)
    raise file_error(file, None, f"it could not be parsed ({problem})", RATING_FIELDS)


def _diagnose_rating_rows(lines: list[str], file: str, first_line: int) -> None:
    names = ("user id", "movie id", "rating", "timestamp")
    for i, line in enumerate(lines):
        fields = split_fields(line, "\t", 4, file, first_line + i, RATING_FIELDS)
        for name, value in zip(names, fields, strict=True):
            whole_number(value, file, first_line + i, name)


def bucketize_age(ages: np.ndarray) -> np.ndarray:
    """TFDS `bucketized_user_age`: `[n]` ages to the lower edge of their bucket in `AGE_BUCKETS`."""
    edges = np.array(AGE_BUCKETS, dtype=np.int64)
    return edges[np.searchsorted(edges[1:], ages, side="right")]


def _lookup(ids: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of `wanted` in `ids` (unique), and a mask of which were found."""
    order = np.argsort(ids, kind="stable")
    pos = np.searchsorted(ids[order], wanted).clip(0, len(ids) - 1)
    return order[pos], ids[order][pos] == wanted


def _as_str(ints: np.ndarray) -> np.ndarray:
    return ints.astype(f"<U{len(str(int(ints.max(initial=0))))}")


def join_ratings(
    table: np.ndarray,
    movies: MovieRows,
    users: UserRows,
    file: str,
    *,
    first_line: int,
    names: tuple[str, str],
) -> Ratings:
    """`Ratings` from the `[n, 4]` rating rows of `file` joined with the user and movie tables.

    `names` are the user and movie files' names for messages; a rating whose user or movie is
    not in them, or whose value is not 1..5, is a `DataError` naming its line in `file`.
    """
    users_name, movies_name = names
    user_row, user_found = _lookup(users.ids, table[:, 0])
    movie_row, movie_found = _lookup(movies.ids, table[:, 1])
    rating = table[:, 2]
    checks = (
        (~user_found, 0, f"user id {{}} is not in {users_name}", f"user ids from {users_name}"),
        (
            ~movie_found,
            1,
            f"movie id {{}} is not in {movies_name}",
            f"movie ids from {movies_name}",
        ),
        ((rating < 1) | (rating > 5), 2, "rating {} is out of range", "a rating from 1 to 5"),
    )
    for bad, column, problem, expected in checks:
        if bad.any():
            row = int(np.argmax(bad))
            raise file_error(file, first_line + row, problem.format(table[row, column]), expected)
    return Ratings(
        user_id=_as_str(users.ids)[user_row],
        movie_id=_as_str(movies.ids)[movie_row],
        movie_title=movies.titles[movie_row],
        user_rating=rating.astype(np.float32),
        timestamp=table[:, 3].copy(),
        movie_genres=movies.genres[movie_row],
        user_gender=users.genders[user_row],
        bucketized_user_age=bucketize_age(users.ages)[user_row],
        user_occupation_text=users.occupations[user_row],
        user_zip_code=users.zips[user_row],
    )


def check_rating_rows(
    table: np.ndarray,
    file: str,
    *,
    first_line: int,
    on_bad_rows: BadRows = "refuse",
    notify: Callable[[str], None] | None = None,
) -> np.ndarray | None:
    """`check_rows` for an `[n, 4]` (user id, movie id, rating, timestamp) int table."""
    return check_rows(
        table[:, 0],
        table[:, 1],
        table[:, 3],
        file,
        first_line=first_line,
        on_bad_rows=on_bad_rows,
        notify=notify,
    )
