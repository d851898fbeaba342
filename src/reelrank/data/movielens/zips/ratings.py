"""The ratings file of a GroupLens MovieLens data set (1M on), read fast and checked.

`ratings.dat` (ml-1m, ml-10m) holds `UserID::MovieID::Rating::Timestamp` per line without a
header; `ratings.csv` (ml-20m on) has the header `userId,movieId,rating,timestamp`. ml-25m's has
25M lines, so pyarrow's multi-threaded CSV reader reads it straight from the zip member or the
file into int64 / float32 columns, with no Python object per row. A `::` line
(`1::122::5::838985046`) is read with ':' as the delimiter, as seven columns; the three in
between are typed null, so pyarrow itself refuses anything in them. Only when that fast read
fails is the file read again line by line, to name the first bad line.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import IO, Any, Literal

import numpy as np

from reelrank.data.fetch.archive import file_error
from reelrank.data.movielens.ml100k import tables
from reelrank.errors import DataError

Layout = Literal["dat", "csv"]
Opener = Callable[[], IO[bytes]]

RATINGS_HEADER = "userId,movieId,rating,timestamp"
RATING_LAYOUT: Mapping[str, str] = MappingProxyType(
    {"dat": "UserID::MovieID::Rating::Timestamp", "csv": RATINGS_HEADER}
)
UNPACK_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError)


@dataclass(frozen=True)
class RatingColumns:
    """A ratings file as columns, rows in file order, row i on line `first_line + i`:
    `user`, `movie` `[n]` int64 ids, `rating` `[n]` float32 stars, `timestamp` `[n]` int64."""

    user: np.ndarray
    movie: np.ndarray
    rating: np.ndarray
    timestamp: np.ndarray
    first_line: int

    def __len__(self) -> int:
        return len(self.user)


def stars_expected(whole_stars: bool) -> str:
    return "whole stars from 1 to 5" if whole_stars else "stars from 0.5 to 5 in half stars"


def read_rating_columns(
    open_file: Opener, file: str, layout: Layout, *, whole_stars: bool
) -> RatingColumns:
    """The ratings file that `open_file` opens (afresh on each call) as checked columns.

    Every id must be a whole number, every rating a number of stars (`whole_stars`: 1..5, else
    0.5..5 in half stars); anything else is a `DataError` naming `file` and the line.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    first_line = 1
    if layout == "csv":
        check_header(open_file, file, RATINGS_HEADER)
        first_line = 2
    numeric = {
        "user": pa.int64(),
        "movie": pa.int64(),
        "rating": pa.float32(),
        "timestamp": pa.int64(),
    }
    data = list(numeric)
    names = data
    if layout == "dat":  # `a::b::c::d` split at ':' is a, "", b, "", c, "", d
        names = ["user", "gap1", "movie", "gap2", "rating", "gap3", "timestamp"]
    column_types = {name: numeric.get(name, pa.null()) for name in names}
    try:
        with open_file() as stream:
            table = pacsv.read_csv(
                stream,
                read_options=pacsv.ReadOptions(column_names=names, skip_rows=first_line - 1),
                parse_options=pacsv.ParseOptions(
                    delimiter=":" if layout == "dat" else ",",
                    quote_char=False,
                    ignore_empty_lines=False,  # so row i stays on line first_line + i
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types=column_types,
                    null_values=[""],
                    strings_can_be_null=False,
                    include_columns=names,
                ),
            )
    except pa.ArrowInvalid as e:
        diagnose_rating_lines(open_file, file, layout, first_line)
        problem = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise file_error(
            file, None, f"it could not be read ({problem})", RATING_LAYOUT[layout]
        ) from e
    except UNPACK_ERRORS as e:
        raise unreadable(file, e) from e
    if table.num_rows == 0:
        raise file_error(file, None, "it has no ratings", f"one per line: {RATING_LAYOUT[layout]}")
    for name in data:
        if table.column(name).null_count:
            _refuse_empty(table, data, name, file, first_line, layout)
    arrays = {}
    for name in data:  # one column at a time, so only one is held twice
        arrays[name] = table.column(name).to_numpy()
        table = table.drop_columns([name])
    columns = RatingColumns(**arrays, first_line=first_line)
    _check_values(columns, file, whole_stars)
    return columns


def unreadable(file: str, error: BaseException) -> DataError:
    return DataError(
        f"{file}: cannot be read to the end ({error}); the zip or file is corrupt or truncated. "
        "Download it again."
    )


def check_header(open_file: Opener, file: str, header: str) -> None:
    """Refuse a CSV whose first line is not `header`."""
    try:
        with open_file() as stream:
            raw = stream.readline(4096)
    except UNPACK_ERRORS as e:
        raise unreadable(file, e) from e
    found = raw.decode("utf-8", "replace").rstrip("\r\n")
    if found != header:
        raise file_error(file, 1, f"the header is {found!r}", f"{header!r}")


def _refuse_empty(
    table: Any, data: list[str], name: str, file: str, first_line: int, layout: Layout
) -> None:
    row = int(np.argmax(table.column(name).is_null().to_numpy(zero_copy_only=False)))
    blank = all(not table.column(n)[row].is_valid for n in data)
    problem = "the line is empty" if blank else f"the {name} field is empty"
    raise file_error(
        file, first_line + row, problem, f"one rating per line: {RATING_LAYOUT[layout]}"
    )


def _check_values(columns: RatingColumns, file: str, whole_stars: bool) -> None:
    rating = columns.rating
    steps = rating if whole_stars else rating * 2
    low = 1.0 if whole_stars else 0.5
    checks = (
        (columns.user < 0, columns.user, "user id", "user id to be a whole number"),
        (columns.movie < 0, columns.movie, "movie id", "movie id to be a whole number"),
        (
            ~((rating >= low) & (rating <= 5) & (steps == np.round(steps))),
            rating,
            "rating",
            f"a rating in {stars_expected(whole_stars)}",
        ),
    )
    for bad, values, what, expected in checks:
        if bad.any():
            row = int(np.argmax(bad))
            shown = f"{values[row]:g}" if values.dtype.kind == "f" else str(values[row])
            raise file_error(file, columns.first_line + row, f"{what} is {shown}", expected)


def diagnose_rating_lines(open_file: Opener, file: str, layout: Layout, first_line: int) -> None:
    """The slow pass after a failed fast read: a `DataError` for the first bad line, if any."""
    sep = "::" if layout == "dat" else ","
    try:
        with open_file() as stream:
            for lineno, raw in enumerate(stream, start=1):
                if lineno >= first_line:
                    _check_rating_line(raw, sep, file, lineno, RATING_LAYOUT[layout])
    except UNPACK_ERRORS as e:
        raise unreadable(file, e) from e


def _check_rating_line(raw: bytes, sep: str, file: str, lineno: int, layout: str) -> None:
    line = raw.decode("utf-8", "replace").rstrip("\n").removesuffix("\r")
    user, movie, rating, timestamp = tables.split_fields(line, sep, 4, file, lineno, layout)
    tables.whole_number(user, file, lineno, "user id")
    tables.whole_number(movie, file, lineno, "movie id")
    try:
        float(rating)
    except ValueError:
        raise file_error(file, lineno, f"rating is {rating!r}", "a number of stars") from None
    tables.whole_number(timestamp, file, lineno, "timestamp")
