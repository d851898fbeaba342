"""The RecBole form of MovieLens 100k: the atomic files in the `recbole==1.2.1` wheel.

`recbole/dataset_example/ml-100k/` holds `ml-100k.inter`, `.item` and `.user`: UTF-8,
tab-separated, each with a typed header line, ratings in `u.data` order. Titles and years are
separate fields there; they are joined back into "Title (Year)" so every source gives `u.item`'s
titles.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from reelrank.data import bad_rows
from reelrank.data.fetch.archive import Archive, file_error, split_lines
from reelrank.data.movielens.ml100k import tables
from reelrank.types import GENRES, Ratings

RECBOLE_DIR = "recbole/dataset_example/ml-100k/"
RECBOLE_EXPECTED = f"the recbole 1.2.1 wheel, whose data files are under {RECBOLE_DIR}"
RECBOLE_HEADERS = {
    "inter": "user_id:token\titem_id:token\trating:float\ttimestamp:float",
    "item": "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq",
    "user": "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token",
}
_UNKNOWN = "unkonwn"  # sic: RecBole's title and year for movie 267, "unknown" in u.item


def read_recbole_wheel(
    path: Path,
    *,
    on_bad_rows: bad_rows.BadRows = "refuse",
    notify: Callable[[str], None] | None = None,
) -> Ratings:
    """MovieLens 100k from the `recbole` wheel's `dataset_example/ml-100k` atomic files, rows in
    `u.data` order; repeated or badly dated rows as `on_bad_rows` says."""
    with Archive(Path(path), (RECBOLE_DIR, ""), RECBOLE_EXPECTED) as archive:
        texts = {kind: archive.text(f"ml-100k.{kind}", "utf-8") for kind in RECBOLE_HEADERS}
    for kind, (file, text) in texts.items():
        header = text.split("\n", 1)[0].rstrip("\r")
        if header != RECBOLE_HEADERS[kind]:
            raise file_error(
                file, 1, f"the header is {header!r}", f"{RECBOLE_HEADERS[kind]!r} (RecBole 1.2.1)"
            )
    (user_file, user_text), (item_file, item_text) = texts["user"], texts["item"]
    users = parse_users(user_text, user_file)
    movies = parse_movies(item_text, item_file)
    inter_file, inter_text = texts["inter"]
    rating_rows = tables.parse_rating_rows(inter_text.partition("\n")[2], inter_file, first_line=2)
    keep = tables.check_rating_rows(
        rating_rows, inter_file, first_line=2, on_bad_rows=on_bad_rows, notify=notify
    )
    names = ("ml-100k.user", "ml-100k.item")
    ratings = tables.join_ratings(rating_rows, movies, users, inter_file, first_line=2, names=names)
    return ratings if keep is None else ratings.take(np.flatnonzero(keep))


def parse_users(text: str, file: str) -> tables.UserRows:
    """The users of an `ml-100k.user` text (after its header line)."""
    rows: list[tables.UserRow] = []
    for i, line in enumerate(split_lines(text)[1:]):
        lineno = i + 2
        fields = tables.split_fields(line, "\t", 5, file, lineno, "user fields")
        uid, age, gender, occupation, zip_code = fields
        rows.append(
            (
                tables.whole_number(uid, file, lineno, "user id"),
                tables.whole_number(age, file, lineno, "age"),
                gender,
                occupation,
                zip_code,
            )
        )
    return tables.user_rows(rows, file, 2)


def parse_movies(text: str, file: str) -> tables.MovieRows:
    """The movies of an `ml-100k.item` text (after its header line)."""
    genre_index = {g: j for j, g in enumerate(GENRES)}
    ids: list[int] = []
    titles: list[str] = []
    genres: list[list[bool]] = []
    for i, line in enumerate(split_lines(text)[1:]):
        lineno = i + 2
        item_id, title, year, classes = tables.split_fields(
            line, "\t", 4, file, lineno, "item fields"
        )
        ids.append(tables.whole_number(item_id, file, lineno, "movie id"))
        title, year = title.strip(), year.strip()
        if year == _UNKNOWN:
            titles.append("unknown" if title == _UNKNOWN else title)
        else:
            titles.append(f"{title} ({year})")
        flags = [False] * len(GENRES)
        # Genre names hold no spaces ("Children's", "Film-Noir", "Sci-Fi"), so split() is exact.
        for name in classes.split():
            if name not in genre_index:
                raise file_error(
                    file, lineno, f"unknown genre {name!r}", f"one of {', '.join(GENRES)}"
                )
            flags[genre_index[name]] = True
        genres.append(flags)
    return tables.movie_rows(ids, titles, genres, file, 2)
