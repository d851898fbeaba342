"""Movies, ml-1m's users, and their join with the ratings, for the GroupLens MovieLens zips
from 1M on (`ratings` reads the ratings file; `datasets` finds the files).

- `movies.dat` (ml-1m, ml-10m): `MovieID::Title::Genres` per line, no header; Latin-1 in ml-1m,
  UTF-8 in ml-10m. `users.dat` (ml-1m): `UserID::Gender::Age::Occupation::Zip-code`.
- `movies.csv` (ml-20m on): UTF-8, header `movieId,title,genres`; a title with a comma is
  double-quoted.

Genres map onto MovieLens 100k's 19 (`reelrank.types.GENRES`): the newer files' "Children" is
"Children's" and "(no genres listed)" is "unknown". "IMAX" (ml-10m on) has no column there and is
dropped, so a movie listed only as IMAX has no genre. Any other name is a `DataError`.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping
from types import MappingProxyType

import numpy as np

from reelrank.data import bad_rows
from reelrank.data.fetch.archive import file_error, split_lines
from reelrank.data.interactions import Interactions, MovieRecords, UserRecords, encode_ids
from reelrank.data.movielens.ml100k import tables
from reelrank.data.movielens.zips.ratings import Layout, RatingColumns
from reelrank.types import AGE_BUCKETS, GENRES

Notify = Callable[[str], None]

MOVIES_HEADER = "movieId,title,genres"
MOVIE_LAYOUT: Mapping[str, str] = MappingProxyType(
    {"dat": "MovieID::Title::Genres", "csv": MOVIES_HEADER}
)
USER_LAYOUT = "UserID::Gender::Age::Occupation::Zip-code"

# GroupLens' genre names -> a column of GENRES, or None for a genre without one (dropped).
GENRE_COLUMN: Mapping[str, int | None] = MappingProxyType(
    {
        **{name: i for i, name in enumerate(GENRES)},
        "Children": GENRES.index("Children's"),
        "(no genres listed)": GENRES.index("unknown"),
        "IMAX": None,
    }
)
# ml-1m's occupation codes, as its README names them.
OCCUPATIONS: tuple[str, ...] = (
    "other or not specified", "academic/educator", "artist", "clerical/admin",
    "college/grad student", "customer service", "doctor/health care", "executive/managerial",
    "farmer", "homemaker", "K-12 student", "lawyer", "programmer", "retired", "sales/marketing",
    "scientist", "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed",
    "writer",
)  # fmt: skip


def genre_flags(names: str, file: str, lineno: int) -> list[bool]:
    """The `[len(GENRES)]` flags of a `|`-separated genre list, as GroupLens spells genres."""
    flags = [False] * len(GENRES)
    for name in names.split("|"):
        if name not in GENRE_COLUMN:
            known = ", ".join(GENRE_COLUMN)
            raise file_error(file, lineno, f"genre {name!r} is unknown", f"'|'-separated {known}")
        column = GENRE_COLUMN[name]
        if column is not None:
            flags[column] = True
    return flags


def parse_movies(text: str, file: str, layout: Layout) -> tables.MovieRows:
    """The movies of a `movies.dat` or `movies.csv` text: id, title and genres per line."""
    ids: list[int] = []
    titles: list[str] = []
    genres: list[list[bool]] = []
    lines = split_lines(text)
    numbered: list[tuple[int, list[str]]]
    if layout == "dat":
        numbered = [
            (i, tables.split_fields(line, "::", 3, file, i, MOVIE_LAYOUT["dat"]))
            for i, line in enumerate(lines, start=1)
        ]
        first_line = 1
    else:
        found = lines[0] if lines else ""
        if found != MOVIES_HEADER:
            raise file_error(file, 1, f"the header is {found!r}", repr(MOVIES_HEADER))
        numbered = _csv_rows(lines[1:], file)
        first_line = 2
    for lineno, (movie_id, title, names) in numbered:
        ids.append(tables.whole_number(movie_id, file, lineno, "movie id"))
        titles.append(title.strip())
        genres.append(genre_flags(names, file, lineno))
    return tables.movie_rows(ids, titles, genres, file, first_line)


def _csv_rows(lines: list[str], file: str) -> list[tuple[int, list[str]]]:
    """The records of a CSV body (the lines after the header), with the line each starts on."""
    reader = csv.reader(lines, strict=True)
    rows: list[tuple[int, list[str]]] = []
    while True:
        lineno = reader.line_num + 2  # the next line: the header is line 1
        try:
            fields = next(reader)
        except StopIteration:
            return rows
        except csv.Error as e:
            raise file_error(
                file, lineno, f"the quoting is broken ({e})", f"3 fields: {MOVIES_HEADER}"
            ) from e
        if len(fields) != 3:
            raise file_error(file, lineno, f"found {len(fields)} fields", f"3: {MOVIES_HEADER}")
        rows.append((lineno, fields))


def parse_users(text: str, file: str) -> tables.UserRows:
    """The users of ml-1m's `users.dat`: `UserID::Gender::Age::Occupation::Zip-code` per line;
    the age is a group's lower edge and the occupation a code, kept as its README's name."""
    rows: list[tables.UserRow] = []
    for lineno, line in enumerate(split_lines(text), start=1):
        uid, gender, age, occupation, zip_code = tables.split_fields(
            line, "::", 5, file, lineno, USER_LAYOUT
        )
        age_group = tables.whole_number(age, file, lineno, "age")
        if age_group not in AGE_BUCKETS:
            groups = ", ".join(map(str, AGE_BUCKETS))
            raise file_error(file, lineno, f"age is {age_group}", f"an age group: {groups}")
        code = tables.whole_number(occupation, file, lineno, "occupation")
        if code >= len(OCCUPATIONS):
            raise file_error(
                file, lineno, f"occupation is {code}", f"a code 0..{len(OCCUPATIONS) - 1}"
            )
        user_id = tables.whole_number(uid, file, lineno, "user id")
        rows.append((user_id, age_group, gender, OCCUPATIONS[code], zip_code))
    return tables.user_rows(rows, file, 1)


def _positions(table_ids: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of `wanted` in `table_ids` (unique ints), and which were found."""
    order = np.argsort(table_ids, kind="stable")
    at = np.searchsorted(table_ids[order], wanted).clip(0, max(len(table_ids) - 1, 0))
    rows = order[at] if len(table_ids) else np.zeros(len(wanted), dtype=np.int64)
    found = table_ids[rows] == wanted if len(table_ids) else np.zeros(len(wanted), bool)
    return rows, found


