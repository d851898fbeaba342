"""Arrow columns of someone's own table as numpy arrays, with a mask of the rows that are bad.

Each function reads one column whatever type it arrived in (a CSV's inferred types, a Parquet
schema, a DataFrame's dtypes) and never raises for a bad cell: it returns the values and an
`[n]` bool mask of the cells that are empty or cannot be read, so the caller can refuse the
first by its line or skip them all. Vectorised Arrow kernels only: no Python per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from reelrank.data.interactions import encode_ids
from reelrank.errors import DataError
from reelrank.types import GENRES

# A number as text: what a rating written by hand or by another tool looks like.
NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
WHOLE = r"^[+-]?\d{1,18}$"  # seconds since 1970 as text (18 digits cannot overflow int64)
# ISO 8601 forms Arrow's cast does not take in one go (mixed zones, minutes only), longest
# first. Fractions of a second are cut off before.
TIME_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M%z",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
)
TIME_EXPECTED = (
    "seconds since 1970 or an ISO 8601 date or time such as 2020-01-31, 2020-01-31 12:00:00 "
    "or 2020-01-31T12:00:00Z (times without a zone are taken as UTC)"
)
# Genre names other data sets spell differently from `GENRES` (in lower case).
GENRE_ALIASES = {
    "children": "Children's",
    "childrens": "Children's",
    "(no genres listed)": "unknown",
    "film noir": "Film-Noir",
    "science fiction": "Sci-Fi",
    "sci fi": "Sci-Fi",
}


@dataclass(frozen=True)
class IdColumn:
    """`words` `[k]` str ids sorted as strings, `codes` `[n]` int32 into them (-1: empty)."""

    words: np.ndarray
    codes: np.ndarray

    @property
    def empty(self) -> np.ndarray:
        return self.codes < 0


def cell(column: Any, row: int) -> str:
    """The cell at `row`, as shown in a message: its repr, or "empty"."""
    value = column[row].as_py()
    return "empty" if value is None or value == "" else repr(value)


def _plain(column: Any) -> Any:
    """`column` with dictionary encoding (pandas categoricals) undone."""
    import pyarrow as pa

    if pa.types.is_dictionary(column.type):
        return column.cast(column.type.value_type)
    return column


def is_text(kind: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind)) or (
        str(kind) == "string_view"
    )


def _mask(values: Any) -> np.ndarray:
    """A bool Arrow array or chunked array as `[n]` numpy bool (nulls False)."""
    return np.asarray(values.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def is_empty(column: Any) -> np.ndarray:
    """`[n]` cells that are null or blank text."""
    import pyarrow.compute as pc

    column = _plain(column)
    empty = column.is_null()
    if is_text(column.type):
        blank = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(column)), 0)
        empty = pc.or_kleene(empty, blank)
    return _mask(empty)


def id_column(column: Any, name: str, file: str) -> IdColumn:
    """User or movie ids: integers as numbers (`encode_ids` is fast on them), floats that are
    whole numbers as integers (a DataFrame column with gaps), anything else as text, trimmed.
    Null, NaN and blank cells are empty (code -1). One hash pass over the rows (Arrow's
    dictionary encoding); only the distinct ids are ever Python or numpy strings."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = _plain(column)
    if pa.types.is_floating(column.type):
        finite = pc.is_finite(column).fill_null(False)
        whole = pc.equal(pc.floor(column), column).fill_null(False)
        exact = pc.less_equal(pc.abs(column), 2**53).fill_null(False)  # float64 ints end there
        if pc.all(pc.or_(pc.invert(finite), pc.and_(whole, exact))).as_py():
            column = pc.if_else(finite, column, None).cast(pa.int64())
    numbers = pa.types.is_integer(column.type)
    if not numbers and not is_text(column.type):
        try:
            column = column.cast(pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            raise DataError(
                f"{file}: column {name!r} holds {column.type} values; expected ids as whole "
                "numbers or text"
            ) from e
    if not numbers and column.nbytes >= 1 << 30:  # 32-bit string offsets end at 2 GiB
        column = column.cast(pa.large_string())
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded = column.dictionary_encode()
    null = _mask(encoded.indices.is_null())
    index = np.asarray(encoded.indices.fill_null(0).to_numpy(), dtype=np.int64)
    if numbers:
        distinct = np.asarray(encoded.dictionary.to_numpy())
        blank = np.zeros(len(distinct), dtype=bool)
    else:
        text = pc.utf8_trim_whitespace(encoded.dictionary).to_numpy(zero_copy_only=False)
        distinct = np.asarray(text, dtype=str)
        blank = distinct == ""
    words, word_codes = encode_ids(distinct)
    if not len(distinct):  # every cell null
        return IdColumn(words, np.full(len(index), -1, dtype=np.int32))
    codes = word_codes[index]
    codes[null | blank[index]] = -1
    return IdColumn(words, codes)


def _text_numbers(column: Any) -> tuple[np.ndarray, np.ndarray]:
    """(`[n]` float64, `[n]` ok mask) of a text column holding numbers."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pc.utf8_trim_whitespace(column)
    ok = _mask(pc.match_substring_regex(text, NUMBER))
    values = pc.if_else(pa.array(ok), text, "0").cast(pa.float64())
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64), ok


def rating_column(column: Any, name: str, file: str) -> tuple[np.ndarray, np.ndarray]:
    """(`[n]` float64 ratings, `[n]` bad mask): empty, not a number, not finite or negative."""
    import pyarrow as pa

    column = _plain(column)
    kind = column.type
    if is_text(kind):
        values, ok = _text_numbers(column)
    elif pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        ok = ~_mask(column.is_null())
        values = np.asarray(column.cast(pa.float64()).fill_null(0).to_numpy(), dtype=np.float64)
    elif pa.types.is_boolean(kind):  # a views table that marks each row "true"
        ok = ~_mask(column.is_null())
        values = _mask(column).astype(np.float64)
    else:
        raise DataError(f"{file}: column {name!r} holds {kind} values; expected ratings as numbers")
    with np.errstate(invalid="ignore"):
        bad = ~ok | ~np.isfinite(values) | (values < 0)
    return values, bad


def seconds_column(column: Any, name: str, file: str) -> tuple[np.ndarray, np.ndarray]:
    """(`[n]` int64 seconds since 1970, `[n]` bad mask) from seconds (whole or not), Arrow
    timestamps or dates, or text (seconds, or ISO 8601; no zone means UTC)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = _plain(column)
    kind = column.type
    n = len(column)
    if pa.types.is_date(kind):
        column, kind = column.cast(pa.timestamp("s")), pa.timestamp("s")
    if pa.types.is_integer(kind):
        bad = _mask(column.is_null())
        return np.asarray(column.fill_null(0).to_numpy(), dtype=np.int64), bad
    if pa.types.is_floating(kind):
        values = np.asarray(column.fill_null(np.nan).to_numpy(), dtype=np.float64)
        bad = ~np.isfinite(values) | (np.abs(values) > 2**62)
        return np.floor(np.where(bad, 0, values)).astype(np.int64), bad
    if pa.types.is_timestamp(kind):
        per_second = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[kind.unit]
        ticks = np.asarray(column.cast(pa.int64()).fill_null(0).to_numpy(), dtype=np.int64)
        return ticks // per_second, _mask(column.is_null())
    if not is_text(kind):
        raise DataError(
            f"{file}: column {name!r} holds {kind} values; expected times as {TIME_EXPECTED}"
        )
    text = pc.utf8_trim_whitespace(column)
    empty = _mask(pc.or_kleene(text.is_null(), pc.equal(pc.utf8_length(text), 0)))
    whole = _mask(pc.match_substring_regex(text, WHOLE))
    values = np.zeros(n, dtype=np.int64)
    bad = empty.copy()
    if whole.any():
        values[whole] = text.filter(pa.array(whole)).cast(pa.int64()).to_numpy()
    rest = ~whole & ~empty
    if rest.any():
        dates = pc.replace_substring_regex(
            text.filter(pa.array(rest)), r"(\d\d:\d\d:\d\d)[.,]\d+", r"\1"
        )
        parsed, ok = _iso_seconds(dates)
        values[rest] = parsed
        bad[rest] = ~ok
    return values, bad


def _iso_seconds(text: Any) -> tuple[np.ndarray, np.ndarray]:
    """(`[n]` int64 seconds, `[n]` ok mask) of ISO 8601 text: a cast when every cell is of one
    kind (the usual file), else each form in `TIME_FORMATS` in turn."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for kind in (pa.timestamp("s"), pa.timestamp("s", tz="UTC")):
        try:
            seconds = text.cast(kind).cast(pa.int64()).to_numpy()
            return np.asarray(seconds, dtype=np.int64), np.ones(len(text), dtype=bool)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    found = pa.nulls(len(text), pa.int64())
    for form in TIME_FORMATS:
        parsed = pc.strptime(text, format=form, unit="s", error_is_null=True)
        found = pc.coalesce(found, parsed.cast(pa.int64()))
    ok = _mask(found.is_valid())
    return np.asarray(found.fill_null(0).to_numpy(), dtype=np.int64), ok


def text_column(column: Any, fallback: np.ndarray) -> np.ndarray:
    """`[n]` str of a (small) column, trimmed; empty cells take `fallback`'s value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = _plain(column)
    if not is_text(column.type):
        column = column.cast(pa.string())
    text = pc.utf8_trim_whitespace(column).fill_null("")
    values = np.asarray(text.to_numpy(zero_copy_only=False), dtype=str)
    return np.where(values == "", fallback, values)


def genre_column(column: Any) -> tuple[np.ndarray, list[str]]:
    """(`[n, len(GENRES)]` bool, names not in `GENRES`) of `|`-separated genre names, matched
    in any case ("Children" is "Children's"); a row with no known genre is "unknown"."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = _plain(column)
    if not is_text(column.type):
        column = column.cast(pa.string())
    n = len(column)
    lists = pc.split_pattern(column.fill_null(""), "|")
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks()
    names = pc.utf8_trim_whitespace(pc.list_flatten(lists))
    parent = np.asarray(pc.list_parent_indices(lists).to_numpy(), dtype=np.int64)
    known = {g.lower(): i for i, g in enumerate(GENRES)}
    known.update({alias: GENRES.index(g) for alias, g in GENRE_ALIASES.items()})
    distinct = [str(v) for v in pc.unique(names).to_pylist()]
    genre_of = np.array([known.get(v.lower(), -1) for v in distinct], dtype=np.int64)
    unknown = sorted({v for v in distinct if v and v.lower() not in known})
    which = genre_of[np.asarray(pc.index_in(names, value_set=pa.array(distinct)).to_numpy())]
    genres = np.zeros((n, len(GENRES)), dtype=bool)
    hit = which >= 0
    genres[parent[hit], which[hit]] = True
    genres[~genres.any(axis=1), 0] = True
    return genres, unknown
