"""People's own ratings (or views, clicks) as `Interactions`: a file or a DataFrame they have.

    read_ratings_file("ratings.csv", "user=userId,movie=movieId,rating=rating,timestamp=ts",
                      movies="movies.csv")
    interactions_from_table(polars_or_pandas_frame, {"user": "uid", "movie": "item"})

Without a mapping the usual column names are recognised (`column_mapping`). A table without a
rating column trains retrieval only (`explicit=False`); without a time column it cannot be split
by time (`timed=False`). Rows stay in table order; ids are kept as text, sorted as strings.

Bad rows (an empty id, a rating that is not a finite number of 0 or more, a time that cannot be
read, a movie missing from the movies table, a repeated user and movie, a CSV line with the
wrong number of fields) are refused with the first one's line and the fix, or with
`on_bad_rows="skip"` dropped and counted in one notice. Everything is vectorised in Arrow and
numpy, so 25M rows read in seconds (see `table_reader` for how CSV lines are numbered).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reelrank.data.bad_rows import BAD_ROW_CHOICES, BadRows, check_rows
from reelrank.data.interactions import Interactions, MovieRecords
from reelrank.data.tables.column_mapping import ColumnMapping, MovieColumns, Notify, as_mapping
from reelrank.data.tables.columns import (
    TIME_EXPECTED,
    IdColumn,
    cell,
    genre_column,
    id_column,
    is_empty,
    rating_column,
    seconds_column,
    text_column,
)
from reelrank.data.tables.reader import Where, load_table
from reelrank.errors import DataError
from reelrank.types import GENRES

Columns = ColumnMapping | str | Mapping[str, str] | None
MoviesColumns = MovieColumns | str | Mapping[str, str] | None
MovieTable = tuple[np.ndarray, np.ndarray, np.ndarray]  # sorted ids [m], titles [m], genres [m, G]


@dataclass(frozen=True, eq=False)
class _Check:
    """One kind of bad row: `bad` `[n]`, a `label` for counts ("3 with <label>"), the
    `problem` of a row for a message, and what was `expected`."""

    bad: np.ndarray
    label: str
    problem: Callable[[int], str]
    expected: str


def read_ratings_file(
    path: str | Path,
    columns: Columns = None,
    *,
    movies: str | Path | Any | None = None,
    movie_columns: MoviesColumns = None,
    on_bad_rows: BadRows = "refuse",
    notify: Notify | None = None,
) -> Interactions:
    """The ratings in `path` (`.csv`, `.tsv`/`.tab`, also gzipped as `.csv.gz`/`.tsv.gz`, or
    `.parquet`/`.pq`), with the columns `columns` names (a `ColumnMapping`, its CLI text
    `user=userId,movie=movieId,rating=rating,timestamp=ts`, or a dict; None: recognise the
    usual names). `movies` (a file or a table, columns `movie_columns`) gives titles and
    genres. `notify` receives one line for each choice made and each set of skipped rows.
    Bad input is a `DataError` naming the file, the line and the fix."""
    return _read(path, columns, movies, movie_columns, on_bad_rows, notify)


def interactions_from_table(
    table: Any,
    columns: Columns = None,
    *,
    movies: str | Path | Any | None = None,
    movie_columns: MoviesColumns = None,
    on_bad_rows: BadRows = "refuse",
    notify: Notify | None = None,
) -> Interactions:
    """`read_ratings_file` for a table already in memory: a pyarrow Table, or a pandas (2.2 or
    later) or polars DataFrame, read through Arrow without importing either. Messages name a
    row by its position, counting from 0 as `DataFrame.iloc` does."""
    return _read(table, columns, movies, movie_columns, on_bad_rows, notify)


def _read(
    source: Any,
    columns: Columns,
    movies: Any,
    movie_columns: MoviesColumns,
    on_bad_rows: BadRows,
    notify: Notify | None,
) -> Interactions:
    if on_bad_rows not in BAD_ROW_CHOICES:
        raise ValueError(f"on_bad_rows must be one of {BAD_ROW_CHOICES}, got {on_bad_rows!r}")
    given = as_mapping(columns, ColumnMapping)
    table, mapping, where = load_table(
        source, given, ColumnMapping, on_bad_rows=on_bad_rows, notify=notify
    )
    listed = None
    if movies is not None:
        movie_given = as_mapping(movie_columns, MovieColumns)
        options: dict[str, Any] = {"on_bad_rows": on_bad_rows, "notify": notify}
        loaded = load_table(movies, movie_given, MovieColumns, label="the movies table", **options)
        listed = _movie_table(*loaded, on_bad_rows, notify)
    return _interactions(table, mapping, where, listed, on_bad_rows, notify)


def _interactions(
    table: Any,
    mapping: ColumnMapping,
    where: Where,
    listed: tuple[MovieTable, str] | None,
    on_bad_rows: BadRows,
    notify: Notify | None,
) -> Interactions:
    n = table.num_rows
    if n == 0:
        raise DataError(f"{where.name}: it has no rows; expected one row per rating")
    users = id_column(table.column(mapping.user), mapping.user, where.name)
    movie = id_column(table.column(mapping.movie), mapping.movie, where.name)
    checks = [_empty_id(users, "user", mapping.user), _empty_id(movie, "movie", mapping.movie)]
    rating = np.ones(n, dtype=np.float64)
    if mapping.rating is not None:
        column = table.column(mapping.rating)
        rating, bad = rating_column(column, mapping.rating, where.name)
        expected = "a rating that is a finite number, 0 or more"
        checks.append(_cell_check(bad, column, mapping.rating, "rating", expected))
    timestamp = None
    if mapping.timestamp is not None:
        column = table.column(mapping.timestamp)
        timestamp, bad = seconds_column(column, mapping.timestamp, where.name)
        checks.append(_cell_check(bad, column, mapping.timestamp, "time", TIME_EXPECTED))
    if listed is not None:
        (movie_ids, _, _), movies_name = listed
        found = np.isin(movie.words, movie_ids)
        checks.append(
            _Check(
                ~found[movie.codes] & ~movie.empty,
                f"a movie not in {movies_name}",
                lambda row: f"movie {movie.words[movie.codes[row]]} is not in {movies_name}",
                f"every rated movie listed in {movies_name}",
            )
        )
    keep = _keep_good_rows(checks, _blank(table, where), where, on_bad_rows, notify)
    keep &= _unique_and_dated(users, movie, timestamp, keep, where, on_bad_rows, notify)
    if not keep.any():
        raise DataError(f"{where.name}: no rows are left once the bad ones are dropped")
    user_ids, user_codes = _compact(users, keep)
    movie_ids, movie_codes = _compact(movie, keep)
    return Interactions(
        user_ids=user_ids,
        movies=_movie_records(movie_ids, None if listed is None else listed[0]),
        user=user_codes,
        movie=movie_codes,
        rating=rating[keep].astype(np.float32),
        timestamp=np.zeros(int(keep.sum()), np.int64) if timestamp is None else timestamp[keep],
        explicit=mapping.rating is not None,
        timed=mapping.timestamp is not None,
    )


def _cell_check(bad: np.ndarray, column: Any, name: str, what: str, expected: str) -> _Check:
    return _Check(
        bad,
        f"a bad {what}",
        lambda row: f"the {what} (column {name!r}) is {cell(column, row)}",
        expected,
    )


def _empty_id(ids: IdColumn, what: str, name: str) -> _Check:
    return _Check(
        ids.empty,
        f"an empty {what} id",
        lambda row: f"the {what} id (column {name!r}) is empty",
        f"a {what} id in every row",
    )


def _blank(table: Any, where: Where) -> np.ndarray:
    """`[n]` rows of a text file whose mapped cells are all empty (blank lines): ignored."""
    blank = np.full(table.num_rows, where.word == "line")
    for column in table.columns:
        if blank.any():
            blank &= is_empty(column)
    return blank


def _keep_good_rows(
    checks: list[_Check],
    blank: np.ndarray,
    where: Where,
    on_bad_rows: BadRows,
    notify: Notify | None,
) -> np.ndarray:
    """`[n]` rows that pass every check, blank rows left out; by `on_bad_rows`, a `DataError`
    for the first bad row, or a notice counting each kind of bad row."""
    bad = np.zeros(len(blank), dtype=bool)
    for check in checks:
        bad |= check.bad
    bad &= ~blank
    malformed = len(where.malformed)
    if not bad.any() and not malformed:
        return ~blank
    row = int(np.argmax(bad))
    if on_bad_rows == "refuse":  # malformed lines were refused when the file was read
        first = next(c for c in checks if c.bad[row])
        total = int(bad.sum())
        more = f" ({total:,} bad rows in all)" if total > 1 else ""
        raise where.error(
            row,
            first.problem(row) + more,
            f"{first.expected}; fix the data, or pass {where.skip_hint} to drop such rows",
        )
    if notify is not None:
        counts, left = [], bad.copy()
        for check in checks:
            count = int((check.bad & left).sum())
            left &= ~check.bad
            if count:
                counts.append(f"{count:,} with {check.label}")
        if malformed:
            counts.append(f"{malformed:,} with the wrong number of fields")
        lines = ([where.number(row)] if bad.any() else []) + where.malformed[:1].tolist()
        dropped = int(bad.sum()) + malformed
        notify(
            f"reelrank: {where.name}: skipped {dropped:,} of {len(bad) + malformed:,} rows "
            f"({', '.join(counts)}; first: {where.word} {min(lines)}) "
            f"(--on-bad-rows {on_bad_rows})."
        )
    return ~bad & ~blank


def _unique_and_dated(
    users: IdColumn,
    movie: IdColumn,
    timestamp: np.ndarray | None,
    keep: np.ndarray,
    where: Where,
    on_bad_rows: BadRows,
    notify: Notify | None,
) -> np.ndarray:
    """`check_rows` (repeated user and movie, implausible times) on the kept rows, numbered as
    in the file: dropped rows and skipped lines take a user code of their own, so they never
    repeat anything and the line numbers `check_rows` counts stay true."""
    n = len(keep)
    rows: Any = slice(None)
    user, movie_code, times = users.codes, movie.codes, timestamp
    if where.lines is not None or not keep.all():
        rows = np.arange(n) if where.lines is None else where.lines - where.first
        size = n if where.lines is None else n + len(where.malformed)
        user = np.arange(len(users.words), len(users.words) + size, dtype=np.int32)
        movie_code = np.zeros(size, dtype=np.int32)
        user[rows[keep]] = users.codes[keep]
        movie_code[rows[keep]] = movie.codes[keep]
        if timestamp is not None:
            times = np.zeros(size, dtype=np.int64)
            times[rows[keep]] = timestamp[keep]

    def reworded(message: str) -> None:
        if notify is not None:
            notify(where.reword(message))

    try:
        result = check_rows(
            user,
            movie_code,
            times,
            where.name,
            first_line=where.first,
            on_bad_rows=on_bad_rows,
            notify=reworded,
            user_ids=users.words,
            movie_ids=movie.words,
        )
    except DataError as e:
        raise DataError(where.reword(str(e))) from None
    return np.ones(n, dtype=bool) if result is None else result[rows]


def _compact(ids: IdColumn, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the ids the kept rows use, sorted, `[n_kept]` int32 codes into them):
    ids seen only in dropped rows go, and codes stay in string order."""
    codes = ids.codes[keep]
    used = np.bincount(codes, minlength=len(ids.words)) > 0
    renumber = (np.cumsum(used) - 1).astype(np.int32)
    return ids.words[used], renumber[codes]