def _compact(codes: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the ids `codes` still use, codes into them); order kept, so no sort is needed."""
    used = np.zeros(len(ids), dtype=bool)
    used[codes] = True
    renumber = (np.cumsum(used) - 1).astype(np.int32)
    return ids[used], renumber[codes]


def encode_int_ids(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`encode_ids` of non-negative int ids, through a lookup table when the largest id is not
    far above the row count (MovieLens ids are below 400k): no sort of the `[n]` rows."""
    top = int(values.max()) if len(values) else 0
    if top > 4 * len(values) + (1 << 20):
        return encode_ids(values)
    present = np.zeros(top + 1, dtype=bool)
    present[values] = True
    numbers = np.flatnonzero(present)
    words = numbers.astype(str)
    order = np.argsort(words, kind="stable")
    rank = np.empty(len(order), dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    lookup = np.zeros(top + 1, dtype=np.int32)
    lookup[numbers] = rank
    return words[order], lookup[values]


def _may_have_bad_rows(
    user: np.ndarray, movie: np.ndarray, n_movies: int, timestamp: np.ndarray
) -> bool:
    """Whether `bad_rows.check_rows` would find anything: one plain sort of the pair keys, much
    faster than its stable argsort, so clean files (all of GroupLens') skip it."""
    low, high = bad_rows.TIMESTAMP_RANGE
    if ((timestamp < low) | (timestamp > high)).any():
        return True
    key = user.astype(np.int64) * max(n_movies, 1) + movie
    key.sort()
    return bool((key[1:] == key[:-1]).any())


def build_interactions(
    columns: RatingColumns,
    movies: tables.MovieRows,
    users: tables.UserRows | None,
    file: str,
    *,
    names: tuple[str, str],
    on_bad_rows: bad_rows.BadRows = "refuse",
    notify: Notify | None = None,
) -> Interactions:
    """`Interactions` of the rating rows joined with the movie (and user) tables.

    `names` are the movie and user files' names for messages. A rating whose movie (or user)
    is missing from them is refused with its line, or dropped and counted (`on_bad_rows` "skip"
    or "keep-last"); repeated pairs and implausible times as `bad_rows.check_rows` says.
    """
    if on_bad_rows not in bad_rows.BAD_ROW_CHOICES:
        raise ValueError(f"on_bad_rows must be one of {bad_rows.BAD_ROW_CHOICES}: {on_bad_rows!r}")
    user_ids, user = encode_int_ids(columns.user)
    movie_ids, movie = encode_int_ids(columns.movie)
    unknown = np.zeros(len(columns), dtype=bool)
    known_checks = [(movie_ids, movie, movies.ids, "movie", names[0])]
    if users is not None:
        known_checks.append((user_ids, user, users.ids, "user", names[1]))
    for ids, codes, table_ids, what, table_file in known_checks:
        _, found = _positions(table_ids, ids.astype(np.int64))
        missing = ~found[codes]
        if missing.any():
            row = int(np.argmax(missing))
            problem = f"{what} id {ids[codes[row]]} is not in {table_file}"
            if on_bad_rows == "refuse":
                raise file_error(
                    file,
                    columns.first_line + row,
                    problem,
                    f"{what} ids from {table_file}. Fix the file, or pass --on-bad-rows skip to "
                    "drop such ratings",
                )
            if notify is not None:
                notify(
                    f"reelrank: {file}: {int(missing.sum()):,} rating(s) name a {what} not in "
                    f"{table_file} (first: line {columns.first_line + row}, {problem}); dropped "
                    f"them (--on-bad-rows {on_bad_rows})."
                )
            unknown |= missing
    keep = None
    if _may_have_bad_rows(user, movie, len(movie_ids), columns.timestamp):
        keep = bad_rows.check_rows(
            user,
            movie,
            columns.timestamp,
            file,
            first_line=columns.first_line,
            on_bad_rows=on_bad_rows,
            notify=notify,
            user_ids=user_ids,
            movie_ids=movie_ids,
        )
    rating, timestamp = columns.rating, columns.timestamp
    if keep is not None or unknown.any():
        rows = np.flatnonzero(~unknown if keep is None else keep & ~unknown)
        user_ids, user = _compact(user[rows], user_ids)
        movie_ids, movie = _compact(movie[rows], movie_ids)
        rating, timestamp = rating[rows], timestamp[rows]
    movie_row, _ = _positions(movies.ids, movie_ids.astype(np.int64))
    records = None
    if users is not None:
        user_row, _ = _positions(users.ids, user_ids.astype(np.int64))
        records = UserRecords(
            gender=users.genders[user_row],
            age=users.ages[user_row],
            occupation=users.occupations[user_row],
            zip_code=users.zips[user_row],
        )
    return Interactions(
        user_ids=user_ids,
        movies=MovieRecords(
            movie_id=movie_ids,
            title=movies.titles[movie_row],
            genres=movies.genres[movie_row],
        ),
        user=user.astype(np.int32, copy=False),
        movie=movie.astype(np.int32, copy=False),
        rating=rating.astype(np.float32, copy=False),
        timestamp=timestamp.astype(np.int64, copy=False),
        users=records,
    )
