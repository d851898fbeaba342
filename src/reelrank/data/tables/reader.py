"""Someone's own table, from a file (CSV, TSV, Parquet, gzip-compressed text) or from memory
(a pyarrow Table, a pandas or polars DataFrame), as an Arrow table of the mapped columns.

`Where` remembers how to name a row in messages. In a CSV file the header is line 1 and row i
is line i + 2: values may not span lines (Arrow's parser is told so, so a quoted line break
shows up as a line with the wrong number of fields), and blank lines are kept as empty rows so
the count stays true. Lines with the wrong number of fields are refused by their number, or
skipped and listed in `malformed`. A Parquet file's rows are "row N" counting from 1, an
in-memory table's "position N" counting from 0, as `DataFrame.iloc` does.

pyarrow is imported inside the functions so that `import reelrank` stays fast.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from reelrank.data.fetch.archive import file_error
from reelrank.data.tables.column_mapping import Notify, TableColumns, resolve_columns
from reelrank.data.tables.columns import is_text
from reelrank.errors import DataError, ReelrankError

T = TypeVar("T", bound=TableColumns)
# Suffix -> field separator (None: Parquet). Text files may also end in .gz.
SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".parquet": None, ".pq": None}
HEADER_BYTES = 1 << 20


@dataclass(frozen=True, eq=False)
class Where:
    """How rows of a table are named in messages: `name`, then `word` and a number counting
    from `first`, or `lines` `[n]` where the CSV parser skipped malformed lines."""

    name: str
    word: str = "line"
    first: int = 2
    lines: np.ndarray | None = None
    malformed: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def skip_hint(self) -> str:
        return 'on_bad_rows="skip"' if self.word == "position" else "--on-bad-rows skip"

    def number(self, row: int) -> int:
        return int(self.lines[row]) if self.lines is not None else self.first + row

    def error(self, row: int | None, problem: str, expected: str) -> DataError:
        """`DataError("<name>, <word> <number>: <problem>; expected <expected>.")`."""
        if self.word == "line" or row is None:
            return file_error(
                self.name, None if row is None else self.number(row), problem, expected
            )
        return DataError(
            f"{self.name}, {self.word} {self.number(row)}: {problem}; expected {expected}."
        )

    def reword(self, message: str) -> str:
        """A message that counts "line"s (`check_rows`) in this table's words."""
        if self.word == "line":
            return message
        head, name, rest = message.partition(self.name)
        return head + name + rest.replace(" line ", f" {self.word} ")


def load_table(
    source: Any,
    given: T | None,
    kind: type[T],
    *,
    on_bad_rows: str,
    notify: Notify | None,
    label: str = "the table",
) -> tuple[Any, T, Where]:
    """(the Arrow table of the mapped columns, the mapping, its `Where`) of a path or a table."""
    if isinstance(source, str | Path):
        return _read_file(Path(source), given, kind, on_bad_rows=on_bad_rows, notify=notify)
    table = as_arrow_table(source)
    mapping = resolve_columns(given, table.column_names, label, kind, notify)
    where = Where(label, "position", 0)
    return table.select(list(mapping.used().values())), mapping, where


def as_arrow_table(data: Any) -> Any:
    """A pyarrow Table of `data`: a Table or RecordBatch, anything that exports the Arrow
    PyCapsule stream (`__arrow_c_stream__`: pandas 2.2 or later, polars, DuckDB), or the
    dataframe interchange protocol (`__dataframe__`: older pandas). Neither pandas nor polars
    is imported here: the data comes through Arrow."""
    import pyarrow as pa

    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    try:
        if hasattr(data, "__arrow_c_stream__"):
            return pa.table(data)
        if hasattr(data, "__dataframe__"):
            from pyarrow.interchange import from_dataframe

            return from_dataframe(data)
    except (pa.ArrowException, NotImplementedError, TypeError, ValueError) as e:
        raise ReelrankError(
            f"the {type(data).__name__} could not be read as an Arrow table ({e}); expected "
            "columns of numbers, text or times"
        ) from e
    raise ReelrankError(
        f"cannot read ratings from a {type(data).__name__}; expected a pyarrow Table or a "
        "DataFrame that speaks Arrow (pandas 2.2 or later, polars), or a file path"
    )


def _format_of(path: Path) -> str | None:
    """The field separator of `path` by its suffix, None for Parquet; unknown: `DataError`."""
    suffixes = [s.lower() for s in path.suffixes]
    gzipped = bool(suffixes) and suffixes[-1] == ".gz"
    suffix = suffixes[-2] if gzipped and len(suffixes) > 1 else (suffixes or [""])[-1]
    if suffix not in SUFFIXES or (gzipped and SUFFIXES[suffix] is None):
        raise DataError(
            f"{path}: cannot tell its format from its name; expected a name ending in .csv, .tsv "
            "or .tab (also .csv.gz, .tsv.gz), .parquet or .pq"
        )
    return SUFFIXES[suffix]