def _movie_records(movie_ids: np.ndarray, listed: MovieTable | None) -> MovieRecords:
    """Titles and genres of `movie_ids` from the movies table, or the id and "unknown"."""
    genres = np.zeros((len(movie_ids), len(GENRES)), dtype=bool)
    if listed is None:
        genres[:, 0] = True
        return MovieRecords(movie_id=movie_ids, title=movie_ids.copy(), genres=genres)
    ids, titles, listed_genres = listed
    position = np.searchsorted(ids, movie_ids)
    return MovieRecords(movie_id=movie_ids, title=titles[position], genres=listed_genres[position])


def _movie_table(
    table: Any, mapping: MovieColumns, where: Where, on_bad_rows: BadRows, notify: Notify | None
) -> tuple[MovieTable, str]:
    """(sorted movie ids, their titles and genres) of a movies table, each id once, and the
    table's name; an empty id or a repeated one is a bad row like any other."""
    n = table.num_rows
    if n == 0:
        raise DataError(f"{where.name}: it has no rows; expected one row per movie")
    ids = id_column(table.column(mapping.movie), mapping.movie, where.name)
    valid = np.flatnonzero(~ids.empty)
    _, first_index = np.unique(ids.codes[valid], return_index=True)
    first_row = np.full(len(ids.words), -1, dtype=np.int64)
    first_row[ids.codes[valid[first_index]]] = valid[first_index]
    repeat = ~ids.empty
    repeat[valid[first_index]] = False
    checks = [
        _empty_id(ids, "movie", mapping.movie),
        _Check(
            repeat,
            "a movie id listed before",
            lambda row: (
                f"movie {ids.words[ids.codes[row]]} is listed again (first at "
                f"{where.word} {where.number(int(first_row[ids.codes[row]]))})"
            ),
            "each movie once",
        ),
    ]
    keep = _keep_good_rows(checks, _blank(table, where), where, on_bad_rows, notify)
    rows = np.flatnonzero(keep)  # one row per movie id, in id order once sorted by code
    rows = rows[np.argsort(ids.codes[rows], kind="stable")]
    movie_ids = ids.words[ids.codes[rows]]
    titles = movie_ids
    if mapping.title is not None:
        titles = text_column(table.column(mapping.title).take(rows), movie_ids)
    genres = np.zeros((len(rows), len(GENRES)), dtype=bool)
    genres[:, 0] = True
    if mapping.genres is not None:
        genres, unknown = genre_column(table.column(mapping.genres).take(rows))
        if unknown and notify is not None:
            more = f" and {len(unknown) - 10:,} more" if len(unknown) > 10 else ""
            notify(
                f"reelrank: {where.name}: genres not among reelrank's ({', '.join(GENRES[1:])}) "
                f"are ignored: {', '.join(unknown[:10])}{more}."
            )
    return (movie_ids, titles, genres), where.name
