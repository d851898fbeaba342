"""The GroupLens form of MovieLens 100k: the unzipped `ml-100k` folder or `ml-100k.zip`.

Three files are read: `u.data` (tab-separated ratings, in the order the canonical folds are cut
from), `u.item` and `u.user` (Latin-1 text with `|`-separated fields).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from reelrank.data import bad_rows
from reelrank.data.fetch.archive import Archive, file_error, split_lines
from reelrank.data.movielens.ml100k import tables
from reelrank.types import GENRES, Ratings

GROUPLENS_EXPECTED = (
    "the GroupLens MovieLens 100k folder (u.data, u.item, u.user) or ml-100k.zip, "
    "whose files are under ml-100k/"
)
MOVIE_FIELDS = (
    "movie id | title | release date | video release date | IMDb URL | 19 genre flags (0 or 1)"
)


def read_grouplens(
    path: Path,
    *,
    on_bad_rows: bad_rows.BadRows = "refuse",
    notify: Callable[[str], None] | None = None,
) -> Ratings:
    """MovieLens 100k from the GroupLens folder (`u.data`, `u.item`, `u.user`) or `ml-100k.zip`,
    rows in `u.data` order; repeated or badly dated rows as `on_bad_rows` says
    (`tables.check_rating_rows`)."""
    with Archive(Path(path), ("ml-100k/", ""), GROUPLENS_EXPECTED) as archive:
        users_file, users_text = archive.text("u.user", "latin-1")
        movies_file, movies_text = archive.text("u.item", "latin-1")
        data_file, data_text = archive.text("u.data", "latin-1")
    users = parse_users(users_text, users_file)
    movies = parse_movies(movies_text, movies_file)
    rating_rows = tables.parse_rating_rows(data_text, data_file, first_line=1)
    keep = tables.check_rating_rows(
        rating_rows, data_file, first_line=1, on_bad_rows=on_bad_rows, notify=notify
    )
    ratings = tables.join_ratings(
        rating_rows, movies, users, data_file, first_line=1, names=("u.user", "u.item")
    )
    return ratings if keep is None else ratings.take(np.flatnonzero(keep))


def parse_users(text: str, file: str) -> tables.UserRows:
    """The users of a `u.user` text: `user id|age|gender|occupation|zip code` per line."""
    rows: list[tables.UserRow] = []
    for i, line in enumerate(split_lines(text)):
        uid, age, gender, occupation, zip_code = tables.split_fields(
            line, "|", 5, file, i + 1, tables.USER_FIELDS
        )
        rows.append(
            (
                tables.whole_number(uid, file, i + 1, "user id"),
                tables.whole_number(age, file, i + 1, "age"),
                gender,
                occupation,
                zip_code,
            )
        )
    return tables.user_rows(rows, file, 1)


def parse_movies(text: str, file: str) -> tables.MovieRows:
    """The movies of a `u.item` text: id, title, dates, URL and 19 genre flags per line."""
    ids: list[int] = []
    titles: list[str] = []
    genres: list[list[bool]] = []
    for i, line in enumerate(split_lines(text)):
        fields = tables.split_fields(line, "|", 5 + len(GENRES), file, i + 1, MOVIE_FIELDS)
        ids.append(tables.whole_number(fields[0], file, i + 1, "movie id"))
        # Three titles in u.item end in a space; strip so every source gives the same title.
        titles.append(fields[1].strip())
        flags = fields[-len(GENRES) :]
        if any(flag not in ("0", "1") for flag in flags):
            raise file_error(
                file,
                i + 1,
                f"the genre flags are {'|'.join(flags)!r}",
                f"the last {len(GENRES)} fields to be 0 or 1",
            )
        genres.append([flag == "1" for flag in flags])
    return tables.movie_rows(ids, titles, genres, file, 1)