def _read_file(
    path: Path, given: T | None, kind: type[T], *, on_bad_rows: str, notify: Notify | None
) -> tuple[Any, T, Where]:
    import pyarrow as pa

    separator = _format_of(path)
    name = str(path)
    if not path.is_file():
        problem = "is a folder" if path.is_dir() else "no such file"
        raise DataError(f"{name}: {problem}; expected a ratings table (CSV, TSV or Parquet)")
    if separator is None:
        import pyarrow.parquet as pq

        try:
            names = pq.read_schema(path).names
            mapping = resolve_columns(given, names, name, kind, notify)
            table = pq.read_table(path, columns=list(mapping.used().values()))
        except (pa.ArrowException, OSError) as e:
            raise DataError(
                f"{name}: cannot be read as Parquet ({e}); expected a Parquet file"
            ) from e
        return table, mapping, Where(name, "row", 1)
    header = _csv_header(path, separator)
    mapping = resolve_columns(given, header, name, kind, notify)
    columns = list(mapping.used().values())
    table, malformed = _read_csv(path, separator, columns)
    # Ids that Arrow took for floats, times or booleans are read again as written: a float
    # would round a 20-digit id, a time would reformat it.
    odd = [
        getattr(mapping, key)
        for key in kind.IDS
        if not _integer_or_text(table.schema.field(getattr(mapping, key)).type)
    ]
    if odd:
        table, malformed = _read_csv(path, separator, columns, odd)
    where = Where(name)
    if malformed:
        first = min(malformed, key=lambda r: r[0] if r[0] is not None else 0)
        shown = "\\t" if separator == "\t" else separator
        if on_bad_rows == "refuse":
            raise file_error(
                name,
                first[0],
                f"found {first[1]} fields",
                f"{len(header)} '{shown}'-separated fields as in the header (a value may not span "
                f"lines); fix the line, or pass --on-bad-rows skip to drop such lines",
            )
        numbers = np.array(sorted(r[0] for r in malformed if r[0] is not None), dtype=np.int64)
        lines = np.setdiff1d(np.arange(2, 2 + table.num_rows + len(malformed)), numbers)
        where = Where(
            name, lines=lines if len(lines) == table.num_rows else None, malformed=numbers
        )
    return table, mapping, where


def _csv_header(path: Path, separator: str) -> list[str]:
    """The column names on the first line of a (maybe gzipped) text table."""
    import pyarrow as pa

    try:
        with pa.input_stream(str(path), compression="detect") as stream:
            head = stream.read(HEADER_BYTES)
    except (pa.ArrowException, OSError, EOFError) as e:
        raise DataError(f"{path}: cannot read it ({e}); expected a readable table file") from e
    line = head.split(b"\n", 1)[0].decode("utf-8", errors="replace").lstrip("\ufeff").rstrip("\r")
    if not line.strip():
        raise DataError(
            f"{path}: it is empty or starts with a blank line; expected a header line naming the "
            "columns, then one row per rating"
        )
    return next(csv.reader([line], delimiter=separator))


def _integer_or_text(kind: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_integer(kind) or pa.types.is_null(kind)) or is_text(kind)


def _read_csv(
    path: Path, separator: str, columns: list[str], text: list[str] | None = None
) -> tuple[Any, list[tuple[int | None, int]]]:
    """(the table of `columns`, `text` ones read as text, the (line, fields found) of each line
    with the wrong number of fields). A threaded read cannot number those lines, so a file that
    has any is read again on one thread, which can."""
    import pyarrow as pa
    import pyarrow.csv as pv

    def read(threads: bool) -> tuple[Any, list[tuple[int | None, int]]]:
        malformed: list[tuple[int | None, int]] = []

        def handler(row: Any) -> str:
            malformed.append((row.number, row.actual_columns))
            return "skip"

        table = pv.read_csv(
            str(path),
            read_options=pv.ReadOptions(use_threads=threads),
            parse_options=pv.ParseOptions(
                delimiter=separator, ignore_empty_lines=False, invalid_row_handler=handler
            ),
            convert_options=pv.ConvertOptions(
                include_columns=columns, column_types={name: pa.string() for name in text or []}
            ),
        )
        return table, malformed

    try:
        table, malformed = read(True)
        if any(number is None for number, _ in malformed):
            table, malformed = read(False)
    except (pa.ArrowException, OSError, EOFError) as e:
        kind = "tab" if separator == "\t" else "comma"
        raise DataError(
            f"{path}: cannot be read as {kind}-separated text ({e}); expected UTF-8 text with a "
            "header line"
        ) from e
    return table, malformed
